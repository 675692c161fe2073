"""The ``expected:`` section of a spec, validated when the spec is read (the figures are
compared by :func:`archcalc.expected.check`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from archcalc.errors import ExpectationError, suggest
from archcalc.report import COLUMNS, Totals

BLOCK_KEYS = ("source", "conventions", "variant", "variables", "tolerance", "layers", "totals", "note", "erratum")
LAYER_KEYS = (*COLUMNS, "shape", "receptive_field")
TOTAL_KEYS = tuple(f.name for f in fields(Totals))


def parse_expected(raw: Any, file: str | None, line: int | None,
                   variants: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[Mapping[str, Any], ...]:
    """Validate the shape of an ``expected:`` entry (a mapping or a list of them). An entry's
    ``variant: NAME`` stands for that variant's variables (``variables:`` on top)."""
    if raw is None:
        return ()
    blocks = raw if isinstance(raw, list) else [raw]
    out = []
    for i, block in enumerate(blocks):
        at = getattr(blocks, "line_of", lambda _i: line)(i) if isinstance(raw, list) else line

        def bad(message: str, at: int | None = at) -> ExpectationError:
            return ExpectationError(f"expected: {message}", file=file, line=at)

        if not isinstance(block, dict):
            raise bad("each entry must be a mapping with source: and layers: or totals:")
        for key in block:
            if key not in BLOCK_KEYS:
                raise bad(f"unknown key '{key}'{suggest(key, BLOCK_KEYS)}")
        if not isinstance(block.get("source"), str) or not block["source"].strip():
            raise bad("every entry names its source (source: ...)")
        if "layers" not in block and "totals" not in block:
            raise bad("an entry needs layers: or totals:")
        tolerance = block.get("tolerance", 0)
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance < 1:
            raise bad(f"tolerance must be a relative number in [0, 1), got {tolerance!r}")
        layers = block.get("layers") or {}
        if not isinstance(layers, dict):
            raise bad("layers: must map layer names to {column: value}")
        for name, values in layers.items():
            if not isinstance(values, dict):
                raise bad(f"layers.{name} must be a mapping of column: value")
            for key in values:
                if key not in LAYER_KEYS:
                    raise bad(f"layers.{name}: unknown column '{key}'{suggest(key, LAYER_KEYS)}")
        totals = block.get("totals") or {}
        if not isinstance(totals, dict):
            raise bad("totals: must be a mapping of total: value")
        for key in totals:
            if key not in TOTAL_KEYS:
                raise bad(f"totals: unknown total '{key}'{suggest(key, TOTAL_KEYS)}")
        conventions = block.get("conventions") or {}
        if not isinstance(conventions, dict):
            raise bad("conventions: must be a mapping (preset: and/or convention keys)")
        variables = block.get("variables") or {}
        if not isinstance(variables, dict):
            raise bad("variables: must map spec variables to the values of this configuration")
        if "variant" in block:
            named = variants or {}
            if block["variant"] not in named:
                raise bad(f"no variant '{block['variant']}'{suggest(str(block['variant']), named)}; "
                          f"variants: {', '.join(named) or 'none'}")
            variables = {**named[block["variant"]], **variables}
        erratum = block.get("erratum")
        if erratum is not None and (not isinstance(erratum, str) or not erratum.strip()):
            raise bad("erratum: must explain why the published figures do not follow")
        out.append({
            "source": block["source"],
            "erratum": erratum,
            "conventions": dict(conventions),
            "variables": dict(variables),
            "variant": block.get("variant"),
            "tolerance": float(tolerance),
            "layers": {str(k): dict(v) for k, v in layers.items()},
            "totals": dict(totals),
            "note": block.get("note"),
        })
    return tuple(out)
