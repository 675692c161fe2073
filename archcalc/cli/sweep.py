"""``sweep``: analyse every variant of a spec over a grid of variables and layer attributes."""

from __future__ import annotations

import argparse
from typing import Any

from archcalc.cli.base import (
    Command,
    assignments,
    bounded_int,
    conventions_overrides,
    counting_options,
    file_input,
    minimize,
    output_options,
)
from archcalc.cli.output import emit, output_format, plot_bytes
from archcalc.errors import OptionError


def _sweep_arguments(w: argparse.ArgumentParser) -> None:
    from archcalc.render import FORMATS
    from archcalc.sweeps.grid import MAX_AXIS_VALUES, MAX_VARIANTS
    from archcalc.sweeps.pool import MAX_WORKERS

    w.add_argument("file", help="a spec (YAML or bundled name)")
    w.add_argument("--vary", action="append", default=[], metavar="KEY=VALUES", required=True,
                   help="e.g. conv1.filters=32,64,128 or input.size=160:320:32 or width=32,64 (repeatable)")
    w.add_argument("--mode", choices=("product", "zip"), default="product",
                   help="product: every combination of the --vary values; zip: the i-th value of each together")
    w.add_argument("--metrics", help="comma-separated metrics (default: params,macs,flops,...)")
    output_options(w, FORMATS)
    w.add_argument("--workers", type=bounded_int(1, MAX_WORKERS),
                   help=f"processes, 1 to {MAX_WORKERS} (default: the number of cores)")
    w.add_argument("--max-variants", type=bounded_int(1, MAX_AXIS_VALUES), metavar="N",
                   help=f"refuse grids of more than N variants (default {MAX_VARIANTS:,})")
    w.add_argument("--csv-context", action="store_true",
                   help="csv: start with a '#' line of the conventions (pandas: comment='#')")
    w.add_argument("--plot", help="also write a scatter with the Pareto front (.png or .svg)")
    w.add_argument("--x", help="x metric of --plot / the Pareto front (default macs)")
    w.add_argument("--y", help="y metric of --plot / the Pareto front (default params)")
    w.add_argument("--maximize", choices=("x", "y", "both", "none"), default="none",
                   help="which Pareto axis is maximised (default none: both are costs, the front minimises both)")
    w.add_argument("--profile", action="store_true", help="also measure every valid variant with ONNX Runtime")
    w.add_argument("--device", help="estimate latency_ms (added to the metrics) on cpu (calibrated here) or a "
                                    "datasheet GPU: h100, a100, l4, t4, ... (labelled datasheet, not calibrated)")
    counting_options(w)


def _sweep(args: argparse.Namespace) -> int:
    from archcalc.analysis import conventions_for
    from archcalc.cli.progress import ProgressBar
    from archcalc.render import FORMATS
    from archcalc.render.sweep import render_sweep
    from archcalc.sources import load_any, require_spec
    from archcalc.sweeps import DEFAULT_METRICS, sweep
    from archcalc.sweeps.results import check_names

    require_spec(args.file, "sweep", "it varies spec variables and layer attributes")
    fmt = output_format(args.format, args.output, FORMATS)
    grid: dict[str, Any] = {}
    for item in args.vary:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise OptionError(f"--vary expects KEY=VALUES, got {item!r}")
        grid[key.strip()] = values.strip()
    overrides: dict[str, Any] = dict(conventions_overrides(args))
    base = load_any(args.file, variables=assignments(args.vars, "--var"))
    conv = conventions_for(base, args.preset, overrides)
    metrics = tuple(m.strip() for m in args.metrics.split(",")) if args.metrics else DEFAULT_METRICS
    spec: Any = args.file if not args.vars else base.meta["document"]
    if args.vars:
        spec = dict(spec)
        spec["variables"] = {**(spec.get("variables") or {}), **assignments(args.vars, "--var")}
    axes = [a for a in (args.x, args.y) if a] + ([args.x or "macs", args.y or "params"] if args.plot else [])
    precision = "fp32"
    if args.device is not None:
        from archcalc.estimate.datasheets import PRECISIONS, datasheet_named

        if args.device.strip().lower() != "cpu":
            datasheet_named(args.device)  # an unknown device is refused before any work
        if args.dtype is not None and args.dtype not in PRECISIONS:
            raise OptionError(f"--device estimates latency in {', '.join(PRECISIONS)}; --dtype {args.dtype} is not "
                              f"one of them")
        precision = args.dtype or "fp32"
        if "latency_ms" not in metrics:
            metrics = (*metrics, "latency_ms")
    check_names(axes, list(grid), metrics, args.profile)  # a misspelt axis fails before the sweep runs
    bar = ProgressBar()
    announced: list[int] = []

    def progress(done: int, total: int) -> None:
        if not announced:  # called with (0, total) before any variant runs: say how many there are
            announced.append(total)
            bar(f"sweep: {total:,} variant{'s' if total != 1 else ''}", 0, max(total, 1))
            return
        bar("sweep", done, total)

    try:
        result = sweep(spec, grid, mode=args.mode, conventions=conv, metrics=metrics, workers=args.workers,
                       profile=args.profile, progress=progress, max_variants=args.max_variants, device=args.device,
                       precision=precision)
    finally:
        bar.close()
    emit(render_sweep(result, fmt, x=args.x, y=args.y, minimize=minimize(args.maximize),
                      csv_context=args.csv_context), args.output, inputs=[args.file])
    if args.plot:
        from archcalc import plots

        fig = plots.sweep_scatter(result, args.x or "macs", args.y or "params", minimize=minimize(args.maximize))
        emit(plot_bytes(fig, args.plot), args.plot, inputs=[args.file])
    return 0


COMMANDS = (
    Command("sweep", "analyse every variant of a spec over a grid", _sweep_arguments, _sweep, file_input,
            reads_source=True),
)
