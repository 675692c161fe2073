"""A layout reorder's cost per element follows its size: calibration times a ReorderOutput at four
sizes (1k to 200k elements) and the estimator interpolates between them in log-log. One cost per
element, from 200k elements, priced the small reorders of small networks at 0.3-0.5x of their
profiled time (LeNet-5's two: 0.3 us estimated beyond the profiler's cost, about 7 us measured)."""

from __future__ import annotations

import collections
import math
from pathlib import Path

import pytest

from archcalc.estimate import calsamples, suite
from archcalc.estimate.deviceprofile import loglog_at, reorder_units_ns
from archcalc.estimate.microbench import REORDER_CHANNELS, REORDER_POINTS, REORDER_SIZE, reorder_model
from archcalc.estimate.model import estimate_latency
from archcalc.language.loader import load_spec
from archcalc.runtime import LAYOUT
from tests.test_estimate import synthetic

BIG = REORDER_CHANNELS * REORDER_SIZE**2
POINTS = {f"reorder@{c * s * s}": ns for (c, s), ns in zip(REORDER_POINTS, (2.0, 1.0, 0.5), strict=True)}


def test_the_points_span_small_to_large_tensors() -> None:
    sizes = sorted([c * s * s for c, s in REORDER_POINTS] + [BIG])
    assert sizes[0] <= 1024 and sizes[-1] >= 200_000 and len(set(sizes)) == 4


def test_the_cost_per_element_is_interpolated_in_log_log_and_flat_beyond_the_points() -> None:
    profile = synthetic(unit_ns={"reorder": 0.25, **POINTS})
    small, mid, large = sorted(c * s * s for c, s in REORDER_POINTS)
    assert profile.reorder_ns(small) == pytest.approx(2.0)
    assert profile.reorder_ns(small / 10) == pytest.approx(2.0)  # flat below the smallest
    assert profile.reorder_ns(BIG * 10) == pytest.approx(0.25)  # the 200k point, flat above it
    between = math.sqrt(small * mid)  # halfway in log: the geometric mean of the two costs
    assert profile.reorder_ns(between) == pytest.approx(math.sqrt(2.0 * 1.0))
    assert profile.reorder_ns(large) == pytest.approx(0.5)


def test_a_profile_without_points_keeps_its_one_cost_and_zero_points_are_ignored() -> None:
    assert synthetic(unit_ns={"reorder": 0.25}).reorder_ns(1000) == 0.25
    zeroed = synthetic(unit_ns={"reorder": 0.25, **dict.fromkeys(POINTS, 0.0)})
    assert zeroed.reorder_ns(1000) == 0.25
    assert loglog_at([(1.0, 4.0), (100.0, 1.0)], 10.0) == pytest.approx(2.0)


def test_each_point_is_its_kernel_less_the_profiler_and_the_fixed_cost_per_element() -> None:
    times = {f"unit:reorder@{c * s * s}": 10.0 for c, s in REORDER_POINTS}
    got = reorder_units_ns(times.get, 2.0, {"ew": 0.3, "reorder": 1.0}, [])
    assert got == {f"reorder@{c * s * s}": pytest.approx((10.0 - 2.0 - 1.0) * 1e3 / (c * s * s))
                   for c, s in REORDER_POINTS}
    assert reorder_units_ns(lambda key: None, 2.0, {"ew": 0.3, "reorder": 1.0}, []) == {}


def test_calibration_figures_carry_the_points() -> None:
    raw = calsamples.Samples()
    raw.log.append({"compute": 1.0, "overhead": 1.0})
    for key, value in {"run": 5.0, "matmul": 0.01, "fixed:ew": 0.3, "fixed:conv": 0.8}.items():
        raw.add(key, value, "overhead")
    for c, s in REORDER_POINTS:
        raw.add(f"unit:reorder@{c * s * s}", 4.0, "compute")
    unit_ns = suite._figures(raw, [], [], {}, ())["unit_ns"]
    assert sorted(k for k in unit_ns if k.startswith("reorder@")) == sorted(POINTS)


def test_a_small_reorder_is_priced_at_the_small_point() -> None:
    """LeNet-5's reorders (a few thousand elements) are priced at the small points' cost."""
    graph = load_spec("lenet5_modern")
    flat = synthetic(unit_ns={"reorder": 0.25})
    pointed = synthetic(unit_ns={"reorder": 0.25, **POINTS})
    a, b = (estimate_latency(graph, p).layers for p in (flat, pointed))
    assert b[LAYOUT].memory_ms > 3 * a[LAYOUT].memory_ms > 0


@pytest.mark.parametrize("channels, size", [*REORDER_POINTS, (REORDER_CHANNELS, REORDER_SIZE)])
def test_each_point_model_runs_exactly_one_reorder_output(channels: int, size: int, tmp_path: Path) -> None:
    import onnx
    import onnxruntime as ort

    from archcalc.estimate import layout

    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    options.log_severity_level = 3
    ort.InferenceSession(reorder_model(channels, size).SerializeToString(), options,
                         providers=["CPUExecutionProvider"])
    ops = collections.Counter(n.op_type for n in onnx.load(str(tmp_path / "optimised.onnx")).graph.node)
    if layout.nchwc_block() <= 1 or not ops["ReorderInput"]:
        pytest.skip("this CPU runs no NCHWc kernels")
    assert ops["ReorderOutput"] == 1 and ops["Abs"] == 1
