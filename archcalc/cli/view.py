"""``diagram`` and ``view``: the layer graph drawn (SVG, dot, Mermaid) and the one-file HTML page."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from archcalc.cli.base import Command, conventions_overrides, counting_options, file_input, load_source, onnx_options
from archcalc.cli.output import emit
from archcalc.errors import OptionError, suggest

if TYPE_CHECKING:
    from archcalc.diagram import Diagram
    from archcalc.ir import Graph
    from archcalc.report import Report


def one_of(values: tuple[str, ...], what: str) -> Callable[[str], str]:
    """An argparse ``type``: one of ``values`` (any case), else one line with a did-you-mean."""

    def parse(text: str) -> str:
        for value in values:
            if text.strip().lower() == value.lower():
                return value
        raise argparse.ArgumentTypeError(f"unknown {what} '{text[:40]}'{suggest(text, values)}; "
                                         f"{what}s: {', '.join(values)}")

    parse.__name__ = what
    return parse


def _common(p: argparse.ArgumentParser) -> None:
    from archcalc.choices import DIRECTIONS

    p.add_argument("file", help="a spec (YAML or bundled name) or an ONNX model")
    p.add_argument("--direction", type=one_of(DIRECTIONS, "direction"), default="TB", metavar="TB|LR",
                   help="ranks top to bottom (TB, default) or left to right (LR)")
    onnx_options(p)
    counting_options(p)


def _diagram_arguments(p: argparse.ArgumentParser) -> None:
    from archcalc.choices import DIAGRAM_FORMATS

    _common(p)
    p.add_argument("--output", "-o", help="the .svg, .dot or .mmd file to write (atomically); stdout if left out")
    p.add_argument("--format", "-f", type=one_of(DIAGRAM_FORMATS, "diagram format"), default=None,
                   metavar="svg|dot|mmd", help="svg, dot or mmd (default: from the --output extension, else svg)")


def _view_arguments(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--output", "-o", required=True, help="the .html file to write (atomically)")


def _drawn(args: argparse.Namespace) -> tuple[Graph, Report, Diagram]:
    from archcalc.analysis import analyze
    from archcalc.diagram import layout

    graph = load_source(args, args.file)
    report = analyze(graph, preset=args.preset, overrides=conventions_overrides(args))
    return graph, report, layout(graph, report, args.direction)


def diagram_format(given: str | None, output: str | None) -> str:
    """``--format``, else the format the output's extension names, else svg."""
    from archcalc.choices import DIAGRAM_FORMATS, DiagramFormat

    if given is not None:
        return given
    if not output:
        return DiagramFormat.SVG.value
    suffix = Path(output).suffix.lower().lstrip(".")
    suffix = {"gv": "dot", "mermaid": "mmd"}.get(suffix, suffix)
    if suffix not in DIAGRAM_FORMATS:
        raise OptionError(f"cannot tell the diagram format from '{Path(output).name}'"
                          f"{suggest(suffix, DIAGRAM_FORMATS)}: name a .svg, .dot or .mmd file, or give --format")
    return suffix


def _diagram(args: argparse.Namespace) -> int:
    fmt = diagram_format(args.format, args.output)
    _graph, report, drawn = _drawn(args)
    if fmt == "svg":
        from archcalc.render.diagram_svg import render_svg

        text = render_svg(drawn, report)
    else:
        from archcalc.render.diagram_text import render_dot, render_mermaid

        text = render_dot(drawn, report) if fmt == "dot" else render_mermaid(drawn, report)
    emit(text, args.output, inputs=[args.file])
    if args.output:
        emit(f"wrote {args.output} ({len(drawn.nodes)} layers, {len(drawn.clusters)} blocks)\n", None)
    return 0


def _view(args: argparse.Namespace) -> int:
    from archcalc.diagram.clusters import cluster_paths
    from archcalc.render.view_page import render_view

    if Path(args.output).suffix.lower() not in (".html", ".htm"):
        raise OptionError(f"view writes an HTML page: name a .html file, not '{Path(args.output).name}'")
    from archcalc.explain import explain_all

    graph, report, drawn = _drawn(args)
    explanations = {e.layer: e.to_dict() for e in explain_all(report)}
    page = render_view(drawn, report, cluster_paths(graph), explanations)
    emit(page, args.output, inputs=[args.file])
    emit(f"wrote {args.output} ({len(drawn.nodes)} layers; open it in a browser)\n", None)
    return 0


COMMANDS = (
    Command("diagram", "draw the layer graph (SVG, Graphviz dot, Mermaid) with shapes and counts",
            _diagram_arguments, _diagram, file_input, reads_source=True),
    Command("view", "write one self-contained HTML page: diagram, sortable table, explanations",
            _view_arguments, _view, file_input, reads_source=True),
)
