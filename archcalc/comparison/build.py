"""``compare(A, B)``: analyse both, match their layers, group them, find the differences."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archcalc.choices import GroupBy
from archcalc.comparison.differences import find_differences
from archcalc.comparison.grouping import FROM_NAMES, Grouping, group_layers, parse_by
from archcalc.comparison.matching import Matching, match_layers
from archcalc.comparison.result import Comparison, Row, Side
from archcalc.ir import Graph
from archcalc.report import LayerRecord, Report


def compare(a: Graph | str | Path, b: Graph | str | Path, *, by: GroupBy | str = GroupBy.STAGE,
            preset: str | None = None, overrides: Mapping[str, Any] | None = None) -> Comparison:
    """Compare network ``a`` with ``b`` (graphs, or anything :func:`archcalc.load` reads), per
    stage, block or layer. Each is counted under its own conventions (a spec's ``conventions:``),
    or both under ``preset`` and ``overrides`` when given; a note says when the two differ.

    ``compare("resnet50", "resnet50_v1").first_difference.reason`` says the stride moved."""
    from archcalc.analysis import analyze
    from archcalc.sources import load_any

    graph_a = a if isinstance(a, Graph) else load_any(a)
    graph_b = b if isinstance(b, Graph) else load_any(b)
    by = by if isinstance(by, GroupBy) else parse_by(by)
    report_a = analyze(graph_a, preset=preset, overrides=overrides)
    report_b = analyze(graph_b, preset=preset, overrides=overrides)
    matching = match_layers(graph_a, report_a, graph_b, report_b)
    grouping_a = group_layers(graph_a, report_a, by)
    grouping_b = group_layers(graph_b, report_b, by)
    rows_from = "a" if grouping_a.source == FROM_NAMES or grouping_b.source != FROM_NAMES else "b"
    rows = _rows(report_a, report_b, grouping_a, grouping_b, matching, rows_from)
    notes = []
    if report_a.conventions.describe() != report_b.conventions.describe():
        notes.append(f"the two are counted under different conventions: A {report_a.conventions.describe()}; "
                     f"B {report_b.conventions.describe()}")
    return Comparison(report_a, report_b, by, rows_from, grouping_a.source, grouping_b.source, rows, matching,
                      find_differences(graph_a, report_a, graph_b, report_b, matching), tuple(notes))


def _assign(lead: Report, other: Report, lead_grouping: Grouping, partner: Mapping[str, str]) -> dict[str, str]:
    """Row of every layer of ``other``: its partner's row, or the row of the layer before it."""
    rows: dict[str, str] = {}
    current = lead_grouping.of[lead.layers[0].name] if lead.layers else ""
    for record in other.layers:
        if record.name in partner:
            current = lead_grouping.of[partner[record.name]]
        rows[record.name] = current
    return rows


def _rows(report_a: Report, report_b: Report, grouping_a: Grouping, grouping_b: Grouping, matching: Matching,
          rows_from: str) -> tuple[Row, ...]:
    if rows_from == "a":
        row_a = dict(grouping_a.of)
        row_b = _assign(report_a, report_b, grouping_a, matching.a_of())
    else:
        row_b = dict(grouping_b.of)
        row_a = _assign(report_b, report_a, grouping_b, matching.b_of())
    lead = grouping_a if rows_from == "a" else grouping_b
    order = list(lead.groups())
    return tuple(Row(group, _side(report_a, grouping_a, row_a, group), _side(report_b, grouping_b, row_b, group))
                 for group in order)


def _side(report: Report, grouping: Grouping, row_of: Mapping[str, str], group: str) -> Side:
    members: list[LayerRecord] = [r for r in report.layers if row_of.get(r.name) == group]
    last = members[-1] if members else None
    return Side(
        groups=tuple(dict.fromkeys(grouping.of[r.name] for r in members)),
        layers=tuple(r.name for r in members),
        params=sum(r.params for r in members),
        macs=sum(r.macs for r in members),
        flops=sum(r.flops for r in members),
        activation_bytes=sum(r.activation_bytes for r in members),
        rf=last.rf if last is not None else None,
        shape=last.shapes if last is not None else (),
    )
