"""Profiles and device calibrations as the text ``archcalc profile`` and ``archcalc calibrate``
show (table, markdown, json, csv for profiles; table for a device profile)."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from archcalc.errors import OptionError

if TYPE_CHECKING:
    from archcalc.estimate.deviceprofile import DeviceProfile
    from archcalc.runtime.results import ProfileResult

FORMATS = ("table", "markdown", "json", "csv")


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    if abs(value) >= 1:
        return f"{value:.{digits}f}"
    return f"{value:.{digits + 1}f}" if abs(value) >= 0.01 else f"{value:.2g}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _summary_rows(results: Sequence[ProfileResult], human: bool) -> list[list[Any]]:
    rows = []
    for r in results:
        t = r.timing
        if human:
            spread = f"{t.spread:.0%}" + ("" if t.stable else " UNSTABLE")
            band = "-" if r.estimate_low_ms is None else f"{_fmt(r.estimate_low_ms)}-{_fmt(r.estimate_high_ms)}"
            rows.append([r.name, r.batch, r.provider, t.runs, _fmt(t.median_ms), _fmt(t.p90_ms), _fmt(t.min_ms),
                         spread, _fmt(r.estimate_ms), band, _ratio(r.ratio)])
        else:
            rows.append([r.name, r.batch, r.provider, t.runs, t.median_ms, t.p90_ms, t.min_ms, t.spread,
                         r.estimate_ms, r.estimate_low_ms, r.estimate_high_ms, r.ratio])
    return rows


SUMMARY_HEADERS = ["model", "batch", "provider", "runs", "median ms", "p90 ms", "min ms", "spread", "estimate ms",
                   "band ms", "est/meas"]
LAYER_HEADERS = ["layer", "type", "measured ms", "estimate ms", "est/meas", "share", "kernels"]
#: kernels named per layer in a table (a layer or the layout row can run dozens)
KERNELS_SHOWN = 3


def _context_lines(results: Sequence[ProfileResult], notes: Sequence[str]) -> list[str]:
    """What every figure needs to be read: provider really used, device, ORT, threads, runs."""
    lines: list[str] = []

    def add(line: str) -> None:
        if line not in lines:
            lines.append(line)

    for r in results:
        add(f"{r.name} batch {r.batch}: provider {r.provider} (read back from the session; asked for "
            f"{', '.join(r.providers)}) on {r.device_name}")
        drift = ", ".join(f"{k} x{v:.2f}" for k, v in r.drift.items())
        if drift:
            add(f"{r.name} batch {r.batch}: estimate scaled by drift probes run between the timed runs: {drift}")
        if r.band_basis:
            add(f"{r.name} batch {r.batch}: estimate band {_fmt(r.estimate_low_ms)}-{_fmt(r.estimate_high_ms)} ms "
                f"from {r.band_basis}")
        if r.load_average is not None:
            add(f"{r.name} batch {r.batch}: 1-minute load average {r.load_average:.2f} when the timed runs "
                f"started{f' ({r.cores} cores)' if r.cores else ''} (other work on the machine moves the medians)")
        if r.profile_runs:
            add(f"{r.name} batch {r.batch}: per-layer times are medians of {r.profile_runs} runs under ORT's "
                f"profiler (kernels sum to {_fmt(r.profiled_kernels_ms)} ms; the profiler adds a few us per kernel, "
                f"and per-layer estimates include it)")
    for r in results:
        add(f"onnxruntime {r.ort_version}; threads {r.threads if r.threads else 'default'} "
            f"({r.intra_op_threads} intra-op); IO binding {'on' if r.io_binding else 'off'}; "
            f"{r.timing.warmup} warm-up + {r.timing.runs} timed runs per batch (median, p90, min of the timed runs; "
            f"spread = (p90 - min) / median, the noise each result reports)")
        for note in r.notes:
            add(note)
    for note in notes:
        add(note)
    return lines


def _layer_rows(r: ProfileResult, human: bool) -> list[list[Any]]:
    total = sum(layer.measured_ms or 0.0 for layer in r.layers) or None
    rows: list[list[Any]] = []
    for layer in r.layers:
        if layer.kind == "input":
            continue
        if layer.fused_into:
            kernels = f"fused into {layer.fused_into}"
        elif layer.measured_ms is not None and not layer.kernels and layer.kind != "input":
            kernels = "(no kernel)"
        elif human and len(layer.kernels) > KERNELS_SHOWN:  # EfficientNet's (layout) row ran 55 reorders
            kernels = (", ".join(layer.kernels[:KERNELS_SHOWN]) + f" and {len(layer.kernels) - KERNELS_SHOWN} more"
                       " (all in -f json or csv)")
        else:
            kernels = ", ".join(layer.kernels)
        share = (layer.measured_ms or 0.0) / total if total and layer.measured_ms is not None else None
        if human:
            rows.append([layer.name, layer.kind, _fmt(layer.measured_ms), _fmt(layer.estimate_ms), _ratio(layer.ratio),
                         "-" if share is None else f"{100 * share:.1f}%", kernels])
        else:
            rows.append([layer.name, layer.kind, layer.measured_ms, layer.estimate_ms, layer.ratio, share, kernels])
    return rows


def render_results(results: Sequence[ProfileResult], fmt: str = "table", notes: Sequence[str] = ()) -> str:
    """Profile results as text, in the styles of ``archcalc report``."""
    if fmt == "json":
        return json.dumps({"schema_version": 1, "results": [r.to_dict() for r in results], "notes": list(notes)},
                          indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        for line in _context_lines(results, notes):
            buf.write(f"# {line}\n")
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["model", "batch", "provider", "layer", "kind", "runs", "median_ms", "p90_ms", "min_ms",
                         "measured_ms", "estimate_ms", "estimate_low_ms", "estimate_high_ms", "ratio", "fused_into"])
        for r in results:
            t = r.timing
            writer.writerow([r.name, r.batch, r.provider, "(total)", "", t.runs, t.median_ms, t.p90_ms, t.min_ms,
                             t.median_ms, r.estimate_ms, r.estimate_low_ms, r.estimate_high_ms, r.ratio, ""])
            for layer in r.layers:
                writer.writerow([r.name, r.batch, r.provider, layer.name, layer.kind, "", "", "", "",
                                 layer.measured_ms, layer.estimate_ms, "", "", layer.ratio, layer.fused_into or ""])
        return buf.getvalue()
    if fmt not in ("table", "markdown"):
        raise OptionError(f"unknown format '{fmt}'; formats: {', '.join(FORMATS)}")
    from tabulate import tabulate

    tablefmt = "github" if fmt == "markdown" else "simple"
    bullet = "- " if fmt == "markdown" else ""
    title = "profile: " + ", ".join(sorted({r.name for r in results}))
    lines = [f"## {title}" if fmt == "markdown" else title, ""]
    lines.append(tabulate(_summary_rows(results, True), headers=SUMMARY_HEADERS, tablefmt=tablefmt,
                          colalign=["left", "right", "left", *["right"] * 8], disable_numparse=True))
    lines.append("")
    lines += [bullet + line for line in _context_lines(results, notes)]
    for r in results:
        if not r.layers or all(layer.measured_ms is None for layer in r.layers):
            continue
        lines += ["", f"### {r.name}, batch {r.batch}: per layer" if fmt == "markdown"
                  else f"{r.name}, batch {r.batch}: per layer", ""]
        lines.append(tabulate(_layer_rows(r, True), headers=LAYER_HEADERS, tablefmt=tablefmt,
                              colalign=["left", "left", "right", "right", "right", "right", "left"],
                              disable_numparse=True))
    return "\n".join(lines) + "\n"


def describe_profile(dev: DeviceProfile, notes: Sequence[str] = ()) -> str:
    from tabulate import tabulate

    created = time.strftime("%Y-%m-%d %H:%M", time.localtime(dev.created))
    lines = [
        f"device profile: {dev.device} ({dev.provider}) on {dev.gpu or dev.cpu}",
        f"onnxruntime {dev.ort_version}; threads {dev.threads or 'default'} ({dev.intra_op_threads} intra-op); "
        f"calibrated {created} in {dev.seconds:.0f} s",
        f"peak MatMul (1024^3): {dev.matmul_gflops:,.0f} GFLOP/s (measured peak {dev.peak_flops_per_us / 1e3:,.0f}); "
        f"per-run overhead {dev.run_us:.1f} us; "
        f"ORT profiler overhead {dev.profiler_us:.1f} us per kernel",
        "fixed cost per kernel (us): " + ", ".join(f"{k} {v:.2f}" for k, v in dev.fixed_us.items()),
        "per-unit costs (ns): " + ", ".join(f"{k} {v:.3g}" for k, v in dev.unit_ns.items()),
        "",
    ]
    lines.append(tabulate([[f"{int(b):,}", f"{gbs:.1f}"] for b, gbs in dev.bandwidth],
                          headers=["bytes moved", "GB/s"], tablefmt="simple", colalign=["right", "right"],
                          disable_numparse=True))
    if dev.stream:
        lines.append("matrix-vector weight streaming (GB/s): " + ", ".join(
            f"{b / 2**20:,.0f} MiB {gbs:.1f}" for b, gbs in sorted(dev.stream)))
    lines.append("")
    effs = []
    for row in dev.conv:
        from archcalc.estimate.shapes import ConvShape, conv_class

        shape = ConvShape(*(int(v) for v in row[:7]))
        effs.append((conv_class(shape), shape.flops / row[7] / 1e3))
    by_class: dict[str, list[float]] = {}
    for cls, eff in effs:
        by_class.setdefault(cls, []).append(eff)
    table = []
    for cls, values in sorted(by_class.items()):
        values.sort()
        table.append([cls, len(values), f"{values[len(values) // 2]:.0f}", f"{values[-1]:.0f}"])
    lines.append(tabulate(table, headers=["conv class", "shapes", "median GFLOP/s", "best GFLOP/s"],
                          tablefmt="simple", disable_numparse=True))
    lines.append(f"gemm shapes: {len(dev.gemm)}")
    if dev.noise:
        n = dev.noise
        lines.append(f"noise: kept points' repeats disagree by {n.get('points', 0.0):.1%} (median); probes ranged "
                     f"compute x{n.get('compute_lo', 1.0):.2f}-{n.get('compute_hi', 1.0):.2f}, overhead "
                     f"x{n.get('overhead_lo', 1.0):.2f}-{n.get('overhead_hi', 1.0):.2f} of their median; "
                     f"{n.get('remeasured', 0):.0f} points re-measured, {n.get('dropped', 0):.0f} dropped")
    lines += ["", *dev.notes, *notes]
    return "\n".join(lines) + "\n"


def device_profile_json(dev: DeviceProfile) -> str:
    """A device profile as the JSON ``archcalc calibrate -f json`` prints."""
    return json.dumps(dev.to_dict(), indent=1) + "\n"
