"""``archcalc view``: one self-contained HTML page (inline SVG, CSS and script; no external
resource of any kind, so it opens from a file:// URL with no network).

The page holds the diagram, the per-layer table (sortable, filterable, exact or K/M/G numbers),
per-block subtotals, the totals and the conventions line; clicking a layer shows its figures (its
explanation, where one is given) and highlights the layers its receptive field comes through.
The data the script uses is the report's JSON, embedded in the page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from math import prod
from typing import Any

from archcalc.diagram import Diagram
from archcalc.diagram.clusters import block_of
from archcalc.receptive import Field, format_field
from archcalc.render.diagram_svg import render_svg
from archcalc.render.report import summary_lines
from archcalc.render.units import shape_text, si
from archcalc.render.view_assets import CSS, JS
from archcalc.report import Report

#: the per-layer numbers the table shows (all summed into the totals row)
TABLE_COLUMNS = ("params", "macs", "flops", "connections", "activation_bytes", "param_bytes")
#: the headline totals, with their captions
HEADLINE = (("params", "params"), ("macs", "MACs"), ("flops", "FLOPs (forward)"),
            ("training_flops", "FLOPs (training)"), ("peak_activation_bytes", "peak activation bytes"),
            ("inference_bytes", "inference bytes"), ("training_bytes", "training bytes"))


def _json_for_script(value: Any) -> str:
    """JSON that cannot end the ``<script>`` element it sits in."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _num(value: int) -> str:
    return (f'<td class="num" data-value="{value}" data-exact="{value:,}" data-si="{si(value)}">'
            f"{value:,}</td>")


def _text(value: str, sort: str | None = None) -> str:
    return f'<td data-value="{escape(sort if sort is not None else value)}">{escape(value)}</td>'


def _layer_table(report: Report, blocks: Mapping[str, str]) -> str:
    head = "".join(f'<th data-col="{c}">{escape(h)}</th>' for c, h in
                   (("order", "#"), ("name", "layer"), ("kind", "type"), ("block", "block"), ("shape", "output"),
                    *((c, c.replace("_", " ")) for c in TABLE_COLUMNS), ("rf", "receptive field")))
    body = []
    for i, r in enumerate(report.layers):
        search = " ".join((r.name, r.kind, r.family, blocks.get(r.name, ""))).lower()
        shape = " | ".join(shape_text(s) for s in r.shapes)
        cells = [f'<td class="num" data-value="{i}" data-exact="{i}" data-si="{i}">{i}</td>', _text(r.name),
                 _text(r.kind + (" (NOT COUNTED)" if r.name in report.uncounted else ""), r.kind),
                 _text(blocks.get(r.name, "")), _text(shape, str(prod(r.shapes[0])))]
        cells += [_num(getattr(r, c)) for c in TABLE_COLUMNS]
        cells.append(_text(format_field(r.rf), _rf_order(r.rf)))
        body.append(f'<tr class="layer" data-layer="{escape(r.name)}" data-order="{i}" '
                    f'data-search="{escape(search)}">{"".join(cells)}</tr>')
    total = ['<td></td><td>total</td><td></td><td></td><td></td>']
    total += [_num(getattr(report.totals, c)).replace("<td ", f'<td data-total="{c}" ', 1) for c in TABLE_COLUMNS]
    total.append("<td></td>")
    # the sums of the rows the filter shows (the script fills them in)
    shown = ['<td></td><td>shown</td><td></td><td></td><td></td>']
    shown += [f'<td class="num" data-shown="{c}"></td>' for c in TABLE_COLUMNS]
    shown.append("<td></td>")
    return (f'<table id="layers"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
            f'<tfoot><tr class="total shown">{"".join(shown)}</tr><tr class="total">{"".join(total)}</tr>'
            f"</tfoot></table>")


def _rf_order(field: Field) -> str:
    """What the receptive-field column sorts by: the field's area (global last, unknown first)."""
    if field.is_unknown:
        return "-1"
    if field.is_global:
        return "1e30"
    return str(float(prod(field.size)))


