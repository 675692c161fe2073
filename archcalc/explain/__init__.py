"""Why a number comes out: each figure of one layer as the formula in words and in symbols, the
numbers substituted, the result, and the conventions that chose each term.

The op part of every figure comes from the layer family's own ``derive`` (the formulas of its
``apply``, written out); the conventions part from :func:`archcalc.counting.count_layer`, the
same function the analysis sums. So an explanation and the report cannot disagree
(``tests/test_explain.py`` checks every layer of every bundled spec and ONNX fixture under every
preset). Pure data: rendering is ``archcalc.render.explain``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import TYPE_CHECKING

from archcalc.counting import count_layer, shared_cost, unit_outputs
from archcalc.errors import OptionError, suggest
from archcalc.explain.model import ALIASES, FIGURES, FigureExplanation, LayerExplanation
from archcalc.explain.terms import BUILDERS, Context
from archcalc.ops import REGISTRY

if TYPE_CHECKING:
    from archcalc.ir import Graph
    from archcalc.report import Report

__all__ = ["ALIASES", "FIGURES", "FigureExplanation", "LayerExplanation", "explain", "explain_all", "figure_name",
           "split_target"]


def figure_name(figure: str) -> str:
    """The figure a name means, or an OptionError with a did-you-mean listing the figures."""
    name = ALIASES.get(figure, figure)
    if name not in FIGURES:
        raise OptionError(f"unknown figure '{figure}'{suggest(figure, [*FIGURES, *ALIASES])}; "
                          f"figures: {', '.join(FIGURES)}")
    return name


def split_target(report: Report, target: str) -> tuple[str, str | None]:
    """``LAYER`` or ``LAYER.FIGURE`` -> (layer, figure or None). Layer names may hold dots
    (``layer1.0.conv1``): a whole name that is a layer wins, then the part after the last dot
    as a figure. An unknown layer or figure is an OptionError with a did-you-mean."""
    graph = _graph_of(report)
    if target in graph.layers:
        return target, None
    head, dot, tail = target.rpartition(".")
    if dot and head in graph.layers:
        try:
            return head, figure_name(tail)
        except OptionError as exc:
            raise exc.located(file=report.file, layer=head) from None
    raise _no_layer(report, graph, head if dot and head and ALIASES.get(tail, tail) in FIGURES else target)


def _graph_of(report: Report) -> Graph:
    if report.graph is None:
        raise OptionError("this report carries no graph to explain (make it with archcalc.analyze)")
    return report.graph


def _no_layer(report: Report, graph: Graph, layer: str) -> OptionError:
    return OptionError(f"no layer '{layer}' in {report.name}{_near(layer, tuple(graph.layers))}; "
                       f"layers: {_listing(tuple(graph.layers))}", file=report.file)


def explain(report: Report, layer: str, figure: str | None = None) -> LayerExplanation:
    """How each figure of ``layer`` in ``report`` (an ``archcalc.analyze`` result) comes out;
    only ``figure`` when given. Unknown names are an OptionError with a did-you-mean."""
    graph = _graph_of(report)
    if layer not in graph.layers:
        raise _no_layer(report, graph, layer)
    try:
        wanted = tuple(FIGURES) if figure is None else (figure_name(figure),)
    except OptionError as exc:
        raise exc.located(file=report.file, layer=layer) from None
    return _explain(report, graph, layer, wanted, unit_outputs(graph, report.conventions))


def explain_all(report: Report) -> tuple[LayerExplanation, ...]:
    """Every layer's explanation, in report order (one pass: what a page of all layers needs)."""
    graph = _graph_of(report)
    last = unit_outputs(graph, report.conventions)
    return tuple(_explain(report, graph, name, tuple(FIGURES), last) for name in graph.layers)


def _explain(report: Report, graph: Graph, layer: str, wanted: tuple[str, ...],
             last: Mapping[str, bool]) -> LayerExplanation:
    node = graph.layers[layer]
    conv = report.conventions
    ins = tuple(report[ref[0]].shapes[ref[1]] for ref in node.inputs)
    op = REGISTRY[node.kind]
    applied = op.apply(node.attrs, ins)
    steps = op.derive(node.attrs, ins)
    cost = shared_cost(node.attrs, applied.cost)
    n_in = prod(ins[0]) if ins else 0
    counted = count_layer(node.kind, node.attrs, cost, applied.outs, n_in, last[layer], conv)
    ctx = Context(node, ins, applied, steps, counted, conv, report, graph)
    return LayerExplanation(layer, node.kind, tuple(BUILDERS[name](ctx) for name in wanted),
                            conventions=report.conventions_line())


def _near(name: str, names: tuple[str, ...]) -> str:
    """The did-you-mean of a layer name, ignoring case first (``c3`` -> ``C3``)."""
    same = [n for n in names if n.casefold() == name.casefold()]
    return f" (did you mean '{same[0]}'?)" if same else suggest(name, names)


def _listing(names: tuple[str, ...], most: int = 12) -> str:
    return ", ".join(names) if len(names) <= most else ", ".join(names[:most]) + f", ... ({len(names)} in all)"


