"""The band's widening for the conv/GEMM interpolation's error: each calibration point left out of
the fit and predicted from the others (``interperror``), a kernel's error from the points nearest
in time, the estimate's share (``Estimate.interpolation_ms``) and the band (``noise.band_of``)."""

from __future__ import annotations

import dataclasses
import math
import statistics

import pytest

from archcalc.estimate import ConvShape, estimate_latency, interperror, layout, noise
from archcalc.estimate.interperror import InterpolationError, left_out_errors
from archcalc.language.loader import load_spec
from archcalc.runtime.timing import percentile
from tests.test_estimate import synthetic


@pytest.fixture(autouse=True)
def block16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "nchwc_block", lambda: 16)


class _Constant:
    """A fit that predicts one efficiency (FLOP/us) whatever it is given."""

    def __init__(self, features: list[tuple[float, ...]], values: list[float], weights: object) -> None:
        self.value = sum(values) / len(values)

    def predict(self, features: tuple[float, ...]) -> float:
        return self.value


def test_each_point_is_predicted_from_the_others_and_its_log_error_kept_by_time() -> None:
    flops = [100.0, 200.0, 400.0]
    measured = [2.0, 3.0, 9.0]  # fixed 1 us: efficiencies 100, 100, 50 FLOP/us
    effs = [f / (us - 1.0) for f, us in zip(flops, measured, strict=True)]
    got = left_out_errors(flops, measured, [(0.0,), (1.0,), (2.0,)], effs, (1.0,), 1.0, 1e9, _Constant)
    # left out: point 0 from (100, 50) -> 75; point 1 from (100, 50) -> 75; point 2 from (100, 100) -> 100
    want = sorted([(1.0, abs(math.log((100 / 75 + 1) / 2))), (2.0, abs(math.log((200 / 75 + 1) / 3))),
                   (8.0, abs(math.log((400 / 100 + 1) / 9)))])
    assert [us for us, _ in got] == [us for us, _ in want]
    assert [e for _, e in got] == pytest.approx([e for _, e in want])


def test_the_peak_caps_a_prediction_as_it_caps_an_estimate() -> None:
    got = left_out_errors([1000.0] * 3, [2.0] * 3, [(0.0,)] * 3, [1000.0] * 3, (1.0,), 1.0, 100.0, _Constant)
    assert [e for _, e in got] == pytest.approx([math.log((1000 / 100 + 1) / 2)] * 3)


def test_too_few_points_have_no_error_and_give_no_widening() -> None:
    assert left_out_errors([1.0, 2.0], [1.0, 1.0], [(0.0,), (1.0,)], [1.0, 2.0], (1.0,), 0.0, 1.0, _Constant) == ()
    assert InterpolationError((), ()).at("conv", 10.0) == 0.0


def test_a_kernel_gets_the_quantile_of_the_points_nearest_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interperror, "WINDOW", 3)
    monkeypatch.setattr(interperror, "QUANTILE", 0.5)
    points = tuple((us, err) for us, err in [(1.0, 0.9), (2.0, 0.8), (4.0, 0.7), (100.0, 0.1), (200.0, 0.2),
                                             (400.0, 0.3), (800.0, 0.4)])
    errors = InterpolationError(points, ())
    assert errors.at("conv", 2.0) == pytest.approx(0.8)  # 1, 2, 4 us
    assert errors.at("conv", 250.0) == pytest.approx(0.2)  # 100, 200, 400 (nearer in log time than 800)
    assert errors.at("conv", 300.0) == pytest.approx(0.3)  # 200, 400, 800 (800 is the nearer of 100 and 800)
    assert errors.at("conv", 1e6) == pytest.approx(0.3)  # beyond the last: the last three
    assert errors.at("conv", 0.01) == pytest.approx(0.8)  # before the first: the first three
    assert errors.at("gemm", 300.0) == 0.0  # no GEMM points


def test_the_quantile_interpolates_between_sorted_values() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([4.0, 2.0, 3.0, 1.0], 80) == pytest.approx(3.4)
    assert percentile([5.0], 80) == 5.0
    with pytest.raises(ValueError):
        percentile([], 50)  # never asked: ``at`` answers 0 for a family without points


