"""The bundled LeNet specs reproduce the published tables exactly, per layer and in total.

Figures come from tests/reference/published.yaml (a copy of ../shared/reference/published.yaml);
each test names its source.
"""

from __future__ import annotations

from typing import Any

import archcalc
from tests.conftest import SPECS


def test_course_lenet_table(published: dict[str, Any]) -> None:
    """Source: CSC413 Lecture 4, 'Sizes of Layers in LeNet' (biases ignored)."""
    ref = published["course_lenet_table"]
    assert "CSC413" in ref["source"]
    graph = archcalc.load(SPECS / "lenet5_course.yaml")
    assert list(graph["input"].attrs["shape"]) == ref["input"]
    report = archcalc.analyze(graph, preset="course")
    for name, kind, units, connections, weights in ref["layers"]:
        record = report[name]
        assert (record.units, record.connections, record.weights) == (units, connections, weights), name
        assert record.family == {"convolution": "conv", "pooling": "pool", "fully_connected": "fc"}[kind]


def test_lenet5_1998_per_layer_and_totals(published: dict[str, Any]) -> None:
    """Source: LeCun, Bottou, Bengio, Haffner 1998, Proc. IEEE, Sec. II-B."""
    ref = published["lenet5_1998"]
    assert "LeCun" in ref["source"]
    graph = archcalc.load(SPECS / "lenet5.yaml")
    assert graph["C3"].attrs["connections"] == tuple(tuple(row) for row in ref["conventions"]["c3_table"])
    report = archcalc.analyze(graph, preset="lecun1998")
    for name, units, params, connections in ref["layers"]:
        record = report[name]
        assert (record.units, record.params, record.connections) == (units, params, connections), name
    totals = ref["totals"]
    assert report.totals.params == totals["params"] == 60000
    assert report.totals.connections == totals["connections"] == 340908
    assert report.totals.units == totals["units"] == 8094
    # the RBF output's parameters are fixed, not trainable
    assert report["Output"].params == 0 and report["Output"].fixed_params == 840


def test_lenet5_full_c3_note(published: dict[str, Any]) -> None:
    """Source: published.yaml lenet5_1998 note: full C3 gives 2,416 params / 241,600 connections."""
    assert "2,416" in published["lenet5_1998"]["note"]
    graph = archcalc.load(SPECS / "lenet5.yaml")
    spec = _lenet5_with_full_c3()
    report = archcalc.analyze(archcalc.load(spec), preset="lecun1998")
    assert (report["C3"].params, report["C3"].connections) == (2416, 241600)
    assert graph["C3"].attrs["connections"] is not None


def _lenet5_with_full_c3() -> dict[str, Any]:
    return {
        "input": [1, 32, 32],
        "layers": [
            {"name": "C1", "type": "conv", "filters": 6, "kernel": 5},
            {"name": "S2", "type": "subsample"},
            {"name": "C3", "type": "conv", "filters": 16, "kernel": 5},
        ],
    }


def test_lenet_1989(published: dict[str, Any]) -> None:
    """Source: LeCun et al. 1989, 'Backpropagation applied to handwritten zip code recognition'."""
    ref = published["lenet_1989"]
    assert "1989" in ref["source"]
    report = archcalc.analyze(archcalc.load(SPECS / "lenet1989.yaml"), preset="lecun1989")
    for name, units, params, connections in ref["layers"]:
        record = report[name]
        assert (record.units, record.params, record.connections) == (units, params, connections), name
    assert report.totals.units == ref["totals"]["units_including_input"] == 1256
    assert report.totals.connections == ref["totals"]["connections"] == 64660
    assert report.totals.params == ref["totals"]["params"] == 9760


def test_course_size_comparison_lenet_rows(published: dict[str, Any]) -> None:
    """Source: CSC413 Lecture 4, 'Size Comparison' (rounded figures; each row has its own unit rule)."""
    rows = published["course_size_comparison"]["rows"]
    r89 = archcalc.analyze(archcalc.load(SPECS / "lenet1989.yaml"), preset="lecun1989")
    assert r89.totals.units == rows["lenet_1989"]["units"]
    assert r89.totals.params == rows["lenet_1989"]["parameters"]
    assert abs(r89.totals.connections - rows["lenet_1989"]["connections"]) / 65000 < 0.01
    r98 = archcalc.analyze(
        archcalc.load(SPECS / "lenet5.yaml"), preset="lecun1998", overrides={"units_include_output": False}
    )
    assert r98.totals.units == rows["lenet_1998"]["units"] == 8084
    assert r98.totals.params == rows["lenet_1998"]["parameters"]
