"""The command line. The only module that prints and exits.

Exit codes: 0 success; 1 an ``expected:`` figure does not match; 2 bad input (one line on
stderr naming file, line and layer; ``--debug`` shows the traceback); 3 an internal error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from archcalc.errors import ArchcalcError

EXIT_MISMATCH = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, like every other bad input
        self.exit(EXIT_USAGE, f"archcalc: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    from archcalc import __version__
    from archcalc.conventions import DTYPE_BYTES
    from archcalc.render import FORMATS

    p = _Parser(prog="archcalc", description="Exact shapes, counts, memory and receptive fields of CNNs.")
    p.add_argument("--version", action="version", version=f"archcalc {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def counting(q: argparse.ArgumentParser) -> None:
        q.add_argument("--preset", help="counting preset (archcalc presets lists them)")
        q.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                       help="override a convention (repeatable)")
        q.add_argument("--batch", type=int, help="batch size (scales MACs, FLOPs, activation bytes)")
        q.add_argument("--dtype", choices=tuple(DTYPE_BYTES), help="element type for byte counts")
        q.add_argument("--var", dest="vars", action="append", default=[], metavar="NAME=VALUE",
                       help="set a spec variable (repeatable)")

    r = sub.add_parser("report", help="per-layer table with totals and the conventions used")
    r.add_argument("file")
    r.add_argument("--format", "-f", default="table", choices=FORMATS)
    r.add_argument("--columns", help="comma-separated columns, or 'all' (archcalc columns lists them)")
    r.add_argument("--output", "-o", help="write to this file (atomically) instead of stdout")
    r.add_argument("--input", dest="inputs", action="append", default=[], metavar="NAME=1x3x224x224",
                   help="ONNX: fix an input's dims (repeatable; NAME= may be left out for one input)")
    r.add_argument("--allow-unknown", action="store_true",
                   help="ONNX: analyse past ops archcalc does not model (they are reported as not counted)")
    counting(r)

    c = sub.add_parser("check", help="compare a spec's expected: figures with the computed ones")
    c.add_argument("files", nargs="+")
    c.add_argument("--quiet", "-q", action="store_true", help="print mismatches only")

    e = sub.add_parser("export", help="write the spec as a checked, runnable ONNX model")
    e.add_argument("file")
    e.add_argument("--output", "-o", required=True, help="the .onnx file to write (atomically)")
    e.add_argument("--opset", type=int, help="ONNX opset (default 17, up to what the installed runtime loads)")
    e.add_argument("--batch", default="1", help="batch size, or 'dynamic' for a symbolic batch axis")
    e.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    e.add_argument("--weights", choices=("random", "constant"), default="random",
                   help="random weights, or constant ones made at load time (a tiny file, for shape/speed runs)")
    e.add_argument("--max-bytes", type=int, default=None, help="refuse to build more weight bytes than this")
    e.add_argument("--var", dest="vars", action="append", default=[], metavar="NAME=VALUE")

    w = sub.add_parser("sweep", help="analyse every variant of a spec over a grid")
    w.add_argument("file")
    w.add_argument("--vary", action="append", default=[], metavar="KEY=VALUES", required=True,
                   help="e.g. conv1.filters=32,64,128 or input.size=160:320:32 or width=32,64 (repeatable)")
    w.add_argument("--mode", choices=("product", "zip"), default="product")
    w.add_argument("--metrics", help="comma-separated metrics (default: params,macs,flops,...)")
    w.add_argument("--format", "-f", default="table", choices=FORMATS)
    w.add_argument("--output", "-o", help="write to this file (atomically) instead of stdout")
    w.add_argument("--workers", type=int, help="processes (default: the number of cores)")
    w.add_argument("--plot", help="also write a scatter with the Pareto front (.png or .svg)")
    w.add_argument("--x", help="x metric of --plot / the Pareto front (default macs)")
    w.add_argument("--y", help="y metric of --plot / the Pareto front (default params)")
    w.add_argument("--maximize", choices=("x", "y", "both", "none"), default="none",
                   help="which Pareto axis is maximised (default none: both are costs, the front minimises both)")
    w.add_argument("--profile", action="store_true", help="also measure every valid variant with ONNX Runtime")
    counting(w)

    pl = sub.add_parser("plot", help="per-layer bars, receptive-field growth, or a sweep scatter")
    pl.add_argument("what", choices=("layers", "rf", "sweep"))
    pl.add_argument("file", help="a spec (layers, rf) or a sweep JSON written by archcalc sweep -f json (sweep)")
    pl.add_argument("--output", "-o", required=True, help="the .png or .svg file")
    pl.add_argument("--columns", default="params,macs,activation_bytes", help="layers: the columns to plot")
    pl.add_argument("--x", default="macs")
    pl.add_argument("--y", default="params")
    pl.add_argument("--color", help="sweep: a key or metric to colour points by")
    pl.add_argument("--maximize", choices=("x", "y", "both", "none"), default="none")
    counting(pl)

    t = sub.add_parser("tables", help="published figures vs computed ones, per reference network")
    t.add_argument("names", nargs="*", help="bundled spec names or paths (default: every bundled spec)")
    t.add_argument("--format", "-f", default="table", choices=FORMATS)
    t.add_argument("--output", "-o", help="write to this file (atomically) instead of stdout")

    from archcalc import cli_runtime

    cli_runtime.register(sub)
    sub.add_parser("list", help="list the bundled specs (use their names as FILE)")
    sub.add_parser("types", help="list layer types, their aliases and keys")
    sub.add_parser("presets", help="list counting presets and what they reproduce")
    sub.add_parser("columns", help="list report columns")
    return p


def _assignments(pairs: Sequence[str], what: str) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ArchcalcError(f"{what} expects NAME=VALUE, got {pair!r}")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def _report(args: argparse.Namespace) -> int:
    from archcalc.analysis import analyze
    from archcalc.render import parse_columns, render
    from archcalc.spec.loader import load_spec

    columns = parse_columns(args.columns)
    overrides = _conventions_overrides(args)
    if args.file.lower().endswith(".onnx"):
        from archcalc.onnx_import.importer import import_onnx, parse_input_shapes

        if args.vars:
            raise ArchcalcError("--var sets spec variables; an ONNX model has none")
        graph = import_onnx(args.file, input_shapes=parse_input_shapes(args.inputs), batch=args.batch,
                            allow_unknown=args.allow_unknown)
    else:
        if args.inputs or args.allow_unknown:
            raise ArchcalcError("--input and --allow-unknown apply to ONNX models only")
        graph = load_spec(args.file, variables=_assignments(args.vars, "--var"))
    report = analyze(graph, preset=args.preset, overrides=overrides)
    _emit(render(report, args.format, columns), args.output)
    return 0


def _check(args: argparse.Namespace) -> int:
    from archcalc.expected import check
    from archcalc.spec.loader import load_spec

    failed = 0
    for file in args.files:
        graph = load_spec(file)
        results = check(graph)
        if not results:
            print(f"{file}: no expected: figures")
            continue
        bad = [r for r in results if not r.ok]
        failed += len(bad)
        for r in results:
            if not args.quiet or not r.ok:
                print(f"{file}: {r.describe()}")
        print(f"{file}: {len(results) - len(bad)}/{len(results)} figures reproduced")
    return EXIT_MISMATCH if failed else 0


def _export(args: argparse.Namespace) -> int:
    from archcalc.onnx_export.export import DEFAULT_MAX_BYTES, export_onnx, save
    from archcalc.spec.loader import load_spec

    if args.batch == "dynamic":
        batch: int | str = "dynamic"
    else:
        try:
            batch = int(args.batch)
        except ValueError:
            raise ArchcalcError(f"--batch must be a positive integer or 'dynamic', got {args.batch!r}") from None
    graph = load_spec(args.file, variables=_assignments(args.vars, "--var"))
    exported = export_onnx(graph, opset=args.opset, batch=batch, seed=args.seed, weights=args.weights,
                           max_bytes=args.max_bytes if args.max_bytes is not None else DEFAULT_MAX_BYTES)
    save(exported, args.output)
    model = exported.model
    print(f"wrote {args.output}: {len(model.graph.node)} nodes, opset {model.opset_import[0].version}, "
          f"IR {model.ir_version}, {exported.weight_bytes:,} bytes of {args.weights} weights")
    for note in exported.notes:
        print(f"note: {note}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from archcalc.analysis import conventions_for
    from archcalc.sweeps import DEFAULT_METRICS, sweep

    grid: dict[str, Any] = {}
    for item in args.vary:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ArchcalcError(f"--vary expects KEY=VALUES, got {item!r}")
        grid[key.strip()] = values.strip()
    overrides: dict[str, Any] = dict(_conventions_overrides(args))
    from archcalc.spec.loader import load_spec

    base = load_spec(args.file, variables=_assignments(args.vars, "--var"))
    conv = conventions_for(base, args.preset, overrides)
    metrics = tuple(m.strip() for m in args.metrics.split(",")) if args.metrics else DEFAULT_METRICS
    spec: Any = args.file if not args.vars else base.meta["document"]
    if args.vars:
        spec = dict(spec)
        spec["variables"] = {**(spec.get("variables") or {}), **_assignments(args.vars, "--var")}
    from archcalc.cli_runtime import ProgressBar
    from archcalc.render.sweep import render_sweep
    from archcalc.sweeps.results import check_names

    axes = [a for a in (args.x, args.y) if a] + ([args.x or "macs", args.y or "params"] if args.plot else [])
    check_names(axes, list(grid), metrics, args.profile)  # a misspelt axis fails before the sweep runs

    bar = ProgressBar()
    try:
        result = sweep(spec, grid, mode=args.mode, conventions=conv, metrics=metrics, workers=args.workers,
                       profile=args.profile, progress=lambda done, total: bar("sweep", done, total))
    finally:
        bar.close()
    minimize = _minimize(args.maximize)
    text = render_sweep(result, args.format, x=args.x, y=args.y, minimize=minimize)
    _emit(text, args.output)
    if args.plot:
        from archcalc import plots

        plots.save(plots.sweep_scatter(result, args.x or "macs", args.y or "params", minimize=minimize), args.plot)
    return 0


def _minimize(maximize: str) -> tuple[bool, bool]:
    return (maximize not in ("x", "both"), maximize not in ("y", "both"))


def _conventions_overrides(args: argparse.Namespace) -> dict[str, Any]:
    from archcalc.conventions import parse_assignments

    overrides: dict[str, Any] = dict(parse_assignments(args.sets))
    if args.batch is not None:
        overrides["batch"] = str(args.batch)
    if args.dtype is not None:
        overrides["dtype"] = args.dtype
    return overrides


def _plot(args: argparse.Namespace) -> int:
    from archcalc import plots

    if args.what == "sweep":
        import json

        from archcalc.conventions import resolve
        from archcalc.sweeps import SweepResult

        try:
            data = json.loads(Path(args.file).read_text(encoding="utf-8"))
            result = SweepResult(data["rows"], tuple(data["keys"]), tuple(data["metrics"]),
                                 resolve(None, {k: v for k, v in data["conventions"].items()}), spec=data.get("spec"))
        except FileNotFoundError:
            raise ArchcalcError("no such file", file=args.file) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ArchcalcError(f"not a sweep JSON written by archcalc sweep -f json ({exc})", file=args.file) from None
        fig = plots.sweep_scatter(result, args.x, args.y, args.color, minimize=_minimize(args.maximize))
    else:
        from archcalc.analysis import analyze
        from archcalc.spec.loader import load_spec

        graph = load_spec(args.file, variables=_assignments(args.vars, "--var"))
        report = analyze(graph, preset=args.preset, overrides=_conventions_overrides(args))
        if args.what == "layers":
            from archcalc.render import parse_columns

            columns = [c for c in parse_columns(args.columns) if c != "name"]
            fig = plots.layer_bars(report, columns)
        else:
            fig = plots.rf_growth(report)
    plots.save(fig, args.output)
    print(f"wrote {args.output}")
    return 0


def _tables(args: argparse.Namespace) -> int:
    from archcalc.tables import references, render_tables

    refs = references(args.names)
    _emit(render_tables(refs, args.format), args.output)
    return EXIT_MISMATCH if any(c.status == "mismatch" for r in refs for c in r.checks) else 0


def _emit(text: str, output: str | None) -> None:
    if output:
        from archcalc.fileio import write_atomic

        write_atomic(output, text)
    else:
        sys.stdout.write(text)


def _list() -> int:
    from archcalc.bundled import bundled_specs
    from archcalc.spec.loader import load_spec

    for name, path in bundled_specs().items():
        graph = load_spec(path)
        print(f"{name}: {graph.description or graph.name} [{graph.source or 'no source'}]")
    return 0


def _types() -> int:
    from archcalc.ops import OPS, TYPE_NAMES

    for op in OPS:
        if op.kind == "input":
            continue
        names = sorted(n for n, (k, _) in TYPE_NAMES.items() if k == op.kind and n != op.kind)
        keys = ", ".join(op.schema) or "-"
        print(f"{op.kind} ({op.family}): {op.doc}")
        print(f"    keys: {keys}")
        if names:
            print(f"    also: {', '.join(names)}")
    return 0


def _presets() -> int:
    from archcalc.conventions import PRESETS, preset

    for name, (source, _) in PRESETS.items():
        print(f"{name}: {source}")
        print(f"    {preset(name).describe()}")
    return 0


def _columns() -> int:
    from archcalc.render import ALL_COLUMNS, DEFAULT_COLUMNS

    for name, (_, text) in ALL_COLUMNS.items():
        mark = "*" if name in DEFAULT_COLUMNS else " "
        print(f"{mark} {name}: {text}")
    print("(* = shown by default)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "report":
            return _report(args)
        if args.command == "check":
            return _check(args)
        from archcalc import cli_runtime

        handled = cli_runtime.dispatch(args)
        if handled is not None:
            return handled
        if args.command == "export":
            return _export(args)
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "plot":
            return _plot(args)
        if args.command == "tables":
            return _tables(args)
        if args.command == "list":
            return _list()
        if args.command == "types":
            return _types()
        if args.command == "presets":
            return _presets()
        if args.command == "columns":
            return _columns()
        raise AssertionError(args.command)
    except ArchcalcError as exc:
        if args.debug:
            raise
        print(f"archcalc: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("archcalc: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last guard: one line, no traceback
        if args.debug:
            raise
        print(f"archcalc: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
              file=sys.stderr)
        return EXIT_INTERNAL
