"""Recalibration merges with the cached profile in probe units (archcalc/estimate/merge.py): a
calibration made while the machine ran at another speed, whose probes saw that speed, changes
nothing; figures that disagree in probe units are averaged (geometric, the cached side weighed
by the calibrations it holds, at most MEMORY); another mode or device is not merged; the CLI and
``device_profile(refresh=True)`` merge unless asked not to."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest

from archcalc import estimate as E
from archcalc.estimate import calibration, calsamples, suite
from archcalc.estimate.merge import MEMORY, calibrations_in, merge_profiles
from tests.test_estimate import synthetic


def slower(profile: E.DeviceProfile, compute: float, overhead: float, **changes: Any) -> E.DeviceProfile:
    """The same machine calibrated while it ran ``compute``/``overhead`` times slower, its probes too."""
    return dataclasses.replace(
        profile, probes={"compute": profile.probes["compute"] * compute, "overhead": profile.probes["overhead"] * overhead},
        run_us=profile.run_us * overhead, fixed_us={k: v * overhead for k, v in profile.fixed_us.items()},
        bandwidth=[(b, v / compute) for b, v in profile.bandwidth], matmul_gflops=profile.matmul_gflops / compute,
        conv=[[*r[:7], r[7] * compute] for r in profile.conv], gemm=[[*r[:3], r[3] * compute] for r in profile.gemm],
        unit_ns={k: v * compute for k, v in profile.unit_ns.items()}, _conv_index=None, _gemm_index=None, **changes)


def test_a_calibration_at_another_speed_changes_nothing_in_probe_units() -> None:
    old = synthetic()
    new = slower(old, 2.0, 1.5)
    merged = merge_profiles(old, new)
    assert merged.probes == new.probes and calibrations_in(merged) == 2
    assert merged.run_us == pytest.approx(new.run_us) and merged.matmul_gflops == pytest.approx(new.matmul_gflops)
    assert [r[7] for r in merged.conv] == pytest.approx([r[7] for r in new.conv])
    assert merged.fixed_us == pytest.approx(new.fixed_us) and merged.unit_ns == pytest.approx(new.unit_ns)
    assert "merged with the cached calibration" in merged.notes[-1]


def test_disagreeing_figures_are_averaged_weighing_the_calibrations_held() -> None:
    old = synthetic()
    new = dataclasses.replace(old, conv=[[*r[:7], r[7] * 4] for r in old.conv], run_us=old.run_us * 2)
    once = merge_profiles(old, new)  # 1:1
    assert [r[7] for r in once.conv] == pytest.approx([r[7] * 2 for r in old.conv])
    assert once.run_us == pytest.approx(old.run_us * math.sqrt(2))
    held = dataclasses.replace(old, noise={**old.noise, "calibrations": 3.0})
    thrice = merge_profiles(held, new)  # 3:1
    assert [r[7] for r in thrice.conv] == pytest.approx([r[7] * 4 ** 0.25 for r in old.conv])
    assert calibrations_in(thrice) == 4
    many = merge_profiles(dataclasses.replace(old, noise={"calibrations": 50.0}), new)  # older ones fade
    assert calibrations_in(many) == MEMORY + 1
    assert [r[7] for r in many.conv] == pytest.approx([r[7] * 4 ** (1 / (MEMORY + 1)) for r in old.conv])


def test_a_point_only_one_calibration_measured_is_kept() -> None:
    old = synthetic()
    new = dataclasses.replace(old, conv=[*old.conv, [7, 7, 1, 3, 1, 5, 1, 9.0]], stream=[(1e6, 40.0)])
    merged = merge_profiles(old, new)
    assert merged.conv[-1] == [7, 7, 1, 3, 1, 5, 1, 9.0] and merged.stream == [(1e6, 40.0)]


@pytest.mark.parametrize("change", [{"mode": "thorough"}, {"cpu": "another CPU"}, {"threads": 3}])
def test_another_mode_or_machine_is_not_merged(change: dict[str, Any]) -> None:
    old = dataclasses.replace(synthetic(), **change)
    new = dataclasses.replace(synthetic(), conv=[[*r[:7], r[7] * 4] for r in synthetic().conv])
    assert merge_profiles(old, new) is new


def test_recalibration_merges_with_the_cache_unless_asked_not_to(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = synthetic()
    E.save_profile(first)
    second = dataclasses.replace(first, run_us=first.run_us * 4)
    monkeypatch.setattr(calibration, "calibrate", lambda *a, **k: second)
    merged, _ = E.device_profile("cpu", None, refresh=True)
    assert merged.run_us == pytest.approx(first.run_us * 2) and calibrations_in(merged) == 2
    cached, _ = E.load_cached("cpu", None)
    assert cached is not None and cached.run_us == pytest.approx(merged.run_us)
    replaced, _ = E.device_profile("cpu", None, refresh=True, merge=False)
    assert replaced.run_us == second.run_us and calibrations_in(replaced) == 1


def test_cli_calibrate_merges_and_fresh_replaces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from archcalc.cli import main


    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = synthetic()
    E.save_profile(first)
    monkeypatch.setattr(suite, "calibrate", lambda *a, **k: dataclasses.replace(first, run_us=first.run_us * 9))
    monkeypatch.setattr(calibration, "calibrate", suite.calibrate)
    assert main(["calibrate", "--device", "cpu"]) == 0
    cached, _ = E.load_cached("cpu", None)
    assert cached is not None and cached.run_us == pytest.approx(first.run_us * 3)
    assert "merged with the cached calibration" in capsys.readouterr().out
    assert main(["calibrate", "--device", "cpu", "--fresh"]) == 0
    cached, _ = E.load_cached("cpu", None)
    assert cached is not None and cached.run_us == pytest.approx(first.run_us * 9)


def test_small_kernels_are_taken_as_measured_and_large_ones_scaled_by_the_compute_probe() -> None:
    """A kernel under SMALL_KERNEL_US: its median, as measured (no probe: the overhead probe timed
    beside such kernels did not run in their phase, ``calsamples.UNSCALED``); a larger one runs on the
    thread pool: its mean without the slowest run (a network's run takes the sum of its kernels'
    means, the preemptions of a shared machine included), scaled by the compute probe."""
    from archcalc.estimate.kernels import SMALL_KERNEL_US

    big = SMALL_KERNEL_US * 3

    class FakeBench:
        def kernel_runs(self, model: Any, runs: int = 5) -> dict[str, list[float]]:
            return {"conv0": [4.0, 4.0, 4.0, 4.0, 40.0], "conv1": [big, big, big, big * 2, big * 10]}

    raw = calsamples.Samples()
    raw.log = [{"compute": 1.0, "overhead": 1.0}, {"compute": 2.0, "overhead": 3.0}]
    suite._measure_kernels(FakeBench(), raw, "conv", [0, 1], None, ["conv0", "conv1"])  # type: ignore[arg-type]
    kinds = {key: [kind for _, kind, _, _ in got] for key, got in raw.values.items()}
    assert kinds == {"conv:0": [calsamples.UNSCALED], "conv:1": ["compute"]}
    ref = {"compute": 1.0, "overhead": 1.0}
    # measured after probe 1 (and before none): the compute probe read 2, the overhead probe 3
    assert raw.get("conv:0", ref) == pytest.approx(4.0) and raw.get("conv:1", ref) == pytest.approx(big * 5 / 4 / 2)
    assert raw.repeats("conv:0") == [4.0, 4.0, 4.0, 4.0, 40.0]  # as measured, whatever the probes read
