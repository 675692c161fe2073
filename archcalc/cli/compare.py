"""``compare``: two specs or ONNX models side by side, per stage, block or layer."""

from __future__ import annotations

import argparse

from archcalc.cli.base import Command, conventions_overrides, counting_options, load_source, onnx_options
from archcalc.cli.output import emit, output_format


def _arguments(p: argparse.ArgumentParser) -> None:
    from archcalc.choices import GroupBy
    from archcalc.render.compare import FORMATS

    p.add_argument("file", help="network A: a spec (YAML or bundled name) or an ONNX model")
    p.add_argument("other", help="network B, compared with A (deltas are B - A, ratios B / A)")
    p.add_argument("--by", default=GroupBy.STAGE, type=grouping, metavar="|".join(g.value for g in GroupBy),
                   help="rows per stage (layer2), block (layer2.0, inception_3a) or layer (default: stage)")
    p.add_argument("--format", "-f", choices=FORMATS, default=None,
                   help="output format (default: from the --output extension .json/.csv/.md, else text)")
    p.add_argument("--output", "-o", help="write to this file (atomically) instead of stdout")
    onnx_options(p)
    counting_options(p)


def grouping(text: str) -> object:
    """An argparse ``type`` for ``--by``: a :class:`~archcalc.choices.GroupBy`, or one line with a did-you-mean."""
    from archcalc.comparison.grouping import parse_by
    from archcalc.errors import OptionError

    try:
        return parse_by(text)
    except OptionError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _source(args: argparse.Namespace, source: str) -> argparse.Namespace:
    """The options that apply to ``source``: --input and --allow-unknown to an ONNX model, --var to a spec."""
    from archcalc.sources import SourceKind, what_is

    if what_is(source) is SourceKind.ONNX:
        return argparse.Namespace(**{**vars(args), "vars": []})
    return argparse.Namespace(**{**vars(args), "inputs": [], "allow_unknown": False})


def _compare(args: argparse.Namespace) -> int:
    from archcalc.comparison import compare
    from archcalc.render.compare import FORMATS, render_comparison

    fmt = output_format(args.format, args.output, FORMATS, default="text")
    overrides = conventions_overrides(args)
    graph_a = load_source(_source(args, args.file), args.file)
    graph_b = load_source(_source(args, args.other), args.other)
    comparison = compare(graph_a, graph_b, by=args.by, preset=args.preset, overrides=overrides or None)
    emit(render_comparison(comparison, fmt), args.output, inputs=[args.file, args.other])
    return 0


COMMANDS = (
    Command("compare", "two networks side by side: totals, per stage/block/layer deltas, the first difference",
            _arguments, _compare, lambda args: [args.file, args.other], reads_source=True),
)
