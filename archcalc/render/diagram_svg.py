"""A :class:`~archcalc.diagram.Diagram` as SVG: layers as boxes with their counts, edges with the
shapes they carry, blocks as nested boxes. Every layer's group has ``class="node"`` and
``data-layer``, every edge ``data-src``/``data-dst``, so that the HTML page can script it."""

from __future__ import annotations

from html import escape

from archcalc.diagram import Diagram, Edge, Node
from archcalc.render.units import shape_text, si
from archcalc.report import LayerRecord, Report

#: fill colours by layer family (anything else is grey)
FILLS = {"conv": "#dbe8fb", "fc": "#fbe0dc", "pool": "#fdebd0", "norm": "#ececec", "activation": "#dff3e2",
         "merge": "#ece0f5", "input": "#fff7c2", "subsample": "#fdebd0", "rbf": "#fbe0dc"}
CLUSTER_FILLS = ("#f6f8fb", "#eef2f8", "#e6ecf5")
MAX_LABEL = 28

STYLE = """
.node rect{stroke:#5b6b82;stroke-width:1}
.node text{font:12px sans-serif;fill:#17202c}
.node .sub{font-size:10px;fill:#44505f}
.edge path{fill:none;stroke:#7b8794;stroke-width:1.2}
.edge text{font:10px monospace;fill:#52606d}
.cluster rect{stroke:#b8c2cf;stroke-dasharray:4 2}
.cluster text{font:bold 11px sans-serif;fill:#52606d}
"""


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def node_counts(record: LayerRecord | None, uncounted: bool = False) -> str:
    """The one line of counts inside a layer's box: ``conv · 9.41K params · 118M MACs``; an op
    let through with ``--allow-unknown`` says ``NOT COUNTED``."""
    if record is None:
        return ""
    if uncounted:
        return f"{record.kind} · NOT COUNTED"
    parts = [record.kind]
    if record.kind == "input":
        parts.append(" | ".join(shape_text(s) for s in record.shapes))
    if record.params:
        parts.append(f"{si(record.params)} params")
    if record.macs:
        parts.append(f"{si(record.macs)} MACs")
    elif record.flops:
        parts.append(f"{si(record.flops)} FLOPs")
    return " · ".join(parts)


def _node(node: Node, record: LayerRecord | None, uncounted: bool) -> str:
    fill = "#ffd6d6" if uncounted else FILLS.get(record.family if record else "", "#f2f2f2")
    title = escape(node.name)
    if record is not None:
        title += escape(f"\n{record.kind}, output {' | '.join(shape_text(s) for s in record.shapes)}\n"
                        f"params {record.params:,}; MACs {record.macs:,}; FLOPs {record.flops:,}")
    x0, y0 = node.x - node.w / 2, node.y - node.h / 2
    return (f'<g class="node" data-layer="{escape(node.name)}"><title>{title}</title>'
            f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{node.w:.0f}" height="{node.h:.0f}" rx="5" fill="{fill}"/>'
            f'<text x="{node.x:.1f}" y="{node.y - 3:.1f}" text-anchor="middle">{escape(_short(node.label))}</text>'
            f'<text class="sub" x="{node.x:.1f}" y="{node.y + 12:.1f}" text-anchor="middle">'
            f'{escape(node_counts(record, uncounted))}</text></g>')


def _edge(edge: Edge) -> str:
    pts = edge.points
    d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    label = " | ".join(shape_text(s) for s in edge.shapes)
    (x1, y1), (x2, y2) = pts[0], pts[1]
    vertical = abs(x2 - x1) < abs(y2 - y1)
    lx, ly = ((x1 + x2) / 2 + 5, (y1 + y2) / 2 + 3) if vertical else ((x1 + x2) / 2, (y1 + y2) / 2 - 4)
    anchor = "start" if vertical else "middle"
    return (f'<g class="edge" data-src="{escape(edge.src)}" data-dst="{escape(edge.dst)}">'
            f'<path d="{d}" marker-end="url(#arrow)"/>'
            f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}">{escape(label)}</text></g>')


def render_svg(diagram: Diagram, report: Report, *, standalone: bool = True) -> str:
    """The diagram as an SVG document (``standalone``) or an ``<svg>`` element for inlining."""
    records = {r.name: r for r in report.layers}
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' if standalone else ""
    xmlns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""  # inline SVG in HTML needs none
    out = [f'{head}<svg{xmlns} class="archcalc-diagram" '
           f'width="{diagram.width:.0f}" height="{diagram.height:.0f}" '
           f'viewBox="0 0 {diagram.width:.0f} {diagram.height:.0f}">',
           f"<title>{escape(diagram.name)}</title>",
           f"<style>{STYLE}</style>",
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#7b8794"/></marker>'
           '<marker id="arrow-on" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#e08a00"/></marker></defs>',
           f'<rect width="{diagram.width:.0f}" height="{diagram.height:.0f}" fill="#ffffff"/>']
    for c in sorted(diagram.clusters, key=lambda c: c.depth):
        fill = CLUSTER_FILLS[min(c.depth, len(CLUSTER_FILLS) - 1)]
        out.append(f'<g class="cluster" data-cluster="{escape(c.id)}"><rect x="{c.x:.1f}" y="{c.y:.1f}" '
                   f'width="{c.w:.1f}" height="{c.h:.1f}" rx="8" fill="{fill}"/>'
                   f'<text x="{c.x + 8:.1f}" y="{c.y + 14:.1f}">{escape(c.label)}</text></g>')
    out += [_edge(e) for e in diagram.edges]
    out += [_node(n, records.get(n.name), n.name in report.uncounted) for n in diagram.nodes]
    out.append("</svg>")
    return "\n".join(out) + "\n"
