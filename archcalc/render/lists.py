"""The listing commands as text: bundled specs, layer types, counting presets, report columns."""

from __future__ import annotations

from collections.abc import Iterable


def spec_list(entries: Iterable[tuple[str, str, str | None]]) -> str:
    """``name: description [source]`` per bundled spec."""
    return "".join(f"{name}: {title} [{source or 'no source'}]\n" for name, title, source in entries)


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
    from archcalc.render.columns import ALL_COLUMNS, DEFAULT_COLUMNS

    lines = [f"{'*' if name in DEFAULT_COLUMNS else ' '} {name}: {text}" for name, (_, text) in ALL_COLUMNS.items()]
    lines.append("(* = shown by default)")
    return "".join(line + "\n" for line in lines)
