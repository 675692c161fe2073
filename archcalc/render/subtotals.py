"""``archcalc report --by stage|block``: a subtotal row after each group of layers (table and
markdown), the group of every layer (a column in CSV, ``group`` in JSON) and the subtotals in
JSON. The grouping is :func:`archcalc.comparison.grouping.group_layers`, the one ``compare`` uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from archcalc.choices import Units
from archcalc.render.cells import number
from archcalc.render.columns import SUMMED
from archcalc.report import Report

#: the columns a subtotal row sums (the report's summed columns)
SUBTOTALLED = SUMMED


def with_subtotals(rows: list[list[Any]], report: Report, columns: Sequence[str], groups: Mapping[str, str],
                   by: str, human: bool, units: Units = Units.EXACT,
                   hidden: Sequence[str] = ()) -> list[list[Any]]:
    """``rows`` (one per layer, then the total) with a subtotal row after each group of two or
    more layers, named ``block inception_3a`` (or ``stage layer2``); the layers in ``hidden``
    (``--hide-zero``) are left out but still summed."""
    skip = set(hidden)
    out: list[list[Any]] = []
    records = list(report.layers)
    start = 0
    for i, record in enumerate(records):
        if record.name not in skip:
            out.append(rows[i])
        group = groups[record.name]
        if i + 1 < len(records) and groups[records[i + 1].name] == group:
            continue
        members = records[start:i + 1]
        start = i + 1
        if len(members) < 2:
            continue
        cells: list[Any] = []
        for c in columns:
            if c == "name":
                cells.append(f"{by} {group}")
            elif c in SUBTOTALLED:
                value = sum(int(getattr(r, c)) for r in members)
                cells.append(number(value, c, units, human))
            else:
                cells.append("")
        out.append(cells)
    out += rows[len(records):]
    return out


def subtotal_dicts(report: Report, groups: Mapping[str, str]) -> list[dict[str, Any]]:
    """Per group, in order: its name, layers and the sums of the summed columns (JSON)."""
    members: dict[str, list[Any]] = {}
    for record in report.layers:
        members.setdefault(groups[record.name], []).append(record)
    return [{"group": g, "layers": [r.name for r in rs],
             **{c: sum(int(getattr(r, c)) for r in rs) for c in SUBTOTALLED}} for g, rs in members.items()]