def test_points_on_one_efficiency_law_have_no_error_and_noisy_ones_do() -> None:
    exact = synthetic()  # every conv at 100 GFLOP/s beyond its fixed cost, every GEMM at 10
    assert all(e < 1e-9 for _, e in exact.interpolation_error().conv)
    assert all(e < 1e-9 for _, e in exact.interpolation_error().gemm)
    rows = [list(r) for r in exact.conv]
    for i, row in enumerate(rows):
        row[7] = 1.0 + (row[7] - 1.0) * (1.5 if i % 2 else 1 / 1.5)  # +-50% alternately
    noisy = dataclasses.replace(synthetic(), conv=rows, _conv_index=None, _left_out=None)
    assert statistics.median([e for _, e in noisy.interpolation_error().conv]) > 0.2
    assert noisy.interpolation_error().at("conv", 10.0) > 0.2


CONVNET = {"name": "convfc", "input": [16, 16, 16], "layers": [
    {"name": "c1", "type": "conv", "filters": 32, "kernel": 3, "padding": 1},
    {"name": "r", "type": "relu"},
    {"name": "c2", "type": "conv", "filters": 32, "kernel": 3, "padding": 1},
    {"name": "p", "type": "global_avgpool"},
    {"name": "fc", "type": "fc", "units": 10},
]}


def test_the_estimate_carries_its_conv_and_gemm_time_times_their_error(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = synthetic()
    monkeypatch.setattr(InterpolationError, "at", lambda self, family, us: 0.1 if family == "conv" else 0.3)
    est = estimate_latency(load_spec(CONVNET), profile)
    convs = est.layers["c1"].compute_ms + est.layers["c2"].compute_ms
    fc = est.layers["fc"].compute_ms + est.layers["fc"].memory_ms  # a GEMV: work, or streaming its weights
    assert convs > 0
    want = 0.1 * convs + (0.3 * est.layers["fc"].compute_ms if est.layers["fc"].compute_ms else 0.0)
    assert est.interpolation_ms == pytest.approx(want)
    assert fc > 0
    band = est.band(profile)
    share = est.interpolation_ms / (est.compute_part_ms + est.overhead_part_ms)
    plain = noise.band_of(est.compute_part_ms, est.overhead_part_ms, profile.noise, profile.probes,
                          run_ms=est.total_ms / est.contention, threads=profile.intra_op_threads)
    assert band.interpolation == pytest.approx(share)
    assert band.low_ms == pytest.approx(plain.low_ms / math.exp(share))
    assert band.high_ms == pytest.approx(plain.high_ms * math.exp(share))
    assert "interpolation's error" in band.basis and f"x{math.exp(share):.2f}" in band.basis


def test_the_band_widens_by_the_interpolation_error_each_way() -> None:
    base = {"compute": 1.0, "overhead": 1.0}
    samples = [{"compute": 1.0, "overhead": 1.0}]
    plain = noise.band_of(10.0, 1.0, {}, base, samples)
    wide = noise.band_of(10.0, 1.0, {}, base, samples, interpolation=0.2)
    assert (plain.low_ms, plain.high_ms) == pytest.approx((11.0, 11.0))
    assert (wide.low_ms, wide.high_ms) == pytest.approx((11.0 / math.exp(0.2), 11.0 * math.exp(0.2)))
    assert wide.to_dict()["interpolation"] == pytest.approx(0.2)
    assert noise.band_of(10.0, 1.0, {}, base, samples, interpolation=-1.0).low_ms == pytest.approx(11.0)


def test_a_real_conv_far_from_every_point_gets_the_error_of_points_of_its_time() -> None:
    profile = synthetic()
    errors = profile.interpolation_error()
    assert [us for us, _ in errors.conv] == sorted(us for us, _ in errors.conv)
    assert len(errors.conv) == len(profile.conv) and len(errors.gemm) == len(profile.gemm)
    assert errors.at("conv", profile.conv_us(ConvShape(512, 512, 1, 3, 1, 7, 1))) < 1e-9
