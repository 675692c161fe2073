"""Command-line parts of the runtime features (profile, calibrate): registered into the main parser.

Heavy modules (onnxruntime, numpy) are imported only when one of these commands runs.

    archcalc profile SPEC|MODEL.onnx [--device auto|cuda|cpu] [--batch 1,8,32] [--warmup N]
                     [--repeat N] [--threads N] [--per-layer] [--format ...] [--plot out.png]
                     [--estimate auto|off|recalibrate] [--max-memory 8GiB] [-o OUT]
    archcalc calibrate [--device ...] [--threads N] [--quick] [--show] [--format table|json]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from archcalc.errors import ArchcalcError

if TYPE_CHECKING:
    from archcalc.estimate.deviceprofile import DeviceProfile
    from archcalc.runtime.results import ProfileResult

FORMATS = ("table", "markdown", "json", "csv")
#: the progress bar appears once a command has run this long
PROGRESS_AFTER_S = 2.0


def register(sub: Any) -> None:
    """Add the runtime subcommands to the main parser's subparsers."""
    p = sub.add_parser("profile", help="time a spec or ONNX model on ONNX Runtime (per layer, next to estimates)")
    p.add_argument("file", help="a spec (YAML or bundled name) or an ONNX model")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: CUDA when it can run, else CPU; cuda refuses (with the reason) where it cannot")
    p.add_argument("--batch", default=None,
                   help="batch sizes, comma-separated (default 1, or an ONNX model's own fixed batch)")
    p.add_argument("--warmup", type=int, default=5, help="untimed runs first (default 5)")
    p.add_argument("--repeat", type=int, default=30, help="timed runs (default 30)")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (default: ORT's, one per core)")
    p.add_argument("--per-layer", action="store_true", help="per-layer times from ORT's profiler")
    p.add_argument("--format", "-f", default="table", choices=FORMATS)
    p.add_argument("--output", "-o", help="write to this file (atomically) instead of stdout")
    p.add_argument("--plot", metavar="OUT.png", help="plot estimate vs measured (needs matplotlib)")
    p.add_argument("--estimate", choices=("auto", "off", "recalibrate"), default="auto",
                   help="auto: use the cached device profile, calibrating first when there is none; "
                        "recalibrate: calibrate now; off: no estimates")
    p.add_argument("--max-memory", help="refuse runs needing more than this (e.g. 8GiB; default 80%% of free memory)")
    p.add_argument("--var", dest="vars", action="append", default=[], metavar="NAME=VALUE",
                   help="set a spec variable (repeatable)")

    c = sub.add_parser("calibrate", help="measure this device with micro-benchmarks; cache its profile")
    c.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    c.add_argument("--threads", type=int, default=None, help="intra-op threads (default: ORT's)")
    c.add_argument("--quick", action="store_true", help="fewer shapes, measured once (about 15 s)")
    c.add_argument("--show", action="store_true", help="show the cached profile; measure only if there is none")
    c.add_argument("--format", "-f", default="table", choices=("table", "json"))


def dispatch(args: argparse.Namespace) -> int | None:
    """Run a runtime subcommand; None when the command is not one of them."""
    if args.command == "profile":
        return _profile(args)
    if args.command == "calibrate":
        return _calibrate(args)
    return None


# -- progress ----------------------------------------------------------------------------------


class ProgressBar:
    """A progress callback that draws nothing for the first seconds, then a bar on stderr
    (tqdm when installed, else one line rewritten in place on a terminal)."""

    def __init__(self, stream: Any = None, after: float = PROGRESS_AFTER_S) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.after = after
        self.start = time.monotonic()
        self.bar: Any = None
        self.last_draw = 0.0
        self.drawn = False
        try:
            import tqdm  # noqa: F401

            self.has_tqdm = True
        except ImportError:
            self.has_tqdm = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.start < self.after:
            return
        if self.has_tqdm:
            from tqdm import tqdm

            if self.bar is None or self.bar.total != total:
                if self.bar is not None:
                    self.bar.close()
                self.bar = tqdm(total=total, file=self.stream, unit="run", leave=False, dynamic_ncols=True)
            self.bar.set_description(stage, refresh=False)
            self.bar.update(done - self.bar.n)
            return
        if not getattr(self.stream, "isatty", lambda: False)() or now - self.last_draw < 0.2:
            return
        self.last_draw = now
        width = 30
        filled = int(width * done / max(total, 1))
        self.stream.write(f"\r{stage[:50]:50s} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.drawn:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()
            self.drawn = False


# -- helpers -----------------------------------------------------------------------------------


def parse_batches(text: str) -> list[int]:
    out = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = int(part)
        except ValueError:
            raise ArchcalcError(f"--batch takes positive integers separated by commas, got {text!r}") from None
        if value < 1:
            raise ArchcalcError(f"--batch takes positive integers, got {value}")
        out.append(value)
    if not out:
        raise ArchcalcError("--batch needs at least one batch size")
    return out


_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 2**10, "m": 10**6, "mb": 10**6, "mib": 2**20,
          "g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12, "tib": 2**40}


def parse_bytes(text: str) -> int:
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        raise ArchcalcError(f"--max-memory takes a size such as 8GiB, 500MB or 1000000, got {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _emit(text: str, output: str | None) -> None:
    if output:
        from archcalc.fileio import write_atomic

        write_atomic(output, text)
    else:
        sys.stdout.write(text)


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


# -- profile -----------------------------------------------------------------------------------


def _device_profile(args: argparse.Namespace, progress: Callable[[str, int, int], None],
                    notes: list[str]) -> DeviceProfile | None:
    if args.estimate == "off":
        return None
    from archcalc.errors import CalibrationError
    from archcalc.estimate.calibration import device_profile, load_cached
    from archcalc.runtime.devices import choose_device

    choice = choose_device(args.device)
    if not choice.device.estimable:
        notes.append("no estimate: the estimator models ORT's CPU kernels")
        return None
    cached, why = load_cached(choice.device, args.threads)
    if cached is None or args.estimate == "recalibrate":
        print(f"archcalc: {why + '; ' if cached is None else ''}calibrating this device first (about a minute "
              f"and a half, cached for next time; --estimate off skips estimates)", file=sys.stderr)
    try:
        dev, got = device_profile(choice.device, args.threads, refresh=args.estimate == "recalibrate",
                                  progress=progress)
    except CalibrationError as exc:
        notes.append(f"no estimate: {exc}")
        return None
    notes.extend(got)
    return dev


def _profile(args: argparse.Namespace) -> int:
    from archcalc.measure import profile

    batches = parse_batches(args.batch) if args.batch is not None else None
    if args.repeat < 1 or args.warmup < 0:
        raise ArchcalcError("--repeat must be at least 1 and --warmup at least 0")
    if args.threads is not None and args.threads < 1:
        raise ArchcalcError("--threads must be at least 1")
    max_memory = parse_bytes(args.max_memory) if args.max_memory else None
    variables: dict[str, Any] = {}
    if args.vars:
        from archcalc.cli import _assignments

        if str(args.file).lower().endswith(".onnx"):
            raise ArchcalcError("--var sets spec variables; an ONNX model has none")
        variables = _assignments(args.vars, "--var")
    bar = ProgressBar()
    notes: list[str] = []
    try:
        dev = _device_profile(args, bar, notes)
        results = profile(args.file, device=args.device, batches=batches, warmup=args.warmup, repeat=args.repeat,
                          threads=args.threads, per_layer=args.per_layer, progress=bar, device_profile=dev,
                          max_memory=max_memory, variables=variables or None)
    finally:
        bar.close()
    _emit(render_results(results, args.format, notes), args.output)
    if args.plot:
        from archcalc import plots

        plots.save(plots.profile_comparison(results), args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0


def _summary_rows(results: Sequence[ProfileResult], human: bool) -> list[list[Any]]:
    rows = []
    for r in results:
        t = r.timing
        if human:
            spread = f"{t.spread:.0%}" + ("" if t.stable else " UNSTABLE")
            rows.append([r.name, r.batch, r.provider, t.runs, _fmt(t.median_ms), _fmt(t.p90_ms), _fmt(t.min_ms),
                         spread, _fmt(r.estimate_ms), _ratio(r.ratio)])
        else:
            rows.append([r.name, r.batch, r.provider, t.runs, t.median_ms, t.p90_ms, t.min_ms, t.spread,
                         r.estimate_ms, r.ratio])
    return rows


SUMMARY_HEADERS = ["model", "batch", "provider", "runs", "median ms", "p90 ms", "min ms", "spread", "estimate ms",
                   "est/meas"]
LAYER_HEADERS = ["layer", "type", "measured ms", "estimate ms", "est/meas", "share", "kernels"]


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
                         "measured_ms", "estimate_ms", "ratio", "fused_into"])
        for r in results:
            t = r.timing
            writer.writerow([r.name, r.batch, r.provider, "(total)", "", t.runs, t.median_ms, t.p90_ms, t.min_ms,
                             t.median_ms, r.estimate_ms, r.ratio, ""])
            for layer in r.layers:
                writer.writerow([r.name, r.batch, r.provider, layer.name, layer.kind, "", "", "", "",
                                 layer.measured_ms, layer.estimate_ms, layer.ratio, layer.fused_into or ""])
        return buf.getvalue()
    if fmt not in ("table", "markdown"):
        raise ArchcalcError(f"unknown format '{fmt}'; formats: {', '.join(FORMATS)}")
    from tabulate import tabulate

    tablefmt = "github" if fmt == "markdown" else "simple"
    bullet = "- " if fmt == "markdown" else ""
    title = "profile: " + ", ".join(sorted({r.name for r in results}))
    lines = [f"## {title}" if fmt == "markdown" else title, ""]
    lines.append(tabulate(_summary_rows(results, True), headers=SUMMARY_HEADERS, tablefmt=tablefmt,
                          colalign=["left", "right", "left", *["right"] * 7], disable_numparse=True))
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


# -- calibrate ---------------------------------------------------------------------------------


def _calibrate(args: argparse.Namespace) -> int:
    from archcalc.estimate.calibration import cache_path, calibrate, load_cached, save_profile
    from archcalc.runtime.devices import choose_device

    if args.threads is not None and args.threads < 1:
        raise ArchcalcError("--threads must be at least 1")
    choice = choose_device(args.device)
    notes = list(choice.notes)
    dev = None
    if args.show:
        dev, why = load_cached(choice.device, args.threads)
        if dev is None:
            notes.append(why)
    if dev is None:
        bar = ProgressBar()
        try:
            dev = calibrate(choice.device, args.threads, quick=args.quick, progress=bar)
        finally:
            bar.close()
        path = save_profile(dev)
        notes.append(f"calibrated in {dev.seconds:.0f} s; cached at {path}")
    else:
        notes.append(f"cached at {cache_path(dev.device, dev.threads)}")
    if args.format == "json":
        sys.stdout.write(json.dumps(dev.to_dict(), indent=1) + "\n")
        return 0
    sys.stdout.write(describe_profile(dev, notes))
    return 0


def describe_profile(dev: DeviceProfile, notes: Sequence[str] = ()) -> str:
    from tabulate import tabulate

    created = time.strftime("%Y-%m-%d %H:%M", time.localtime(dev.created))
    lines = [
        f"device profile: {dev.device} ({dev.provider}) on {dev.gpu or dev.cpu}",
        f"onnxruntime {dev.ort_version}; threads {dev.threads or 'default'} ({dev.intra_op_threads} intra-op); "
        f"calibrated {created} in {dev.seconds:.0f} s",
        f"peak MatMul (1024^3): {dev.matmul_gflops:,.0f} GFLOP/s; per-run overhead {dev.run_us:.1f} us; "
        f"ORT profiler overhead {dev.profiler_us:.1f} us per kernel",
        "fixed cost per kernel (us): " + ", ".join(f"{k} {v:.2f}" for k, v in dev.fixed_us.items()),
        "per-unit costs (ns): " + ", ".join(f"{k} {v:.3g}" for k, v in dev.unit_ns.items()),
        "",
    ]
    lines.append(tabulate([[f"{int(b):,}", f"{gbs:.1f}"] for b, gbs in dev.bandwidth],
                          headers=["bytes moved", "GB/s"], tablefmt="simple", colalign=["right", "right"],
                          disable_numparse=True))
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
    lines += ["", *dev.notes, *notes]
    return "\n".join(lines) + "\n"
