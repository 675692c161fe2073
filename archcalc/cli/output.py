"""Where command output goes: stdout, or a file written through one helper.

Every file the command line writes (reports, tables, sweeps, profiles, plots, exported models)
goes through :func:`emit`, which writes atomically with :func:`archcalc.fileio.write_atomic`
and is told the command's input files, so that writing over an input can be refused in one place.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

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

    write_atomic(output, data)


def plot_bytes(fig: object, output: str | Path) -> bytes:
    """A matplotlib figure as the bytes of the image ``output`` names (.png or .svg)."""
    from archcalc.plots import image_bytes

    return image_bytes(fig, output)
