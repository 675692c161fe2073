"""Honest timing: warm-up runs, then timed runs (``perf_counter`` around one run, outputs
synchronised), summarised as median, p90 and min with the run count, and called stable or not
from their spread.

Library code never prints: ``progress(stage, done, total)`` reports progress to the caller.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archcalc.errors import ArchcalcError

if TYPE_CHECKING:
    from archcalc.runtime.session import Runner

#: progress callback: (what is running, runs done, runs in all)
Progress = Callable[[str, int, int], None]

DEFAULT_WARMUP = 5
DEFAULT_REPEAT = 30


@dataclass(frozen=True)
class Timing:
    """Wall times of the timed runs (milliseconds); warm-up runs are not among them."""

    runs: int
    warmup: int
    median_ms: float
    p90_ms: float
    min_ms: float
    max_ms: float
    mean_ms: float
    samples_ms: tuple[float, ...] = field(repr=False, default=())

    @property
    def spread(self) -> float:
        """The noise a result reports: (p90 - min) / median of the timed runs."""
        return (self.p90_ms - self.min_ms) / self.median_ms if self.median_ms > 0 else 0.0

    @property
    def stable(self) -> bool:
        return self.stability_note() is None

    def stability_note(self) -> str | None:
        """None when the measurement is stable; otherwise why it is not."""
        if self.runs < MIN_STABLE_RUNS:
            return (f"only {self.runs} timed runs: too few to call the median stable "
                    f"(use --repeat {MIN_STABLE_RUNS} or more)")
        if self.median_ms < MIN_STABLE_MS:
            return (f"too short to time reliably: a median of {self.median_ms * 1e3:.0f} us is dominated by "
                    f"scheduling noise, and medians of separate runs can differ by more than the {self.spread:.0%} "
                    f"spread within this one (measured here: up to 1.4x for LeNet-5)")
        if self.spread > STABLE_SPREAD:
            return (f"unstable measurement: the timed runs spread by {self.spread:.0%} of the median "
                    f"(min {self.min_ms:.3g} ms, p90 {self.p90_ms:.3g} ms), more than {STABLE_SPREAD:.0%}: the "
                    f"machine is busy or the model too short to time; repeat on a quieter machine or with more runs")
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "warmup": self.warmup, "median_ms": self.median_ms, "p90_ms": self.p90_ms,
                "min_ms": self.min_ms, "max_ms": self.max_ms, "mean_ms": self.mean_ms,
                "spread": self.spread, "stable": self.stable}


#: a measurement is called stable when (p90 - min) / median is at most this, over enough runs
STABLE_SPREAD = 0.25
MIN_STABLE_RUNS = 5
#: medians below this (ms) are not called stable whatever their spread (benchmarks/timing_stability.py)
MIN_STABLE_MS = 0.1


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def timing_of(seconds: Sequence[float], warmup: int) -> Timing:
    if not seconds:
        raise ArchcalcError("no timed runs (repeat must be at least 1)")
    ms = [s * 1e3 for s in seconds]
    return Timing(runs=len(ms), warmup=warmup, median_ms=statistics.median(ms), p90_ms=percentile(ms, 90),
                  min_ms=min(ms), max_ms=max(ms), mean_ms=statistics.fmean(ms), samples_ms=tuple(ms))


def time_runner(runner: Runner, warmup: int, repeat: int, *, progress: Progress | None = None,
                stage: str = "", offset: int = 0, total: int | None = None,
                between: Callable[[], None] | None = None, blocks: int = 1) -> Timing:
    """Warm up, then time ``repeat`` runs. With ``between``, the runs are split into ``blocks``
    and ``between()`` (a drift probe) runs before each block, followed by one untimed re-warm run."""
    total = total if total is not None else warmup + repeat
    done = offset
    for _ in range(warmup):
        runner.run()
        done += 1
        if progress:
            progress(stage, done, total)
    samples: list[float] = []
    blocks = max(1, min(blocks, repeat))
    sizes = [repeat // blocks + (1 if i < repeat % blocks else 0) for i in range(blocks)]
    for size in sizes:
        if between is not None:
            between()
            runner.run()
        for _ in range(size):
            samples.append(runner.timed())
            done += 1
            if progress:
                progress(stage, done, total)
    return timing_of(samples, warmup)