def block_subtotals(report: Report, paths: Mapping[str, tuple[str, ...]]) -> list[tuple[str, int, dict[str, int]]]:
    """Every cluster (outermost first, in execution order): its depth and the sums of its layers."""
    out: dict[str, tuple[int, dict[str, int]]] = {}
    for r in report.layers:
        for depth, c in enumerate(paths.get(r.name, ())):
            sums = out.setdefault(c, (depth, dict.fromkeys(("layers", *TABLE_COLUMNS), 0)))[1]
            sums["layers"] += 1
            for col in TABLE_COLUMNS:
                sums[col] += getattr(r, col)
    return [(c, depth, sums) for c, (depth, sums) in out.items()]


def _block_table(report: Report, paths: Mapping[str, tuple[str, ...]]) -> str:
    rows = block_subtotals(report, paths)
    if not rows:
        return "<p>No blocks: every layer is declared at the top level.</p>"
    head = "".join(f"<th>{h}</th>" for h in ("block", "layers", *(c.replace("_", " ") for c in TABLE_COLUMNS)))
    body = []
    for c, depth, sums in rows:
        indent = "&nbsp;" * 4 * depth
        body.append(f'<tr class="block" data-block="{escape(c)}"><td>{indent}{escape(c)}</td>'
                    f'<td class="num" data-value="{sums["layers"]}" data-exact="{sums["layers"]}" '
                    f'data-si="{sums["layers"]}">{sums["layers"]}</td>'
                    + "".join(_num(sums[col]) for col in TABLE_COLUMNS) + "</tr>")
    return f'<table id="blocks"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def render_view(diagram: Diagram, report: Report, paths: Mapping[str, tuple[str, ...]],
                explanations: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """The whole page. ``paths`` is each layer's cluster path; ``explanations`` maps a layer to
    its explanation's ``to_dict()`` (the panel shows the report's figures for layers without one)."""
    t = report.totals.to_dict()
    blocks = block_of(paths)
    data = {
        "report": report.to_dict(),
        "blocks": {name: list(path) for name, path in paths.items()},
        "edges": [[e.src, e.dst] for e in diagram.edges],
        "fields": {r.name: format_field(r.rf) for r in report.layers},
        "columns": ["units", "params", "connections", "macs", "flops", "activation_bytes", "param_bytes"],
        "explanations": dict(explanations) if explanations else None,
    }
    headline = "".join(f'<div data-total="{key}" data-value="{t[key]}" title="{t[key]:,}"><b>{si(t[key])}</b>'
                       f"<span>{escape(caption)} {t[key]:,}</span></div>" for key, caption in HEADLINE)
    summary = "".join(f"<li>{escape(line)}</li>" for line in _summary(report))
    source = f'<div class="source">{escape(report.source)}</div>' if report.source else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(report.name)} · archcalc</title>
<style>{CSS}</style></head>
<body>
<header><h1>{escape(report.name)}</h1>{source}
<div id="conventions">{escape(report.conventions_line())}</div></header>
<main>
<section id="totals">{headline}</section>
<ul id="summary">{summary}</ul>
<div id="top"><div id="diagram">{render_svg(diagram, report, standalone=False)}</div>
<aside id="panel"><p class="hint">Click a layer (in the diagram or the table) to see its figures and the
path its receptive field comes through.</p></aside></div>
<div id="controls"><input id="filter" type="search" placeholder="filter layers by name, type or block">
<label>numbers <select id="units"><option value="si">K / M / G</option><option value="exact">exact</option>
</select></label><span id="shown"></span></div>
{_layer_table(report, blocks)}
<h3>Blocks (subtotals)</h3>
{_block_table(report, paths)}
</main>
<script type="application/json" id="archcalc-data">{_json_for_script(data)}</script>
<script>{JS}</script>
</body></html>
"""


def _summary(report: Report) -> Sequence[str]:
    lines = list(summary_lines(report))
    lines += [f"warning: {w}" for w in report.warnings]
    if report.uncounted:
        lines.append(f"NOT COUNTED ({len(report.uncounted)} unknown ops, zero in every column): "
                     + ", ".join(report.uncounted))
    return lines
