"""Reports as text: table (tabulate), markdown, json, csv. The only place numbers are humanised
(thousands separators in table and markdown; JSON and CSV keep plain exact integers)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from archcalc.choices import UNITS, Units
from archcalc.errors import suggest
from archcalc.receptive import format_field
from archcalc.render.cells import extra_cell, number
from archcalc.render.columns import COUNTS, DEFAULT_COLUMNS, FORMATS, LAYER_COLUMNS, SUMMED, RenderError, header
from archcalc.report import LayerRecord, Report


def _shape_text(record: LayerRecord) -> str:
    return " | ".join("x".join(str(v) for v in s) for s in record.shapes)


def _cell(record: LayerRecord, column: str, human: bool, report: Report | None = None,
          units: Units = Units.EXACT) -> Any:
    if report is not None:
        extra = extra_cell(report, record, column)
        if extra is not None:
            return extra
    if column == "name":
        return record.name
    if column == "kind":
        return record.kind
    if column == "inputs":
        return ",".join(record.inputs)
    if column == "shape":
        return _shape_text(record)
    if column == "rf":
        return format_field(record.rf)
    if column == "where":
        return f"{record.file or ''}:{record.line}" if record.line else (record.file or "")
    return number(getattr(record, column), column, units, human)


def zero_rows(report: Report, columns: Sequence[str]) -> tuple[str, ...]:
    """The layers ``--hide-zero`` hides: 0 in every shown count column (bytes of activations do
    not count: every layer has an output). None when no count column is shown."""
    bases = [c.removesuffix("_share") for c in columns]
    counted = [c for c in bases if c in COUNTS or c == "param_bytes"]
    if not counted:
        return ()
    return tuple(r.name for r in report.layers if all(getattr(r, c) == 0 for c in counted))


def _rows(report: Report, columns: Sequence[str], human: bool, units: Units = Units.EXACT,
          hidden: Sequence[str] = ()) -> list[list[Any]]:
    skip = set(hidden)
    rows = [[_cell(r, c, human, report, units) for c in columns] for r in report.layers if r.name not in skip]
    total: list[Any] = []
    for c in columns:
        extra = extra_cell(report, None, c)
        if c == "name":
            total.append("total")
        elif extra is not None:
            total.append(extra)
        elif c in SUMMED:
            total.append(number(getattr(report.totals, c), c, units, human))
        else:
            total.append("")
    rows.append(total)
    return rows


def parse_units(units: Units | str, fmt: str) -> Units:
    """``--units`` as a Units; human and both are for tables (CSV and JSON keep exact integers)."""
    if not isinstance(units, Units):
        if units not in UNITS:
            raise RenderError(f"unknown units '{units}'{suggest(str(units), UNITS)}; units: {', '.join(UNITS)}")
        units = Units(units)
    if units != Units.EXACT and fmt in ("csv", "json"):
        raise RenderError(f"--units {units} is for table and markdown; {fmt} keeps exact integers")
    return units


def _mib(n: int) -> str:
    return f"{n:,} B ({n / 2**20:,.2f} MiB)"


def summary_lines(report: Report) -> list[str]:
    t = report.totals
    rf = "; ".join(f"{name}: {format_field(field)}" for name, field in report.receptive_field.items())
    return [
        f"params {t.params:,} trainable + {t.fixed_params:,} fixed; buffers {t.buffers:,}; "
        f"connections {t.connections:,}; units {t.units:,}",
        f"MACs {t.macs:,}; FLOPs {t.flops:,} forward, {t.training_flops:,} training (forward + 2x backward)",
        "FLOPs = " + " + ".join(f"{v:,} ({k})" for k, v in report.flops_breakdown.items())
        + ("; not counted: " + ", ".join(f"{k} {v:,}" for k, v in report.flops_not_counted.items())
           if report.flops_not_counted else ""),
        f"memory: params {_mib(t.param_bytes)}; peak activations {_mib(t.peak_activation_bytes)}; "
        f"inference {_mib(t.inference_bytes)}",
        f"training memory {_mib(t.training_bytes)} = params + stored activations "
        f"{t.stored_activation_bytes:,} + gradients {t.gradient_bytes:,} + {report.conventions.optimizer} "
        f"state {t.optimizer_bytes:,}",
        f"receptive field of the output: {rf}",
    ]


def folded(report: Report, lines: Sequence[str]) -> list[str]:
    """Per-layer lines (``LAYER: message``) that say the same thing of several layers, as one line
    with the count and the first layers named; other lines as they are, in their order."""
    names = {r.name for r in report.layers}
    by_message: dict[str, list[str]] = {}
    order: list[tuple[str, str | None]] = []
    for line in lines:
        layer, sep, message = line.partition(": ")
        if sep and layer in names:
            if message not in by_message:
                by_message[message] = []
                order.append((message, layer))
            by_message[message].append(layer)
        else:
            order.append((line, None))
    out = []
    for text, first in order:
        if first is None:
            out.append(text)
            continue
        layers = by_message[text]
        if len(layers) == 1:
            out.append(f"{layers[0]}: {text}")
        else:
            shown = ", ".join(layers[:3]) + (", ..." if len(layers) > 3 else "")
            out.append(f"{len(layers):,} layers ({shown}): {text}")
    return out


def context_lines(report: Report) -> list[str]:
    """What a table prints around its rows: conventions, warnings, notes, ops not counted."""
    lines = [f"{report.name}: {report.conventions_line()}"]
    lines += [f"warning: {w}" for w in folded(report, report.warnings)]
    lines += [f"note: {n}" for n in folded(report, report.notes)]
    if report.uncounted:
        lines.append(f"NOT COUNTED ({len(report.uncounted)} unknown ops): {', '.join(report.uncounted)}")
    return lines


def render(report: Report, fmt: str = "table", columns: Sequence[str] | None = None, *,
           csv_context: bool = False, csv_totals: bool = False, groups: Mapping[str, str] | None = None,
           by: str = "block", units: Units | str = Units.EXACT, hide_zero: bool = False) -> str:
    """The report in ``fmt``. CSV is one header row and one row per layer, so that any CSV reader
    (``pandas.read_csv``) takes it as it is; ``csv_totals`` adds the total row and ``csv_context``
    puts the conventions, warnings and notes first as ``#`` lines (``read_csv(comment="#")``).
    ``groups`` (layer -> its stage or block, ``report --by``) adds subtotals (render/subtotals.py).
    ``units`` (table and markdown) writes counts exact, humanised (K/M/G) or both; ``hide_zero``
    leaves out the layers with 0 in every shown count column (the totals and subtotals still cover them)."""
    from archcalc.render.subtotals import subtotal_dicts, with_subtotals

    cols = tuple(columns) if columns else DEFAULT_COLUMNS
    units = parse_units(units, fmt)
    if hide_zero and fmt == "json":
        raise RenderError("--hide-zero is for table, markdown and csv; json keeps every layer")
    hidden = zero_rows(report, cols) if hide_zero else ()
    if fmt == "json":
        data = report.to_dict()
        if groups is not None:
            for layer in data["layers"]:
                layer[by] = groups[layer["name"]]
            data["subtotals"] = {"by": by, "groups": subtotal_dicts(report, groups)}
        return json.dumps(data, indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        if csv_context:
            for line in context_lines(report):
                buf.write(f"# {line}\n")
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([*cols, by] if groups is not None else cols)
        if groups is not None:  # a column, not rows: the layers still sum to the total
            kept = [r for r in report.layers if r.name not in set(hidden)]
            rows = _rows(report, cols, human=False, hidden=hidden)
            rows = [[*row, groups[r.name]] for row, r in zip(rows, kept, strict=False)] + [[*rows[-1], ""]]
        else:
            rows = _rows(report, cols, human=False, hidden=hidden)
        writer.writerows(rows if csv_totals else rows[:-1])
        return buf.getvalue()
    if fmt not in ("table", "markdown"):
        raise RenderError(f"unknown format '{fmt}'{suggest(fmt, FORMATS)}; formats: {', '.join(FORMATS)}")
    from tabulate import tabulate

    headers = [header(c) for c in cols]
    align = ["left" if c in ("name", "kind", "inputs", "shape", "rf", "where", *LAYER_COLUMNS) else "right"
             for c in cols]
    if groups is not None:
        rows = with_subtotals(_rows(report, cols, human=True, units=units), report, cols, groups, by,
                              human=True, units=units, hidden=hidden)
    else:
        rows = _rows(report, cols, human=True, units=units, hidden=hidden)
    table = tabulate(
        rows,
        headers=headers,
        tablefmt="github" if fmt == "markdown" else "simple",
        colalign=align,
        disable_numparse=True,
    )
    title = f"{report.name}" + (f" ({report.source})" if report.source else "")
    lines = [f"## {title}" if fmt == "markdown" else title, "", table, ""]
    bullet = "- " if fmt == "markdown" else ""
    if hidden:
        shown = ", ".join(hidden[:6]) + (", ..." if len(hidden) > 6 else "")
        lines.append(bullet + f"hidden (--hide-zero): {len(hidden):,} layers with 0 in every shown count column "
                     f"({shown}); the totals include them")
    lines += [bullet + line for line in summary_lines(report)]
    lines.append(bullet + report.conventions_line())
    lines += [bullet + f"warning: {w}" for w in folded(report, report.warnings)]
    lines += [bullet + f"note: {n}" for n in folded(report, report.notes)]
    if report.uncounted:
        lines.append(bullet + f"NOT COUNTED ({len(report.uncounted)} unknown ops, zero in every column): "
                     + ", ".join(report.uncounted))
    return "\n".join(lines) + "\n"
