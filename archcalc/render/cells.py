"""Report cells beyond the figures: a layer's kernel, stride, padding and groups (read from the
analysed graph), each column's % share of its total, and counts humanised as K/M/G (bytes as
KiB/MiB/GiB) by ``--units``. Display only: the figures themselves stay exact integers."""

from __future__ import annotations

from typing import Any

from archcalc.choices import Units
from archcalc.render.columns import BYTES, LAYER_COLUMNS, SHARE_COLUMNS
from archcalc.render.units import binary_bytes, si
from archcalc.report import LayerRecord, Report


def human(value: int, column: str) -> str:
    """``151600`` -> ``152K`` (powers of 1,000; ``*_bytes``: ``6.25 KiB``, powers of 1,024);
    three significant digits; below 1,000 (1,024 bytes) the exact integer."""
    if column in BYTES:
        return binary_bytes(value)
    return si(value) if abs(value) >= 1000 else f"{value:,}"


def number(value: int, column: str, units: Units, separators: bool) -> Any:
    """A count as the table shows it under ``units`` (CSV and JSON: the exact integer)."""
    if not separators:
        return value
    if units == Units.EXACT or abs(value) < 1000:
        return f"{value:,}"
    if units == Units.HUMAN:
        return human(value, column)
    return f"{value:,} ({human(value, column)})"


def share(value: int, total: int) -> str:
    """``value`` as a percentage of ``total`` (one decimal; empty when the total is 0)."""
    return f"{100 * value / total:.1f}" if total else ""


def share_cell(report: Report, record: LayerRecord | None, column: str) -> str:
    base = column.removesuffix("_share")
    total = getattr(report.totals, base)
    return share(total if record is None else getattr(record, base), total)


def _axes(value: Any, n: int) -> str:
    if isinstance(value, int):
        return "x".join([str(value)] * n)
    if isinstance(value, str):
        return value
    parts = [(str(v[0]) if v[0] == v[1] else f"({v[0]},{v[1]})") if isinstance(v, tuple) else str(v) for v in value]
    return "x".join(parts * n if len(parts) == 1 and n > 1 else parts)


def layer_cell(report: Report, record: LayerRecord, column: str) -> str:
    """Kernel, stride, padding or groups of a layer that has them, else empty."""
    graph = report.graph
    if graph is None or record.name not in graph.layers:
        return ""
    attrs = graph.layers[record.name].attrs
    shape = report[graph.layers[record.name].inputs[0][0]].shapes[graph.layers[record.name].inputs[0][1]] \
        if graph.layers[record.name].inputs else ()
    n = max(len(shape) - 1, 1)
    if column == "groups":
        if record.family != "conv" or "groups" not in attrs:
            return ""
        if attrs.get("connections") is not None:
            return "table"
        return str(shape[0]) if attrs.get("depthwise") and shape else str(attrs.get("groups") or 1)
    if "kernel" not in attrs or attrs["kernel"] is None:
        return ""
    value = attrs.get(column)
    if value is None:
        value = attrs["kernel"] if column == "stride" else 0 if column == "padding" else None
    return "" if value is None else _axes(value, n)


def extra_cell(report: Report, record: LayerRecord | None, column: str) -> str | None:
    """The cell of an extra column (``record`` None: the total row), or None for a figure column."""
    if column in SHARE_COLUMNS:
        return share_cell(report, record, column)
    if column in LAYER_COLUMNS:
        return "" if record is None else layer_cell(report, record, column)
    return None
