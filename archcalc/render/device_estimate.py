"""Estimates on a named device as ``archcalc estimate`` shows them (table, markdown, json, csv).

Every format carries the basis: ``datasheet, not calibrated`` (with the datasheet cited) or
``calibrated on this machine``: in the table's and markdown's heading, as a JSON field, and as a
``basis`` column on every CSV row (no comment line, so a CSV reader takes the first line as the
header).
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING

from archcalc.errors import OptionError

if TYPE_CHECKING:
    from archcalc.estimate.ondevice import DeviceEstimate

FORMATS = ("table", "markdown", "json", "csv")
HEADERS = ["layer", "type", "estimate ms", "share", "bound", "GFLOPs", "MiB moved"]


def _ms(value: float) -> str:
    if value == 0:
        return "0"
    return f"{value:,.3f}" if value >= 0.001 else f"{value:.2g}"


def _rows(est: DeviceEstimate) -> list[list[str]]:
    total = est.total_ms or 1.0
    return [[layer.name, layer.kind, _ms(layer.ms), f"{layer.ms / total:.1%}", layer.bound,
             "-" if layer.flops is None else f"{layer.flops / 1e9:,.3f}",
             "-" if layer.bytes is None else f"{layer.bytes / 2**20:,.2f}"] for layer in est.layers]


def _heading(est: DeviceEstimate) -> list[str]:
    lines = [f"{est.name} on {est.device_name} ({est.device}), {est.precision}, batch {est.batch}: "
             f"{_ms(est.total_ms)} ms estimated [{est.basis}]",
             f"source: {est.source}"]
    if est.low_ms is not None and est.high_ms is not None:
        lines.append(f"band: {_ms(est.low_ms)}-{_ms(est.high_ms)} ms, from {est.band_basis}")
    else:
        lines.append("band: none (a datasheet estimate measures nothing, so no noise bounds it)")
    if est.peak_tflops is not None:
        lines.append(f"peak {est.peak_tflops:g} TFLOP/s ({est.precision}), memory {est.bandwidth_gbs:g} GB/s, "
                     f"launch {est.launch_us:g} us per kernel")
    return lines + [f"note: {n}" for n in est.notes]


def _band(est: DeviceEstimate) -> str:
    return "" if est.low_ms is None or est.high_ms is None else f" (band {_ms(est.low_ms)}-{_ms(est.high_ms)})"


def _table(est: DeviceEstimate) -> str:
    rows = [HEADERS, *_rows(est)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    right = {2, 3, 5, 6}
    body = ["  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r)).rstrip()
            for r in rows]
    body.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([*_heading(est), "", *body, f"total: {_ms(est.total_ms)} ms{_band(est)} [{est.basis}]"]) + "\n"


def _markdown(est: DeviceEstimate) -> str:
    head = _heading(est)
    lines = [f"**{head[0]}**", ""] + [f"- {h}" for h in head[1:]] + [""]
    lines.append("| " + " | ".join(HEADERS) + " |")
    lines.append("|" + "---|" * len(HEADERS))
    lines += ["| " + " | ".join(r) + " |" for r in _rows(est)]
    lines += ["", f"Total: {_ms(est.total_ms)} ms{_band(est)} ({est.basis})."]
    return "\n".join(lines) + "\n"


def _csv(est: DeviceEstimate) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["model", "device", "precision", "batch", "layer", "type", "estimate_ms", "bound", "flops", "bytes",
                "basis", "low_ms", "high_ms"])
    w.writerow([est.name, est.device, est.precision, est.batch, "(total)", "", est.total_ms, "", "", "", est.basis,
                "" if est.low_ms is None else est.low_ms, "" if est.high_ms is None else est.high_ms])
    for layer in est.layers:
        w.writerow([est.name, est.device, est.precision, est.batch, layer.name, layer.kind, layer.ms, layer.bound,
                    "" if layer.flops is None else layer.flops, "" if layer.bytes is None else layer.bytes, est.basis,
                    "", ""])
    return out.getvalue()


def render_device_estimate(est: DeviceEstimate, fmt: str) -> str:
    if fmt == "table":
        return _table(est)
    if fmt == "markdown":
        return _markdown(est)
    if fmt == "json":
        return json.dumps(est.to_dict(), indent=2) + "\n"
    if fmt == "csv":
        return _csv(est)
    raise OptionError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
