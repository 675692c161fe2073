"""Which cluster (block) each layer is drawn in.

A spec's layers expanded from a block use (``Origin.trace`` non-empty) are named
``use.i.layer``: the dotted prefixes are the clusters (``layer1`` holding ``layer1.0`` holding
``layer1.0.conv1``). An ONNX model's node names carry the exporter's module scopes
(``/layer1/layer1.0/conv1/Conv``): the slash-separated prefixes are the clusters. A cluster that
would hold a single layer is dropped (it says nothing a node does not).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from archcalc.ir import Graph, Layer

#: a cluster's id: the prefix segments joined by the separator of its source
ClusterPath = tuple[str, ...]


def _segments(layer: Layer) -> tuple[tuple[str, ...], str]:
    """The scope segments of a layer's name and the separator they were split on."""
    name = layer.name
    if name.startswith("/"):
        parts = tuple(p for p in name.split("/") if p)
        return parts[:-1], "/"
    if layer.origin.trace:
        return tuple(name.split("."))[:-1], "."
    return (), "."


def cluster_paths(graph: Graph) -> dict[str, ClusterPath]:
    """Layer name -> the ids of the clusters it sits in, outermost first (``()`` for none)."""
    raw: dict[str, ClusterPath] = {}
    for layer in graph.layers.values():
        parts, sep = _segments(layer)
        raw[layer.name] = tuple(sep.join(parts[: i + 1]) for i in range(len(parts)))
    members: Counter[str] = Counter(c for path in raw.values() for c in path)
    return {name: tuple(c for c in path if members[c] > 1) for name, path in raw.items()}


def cluster_label(cluster: str) -> str:
    """What a cluster's box is titled: its last scope segment (``layer1.0``)."""
    return cluster.rsplit("/", 1)[-1] if "/" in cluster else cluster


def short_name(name: str, path: ClusterPath) -> str:
    """A layer's name as shown inside its innermost cluster (``conv1`` in ``layer1.0``)."""
    if not path:
        return name
    inner, bare = path[-1], name.lstrip("/")
    for sep in (".", "/"):
        if bare.startswith(inner + sep):
            return bare[len(inner) + 1:]
    return name


def block_of(paths: Mapping[str, ClusterPath]) -> dict[str, str]:
    """Layer -> its outermost cluster ('' for none): the grouping of per-block subtotals."""
    return {name: (path[0] if path else "") for name, path in paths.items()}
