"""A :class:`~archcalc.diagram.Diagram` as Graphviz dot or Mermaid text: the same nodes, counts,
edge shapes and clusters; those tools compute their own positions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from archcalc.diagram import Diagram
from archcalc.render.diagram_svg import node_counts
from archcalc.render.units import shape_text
from archcalc.report import Report


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@dataclass(frozen=True)
class _Nesting:
    """What both text formats walk: a short id per node, the nodes directly inside each cluster
    (None: outside every cluster), each cluster's child clusters, label and number."""

    ids: dict[str, str]
    inner: dict[str | None, list[str]]
    children: dict[str | None, list[str]]
    labels: dict[str, str]
    number: dict[str, int]


def _nesting(diagram: Diagram) -> _Nesting:
    inner: dict[str | None, list[str]] = {}
    for n in diagram.nodes:
        inner.setdefault(n.cluster[-1] if n.cluster else None, []).append(n.name)
    children: dict[str | None, list[str]] = {}
    for c in diagram.clusters:
        children.setdefault(c.parent, []).append(c.id)
    return _Nesting({n.name: f"n{i}" for i, n in enumerate(diagram.nodes)}, inner, children,
                    {c.id: c.label for c in diagram.clusters}, {c.id: i for i, c in enumerate(diagram.clusters)})


def render_dot(diagram: Diagram, report: Report) -> str:
    records = {r.name: r for r in report.layers}
    nest = _nesting(diagram)
    ids, inner, children, labels, number = nest.ids, nest.inner, nest.children, nest.labels, nest.number

    def body(cluster: str | None, indent: str) -> Iterator[str]:
        for name in inner.get(cluster, []):
            node = diagram.node(name)
            text = f"{node.label}\n{node_counts(records.get(name), name in report.uncounted)}"
            yield f"{indent}{ids[name]} [label={_dot_quote(text)}, tooltip={_dot_quote(name)}];"
        for child in children.get(cluster, []):
            yield f"{indent}subgraph cluster_{number[child]} {{"
            yield f"{indent}  label={_dot_quote(labels[child])}; style=dashed;"
            yield from body(child, indent + "  ")
            yield f"{indent}}}"

    lines = [f"digraph {_dot_quote(diagram.name)} {{", f"  rankdir={diagram.direction.value};",
             '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="sans-serif", fontsize=10];',
             '  edge [fontname="monospace", fontsize=9];']
    lines += body(None, "  ")
    for e in diagram.edges:
        label = " | ".join(shape_text(s) for s in e.shapes)
        lines.append(f"  {ids[e.src]} -> {ids[e.dst]} [label={_dot_quote(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mmd_text(text: str) -> str:
    return '"' + text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;") + '"'


def render_mermaid(diagram: Diagram, report: Report) -> str:
    records = {r.name: r for r in report.layers}
    nest = _nesting(diagram)
    ids, inner, children, labels, number = nest.ids, nest.inner, nest.children, nest.labels, nest.number

    def body(cluster: str | None, indent: str) -> Iterator[str]:
        for name in inner.get(cluster, []):
            node = diagram.node(name)
            counts = node_counts(records.get(name), name in report.uncounted)
            yield f"{indent}{ids[name]}[{_mmd_text(node.label + ('<br/>' + counts if counts else ''))}]".replace(
                "#lt;br/#gt;", "<br/>")
        for child in children.get(cluster, []):
            yield f"{indent}subgraph c{number[child]}[{_mmd_text(labels[child])}]"
            yield from body(child, indent + "  ")
            yield f"{indent}end"

    lines = [f"flowchart {diagram.direction.value}"]
    lines += body(None, "  ")
    for e in diagram.edges:
        label = " | ".join(shape_text(s) for s in e.shapes)
        lines.append(f"  {ids[e.src]} -->|{_mmd_text(label)}| {ids[e.dst]}" if label else
                     f"  {ids[e.src]} --> {ids[e.dst]}")
    return "\n".join(lines) + "\n"
