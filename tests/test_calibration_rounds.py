"""Calibration's kernel rounds: every conv and GEMM point is measured in several blocks seconds apart
and its figure is the median of the blocks whose own repeats agree; blocks of kernels too short for
the thread pool get no probe before them, and the others one at most every ``PROBE_EVERY_S``.
Simulated measurements (no ONNX Runtime timing). Why rounds: docs/runtime.md, Limits."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest

from archcalc.estimate import samples, suite
from archcalc.estimate.calsamples import UNSCALED, Samples, points_to_remeasure


def _samples(*probes: float) -> Samples:
    raw = Samples()
    raw.log = [{"compute": p, "overhead": 1.0} for p in probes]
    return raw


def test_a_point_measured_in_rounds_is_the_median_of_its_rounds() -> None:
    raw = _samples(1.0)
    for value in (100.0, 210.0, 110.0):  # one round on a slow phase
        raw.add("conv:0", value, UNSCALED, [value] * 5)
    assert raw.get("conv:0", {"compute": 1.0}) == 110.0
    assert points_to_remeasure(raw) == []  # the rounds disagree with each other; no block with itself


def test_a_block_whose_repeats_disagree_is_left_out_when_another_agrees() -> None:
    raw = _samples(1.0)
    raw.add("conv:0", 100.0, UNSCALED, [100.0] * 5)
    raw.add("conv:0", 500.0, UNSCALED, [100.0, 500.0, 900.0, 300.0, 700.0])
    raw.add("conv:0", 120.0, UNSCALED, [120.0] * 5)
    assert raw.get("conv:0", {"compute": 1.0}) == 110.0  # the median of the two that agree
    assert raw.best_repeats("conv:0") == [100.0] * 5
    assert raw.repeats("conv:0") == [100.0] * 5 + [120.0] * 5


def test_a_point_is_re_measured_only_when_none_of_its_blocks_agrees() -> None:
    raw = _samples(1.0)
    jumpy = [100.0, 500.0, 900.0, 300.0, 700.0]
    raw.add("conv:0", 500.0, UNSCALED, jumpy)
    raw.add("conv:0", 500.0, UNSCALED, jumpy)
    raw.add("conv:1", 500.0, UNSCALED, jumpy)
    raw.add("conv:1", 100.0, UNSCALED, [100.0] * 5)
    raw.add("run", 3.0, "overhead")  # a wall time: no repeats, never judged
    assert points_to_remeasure(raw) == ["conv:0"]
    assert raw.get("conv:0", {"compute": 1.0}) == 500.0  # all of them, when none agrees


def test_all_small_needs_every_block_of_every_point_unscaled() -> None:
    raw = _samples(1.0)
    raw.add("conv:0", 5.0, UNSCALED, [5.0])
    raw.add("conv:1", 5.0, UNSCALED, [5.0])
    assert raw.all_small(["conv:0", "conv:1"])
    assert not raw.all_small(["conv:0", "conv:2"])  # conv:2 not measured yet
    raw.add("conv:1", 50.0, "compute", [50.0])
    assert not raw.all_small(["conv:0", "conv:1"])


class _Stop(Exception):
    pass


class _FakeProbes:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def measure(self, runs: int = 5) -> dict[str, float]:
        return {"compute": 1.0, "overhead": 1.0}


def _schedule(monkeypatch: pytest.MonkeyPatch, rounds: int, probe_every_s: float) -> tuple[list[Any], Samples]:
    """The calibration's sequence of probes and kernel blocks (everything else a no-op), stopped
    before its re-measurement."""
    events: list[Any] = []
    plan = dataclasses.replace(samples.PLANS["quick"], kernel_rounds=rounds)
    monkeypatch.setitem(samples.PLANS, "quick", plan)
    monkeypatch.setattr(suite, "PROBE_EVERY_S", probe_every_s)

    class Probes(_FakeProbes):
        def measure(self, runs: int = 5) -> dict[str, float]:
            events.append("probe")
            return super().measure(runs)

    def kernels(bench: Any, raw: Samples, family: str, chunk: Sequence[int], model: Any, names: Any) -> None:
        events.append((family, tuple(chunk)))
        for i in chunk:  # the first conv chunk's kernels are short, the rest run on the thread pool
            small = family == "conv" and tuple(chunk) == first[0]
            raw.add(f"{family}:{i}", 5.0 if small else 500.0, UNSCALED if small else "compute", [1.0] * 5)

    got: list[Samples] = []

    def stop(bench: Any, raw: Samples, *args: Any, **kwargs: Any) -> Any:
        got.append(raw)
        raise _Stop

    first: list[tuple[int, ...]] = []
    real_chunks = samples.chunks_by_bytes

    def chunks(*args: Any) -> list[list[int]]:
        out = real_chunks(*args)
        if not first:
            first.append(tuple(out[0]))
        return out

    monkeypatch.setattr(suite, "Probes", Probes)
    monkeypatch.setattr(suite, "chunks_by_bytes", chunks)
    monkeypatch.setattr(suite, "_measure_kernels", kernels)
    monkeypatch.setattr(suite, "_remeasure", stop)
    monkeypatch.setattr(suite, "conv_model", lambda shapes: (None, []))
    monkeypatch.setattr(suite, "gemm_model", lambda shapes: (None, []))
    for name in ("_measure_overheads", "_measure_bandwidth", "_measure_stream", "_measure_op_costs",
                 "_measure_matmul"):
        monkeypatch.setattr(suite, name, lambda *args, _name=name, **kwargs: events.append(_name))
    monkeypatch.setattr(suite, "ops_model", lambda: (None, {}))
    monkeypatch.setattr(suite, "unit_counts", lambda: {})
    with pytest.raises(_Stop):
        suite.calibrate("cpu", quick=True)
    return events, got[0]


def test_every_block_is_measured_once_per_round_and_its_points_are_the_median_of_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    events, raw = _schedule(monkeypatch, rounds=3, probe_every_s=0.0)
    blocks = [e for e in events if isinstance(e, tuple)]
    per_round = len(blocks) // 3
    assert per_round > 2 and blocks == blocks[:per_round] * 3
    assert all(len(v) == 3 for k, v in raw.values.items() if k.startswith(("conv:", "gemm:")))


def test_blocks_of_short_kernels_get_no_probe_after_the_first_round(monkeypatch: pytest.MonkeyPatch) -> None:
    events, _ = _schedule(monkeypatch, rounds=3, probe_every_s=0.0)
    small = events[next(i for i, e in enumerate(events) if isinstance(e, tuple))]
    at = [i for i, e in enumerate(events) if e == small]
    assert len(at) == 3
    assert events[at[0] - 1] == "probe"  # nothing known yet: probed
    assert all(events[i - 1] == "_measure_op_costs" for i in at[1:])  # known short: taken as measured
    # every other block has a probe just before it (PROBE_EVERY_S = 0 here)
    others = [i for i, e in enumerate(events) if isinstance(e, tuple) and e != small]
    assert others and all(events[i - 1] == "probe" for i in others)


def test_probes_come_at_most_every_probe_every_s(monkeypatch: pytest.MonkeyPatch) -> None:
    events, _ = _schedule(monkeypatch, rounds=2, probe_every_s=3600.0)
    blocks = [i for i, e in enumerate(events) if isinstance(e, tuple)]
    # the probes before the fixed costs, the op costs and the MatMul of each round, none between blocks
    assert len(blocks) > 4 and not any(events[i - 1] == "probe" for i in blocks)
    assert events.count("probe") == 1 + 1 + 2 * 3  # the first, the repeat's bandwidth, three per round


def test_the_default_plan_measures_kernels_in_rounds() -> None:
    assert samples.PLANS["default"].kernel_rounds >= 3
    assert samples.PLANS["thorough"].kernel_rounds * samples.PLANS["thorough"].repeats >= 3
