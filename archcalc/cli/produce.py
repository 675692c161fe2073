"""``export`` and ``plot``: files made from a network (an ONNX model, a chart)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from archcalc.cli.base import (
    Command,
    assignments,
    bounded_int,
    conventions_overrides,
    counting_options,
    file_input,
    load_source,
    minimize,
    onnx_options,
    variable_option,
)
from archcalc.cli.output import emit, plot_bytes
from archcalc.errors import ArchcalcError, OptionError

if TYPE_CHECKING:
    from archcalc.sweeps import SweepResult


def _export_arguments(e: argparse.ArgumentParser) -> None:
    e.add_argument("file", help="a spec (YAML or bundled name)")
    e.add_argument("--output", "-o", required=True, help="the .onnx file to write (atomically)")
    e.add_argument("--opset", type=bounded_int(1, 99),
                   help="ONNX opset: 11 up to what the installed runtime loads (default 17)")
    e.add_argument("--batch", default="1", help="batch size, or 'dynamic' for a symbolic batch axis")
    e.add_argument("--seed", type=bounded_int(0, 2**32 - 1), default=0, help="seed of the random weights")
    e.add_argument("--weights", choices=("random", "constant"), default="random",
                   help="random weights, or constant ones made at load time (a tiny file, for shape/speed runs)")
    e.add_argument("--max-bytes", type=bounded_int(1, 2**62), default=None,
                   help="refuse to build more weight bytes than this")
    variable_option(e)


def _export(args: argparse.Namespace) -> int:
    from archcalc.sources import load_any, require_spec

    require_spec(args.file, "export", "it builds an ONNX model from a spec's layers",
                 instead="this one is an ONNX model already (archcalc report analyses it)")
    from archcalc.onnx_export.export import DEFAULT_MAX_BYTES, export_onnx
    from archcalc.render.results import export_summary

    if args.batch == "dynamic":
        batch: int | str = "dynamic"
    else:
        from archcalc.cli.base import MAX_BATCH

        text = str(args.batch).strip()
        if not text.isdigit() or len(text) > 9 or not 1 <= int(text) <= MAX_BATCH:
            raise OptionError(f"--batch must be an integer from 1 to {MAX_BATCH:,} or 'dynamic', got {args.batch!r}")
        batch = int(text)
    graph = load_any(args.file, variables=assignments(args.vars, "--var"))
    exported = export_onnx(graph, opset=args.opset, batch=batch, seed=args.seed, weights=args.weights,
                           max_bytes=args.max_bytes if args.max_bytes is not None else DEFAULT_MAX_BYTES)
    emit(exported.model.SerializeToString(), args.output, inputs=[args.file])
    emit(export_summary(exported, args.output, args.weights), None)
    return 0


def _plot_arguments(pl: argparse.ArgumentParser) -> None:
    pl.add_argument("what", choices=("layers", "rf", "sweep"))
    pl.add_argument("file", help="a spec or ONNX model (layers, rf) or a sweep JSON written by "
                                 "archcalc sweep -f json (sweep)")
    pl.add_argument("--output", "-o", required=True, help="the .png or .svg file")
    pl.add_argument("--columns", default="params,macs,activation_bytes",
                    help="layers: comma-separated per-layer numbers to plot, or all (units, params, macs, ...)")
    pl.add_argument("--x", default="macs", help="sweep: the x metric (default macs)")
    pl.add_argument("--y", default="params", help="sweep: the y metric (default params)")
    pl.add_argument("--color", help="sweep: a key or metric to colour points by")
    pl.add_argument("--maximize", choices=("x", "y", "both", "none"), default="none",
                    help="sweep: which Pareto axis is maximised (default none: both are costs)")
    onnx_options(pl)
    counting_options(pl)


def _sweep_result(file: str) -> SweepResult:
    import json

    from archcalc.conventions import resolve
    from archcalc.sources import SourceKind, what_is
    from archcalc.sweeps import SweepResult

    if what_is(file) is SourceKind.ONNX:
        raise OptionError("plot sweep needs a sweep JSON written by archcalc sweep -f json; this is an ONNX model",
                          file=file)
    from archcalc.fileio import read_regular_text

    text = read_regular_text(file, 256 * 2**20, kind="a sweep JSON", shown=file)
    try:
        data = json.loads(text)
        return SweepResult(data["rows"], tuple(data["keys"]), tuple(data["metrics"]),
                           resolve(None, {k: v for k, v in data["conventions"].items()}), spec=data.get("spec"))
    except FileNotFoundError:
        raise ArchcalcError("no such file", file=file) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ArchcalcError(f"not a sweep JSON written by archcalc sweep -f json ({exc})", file=file) from None


def _plot(args: argparse.Namespace) -> int:
    from archcalc import plots

    if args.what == "sweep":
        fig = plots.sweep_scatter(_sweep_result(args.file), args.x, args.y, args.color,
                                  minimize=minimize(args.maximize))
    else:
        from archcalc.analysis import analyze

        graph = load_source(args, args.file)
        report = analyze(graph, preset=args.preset, overrides=conventions_overrides(args))
        if args.what == "layers":
            wanted = [c.strip() for c in args.columns.split(",") if c.strip()]
            fig = plots.layer_bars(report, plots.PLOTTABLE if wanted == ["all"] else wanted)
        else:
            fig = plots.rf_growth(report)
    emit(plot_bytes(fig, args.output), args.output, inputs=[args.file])
    emit(f"wrote {args.output}\n", None)
    return 0


COMMANDS = (
    Command("export", "write the spec as a checked, runnable ONNX model", _export_arguments, _export,
            file_input, reads_source=True),
    Command("plot", "per-layer bars, receptive-field growth, or a sweep scatter", _plot_arguments, _plot,
            file_input, reads_source=True),
)
