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


def _examples() -> list[str]:
    text = (ROOT / "docs" / "spec-language.md").read_text()
    parts = text.split("```yaml example\n")[1:]
    import textwrap

    return [textwrap.dedent(part.split("```", 1)[0]) for part in parts]


def test_spec_language_examples_run_and_check() -> None:
    """Every ```yaml example block of docs/spec-language.md loads, and its `# check:` lines hold."""
    import yaml

    import archcalc

    examples = _examples()
    assert examples
    for text in examples:
        doc = yaml.safe_load(text)
        variant = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("# variant:")]
        if variant:  # the checks are about that variant
            from archcalc.language.reuse import apply_variant

            doc = apply_variant(doc, variant[0], None)
        graph = archcalc.load(doc)
        report = archcalc.analyze(graph)
        checks = [line.split("check:", 1)[1].split("(")[0].split() for line in text.splitlines()
                  if line.startswith("# check:")]
        assert checks
        for check in checks:
            layer, what = check[0], check[1]
            if what == "absent":
                assert layer not in graph.layers, layer
            elif what == "params":
                assert report[layer].params == int(check[2]), (layer, report[layer].params)
            else:
                assert what == "shape"
                assert "x".join(map(str, report[layer].shape)) == check[2], (layer, report[layer].shape)
