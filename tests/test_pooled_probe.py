"""The pooled probe (archcalc.estimate.probes): a chain of 3x3 convolutions timed next to the
models, whose measured time over its estimate scales the layers on the thread pool; simulated
timings except one real run on the CPU."""

from __future__ import annotations

import statistics

import pytest

from archcalc.analysis import analyze
from archcalc.estimate import estimate_latency, layout, noise, pooled, probes
from archcalc.language.loader import load_spec
from tests.test_estimate import CONV_FC, synthetic
from tests.test_robust import FakeRunner


@pytest.fixture(autouse=True)
def block16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "nchwc_block", lambda: 16)


def test_the_pooled_chain_is_twelve_3x3_convs_of_a_hand_count() -> None:
    graph = probes.pooled_graph()
    report = analyze(graph)
    convs = [r for r in report.layers if r.kind == "conv"]
    assert len(convs) == probes.POOLED_LAYERS == 12
    c, h, w = probes.POOLED_INPUT
    assert report.totals.macs == 12 * (c * 9) * c * h * w == 86_704_128  # 3x3, padding 1: 28x28 out


def test_the_pooled_probe_reports_its_mean_run_over_a_window(monkeypatch: pytest.MonkeyPatch) -> None:
    p = probes.Probes.__new__(probes.Probes)
    p.runners = {"compute": FakeRunner([1e-3]), "overhead": FakeRunner([1e-5])}  # type: ignore[dict-item]
    # 2 ms runs, every fourth preempted by 6 ms: the mean is 3.5 ms, which a model's runs pay too
    p.pooled = FakeRunner([2e-3, 2e-3, 2e-3, 8e-3])  # type: ignore[assignment]
    monkeypatch.setattr(probes.Probes, "SETTLE_S", 0.0)
    got = p.measure(5)
    assert p.pooled.i >= probes.Probes.POOLED_WINDOW_S / 3.5e-3  # type: ignore[union-attr]
    assert got["pooled"] == pytest.approx(3.5e-3, rel=0.1)
    plain = probes.Probes.__new__(probes.Probes)
    plain.runners = p.runners
    assert "pooled" not in plain.measure(5)  # without it, nothing is reported


def test_pooled_drift_is_the_measured_time_over_the_estimate() -> None:
    profile = synthetic()
    est_s = pooled.pooled_estimate_s(profile)
    assert est_s == pytest.approx(estimate_latency(probes.pooled_graph(), profile).total_ms / 1e3)
    samples = [{"compute": 1e-3, "overhead": 1e-5, "pooled": k * est_s} for k in (1.2, 1.5, 3.0)]
    drift = pooled.pooled_drift(profile, samples)
    assert drift["pooled"] == pytest.approx(1.5) and drift["compute"] == pytest.approx(1.0)
    assert pooled.probe_base(profile) == {**profile.probes, "pooled": est_s}
    assert "pooled" not in pooled.pooled_drift(profile, [{"compute": 1e-3, "overhead": 1e-5}])


def test_under_a_pooled_drift_preemption_scales_only_the_part_off_the_pool() -> None:
    graph = load_spec(CONV_FC)
    profile = synthetic()
    base = estimate_latency(graph, profile, batch=8)
    cp, op = base.compute_part_ms, base.overhead_part_ms
    assert cp > 0 and op > 0
    got = estimate_latency(graph, profile, batch=8, drift={"compute": 5.0, "pooled": 2.0, "overhead": 1.5})
    assert got.total_ms == pytest.approx(2.0 * cp + 1.5 * op)  # the pool follows the pooled probe, not compute
    pre = estimate_latency(graph, profile, batch=8, drift={"pooled": 2.0, "overhead": 1.5, "contention": 3.0})
    factor = probes.contention_factor(3.0, 2.0 * cp + 1.5 * op)
    assert pre.total_ms == pytest.approx(2.0 * cp + 1.5 * op * factor)
    assert pre.contention == pytest.approx(pre.total_ms / (2.0 * cp + 1.5 * op))
    # the band: the pool's part by the pooled probe's range and no preemption factor
    base_probes = {"compute": 1.0, "overhead": 1.0, "pooled": 2.0, "contention": 1.0}
    samples = [{"compute": 1.0, "overhead": 1.0, "pooled": 2.0, "contention": 1.0},
               {"compute": 1.0, "overhead": 1.0, "pooled": 3.0, "contention": 2.0}]
    band = noise.band_of(10.0, 1.0, {}, base_probes, samples, run_ms=10 * probes.SLICE_MS)
    assert (band.low_ms, band.high_ms) == pytest.approx((10.0 + 1.0, 15.0 + 2.0))
    assert "pooled x1.00-1.50" in band.basis


def test_the_pooled_probe_runs_on_onnx_runtime() -> None:
    from archcalc.runtime.devices import choose_device

    p = probes.Probes(choose_device("cpu"), 1, pooled=True)
    got = [p.measure(1) for _ in range(2)]
    assert all(s["pooled"] > 0 for s in got)
    assert statistics.fmean(s["pooled"] for s in got) < 1.0  # ~0.5 ms a run on 2 cores; a broken chain would not be


def test_the_pooled_probe_counts_only_while_other_tasks_are_runnable() -> None:
    quiet = [{"compute": 1e-3, "overhead": 1e-5, "pooled": 4e-3, "others": o} for o in (0.0, 0.1, 0.6)]
    busy = [{"compute": 1e-3, "overhead": 1e-5, "pooled": 4e-3, "others": o} for o in (0.4, 0.5, 1.0)]
    assert not pooled.busy(quiet) and pooled.busy(busy)  # the median of the run-queue reads, from 0.5
    assert not pooled.busy([{"compute": 1e-3, "pooled": 4e-3}])  # no run queue read: not known busy
    used = pooled.gated(quiet)
    assert all("pooled" not in s for s in used) and [s["others"] for s in used] == [0.0, 0.1, 0.6]
    assert all("pooled" in s for s in quiet)  # the measured samples are left as they were
    assert pooled.gated(busy) == busy
    profile = synthetic()
    assert "pooled" not in pooled.pooled_drift(profile, pooled.gated(quiet))
    assert "pooled" in pooled.pooled_drift(profile, pooled.gated(busy))


def test_the_run_queue_is_read_before_the_pooled_probe_spins(monkeypatch: pytest.MonkeyPatch) -> None:
    p = probes.Probes.__new__(probes.Probes)
    p.runners = {"compute": FakeRunner([1e-3]), "overhead": FakeRunner([1e-5])}  # type: ignore[dict-item]
    pool = FakeRunner([2e-3])
    p.pooled = pool  # type: ignore[assignment]
    seen: list[int] = []

    def others(reads: int = probes.QUEUE_READS) -> float:
        seen.append(pool.i)  # how many pooled runs had been timed when the queue was read
        return 1.0

    slept: list[float] = []
    monkeypatch.setattr(probes, "runnable_others", others)
    monkeypatch.setattr(probes.time, "sleep", slept.append)
    got = p.measure(5)
    assert seen == [0] and pool.i > 0 and got["others"] == 1.0  # its spinning workers are not counted
    assert slept == [probes.Probes.SETTLE_S, probes.Probes.SETTLE_S]  # settled before the probes and after it
