"""Where command output goes: stdout, or a file written through one helper.

Every file the command line writes (reports, tables, sweeps, profiles, plots, exported models)
goes through :func:`emit`, which writes atomically with :func:`archcalc.fileio.write_atomic`
and is told the command's input files, so that writing over an input can be refused in one place.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

from archcalc.errors import ArchcalcError

#: output extensions that name a text format
SUFFIX_FORMATS = {".json": "json", ".csv": "csv", ".md": "markdown", ".markdown": "markdown", ".txt": "table"}


def output_format(given: str | None, output: str | None, formats: Sequence[str], default: str = "table") -> str:
    """The format to write: ``--format`` when given, else the one the output's extension names
    (``-o out.json`` writes JSON), else ``default``. When ``--format`` and the extension
    disagree, ``--format`` wins and one line on stderr says so."""
    implied = SUFFIX_FORMATS.get(Path(output).suffix.lower()) if output else None
    if implied is not None and implied not in formats:
        implied = None
    if given is None:
        return implied or default
    if implied is not None and implied != given:
        print(f"archcalc: writing {given} to {output} as --format says (its extension "
              f"{Path(str(output)).suffix} would mean {implied})", file=sys.stderr)
    return given


def emit(data: str | bytes, output: str | Path | None, inputs: Sequence[str | Path] = ()) -> None:
    """Write ``data`` to ``output`` atomically, or text to stdout when there is no output.

    ``inputs`` are the files the command read (an output must not replace one of them).
    """
    if output is None or str(output) == "":
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data)
        return
    from archcalc.fileio import write_atomic

    write_atomic(output, data, inputs=input_paths(inputs))


def input_paths(given: Sequence[str | Path]) -> list[str]:
    """The files behind a command's inputs: each as given, and a bundled name's spec file."""
    out: list[str] = []
    for item in given:
        out.append(str(item))
        if not Path(item).exists():
            from archcalc.zoo import spec_path

            with contextlib.suppress(ArchcalcError):
                out.append(str(spec_path(item)))
    return out


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse, before any work, an output (``-o``, ``--plot``) that cannot be written or that is
    the command's input."""
    outputs = [o for o in (getattr(args, "output", None), getattr(args, "plot", None)) if isinstance(o, str) and o]
    if not outputs:
        return
    from archcalc.fileio import check_output

    given = getattr(args, "file", None)
    inputs = input_paths([given] if isinstance(given, str) else [])
    for output in outputs:
        check_output(output, inputs)


def plot_bytes(fig: object, output: str | Path) -> bytes:
    """A matplotlib figure as the bytes of the image ``output`` names (.png or .svg)."""
    from archcalc.plots import image_bytes

    return image_bytes(fig, output)
