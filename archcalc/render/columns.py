"""The columns a report can show, the output formats, and ``--columns`` parsing."""

from __future__ import annotations

from archcalc.errors import OptionError, suggest
from archcalc.report import COLUMNS

FORMATS = ("table", "markdown", "json", "csv")

#: every column a report can show: name -> (header, description)
ALL_COLUMNS: dict[str, tuple[str, str]] = {
    "name": ("layer", "layer name"),
    "kind": ("type", "layer type"),
    "inputs": ("inputs", "input layers"),
    "shape": ("output", "output shape per sample (C x H x W)"),
    **{key: (key.replace("_", " "), text) for key, text in COLUMNS.items()},
    "rf": ("receptive field", "size, jump (j) and start (s) per axis, or global"),
    "where": ("where", "file:line of the declaration"),
}
ALL_COLUMNS["activation_bytes"] = ("act bytes", COLUMNS["activation_bytes"])
ALL_COLUMNS["param_bytes"] = ("param bytes", COLUMNS["param_bytes"])
ALL_COLUMNS["fixed_params"] = ("fixed", COLUMNS["fixed_params"])

DEFAULT_COLUMNS = ("name", "kind", "shape", "units", "params", "connections", "macs", "flops",
                   "activation_bytes", "rf")

#: columns whose total is the sum of the layers (live_bytes is not: its maximum is the peak)
SUMMED = tuple(c for c in COLUMNS if c != "live_bytes")


#: the old name, kept importable for one release
RenderError = OptionError


def parse_columns(text: str | None) -> tuple[str, ...]:
    if not text:
        return DEFAULT_COLUMNS
    if text.strip() == "all":
        return tuple(ALL_COLUMNS)
    names = tuple(c.strip() for c in text.split(",") if c.strip())
    if "name" not in names:
        names = ("name", *names)
    for name in names:
        if name not in ALL_COLUMNS:
            raise RenderError(f"unknown column '{name}'{suggest(name, ALL_COLUMNS)}; columns: {', '.join(ALL_COLUMNS)}")
    return names
