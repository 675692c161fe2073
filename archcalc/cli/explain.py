"""``explain``: how each figure of one layer comes out (formula, numbers, conventions)."""

from __future__ import annotations

import argparse

from archcalc.cli.base import (
    Command,
    conventions_overrides,
    counting_options,
    file_input,
    load_source,
    onnx_options,
    output_options,
)
from archcalc.cli.output import emit, output_format


def _arguments(p: argparse.ArgumentParser) -> None:
    from archcalc.render.explain import FORMATS

    p.add_argument("file", help="a spec (YAML or bundled name) or an ONNX model")
    p.add_argument("target", metavar="LAYER[.FIGURE]",
                   help="a layer name, or LAYER.FIGURE for one figure (output, units, weights, biases, params, "
                        "connections, macs, flops, receptive_field, activation_bytes)")
    output_options(p, FORMATS)
    onnx_options(p)
    counting_options(p)


def _run(args: argparse.Namespace) -> int:
    from archcalc.analysis import analyze
    from archcalc.explain import explain, split_target
    from archcalc.render.explain import FORMATS, render_explanation

    fmt = output_format(args.format, args.output, FORMATS, default="text")
    graph = load_source(args, args.file)
    report = analyze(graph, preset=args.preset, overrides=conventions_overrides(args))
    layer, figure = split_target(report, args.target)
    emit(render_explanation(explain(report, layer, figure), report.name, fmt), args.output, inputs=[args.file])
    return 0


COMMANDS = (
    Command("explain", "how each figure of one layer comes out: formula, numbers, conventions", _arguments, _run,
            file_input, reads_source=True),
)
