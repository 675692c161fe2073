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


#: columns a report shows only when named in --columns (``all`` keeps meaning the figure columns
#: above): the layer's own attributes, as torchinfo shows them
LAYER_COLUMNS: dict[str, tuple[str, str]] = {
    "kernel": ("kernel", "kernel size per spatial axis (conv, pooling, subsampling)"),
    "stride": ("stride", "stride per spatial axis"),
    "padding": ("padding", "padding as written: per axis, (before,after) pairs, or same/valid/full"),
    "groups": ("groups", "convolution groups (depthwise: the input channels; table: a connection table)"),
}
#: each summed column's share of its total, in percent (``macs_share``)
SHARE_COLUMNS: dict[str, tuple[str, str]] = {
    f"{c}_share": (f"% {ALL_COLUMNS[c][0]}", f"the layer's share of the total {c}, in percent") for c in SUMMED
}
EXTRA_COLUMNS: dict[str, tuple[str, str]] = {**LAYER_COLUMNS, **SHARE_COLUMNS}
#: columns with a layer's exact integer count (humanised by --units; looked at by --hide-zero)
COUNTS = tuple(c for c in COLUMNS if not c.endswith("_bytes"))
BYTES = tuple(c for c in COLUMNS if c.endswith("_bytes"))


def header(column: str) -> str:
    return (ALL_COLUMNS.get(column) or EXTRA_COLUMNS[column])[0]


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
    known = {**ALL_COLUMNS, **EXTRA_COLUMNS}
    for name in names:
        if name not in known:
            raise RenderError(f"unknown column '{name}'{suggest(name, known)}; columns: {', '.join(ALL_COLUMNS)}; "
                              f"and when named: {', '.join(LAYER_COLUMNS)}, COLUMN_share")
    return names
