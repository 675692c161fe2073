"""Preemption from the run queue (estimate/probes.py): a run longer than a scheduler slice shares
the cores with every other runnable task, which a 0.4 ms probe (finished within one slice) does
not see. Measured here with busy processes on a 2-core machine: networks 1.4-1.6x slower with
one, 2.0-2.2x with two; the probe 1.0-1.16x."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from archcalc.estimate import estimate_latency, probes
from archcalc.estimate.probes import contention_factor, contention_of, cpu_share, drift_of, runnable_others
from archcalc.language.loader import load_spec
from tests.test_estimate import synthetic


@pytest.mark.parametrize(("others", "threads", "cores", "share"), [
    (0.0, 2, 2, 1.0), (1.0, 2, 2, 1.5), (2.0, 2, 2, 2.0), (0.5, 2, 2, 1.25),
    (1.0, 1, 2, 1.0),  # one thread and one other task fit on two cores
    (3.0, 1, 2, 2.0), (6.0, 2, 8, 1.0), (10.0, 4, 8, 1.75),
])
def test_cpu_share(others: float, threads: int, cores: int, share: float) -> None:
    assert cpu_share(others, threads, cores) == pytest.approx(share)


def test_the_run_queue_figure_is_absolute_and_preferred_to_the_probe_mean() -> None:
    base = {"compute": 1e-3, "overhead": 1e-5, "contention": 1.2, "others": 1.0}
    assert contention_of({"others": 1.0, "contention": 1.5}, base, 2, 2) == pytest.approx(1.5)
    assert contention_of({"contention": 1.5}, base, 2, 2) == pytest.approx(1.25)  # no run queue read: as before
    assert contention_of({"compute": 1e-3}, base, 2, 2) is None


def test_drift_contention_is_the_median_share_of_the_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("archcalc.runtime.devices.cpu_count", lambda: 2)
    profile = synthetic(intra_op_threads=2)
    samples = [{"compute": 1e-3, "overhead": 1e-5, "others": o} for o in (0.0, 1.0, 1.2)]
    assert drift_of(profile, samples)["contention"] == pytest.approx(1.5)


def test_a_long_run_is_estimated_slower_by_the_share_a_short_one_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("archcalc.runtime.devices.cpu_count", lambda: 2)
    profile = synthetic(intra_op_threads=2)
    big = load_spec({"name": "b", "input": [64, 64, 64], "layers": [
        {"name": "c", "type": "conv", "filters": 64, "kernel": 3, "padding": 1}]})
    quiet = estimate_latency(big, profile, batch=1)
    busy = estimate_latency(big, profile, batch=1, drift=drift_of(profile, [{"compute": 1e-3, "overhead": 1e-5,
                                                                            "others": 1.0}]))
    assert quiet.total_ms > 3.0  # longer than a slice: the whole factor
    assert busy.total_ms == pytest.approx(quiet.total_ms * 1.5)
    tiny = load_spec({"name": "t", "input": [4, 4, 4], "layers": [{"name": "r", "type": "relu"}]})
    quiet_t = estimate_latency(tiny, profile, batch=1)
    busy_t = estimate_latency(tiny, profile, batch=1, drift={"contention": 1.5})
    assert busy_t.total_ms == pytest.approx(quiet_t.total_ms * contention_factor(1.5, quiet_t.total_ms))
    assert busy_t.total_ms < quiet_t.total_ms * 1.01  # a few microseconds: within one slice


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="Linux's /proc/stat")
def test_runnable_others_counts_a_busy_process() -> None:
    """A busy loop is always runnable (running or queued): it is counted every time."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        got = runnable_others()
    finally:
        busy.kill()
        busy.wait()
    assert got is not None and got >= 0.9


def test_without_a_run_queue_to_read_there_is_no_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_proc(*args: object, **kwargs: object) -> object:
        raise OSError("no /proc here")

    monkeypatch.setattr("builtins.open", no_proc)
    assert runnable_others() is None
    assert probes.QUEUE_READS >= 10


def test_the_profile_note_says_the_cores_were_shared_and_by_how_much() -> None:
    from archcalc.measure import _drift_note

    note = _drift_note({"compute": 1.0, "overhead": 1.0, "contention": 1.5})
    assert note is not None and "shared the cores" in note and "x1.50 slower" in note
    assert _drift_note({"compute": 1.02, "overhead": 0.97, "contention": 1.05}) is None


def test_a_calibration_on_a_busy_machine_says_so() -> None:
    from archcalc.estimate.noise import busy_note

    quiet = [{"compute": 1e-3, "others": o} for o in (0.0, 0.1, 0.0, 1.0)]
    assert busy_note(quiet, 2) == []
    assert busy_note([{"compute": 1e-3}], 2) == []  # no run queue read: nothing to say
    (note,) = busy_note([{"compute": 1e-3, "others": o} for o in (1.0, 1.1, 0.9)], 2)
    assert "1.0 other tasks were runnable" in note and "2 cores" in note and "archcalc calibrate --fresh" in note


def test_a_profile_calibrated_on_a_quiet_machine_has_no_other_task_and_is_valid() -> None:
    """``probes.others`` is a count, 0 when nothing else runs (a probe time of 0 stays refused).
    The schema refused it, so every calibration on a quiet machine failed."""
    from archcalc.errors import CalibrationError
    from archcalc.estimate.deviceprofile import DeviceProfile

    profile = synthetic(probes={"compute": 1e-3, "overhead": 1e-5, "others": 0.0})
    profile.validate()
    assert DeviceProfile.from_dict(profile.to_dict()).probes["others"] == 0.0
    with pytest.raises(CalibrationError, match=r"probes\.compute"):
        synthetic(probes={"compute": 0.0, "overhead": 1e-5}).validate()
