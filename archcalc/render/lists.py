"""The listing commands as text: bundled specs, layer types, counting presets, report columns."""

from __future__ import annotations

from collections.abc import Iterable


def spec_list(entries: Iterable[tuple[str, str, str | None]]) -> str:
    """``name: description [source]`` per bundled spec."""
    return "".join(f"{name}: {title} [{source or 'no source'}]\n" for name, title, source in entries)


def type_list() -> str:
    """Every layer type with its family, keys and aliases (from the op registry)."""
    from archcalc.ops import OPS, TYPE_NAMES

    lines: list[str] = []
    for op in OPS:
        if op.kind == "input":
            continue
        names = sorted(n for n, (k, _) in TYPE_NAMES.items() if k == op.kind and n != op.kind)
        keys = ", ".join(op.schema) or "-"
        lines.append(f"{op.kind} ({op.family}): {op.doc}")
        lines.append(f"    keys: {keys}")
        if names:
            lines.append(f"    also: {', '.join(names)}")
    return "".join(line + "\n" for line in lines)


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
    from archcalc.render.columns import ALL_COLUMNS, DEFAULT_COLUMNS

    lines = [f"{'*' if name in DEFAULT_COLUMNS else ' '} {name}: {text}" for name, (_, text) in ALL_COLUMNS.items()]
    lines.append("(* = shown by default)")
    return "".join(line + "\n" for line in lines)
