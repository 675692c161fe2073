"""The listing commands as text: bundled specs, layer types, counting presets, report columns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SpecEntry:
    """What ``archcalc list`` says of one bundled spec."""

    name: str
    title: str
    source: str | None
    #: declared variables and their default values (as written)
    variables: Mapping[str, Any] = field(default_factory=dict)
    #: variant name -> the variables it sets
    variants: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _assignments(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_value(v)}" for k, v in values.items())


def spec_list(entries: Iterable[SpecEntry]) -> str:
    """``name: description [source]`` per bundled spec, then its variables with their defaults
    and its named variants (each usable as a name: ``archcalc report vgg19``)."""
    lines: list[str] = []
    for entry in entries:
        lines.append(f"{entry.name}: {entry.title} [{entry.source or 'no source'}]")
        if entry.variables:
            lines.append(f"    variables: {_assignments(entry.variables)}")
        for name, values in entry.variants.items():
            lines.append(f"    variant {name} ({entry.name}:{name}): {_assignments(values) or 'the defaults'}")
    return "".join(line + "\n" for line in lines)


def type_list() -> str:
    """Every layer type with its family, keys, aliases and ONNX forms (from the op registry)."""
    from archcalc.ops.catalog import describe, public_ops

    return "".join(line + "\n" for op in public_ops() for line in describe(op))


def preset_list() -> str:
    """Every counting preset, what it reproduces, and its conventions."""
    from archcalc.conventions import PRESETS, preset

    lines: list[str] = []
    for name, (source, _) in PRESETS.items():
        lines.append(f"{name}: {source}")
        lines.append(f"    {preset(name).describe()}")
    return "".join(line + "\n" for line in lines)


def column_list() -> str:
    """Every report column, the default ones marked."""
    from archcalc.render.columns import ALL_COLUMNS, DEFAULT_COLUMNS, LAYER_COLUMNS, SHARE_COLUMNS

    lines = [f"{'*' if name in DEFAULT_COLUMNS else ' '} {name}: {text}" for name, (_, text) in ALL_COLUMNS.items()]
    lines.append("(* = shown by default; all = the columns above)")
    lines.append("when named in --columns:")
    lines += [f"  {name}: {text}" for name, (_, text) in LAYER_COLUMNS.items()]
    lines.append(f"  COLUMN_share: a summed column's share of its total, in percent ({', '.join(SHARE_COLUMNS)})")
    return "".join(line + "\n" for line in lines)
