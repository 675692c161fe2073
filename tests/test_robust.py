"""Estimates on a machine whose speed changes, each piece with simulated timings (no real timing):
repeats that disagree are re-measured or dropped, blocks are scaled by the probes on both sides,
efficiencies stay at or under the measured peak, preemption measured by the probe slows long runs
only, every estimate carries the band its noise allows (in every output format), and the
accuracy figures of benchmarks/estimate_accuracy.py."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

import pytest

from archcalc.estimate import ConvShape, GemmShape, accuracy, calsamples, estimate_latency, noise, probes, suite
from archcalc.estimate.ondevice import estimate_on
from archcalc.language.loader import load_spec
from archcalc.render.device_estimate import render_device_estimate
from archcalc.render.profile_cli import render_results
from archcalc.runtime.results import ProfileResult
from archcalc.runtime.timing import timing_of
from tests.test_estimate import CONV_FC, synthetic

# -- repeats that disagree ------------------------------------------------------------------------


def test_disagreement_sets_one_glitch_aside() -> None:
    assert noise.disagreement([100.0, 101.0, 99.0, 100.0, 300.0]) == pytest.approx(0.01)  # 99 and 300 set aside
    assert noise.disagreement([100.0, 130.0, 70.0, 100.0, 125.0, 75.0]) == pytest.approx(50 / 100)
    assert noise.disagreement([10.0, 13.0]) == pytest.approx(3 / 11.5)
    assert noise.disagreement([5.0]) == 0.0
    assert not noise.disagrees([100.0, 101.0, 99.0, 100.0, 300.0])
    assert noise.disagrees([100.0, 130.0, 70.0, 100.0, 125.0, 75.0])
    assert not noise.disagrees([1.0, 1.5, 2.0, 1.2, 1.8])  # 100% apart, but under the 2 us floor


def test_screen_keeps_agreeing_points_and_re_measures_or_drops_the_rest() -> None:
    steady = [100.0, 101.0, 99.0, 100.0, 100.5]
    jumpy = [100.0, 160.0, 60.0, 140.0, 80.0]
    first = {"conv:0": steady, "conv:1": jumpy, "gemm:0": jumpy, "gemm:1": jumpy}
    again = {"conv:1": steady, "gemm:0": jumpy}  # gemm:1 could not be measured again
    got = noise.screen(first, again)
    assert got.kept == {"conv:0": steady, "conv:1": steady}
    assert got.remeasured == ("conv:1", "gemm:0", "gemm:1") and got.dropped == ("gemm:0", "gemm:1")
    assert got.note(4) == ("calibration points: 4 measured; 3 re-measured because their repeats disagreed by more "
                           "than 20% (and 2 us); 2 dropped (disagreed again)")


class FakeBench:
    """Kernel runs from a script: each call to ``kernel_runs`` pops the next {node: per-run us}."""

    def __init__(self, script: list[dict[str, list[float]]]) -> None:
        self.script = script
        self.models = 0

    def kernel_runs(self, model: Any, runs: int = 7, warmup: int = 2) -> dict[str, list[float]]:
        self.models += 1
        return self.script.pop(0)


def test_blocks_are_scaled_by_the_probes_on_both_sides() -> None:
    raw = calsamples.Samples()
    raw.log.append({"compute": 1.0, "overhead": 1.0})
    raw.add("conv:0", 100.0, "compute", [100.0, 100.0])
    raw.log.append({"compute": 4.0, "overhead": 1.0})  # the machine slowed during the block
    raw.add("conv:1", 400.0, "compute", [400.0])
    raw.log.append({"compute": 4.0, "overhead": 1.0})
    assert raw.probe_at("compute", 0) == pytest.approx(2.0)  # sqrt(1 x 4)
    assert raw.probe_at("compute", 2) == 4.0  # the last probe has nothing after it
    ref = {"compute": 2.0, "overhead": 1.0}
    assert raw.get("conv:0", ref) == pytest.approx(100.0)
    assert raw.get("conv:1", ref) == pytest.approx(200.0)
    assert raw.repeats("conv:1") == pytest.approx([100.0])  # at the first probe's speed


def test_calibration_re_measures_a_disagreeing_point_and_drops_one_that_disagrees_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suite, "conv_model", lambda shapes: (None, [f"conv{i}" for i in range(len(shapes))]))
    convs = [ConvShape(16, 16, 1, 3, 1, 8), ConvShape(32, 32, 1, 3, 1, 8), ConvShape(64, 64, 1, 3, 1, 8)]
    raw = calsamples.Samples()
    raw.log.append({"compute": 1.0, "overhead": 1.0})
    first = FakeBench([{"conv0": [50.0] * 5, "conv1": [50.0, 90.0, 20.0, 70.0, 40.0],
                        "conv2": [80.0, 20.0, 50.0, 65.0, 35.0]}])
    suite._measure_kernels(first, raw, "conv", [0, 1, 2], None, ["conv0", "conv1", "conv2"])  # type: ignore[arg-type]
    assert calsamples.points_to_remeasure(raw) == ["conv:1", "conv:2"]
    bench = FakeBench([{"conv0": [61.0] * 5, "conv1": [60.0, 90.0, 20.0, 75.0, 40.0]}])
    probed: list[int] = []

    def probe() -> None:
        probed.append(1)
        raw.log.append({"compute": 1.0, "overhead": 1.0})

    screened = suite._remeasure(bench, raw, probe, convs, [], 1 << 30)  # type: ignore[arg-type]
    assert bench.models == 1 and len(probed) == 2  # one block (both points), a probe before and after
    assert screened.remeasured == ("conv:1", "conv:2") and screened.dropped == ("conv:2",)
    assert raw.get("conv:1", {"compute": 1.0}) == 61.0 and raw.get("conv:2", {"compute": 1.0}) is None
    assert raw.get("conv:0", {"compute": 1.0}) == 50.0
    figures = suite.noise_of(raw, screened)
    assert figures["remeasured"] == 2 and figures["dropped"] == 1 and figures["points"] == 0.0


def test_no_point_is_credited_with_more_than_the_measured_peak() -> None:
    """A glitch (a kernel timed impossibly fast) is clamped to the peak: the MatMul's or the 95th
    percentile of the kernels long enough to time, whichever is faster."""
    raw = calsamples.Samples()
    raw.log.append({"compute": 1.0, "overhead": 1.0})
    convs = [ConvShape(64, 64, 1, 3, 1, 56, 1)] * 30
    flops = convs[0].flops
    for i in range(29):
        raw.add(f"conv:{i}", flops / 1e5, "compute")  # 100 GFLOP/s
    raw.add("conv:29", flops / 1e7, "compute")  # 10 TFLOP/s: a glitch
    gemm = GemmShape(64, 1024, 1024)
    raw.add("gemm:0", gemm.flops / 2e4, "compute")
    raw.add("matmul", GemmShape(1024, 1024, 1024).flops / 50e9, "compute")  # 50 GFLOP/s
    got = suite._figures(raw, convs, [gemm], {}, [1 << 12])
    peak_per_us = got["peak_gflops"] * 1e3
    assert got["peak_gflops"] == pytest.approx(100.0)  # the 95th percentile, not the glitch
    for row in got["conv"]:
        assert flops / row[7] <= peak_per_us * (1 + 1e-9)


# -- probes, preemption, drift ---------------------------------------------------------------------


class FakeRunner:
    def __init__(self, times: Sequence[float]) -> None:
        self.times = list(times)
        self.i = 0

    def run(self) -> None:
        pass

    def timed(self) -> float:
        value = self.times[self.i % len(self.times)]
        self.i += 1
        return value


def test_the_compute_probe_runs_for_a_window_and_reports_preemption(monkeypatch: pytest.MonkeyPatch) -> None:
    p = probes.Probes.__new__(probes.Probes)
    # 1 ms runs, every fifth preempted by 6 ms: the mean run is 2.2 ms, the median 1 ms
    p.runners = {"compute": FakeRunner([1e-3, 1e-3, 1e-3, 1e-3, 7e-3]), "overhead": FakeRunner([1e-5])}  # type: ignore[dict-item]
    monkeypatch.setattr(probes.Probes, "SETTLE_S", 0.0)
    got = p.measure(5)
    assert p.runners["compute"].i >= probes.Probes.WINDOW_S / 2.2e-3  # type: ignore[attr-defined]
    assert got["compute"] == 1e-3 and got["overhead"] == 1e-5
    assert got["contention"] == pytest.approx(2.2, rel=0.1)


def test_preemption_slows_runs_longer_than_a_slice_only() -> None:
    assert probes.contention_factor(2.0, 0.1 * probes.SLICE_MS) == pytest.approx(1.1)
    assert probes.contention_factor(2.0, probes.SLICE_MS) == 2.0
    assert probes.contention_factor(2.0, 50 * probes.SLICE_MS) == 2.0
    assert probes.contention_factor(0.8, 100.0) == 0.8  # less preemption than during calibration
    profile = synthetic(probes={"compute": 1e-3, "overhead": 1e-5, "contention": 1.25})
    drift = probes.drift_of(profile, [{"compute": 2e-3, "overhead": 1e-5, "contention": 1.5},
                                      {"compute": 2e-3, "overhead": 1e-5, "contention": 2.5},
                                      {"compute": 2e-3, "overhead": 1e-5, "contention": 2.0}])
    assert drift == pytest.approx({"compute": 2.0, "overhead": 1.0, "contention": 1.6})  # 2.0 / 1.25


def test_estimate_is_its_parts_times_the_probes_and_preemption_scales_the_total_only() -> None:
    graph = load_spec(CONV_FC)
    profile = synthetic()
    base = estimate_latency(graph, profile, batch=2)
    assert base.total_ms == pytest.approx(base.compute_part_ms + base.overhead_part_ms)
    scaled = estimate_latency(graph, profile, batch=2, drift={"compute": 1.7, "overhead": 1.3})
    assert scaled.total_ms == pytest.approx(1.7 * base.compute_part_ms + 1.3 * base.overhead_part_ms)
    assert scaled.compute_part_ms == pytest.approx(base.compute_part_ms)  # the parts stay in probe units
    run_ms = base.total_ms  # a tiny model: a fraction of a slice
    pre = estimate_latency(graph, profile, batch=2, drift={"contention": 3.0})
    assert pre.contention == pytest.approx(1 + 2.0 * run_ms / probes.SLICE_MS)
    assert pre.total_ms == pytest.approx(base.total_ms * pre.contention)
    assert pre.layers["c"].ms == base.layers["c"].ms  # per-layer kernel times are medians: not preempted


# -- the band ----------------------------------------------------------------------------------


def test_band_from_the_probes_now_widened_by_the_points_disagreement() -> None:
    base = {"compute": 1.0, "overhead": 2.0}
    samples = [{"compute": 1.2, "overhead": 2.0}, {"compute": 0.9, "overhead": 3.0}, {"compute": 1.0, "overhead": 2.2}]
    band = noise.band_of(10.0, 1.0, {"points": 0.1}, base, samples)
    assert band.low_ms == pytest.approx((10 * 0.9 + 1 * 1.0) * 0.95)
    assert band.high_ms == pytest.approx((10 * 1.2 + 1 * 1.5) * 1.05)
    assert "3 probe measurements now" in band.basis and "(10%)" in band.basis


def test_band_without_probes_is_the_calibrations_own_range_and_preemption_widens_it() -> None:
    calm = {"points": 0.0, "compute_lo": 0.9, "compute_hi": 1.3, "overhead_lo": 1.0, "overhead_hi": 1.1}
    band = noise.band_of(10.0, 2.0, calm, {"compute": 1.0, "overhead": 1.0})
    assert (band.low_ms, band.high_ms) == pytest.approx((11.0, 15.2))
    assert "during calibration" in band.basis
    samples = [{"compute": 1.0, "overhead": 1.0, "contention": 1.5}, {"compute": 1.0, "overhead": 1.0, "contention": 3.0}]
    base = {"compute": 1.0, "overhead": 1.0, "contention": 1.5}
    long_run = noise.band_of(10.0, 0.0, {}, base, samples, run_ms=10 * probes.SLICE_MS)
    assert (long_run.low_ms, long_run.high_ms) == pytest.approx((10.0, 20.0))


def test_probe_range_over_a_calibration() -> None:
    log = [{"compute": v} for v in (1.0, 1.0, 1.0, 2.0, 0.5)]
    assert noise.probe_range(log, "compute") == (0.5, 2.0)
    many = [{"compute": 1.0}] * 18 + [{"compute": 9.0}, {"compute": 0.1}]  # one burst each way: not the band
    assert noise.probe_range(many, "compute") == pytest.approx((1.0, 1.0))


def _result(**overrides: Any) -> ProfileResult:
    fields: dict[str, Any] = dict(
        name="convfc", source="convfc.yaml", batch=1, device="cpu", provider="CPUExecutionProvider",
        providers=("CPUExecutionProvider",), device_name="a CPU", cpu="a CPU", gpu=None, ort_version="1",
        threads=None, intra_op_threads=2, io_binding=True, timing=timing_of([1e-3] * 10, 2), estimate_ms=1.1,
        estimate_low_ms=0.9, estimate_high_ms=1.4, band_basis="6 probe measurements now (made up)")
    fields.update(overrides)
    return ProfileResult(**fields)


@pytest.mark.parametrize("fmt", ["table", "markdown", "json", "csv"])
def test_profile_shows_the_band_in_every_format(fmt: str) -> None:
    text = render_results([_result()], fmt)
    if fmt == "json":
        (got,) = json.loads(text)["results"]
        assert (got["estimate_low_ms"], got["estimate_high_ms"]) == (0.9, 1.4) and "probe" in got["band_basis"]
    elif fmt == "csv":
        rows = list(csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#")))
        assert (rows[0]["estimate_low_ms"], rows[0]["estimate_high_ms"]) == ("0.9", "1.4")
        assert "estimate band 0.9000-1.400 ms from 6 probe measurements now" in text
    else:
        assert "band ms" in text and "0.9000-1.400" in text and "from 6 probe measurements now (made up)" in text


@pytest.mark.parametrize("fmt", ["table", "markdown", "json", "csv"])
def test_a_calibrated_estimate_shows_its_band_in_every_format(fmt: str) -> None:
    est = estimate_on(load_spec(CONV_FC), "cpu", device_profile=synthetic(
        noise={"points": 0.1, "compute_lo": 0.9, "compute_hi": 1.2, "overhead_lo": 1.0, "overhead_hi": 1.0}),
        probe=False)
    assert est.low_ms is not None and est.high_ms is not None and est.low_ms < est.total_ms < est.high_ms
    text = render_device_estimate(est, fmt)
    if fmt == "json":
        data = json.loads(text)
        assert data["low_ms"] == est.low_ms and data["high_ms"] == est.high_ms
    elif fmt == "csv":
        (total, *_) = list(csv.DictReader(io.StringIO(text)))
        assert total["layer"] == "(total)" and float(total["low_ms"]) == pytest.approx(est.low_ms)
    else:
        assert "band" in text and "during calibration" in text


def test_a_datasheet_estimate_says_it_has_no_band() -> None:
    est = estimate_on(load_spec(CONV_FC), "h100")
    assert est.low_ms is None and "band: none" in render_device_estimate(est, "table")


# -- accuracy figures -------------------------------------------------------------------------


def test_accuracy_figures() -> None:
    measured = {"a": 1.0, "b": 2.0, "c": 4.0, "d": 8.0}
    estimates = {"a": 1.05, "b": 2.5, "c": 4.0, "d": 6.0}
    assert (accuracy.within(estimates, measured, 0.10).hits, accuracy.within(estimates, measured, 0.25).hits) == (2, 4)
    slower = {k: 3 * v for k, v in measured.items()}  # a machine three times slower: every ratio holds
    assert accuracy.pairs_within(slower, measured, 0.01) == accuracy.Share(6, 6, 0.01)
    assert accuracy.pairs_within(estimates, measured, 0.15).hits == 1  # a-c only (1.05); a-b is 1.05 / 1.25 = 0.84
    passes = [{"a": 1.0, "b": 2.0}, {"a": 1.05, "b": 3.0}, {"a": 0.98, "b": 2.0}]
    assert accuracy.spread_across(passes) == pytest.approx({"a": 1.05 / 0.98, "b": 1.5})
    assert accuracy.repeatable(passes, 0.10) == accuracy.Share(1, 2, 0.10)
    assert accuracy.in_band({"a": 0.9, "b": 2.1}, {"a": 1.1, "b": 2.4}, measured).hits == 1
    assert str(accuracy.Share(1, 2, 0.1)) == "1 of 2 (50%) within +-10%"
    # the ceiling of a constant estimate, scored against each pass: the value with the most passes
    # within the tolerance (not the median: of 1.0, 1.15, 1.3 the median has one within 10%)
    moved = [{"a": 1.0, "b": 2.0, "c": 1.0}, {"a": 1.3, "b": 2.0, "c": 1.15}, {"a": 1.05, "b": 2.5, "c": 1.3}]
    constant = accuracy.hindsight_constant(moved, 0.10)
    assert constant["b"] == 2.0  # 2.0 twice: a value within 10% of 2.5 misses both
    assert sum(accuracy._close(constant["c"] / m["c"], 0.10) for m in moved) == 2
    assert sum(accuracy._close(constant["a"] / m["a"], 0.10) for m in moved) == 2  # 1.0 and 1.05; 1.3 is too far
    assert sum(accuracy.within(constant, m, 0.10).hits for m in moved) == 6
    assert accuracy.hindsight_constant([], 0.1) == {} and accuracy.hindsight_constant([{"a": 1.0}, {}], 0.1) == {}


def test_calibrate_shows_the_noise_it_measured() -> None:
    from archcalc.render.profile_cli import describe_profile

    text = describe_profile(synthetic(noise={"points": 0.02, "compute_lo": 0.9, "compute_hi": 1.3, "overhead_lo": 1.0,
                                             "overhead_hi": 1.1, "remeasured": 3.0, "dropped": 1.0}))
    assert ("noise: kept points' repeats disagree by 2.0% (median); probes ranged compute x0.90-1.30, overhead "
            "x1.00-1.10 of their median; 3 points re-measured, 1 dropped") in text


def test_a_unit_cost_that_disagrees_twice_keeps_both_measurements() -> None:
    """An op's per-element cost (LRN here) has no neighbour to stand in for it: it is re-measured
    like a conv point, and when it disagrees again both measurements count instead of none."""
    units = {"lrn": ("lrn", 1000.0)}
    jumpy1 = [100.0, 160.0, 60.0, 140.0, 80.0, 100.0, 100.0]
    jumpy2 = [120.0, 180.0, 70.0, 150.0, 90.0, 120.0, 120.0]
    bench = FakeBench([{"lrn": jumpy1}, {"lrn": jumpy2}])
    raw = calsamples.Samples()
    raw.log.append({"compute": 1.0, "overhead": 1.0})
    suite._measure_op_costs(bench, raw, None, units, matmul=False)  # type: ignore[arg-type]
    assert calsamples.points_to_remeasure(raw) == ["unit:lrn"]

    def probe() -> None:
        raw.log.append({"compute": 1.0, "overhead": 1.0})

    screened = suite._remeasure(bench, raw, probe, [], [], 1 << 30, None, units)  # type: ignore[arg-type]
    assert screened.remeasured == ("unit:lrn",) and screened.dropped == ()
    assert raw.get("unit:lrn", {"compute": 1.0}) == pytest.approx(110.0)  # the median of the two medians
    assert sorted(screened.kept["unit:lrn"]) == sorted(jumpy1 + jumpy2)
