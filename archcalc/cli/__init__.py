"""The command line: a table of commands, one module per group of them. The only code that prints.

Exit codes: 0 success; 1 an ``expected:`` or published figure does not match; 2 bad input (one
line on stderr naming file, line and layer; ``--debug`` shows the traceback); 3 an internal
error; 130 interrupted.

    analyze.py   report, check, tables        produce.py  export, plot
    explain.py   explain                      compare.py  compare
    sweep.py     sweep                        measure.py  profile, calibrate
    estimate.py  estimate                     view.py     diagram, view
    listing.py   list, types, presets, columns
    base.py      Command, option groups, exit codes, reading a source
    output.py    emit (every file written), the format an output's extension names
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from archcalc.cli import analyze, compare, estimate, explain, listing, measure, produce, sweep, view
from archcalc.cli.base import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_MISMATCH, EXIT_USAGE, ArgParser, Command
from archcalc.cli.output import check_outputs
from archcalc.errors import ArchcalcError

__all__ = ["COMMANDS", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_MISMATCH", "EXIT_USAGE", "Command", "main",
           "parser"]

_ORDER = ("report", "explain", "compare", "check", "export", "sweep", "plot", "diagram", "view", "tables",
          "profile", "calibrate", "estimate", "list", "types", "presets", "columns")
_ALL = {c.name: c for group in (analyze, explain, compare, produce, sweep, measure, estimate, listing, view)
        for c in group.COMMANDS}
#: every subcommand, by name, in the order ``archcalc --help`` lists them
COMMANDS: dict[str, Command] = {name: _ALL[name] for name in _ORDER} | _ALL


def parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of every command in :data:`COMMANDS`; with ``only``, the options of
    that command alone (the others are listed, so ``--help`` is the same, but their options,
    and the modules their help texts need, are not loaded)."""
    from archcalc import __version__

    p = ArgParser(prog="archcalc", description="Exact shapes, counts, memory and receptive fields of CNNs.")
    p.add_argument("--version", action="version", version=f"archcalc {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, parser_class=ArgParser)
    for command in COMMANDS.values():
        sp = sub.add_parser(command.name, help=command.help)
        if only is None or command.name == only:
            command.add_arguments(sp)
    return p


def _command_named(argv: Sequence[str]) -> str | None:
    """The command ``argv`` runs (its first word that is not an option), if it names one."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (see the module docstring)."""
    words = list(sys.argv[1:] if argv is None else argv)
    args = parser(only=_command_named(words) or "").parse_args(words)
    try:
        check_outputs(args)
        return COMMANDS[args.command].run(args)
    except ArchcalcError as exc:
        if args.debug:
            raise
        print(f"archcalc: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("archcalc: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last guard: one line, no traceback
        if args.debug:
            raise
        print(f"archcalc: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
              file=sys.stderr)
        return EXIT_INTERNAL
