"""A layered drawing of the layer graph, as pure data: nodes with positions, edges with their
route and the tensor shape they carry, and clusters (a spec's block uses, an ONNX model's node
name scopes) as boxes. Renderers (SVG, dot, Mermaid, the HTML page) live in :mod:`archcalc.render`.

    clusters.py  which block (cluster path) each layer belongs to
    layering.py  ranks (topological generations, via networkx), dummies on long edges,
                 crossing reduction (barycenter sweeps)
    layout.py    coordinates: nodes, edge routes, cluster boxes -> :class:`Diagram`
"""

from __future__ import annotations

from archcalc.diagram.layout import Cluster, Diagram, Edge, Node, layout

__all__ = ["Cluster", "Diagram", "Edge", "Node", "layout"]
