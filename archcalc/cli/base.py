"""What every command shares: the command table's entry type, the parser that exits 2 on bad
usage, option groups, exit codes, and reading a source the way every command reads it."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archcalc.errors import OptionError

if TYPE_CHECKING:
    from archcalc.ir import Graph

EXIT_OK = 0
#: an ``expected:`` figure (check) or a published one (tables) does not match
EXIT_MISMATCH = 1
#: bad input: one line on stderr naming file, line and layer
EXIT_USAGE = 2
#: an archcalc bug: one line, ``--debug`` shows the traceback
EXIT_INTERNAL = 3
#: interrupted (Ctrl-C)
EXIT_INTERRUPTED = 130


def _no_inputs(_args: argparse.Namespace) -> list[str]:
    return []


@dataclass(frozen=True)
class Command:
    """One subcommand: its arguments, what it does, and which of its arguments it reads.

    ``inputs`` names the files the command reads (a written output must never replace one);
    ``reads_source`` says whether the command takes a spec or model as input (the suite runs
    every such command on an ONNX model).
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    inputs: Callable[[argparse.Namespace], list[str]] = _no_inputs
    reads_source: bool = False


class ArgParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 2, like every other bad input."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"archcalc: {message} (see {self.prog} --help)\n")


def file_input(args: argparse.Namespace) -> list[str]:
    return [args.file]


def counting_options(p: argparse.ArgumentParser) -> None:
    """--preset, --set, --batch, --dtype, --var: what an analysis counts."""
    from archcalc.conventions import DTYPE_BYTES

    p.add_argument("--preset", help="counting preset (archcalc presets lists them)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a convention (repeatable)")
    p.add_argument("--batch", type=bounded_int(1, MAX_BATCH), help="batch size (scales MACs, FLOPs, activation bytes)")
    p.add_argument("--dtype", choices=tuple(DTYPE_BYTES), help="element type for byte counts")
    variable_option(p)


def variable_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--var", dest="vars", action="append", default=[], metavar="NAME=VALUE",
                   help="set a spec variable (repeatable)")


def onnx_options(p: argparse.ArgumentParser) -> None:
    """--input and --allow-unknown: how an ONNX model is read."""
    p.add_argument("--input", dest="inputs", action="append", default=[], metavar="NAME=1x3x224x224",
                   help="ONNX: fix an input's dims (repeatable; NAME= may be left out for one input)")
    p.add_argument("--allow-unknown", action="store_true",
                   help="ONNX: analyse past ops archcalc does not model (they are reported as not counted)")


def output_options(p: argparse.ArgumentParser, formats: Sequence[str]) -> None:
    """--format and --output; the format follows the output's extension unless --format is given."""
    p.add_argument("--format", "-f", choices=tuple(formats), default=None,
                   help="output format (default: from the --output extension .json/.csv/.md, else table)")
    p.add_argument("--output", "-o", help="write to this file (atomically) instead of stdout")


def assignments(pairs: Sequence[str], what: str) -> dict[str, Any]:
    """``["width=32", "name=x"]`` -> ``{"width": 32, "name": "x"}``: values are read as YAML with
    the spec's own limits (alias expansion, integer size); text YAML cannot read stays text."""
    from archcalc.errors import SpecError, YamlSyntaxError
    from archcalc.language.yamlmarks import load_yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise OptionError(f"{what} expects NAME=VALUE, got {pair!r}")
        if len(value) > MAX_ASSIGNMENT_CHARS:
            raise OptionError(f"{what} {key.strip()}: the value is {len(value):,} characters long "
                              f"(limit {MAX_ASSIGNMENT_CHARS:,})")
        try:
            out[key.strip()] = load_yaml(value, f"{what} {key.strip()}") if value.strip() else ""
        except YamlSyntaxError:  # text that is not YAML stays text
            out[key.strip()] = value
        except SpecError as exc:  # a limit (aliases, integer size)
            raise OptionError(f"{what} {key.strip()}: {exc.message}") from None
    return out


#: the longest value ``--var`` / ``--set`` take (characters)
MAX_ASSIGNMENT_CHARS = 4096


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer from ``low`` to ``high``, else one line naming the range."""

    def parse(text: str) -> int:
        digits = text.strip().lstrip("+-")
        if not digits.isdigit() or len(digits) > 19 or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"must be an integer from {low:,} to {high:,}, got {text[:40]!r}")
        return int(text)

    parse.__name__ = "integer"
    return parse


#: the most warm-up or timed runs one profile makes (a million LeNet runs take minutes)
MAX_RUNS = 100_000
#: the most intra-op threads a run may ask ONNX Runtime for
MAX_THREADS = 1024
#: the largest batch archcalc counts (figures stay exact integers; this bounds the work, not them)
MAX_BATCH = 1 << 20


def conventions_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The conventions --set, --batch and --dtype ask for."""
    from archcalc.conventions import parse_assignments

    overrides: dict[str, Any] = dict(parse_assignments(args.sets))
    if args.batch is not None:
        overrides["batch"] = str(args.batch)
    if args.dtype is not None:
        overrides["dtype"] = args.dtype
    return overrides


def minimize(maximize: str) -> tuple[bool, bool]:
    """--maximize x|y|both|none -> which Pareto axes are minimised."""
    return (maximize not in ("x", "both"), maximize not in ("y", "both"))


def load_source(args: argparse.Namespace, source: str) -> Graph:
    """The graph of a spec, bundled name or ONNX model, refusing options of the other kind."""
    from archcalc.sources import SourceKind, load_any, what_is

    onnx_only = bool(getattr(args, "inputs", None)) or bool(getattr(args, "allow_unknown", False))
    variables = getattr(args, "vars", None) or []
    if what_is(source) is SourceKind.ONNX:
        if variables:
            raise OptionError("--var sets spec variables; an ONNX model has none")
        from archcalc.onnx_import.importer import parse_input_shapes

        return load_any(source, input_shapes=parse_input_shapes(getattr(args, "inputs", None) or []),
                        batch=getattr(args, "batch", None), allow_unknown=bool(getattr(args, "allow_unknown", False)))
    if onnx_only:
        raise OptionError("--input and --allow-unknown apply to ONNX models only")
    return load_any(source, variables=assignments(variables, "--var"))


__all__ = [
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_MISMATCH",
    "EXIT_OK",
    "EXIT_USAGE",
    "MAX_BATCH",
    "ArgParser",
    "Command",
    "assignments",
    "bounded_int",
    "conventions_overrides",
    "counting_options",
    "file_input",
    "load_source",
    "minimize",
    "onnx_options",
    "output_options",
    "variable_option",
]
