"""``report``, ``check`` and ``tables``: a network's figures, and published ones against them."""

from __future__ import annotations

import argparse
import sys

from archcalc.cli.base import (
    EXIT_MISMATCH,
    Command,
    conventions_overrides,
    counting_options,
    file_input,
    load_source,
    onnx_options,
    output_options,
)
from archcalc.cli.output import emit, output_format

#: why a command cannot run on an ONNX model (it reads something only a spec has)
NEEDS_EXPECTED = "it compares the figures a spec's expected: section publishes"


def _grouping(text: str) -> object:
    from archcalc.cli.compare import grouping

    return grouping(text)


def _report_arguments(r: argparse.ArgumentParser) -> None:
    from archcalc.choices import UNITS
    from archcalc.render import FORMATS

    r.add_argument("file", help="a spec (YAML or bundled name) or an ONNX model")
    output_options(r, FORMATS)
    r.add_argument("--columns", help="comma-separated columns, or 'all' (archcalc columns lists them); kernel, "
                                     "stride, padding, groups and COLUMN_share (macs_share) only when named")
    r.add_argument("--units", default="exact", metavar="|".join(UNITS),
                   help="table/markdown: counts as exact integers, humanised (K/M/G = 10^3/6/9; bytes KiB/MiB/GiB), "
                        "or both")
    r.add_argument("--hide-zero", action="store_true",
                   help="leave out layers with 0 in every shown count column (the totals still include them)")
    r.add_argument("--csv-context", action="store_true",
                   help="csv: start with '#' lines of conventions, warnings and notes (pandas: comment='#')")
    r.add_argument("--totals", action="store_true", help="csv: end with the total row")
    r.add_argument("--by", type=_grouping, metavar="stage|block|layer",
                   help="subtotal rows per stage or block (csv: a column; json: subtotals), as compare groups them")
    r.add_argument("--strict", action="store_true",
                   help="a window that floors past real input pixels is an error, not a note (rounding: exact)")
    onnx_options(r)
    counting_options(r)


def _report(args: argparse.Namespace) -> int:
    from archcalc.analysis import analyze
    from archcalc.render import FORMATS, parse_columns, render

    fmt = output_format(args.format, args.output, FORMATS)
    columns = parse_columns(args.columns)
    overrides = conventions_overrides(args)
    graph = load_source(args, args.file)
    report = analyze(graph, preset=args.preset, overrides=overrides, strict=args.strict)
    groups = None
    if args.by is not None:
        from archcalc.comparison.grouping import group_layers

        groups = dict(group_layers(graph, report, args.by).of)
    text = render(report, fmt, columns, csv_context=args.csv_context, csv_totals=args.totals, groups=groups,
                  by=str(args.by or "block"), units=args.units, hide_zero=args.hide_zero)
    emit(text, args.output, inputs=[args.file])
    if fmt == "csv" and report.uncounted and not args.csv_context:  # never silent about what is not counted
        print(f"archcalc: warning: {len(report.uncounted)} unknown ops are not counted (zero in every column): "
              f"{', '.join(report.uncounted)}", file=sys.stderr)
    return 0


def _check_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("files", nargs="+", help="specs (YAML or bundled names)")
    c.add_argument("--quiet", "-q", action="store_true", help="print mismatches only")


def _check(args: argparse.Namespace) -> int:
    from archcalc.expected import check
    from archcalc.render.results import check_lines
    from archcalc.sources import load_any, require_spec

    for file in args.files:
        require_spec(file, "check", NEEDS_EXPECTED)
    failed = 0
    for file in args.files:
        results = check(load_any(file))
        failed += sum(1 for r in results if not r.ok)
        emit(check_lines(file, results, args.quiet), None)
    return EXIT_MISMATCH if failed else 0


def _tables_arguments(t: argparse.ArgumentParser) -> None:
    from archcalc.render import FORMATS

    t.add_argument("names", nargs="*", help="bundled spec names or paths (default: every bundled spec)")
    output_options(t, FORMATS)


def _tables(args: argparse.Namespace) -> int:
    from archcalc.references import references
    from archcalc.render import FORMATS
    from archcalc.render.references import render_tables
    from archcalc.sources import require_spec

    fmt = output_format(args.format, args.output, FORMATS)
    for name in args.names:
        require_spec(name, "tables", NEEDS_EXPECTED)
    refs = references(args.names)
    emit(render_tables(refs, fmt), args.output, inputs=[r.file for r in refs])
    return EXIT_MISMATCH if any(c.status == "mismatch" for r in refs for c in r.checks) else 0


COMMANDS = (
    Command("report", "per-layer table with totals and the conventions used", _report_arguments, _report,
            file_input, reads_source=True),
    Command("check", "compare a spec's expected: figures with the computed ones", _check_arguments, _check,
            lambda args: list(args.files), reads_source=True),
    Command("tables", "published figures vs computed ones, per reference network", _tables_arguments, _tables,
            lambda args: list(args.names), reads_source=True),
)
