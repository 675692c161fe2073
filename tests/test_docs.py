"""The docs name every convention, preset, layer type and report column the code has."""

from __future__ import annotations

import dataclasses

from archcalc.conventions import PRESETS, Conventions
from archcalc.ops import INTERNAL, OPS
from archcalc.report import COLUMNS
from tests.conftest import ROOT


def test_every_convention_and_preset_is_documented() -> None:
    text = (ROOT / "docs" / "conventions.md").read_text()
    for field in dataclasses.fields(Conventions):
        if field.name != "preset":
            assert f"`{field.name}`" in text, field.name
    for name in PRESETS:
        assert f"`{name}`" in text, name


def test_every_layer_type_and_column_is_documented() -> None:
    text = (ROOT / "docs" / "spec-language.md").read_text()
    for op in OPS:
        if op.kind not in INTERNAL:
            assert f"`{op.kind}`" in text, op.kind
    for column in COLUMNS:
        assert column in text, column
