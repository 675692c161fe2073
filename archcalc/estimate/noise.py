"""Noise: when the repeats of a calibration point disagree, and the band an estimate carries.

Pure functions over measured numbers (no timing here), so each piece is tested with simulated
timings.

- **Disagreement** of repeats (:func:`disagreement`): the relative range of the repeats once the
  single fastest and slowest are set aside (five or more repeats), or of all of them (fewer).
  Calibration re-measures a point whose repeats disagree by more than :data:`REPEAT_TOLERANCE`
  and drops it when the second measurement disagrees too.
- **Band** (:func:`band_of`): an estimate is a sum of parts that follow the compute probe and
  parts that follow the overhead probe (``Estimate.compute_part_ms``/``overhead_part_ms``, at the
  calibration's speed). The band scales them by the lowest and highest probe ratios measured at
  the time of use (or, with no probe then, by the range the probes took during calibration) and
  widens that by the calibration points' own disagreement and by how far the conv and GEMM
  interpolation misses the calibration's own points when each is left out
  (:mod:`~archcalc.estimate.interperror`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: repeats of a calibration point disagree when their (trimmed) range exceeds this share of the
#: median and :data:`REPEAT_FLOOR_US` (a few microseconds of jitter on a tiny kernel is not disagreement)
REPEAT_TOLERANCE = 0.20
REPEAT_FLOOR_US = 2.0


def disagreement(values: Sequence[float]) -> float:
    """Relative range of repeated measurements: (max - min) / median, over the values without the
    single smallest and largest when there are five or more (one glitch is not disagreement).
    0 for fewer than two values."""
    ordered = sorted(values)
    if len(ordered) < 2:
        return 0.0
    if len(ordered) >= 5:
        ordered = ordered[1:-1]
    mid = statistics.median(ordered)
    return (ordered[-1] - ordered[0]) / mid if mid > 0 else 0.0


def disagrees(values: Sequence[float], tolerance: float = REPEAT_TOLERANCE, floor: float = REPEAT_FLOOR_US) -> bool:
    """Whether repeats (microseconds) disagree: a relative range over ``tolerance`` that is also
    more than ``floor`` microseconds."""
    spread = disagreement(values)
    return spread > tolerance and spread * statistics.median(values) > floor


@dataclass(frozen=True)
class Screened:
    """The outcome of re-measuring the points whose repeats disagreed."""

    #: point key -> the repeats kept (the first measurement, or the re-measurement that agreed)
    kept: Mapping[str, Sequence[float]]
    remeasured: tuple[str, ...]
    dropped: tuple[str, ...]

    def note(self, total: int, tolerance: float = REPEAT_TOLERANCE) -> str:
        return (f"calibration points: {total} measured; {len(self.remeasured)} re-measured because their repeats "
                f"disagreed by more than {tolerance:.0%} (and {REPEAT_FLOOR_US:g} us); {len(self.dropped)} dropped "
                f"(disagreed again)")


def screen(first: Mapping[str, Sequence[float]], again: Mapping[str, Sequence[float]],
           tolerance: float = REPEAT_TOLERANCE) -> Screened:
    """Keep each point whose first repeats agree; for one that disagreed, its re-measurement
    (``again``) when that agrees, else drop it. A point re-measured without result is dropped."""
    kept: dict[str, Sequence[float]] = {}
    remeasured: list[str] = []
    dropped: list[str] = []
    for key, values in first.items():
        if not disagrees(values, tolerance):
            kept[key] = values
            continue
        remeasured.append(key)
        second = again.get(key)
        if second and not disagrees(second, tolerance):
            kept[key] = second
        else:
            dropped.append(key)
    return Screened(kept, tuple(remeasured), tuple(dropped))


def noise_figures(log: Sequence[Mapping[str, float]], screened: Screened, names: Sequence[str]) -> dict[str, float]:
    """The noise a calibration measured: the median disagreement of the kept points' repeats, the
    points re-measured and dropped, and each probe's range over the calibration's probe ``log``
    (relative to its median)."""
    spreads = [disagreement(v) for v in screened.kept.values() if len(v) >= 2]
    out = {"points": statistics.median(spreads) if spreads else 0.0,
           "remeasured": float(len(screened.remeasured)), "dropped": float(len(screened.dropped))}
    for name in names:
        out[f"{name}_lo"], out[f"{name}_hi"] = probe_range(log, name)
    return out


def probe_range(log: Sequence[Mapping[str, float]], name: str) -> tuple[float, float]:
    """The lowest and highest of one probe over a calibration's probes, relative to their median
    (10th and 90th percentiles with ten or more probes, so one burst does not set the band)."""
    from archcalc.runtime.timing import percentile

    values = [p[name] for p in log if name in p]
    if not values:
        return 1.0, 1.0
    mid = statistics.median(values)
    if mid <= 0:
        return 1.0, 1.0
    lo, hi = (percentile(values, 10), percentile(values, 90)) if len(values) >= 10 else (min(values), max(values))
    return lo / mid, hi / mid


@dataclass(frozen=True)
class Band:
    """The range an estimate can take given the noise measured (milliseconds)."""

    low_ms: float
    high_ms: float
    #: where the band comes from, in words
    basis: str
    #: the log widening each way for the interpolation's error (``Estimate.interpolation_ms``
    #: over the estimate, both at the calibration's speed): the band without it is
    #: ``low_ms * exp(interpolation)`` to ``high_ms / exp(interpolation)``
    interpolation: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"low_ms": self.low_ms, "high_ms": self.high_ms, "basis": self.basis,
                "interpolation": self.interpolation}


def drift_range(base: Mapping[str, float], samples: Sequence[Mapping[str, float]],
                name: str) -> tuple[float, float] | None:
    """Lowest and highest ratio of probe ``name`` now (``samples``) to the calibration's (``base``)."""
    values = [s[name] for s in samples if name in s]
    ref = base.get(name)
    if not values or not ref:
        return None
    return min(values) / ref, max(values) / ref


