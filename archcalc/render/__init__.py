"""All text archcalc shows: reports, published tables, sweeps, profiles and calibrations, lists.

One module per kind of output; the command line (:mod:`archcalc.cli`) only prints what these
return. Numbers are humanised here and nowhere else.
"""

from __future__ import annotations

from archcalc.render.columns import ALL_COLUMNS, DEFAULT_COLUMNS, FORMATS, SUMMED, RenderError, parse_columns
from archcalc.render.report import render, summary_lines

__all__ = ["ALL_COLUMNS", "DEFAULT_COLUMNS", "FORMATS", "SUMMED", "RenderError", "parse_columns", "render",
           "summary_lines"]
