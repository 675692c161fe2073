"""Invariants on every bundled spec, and equivalences between ways of writing the same layer."""

from __future__ import annotations

from pathlib import Path

import pytest

import archcalc
from archcalc.render import SUMMED
from tests.conftest import spec_files

SPECS = spec_files()
PRESETS = ("default", "course", "lecun1998", "lecun1989", "paper_macs")


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_expected_figures_of_every_spec(path: Path) -> None:
    """Every spec carries published figures with a source, and reproduces them."""
    graph = archcalc.load(path)
    assert graph.source, f"{path.name} names no source"
    assert graph.expected, f"{path.name} has no expected: block"
    results = archcalc.check(graph)
    bad = [r.describe() for r in results if not r.ok]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_layer_sums_equal_totals(path: Path) -> None:
    graph = archcalc.load(path)
    for preset in PRESETS:
        for overrides in ({}, {"batch": 3, "dtype": "fp16", "bias_macs": "per_output", "inplace": True}):
            report = archcalc.analyze(graph, preset=preset, overrides=overrides)
            for column in SUMMED:
                assert report.sum(column) == getattr(report.totals, column), (preset, column)
            t = report.totals
            assert t.peak_activation_bytes == max(r.live_bytes for r in report)
            assert t.training_flops == 3 * t.flops
            assert t.training_bytes == t.param_bytes + t.stored_activation_bytes + t.gradient_bytes + t.optimizer_bytes
            assert all(r.macs >= 0 and r.flops >= r.macs * 0 for r in report)


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_analysis_is_deterministic(path: Path) -> None:
    graph = archcalc.load(path)
    assert archcalc.analyze(graph).to_dict() == archcalc.analyze(archcalc.load(path)).to_dict()


def _one(layer: dict[str, object], shape: list[int]) -> archcalc.LayerRecord:
    return archcalc.analyze(archcalc.load({"input": shape, "layers": [{"name": "x", **layer}]}))["x"]


COUNTED = ("shape", "weights", "biases", "params", "connections", "macs", "flops")


def _same(a: archcalc.LayerRecord, b: archcalc.LayerRecord) -> None:
    for key in COUNTED:
        assert getattr(a, key) == getattr(b, key), key
    assert a.rf == b.rf


@pytest.mark.parametrize("shape", [[6, 14, 14], [8, 9, 7]])
def test_grouped_with_one_group_equals_dense(shape: list[int]) -> None:
    base = {"type": "conv", "filters": 12, "kernel": 3, "padding": 1, "stride": 2, "rounding": "floor"}
    _same(_one({**base, "groups": 1}, shape), _one(base, shape))


def test_full_table_equals_dense() -> None:
    table = [list(range(6))] * 16
    _same(_one({"type": "conv", "kernel": 5, "connections": table}, [6, 14, 14]),
          _one({"type": "conv", "filters": 16, "kernel": 5}, [6, 14, 14]))


def test_depthwise_equals_groups_of_one_channel() -> None:
    _same(_one({"type": "depthwise_conv", "kernel": 3, "padding": 1}, [32, 10, 10]),
          _one({"type": "conv", "filters": 32, "groups": 32, "kernel": 3, "padding": 1}, [32, 10, 10]))
    table = [[c] for c in range(32)]
    _same(_one({"type": "conv", "connections": table, "kernel": 3, "padding": 1}, [32, 10, 10]),
          _one({"type": "conv", "filters": 32, "groups": 32, "kernel": 3, "padding": 1}, [32, 10, 10]))


def test_grouped_conv_is_the_sum_of_its_groups() -> None:
    grouped = _one({"type": "conv", "filters": 256, "groups": 2, "kernel": 5, "padding": 2}, [96, 27, 27])
    half = _one({"type": "conv", "filters": 128, "kernel": 5, "padding": 2}, [48, 27, 27])
    for key in ("weights", "biases", "connections", "macs"):
        assert getattr(grouped, key) == 2 * getattr(half, key)