def band_of(compute_part_ms: float, overhead_part_ms: float, noise: Mapping[str, float],
            base: Mapping[str, float], samples: Sequence[Mapping[str, float]] = (), run_ms: float = 0.0,
            threads: int = 1, interpolation: float = 0.0) -> Band:
    """The band of an estimate made of ``compute_part_ms`` (follows the compute probe) and
    ``overhead_part_ms`` (follows the overhead probe), both at the calibration's speed.

    With probe ``samples`` taken at the time of use, each part is scaled by the lowest and the
    highest ratio of its probe to the calibration's (``base``); without, by the range the probes
    took during calibration (``noise["compute_lo"]`` ...); and by the lowest and highest
    preemption factor the samples give a run of ``run_ms`` keeping ``threads`` threads busy
    (:func:`~archcalc.estimate.probes.contention_of`, ``contention_factor``). Then the whole is
    widened by ``noise["points"]``, the median disagreement of the calibration points' repeats (half
    of it each way), and by ``interpolation`` (a log error, each way: how far the conv and GEMM
    interpolation typically misses, see ``Estimate.interpolation_ms``). Where the samples have the
    pooled probe (and ``base`` its estimate), the compute part follows its range instead, with no
    preemption factor: its mean runs carry their preemption."""
    ranges: dict[str, tuple[float, float]] = {}
    for name in ("compute", "overhead"):
        got = drift_range(base, samples, name) if samples else None
        ranges[name] = got if got is not None else (noise.get(f"{name}_lo", 1.0), noise.get(f"{name}_hi", 1.0))
    pooled = drift_range(base, samples, "pooled") if samples else None
    if pooled is not None:
        ranges["compute"] = pooled
    from archcalc.estimate.probes import contention_factor, contention_of
    from archcalc.runtime.devices import cpu_count

    contention = [c for s in samples if (c := contention_of(s, base, threads, cpu_count())) is not None] or [1.0]
    c_lo, c_hi = contention_factor(min(contention), run_ms), contention_factor(max(contention), run_ms)
    k_lo, k_hi = (c_lo, c_hi) if pooled is None else (1.0, 1.0)  # the compute part's preemption factor
    lo = compute_part_ms * ranges["compute"][0] * k_lo + overhead_part_ms * ranges["overhead"][0] * c_lo
    hi = compute_part_ms * ranges["compute"][1] * k_hi + overhead_part_ms * ranges["overhead"][1] * c_hi
    half = noise.get("points", 0.0) / 2
    wide = math.exp(max(interpolation, 0.0))
    where = f"{len(samples)} probe measurements now" if samples else "the probes' range during calibration"
    follows = "pooled" if pooled else "compute"
    return Band(lo * (1 - half) / wide, hi * (1 + half) * wide,
                f"{where} ({follows} x{ranges['compute'][0]:.2f}-{ranges['compute'][1]:.2f}, overhead "
                f"x{ranges['overhead'][0]:.2f}-{ranges['overhead'][1]:.2f}, preemption x{c_lo:.2f}-{c_hi:.2f}), "
                f"widened by the calibration points' "
                f"repeat disagreement ({noise.get('points', 0.0):.0%}) and by the conv/GEMM interpolation's error "
                f"on the calibration's own points left out (x{wide:.2f} each way)", max(interpolation, 0.0))


def busy_note(log: Sequence[Mapping[str, float]], cores: int) -> list[str]:
    """A note when other tasks were runnable during calibration (the probes' run-queue reads):
    every figure is then slower than the machine is alone (ORT's kernels share the cores, caches
    and memory bandwidth), and estimates made later on a quiet machine are too high."""
    others = [p["others"] for p in log if "others" in p]
    if not others or statistics.median(others) < 0.5:
        return []
    return [f"calibrated while {statistics.median(others):.1f} other tasks were runnable (median of {len(others)} "
            f"run-queue reads, {cores} cores): its figures are those of a shared machine; calibrate again "
            f"when it is quiet (archcalc calibrate --fresh)"]
