"""A comparison as text: table (tabulate), markdown, json, csv. Deltas are B - A; ratios B / A."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from archcalc.comparison.differences import ONLY_A, ONLY_B, Difference
from archcalc.comparison.grouping import scope_path
from archcalc.comparison.result import ROW_FIGURES, Comparison, Row, Side, delta, ratio
from archcalc.errors import OptionError, suggest
from archcalc.receptive import format_field

FORMATS = ("text", "markdown", "json", "csv")

_HEAD = {"params": "params", "macs": "MACs", "activation_bytes": "act bytes"}


def _ratio_text(a: int, b: int) -> str:
    r = ratio(a, b)
    return "-" if r is None else f"x{r:.3f}"


def _delta_cell(a: int, b: int) -> str:
    return f"{delta(a, b):+,} ({_ratio_text(a, b)})"


def _rf(side: Side) -> str:
    return format_field(side.rf) if side.rf is not None else "-"


def _row_cells(row: Row) -> list[Any]:
    cells: list[Any] = [row.group]
    for key in ROW_FIGURES:
        a, b = getattr(row.a, key), getattr(row.b, key)
        cells += [f"{a:,}", f"{b:,}", _delta_cell(a, b)]
    return [*cells, _rf(row.a), _rf(row.b)]


def _total_cells(c: Comparison) -> list[Any]:
    cells: list[Any] = ["total"]
    for key in ROW_FIGURES:
        a, b = c.total("a", key), c.total("b", key)
        cells += [f"{a:,}", f"{b:,}", _delta_cell(a, b)]
    rf = ["; ".join(format_field(f) for f in r.receptive_field.values()) for r in (c.a, c.b)]
    return [*cells, *rf]


def _headers(c: Comparison) -> list[str]:
    out = [c.by.value]
    for key in ROW_FIGURES:
        out += [f"{_HEAD[key]} A", f"{_HEAD[key]} B", f"delta {_HEAD[key]} (B/A)"]
    return [*out, "rf A", "rf B"]


#: differences listed after the first one in text and markdown
MAX_THEN = 6


def _names(names: tuple[str, ...], shown: int = 5) -> str:
    return ", ".join(names[:shown]) + (f", ... ({len(names):,} layers)" if len(names) > shown else "")


def _where(d: Difference) -> str:
    if d.a is None or d.b is None or d.a == d.b:
        return str(d.a or d.b)
    return f"{d.a} (A) / {d.b} (B)"


def _difference_lines(c: Comparison) -> list[str]:
    """One line per difference; a run of layers of one block that only one network has is one line."""
    out: list[str] = []
    run: list[Difference] = []

    def close() -> None:
        if len(run) == 1:
            out.append(f"{_where(run[0])}: {run[0].reason}")
        elif run:
            side = "A" if run[0].what == ONLY_A else "B"
            report = c.a if side == "A" else c.b
            records = [report[str(d.a or d.b)] for d in run]
            block = ".".join(scope_path(records[0].name))
            out.append(f"{block}: only in {side}: {len(run)} layers ({records[0].name} .. {records[-1].name}; "
                       f"params {sum(r.params for r in records):,}, MACs {sum(r.macs for r in records):,})")
        run.clear()

    for d in c.differences.found:
        if d.what in (ONLY_A, ONLY_B):
            name = str(d.a or d.b)
            if run and (run[0].what != d.what or scope_path(str(run[0].a or run[0].b)) != scope_path(name)
                        or not scope_path(name)):
                close()
            run.append(d)
            continue
        close()
        out.append(f"{_where(d)}: {d.reason}")
    close()
    return out


def summary_lines(c: Comparison) -> list[str]:
    """What the table does not show: whole-network totals, matching, the differences and why."""
    lines = [f"A: {c.a.name}" + (f" ({Path(c.a.file).name})" if c.a.file else "")
             + f"; B: {c.b.name}" + (f" ({Path(c.b.file).name})" if c.b.file else "")]
    figures = []
    for key, words in (("params", "params"), ("macs", "MACs"), ("flops", "FLOPs"),
                       ("peak_activation_bytes", "peak activation bytes")):
        a, b = c.total("a", key), c.total("b", key)
        figures.append(f"{words} {a:,} vs {b:,} ({delta(a, b):+,}, {_ratio_text(a, b)})")
    lines.append("totals: " + "; ".join(figures))
    m = c.matching
    only = [f"only in {side}: {_names(names)}" for side, names in (("A", m.only_a), ("B", m.only_b)) if names]
    lines.append(f"layers: {len(c.a.layers):,} vs {len(c.b.layers):,}; matched {c.matched('name'):,} by name and "
                 f"{c.matched('structure'):,} by structure" + "".join(f"; {o}" for o in only if o))
    first = c.first_difference
    if first is None:
        lines.append("first difference: none (every matched layer has the same attributes, shapes and costs)")
    else:
        said = _difference_lines(c)
        lines.append(f"first difference: {said[0]}")
        lines += [f"then: {line}" for line in said[1:MAX_THEN + 1]]
        if len(said) > MAX_THEN + 1:
            lines.append(f"... and {len(said) - MAX_THEN - 1:,} more (--format json lists every difference)")
    if c.differences.reshaped:
        lines.append(f"{c.differences.reshaped:,} matched layers have other output shapes (they follow from the "
                     f"differences above)")
    if c.differences.neutral:
        keys = sorted({ch.key for d in c.differences.neutral for ch in d.changes})
        names = [d.a or "" for d in c.differences.neutral]
        shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
        lines.append(f"{len(names):,} layers differ in {', '.join(keys)} without an effect on B's shapes or costs "
                     f"({shown})")
    lead = "A" if c.rows_from == "a" else "B"
    lines.append(f"rows: {lead}'s {c.by.value}s (A grouped by {c.grouped_a}, B by {c.grouped_b}); the other "
                 f"network's layers sit in the row of their match")
    lines.append(f"A conventions: {c.a.conventions.describe()}")
    if c.a.conventions.describe() != c.b.conventions.describe():
        lines.append(f"B conventions: {c.b.conventions.describe()}")
    lines += [f"note: {n}" for n in c.notes]
    return lines


def render_comparison(c: Comparison, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(c.to_dict(), indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        header = [c.by.value]
        for key in ROW_FIGURES:
            header += [f"a_{key}", f"b_{key}", f"delta_{key}", f"ratio_{key}"]
        writer.writerow([*header, "a_rf", "b_rf"])
        for row in c.rows:
            cells: list[Any] = [row.group]
            for key in ROW_FIGURES:
                a, b = getattr(row.a, key), getattr(row.b, key)
                r = ratio(a, b)
                cells += [a, b, delta(a, b), "" if r is None else repr(r)]
            writer.writerow([*cells, _rf(row.a), _rf(row.b)])
        return buf.getvalue()
    if fmt not in ("text", "markdown"):
        raise OptionError(f"unknown format '{fmt}'{suggest(fmt, FORMATS)}; formats: {', '.join(FORMATS)}")
    from tabulate import tabulate

    rows = [_row_cells(r) for r in c.rows] + [_total_cells(c)]
    headers = _headers(c)
    table = tabulate(rows, headers=headers, tablefmt="github" if fmt == "markdown" else "simple",
                     colalign=["left"] + ["right"] * (len(headers) - 3) + ["left", "left"], disable_numparse=True)
    title = f"compare {c.a.name} (A) with {c.b.name} (B), by {c.by.value}"
    bullet = "- " if fmt == "markdown" else ""
    lines = [f"## {title}" if fmt == "markdown" else title, "", table, ""]
    lines += [bullet + line for line in summary_lines(c)]
    return "\n".join(lines) + "\n"
