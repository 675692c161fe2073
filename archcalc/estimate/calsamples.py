"""A calibration's raw measurements: each block of repeats with the probe taken just before it,
scaled to the calibration's median probe, and judged by whether its repeats agree.

A point (a conv or GEMM shape, an op's per-element cost) can be measured in several blocks, in
rounds spread over the calibration (``SuitePlan.kernel_rounds``): its figure is the median over
its blocks whose own repeats agree. Its blocks are not judged against each other: on a machine
whose CPUs switch between two speeds several times a second (docs/runtime.md, Limits) one block
lands on either speed by luck, and the median of blocks seconds apart is what rounds are for.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

from archcalc.estimate.noise import REPEAT_TOLERANCE, disagreement, disagrees
from archcalc.estimate.probes import Probes

#: the kind of a measurement no probe scales: a profiled kernel under ``SMALL_KERNEL_US`` (over 60
#: profiled runs of five, their spread, p90/p10, was 1.39-1.83x as measured and 1.72-2.21x divided
#: by the overhead probe timed just before each run: they do not run in its phase; docs/runtime.md)
UNSCALED = "unscaled"

#: the measurements judged by their repeats: profiled conv and gemm kernels, per-element op costs
SCREENED = ("conv", "gemm", "unit")

#: one block: its figure (microseconds, as measured), its kind (the probe that scales it, or
#: ``UNSCALED``), the index of the probe before it, and its repeats
Block = tuple[float, str, int, tuple[float, ...]]


class Samples:
    """Raw measurements, each with the index of the probe taken just before it (and, for profiled
    kernels, the time of each profiled run). A block is scaled by the geometric mean of the probes
    before and after it (the next block's, or the last), to the calibration's median probe; each
    figure is the median over its blocks (those whose repeats agree, when any do)."""

    def __init__(self) -> None:
        self.values: dict[str, list[Block]] = {}
        self.log: list[dict[str, float]] = []

    def add(self, key: str, value: float, kind: str, repeats: Sequence[float] = ()) -> None:
        self.values.setdefault(key, []).append((value, kind, len(self.log) - 1, tuple(repeats)))

    def probe_at(self, kind: str, index: int) -> float:
        """The machine's speed during the block after probe ``index``: the probes on both sides."""
        before = self.log[index][kind]
        return (before * self.log[index + 1][kind]) ** 0.5 if index + 1 < len(self.log) else before

    def scale(self, kind: str, index: int, ref: Mapping[str, float]) -> float:
        """What brings a measurement of ``kind`` after probe ``index`` to the probes ``ref`` (1: ``UNSCALED``)."""
        return 1.0 if kind == UNSCALED else ref[kind] / self.probe_at(kind, index)

    def repeats(self, key: str) -> list[float]:
        """A point's repeats in microseconds at the first probe's speed, over the blocks whose
        repeats agree (all of them when none does)."""
        return [r * self.scale(kind, i, self.log[0]) for _, kind, i, reps in self._kept(key) for r in reps]

    def best_repeats(self, key: str) -> list[float]:
        """The repeats of the point's most agreeing block (what screening judges)."""
        got = self.values.get(key, [])
        return list(min(got, key=lambda block: disagreement(block[3]))[3]) if got else []

    def disagrees(self, key: str, tolerance: float = REPEAT_TOLERANCE) -> bool:
        """Whether no block of the point has repeats that agree."""
        judged = [block[3] for block in self.values.get(key, []) if block[3]]
        return bool(judged) and all(disagrees(reps, tolerance) for reps in judged)

    def get(self, key: str, ref: Mapping[str, float]) -> float | None:
        kept = self._kept(key)
        if not kept:
            return None
        return statistics.median([v * self.scale(kind, i, ref) for v, kind, i, _ in kept])

    def _kept(self, key: str) -> list[Block]:
        got = self.values.get(key, [])
        agree = [block for block in got if not block[3] or not disagrees(block[3])]
        return agree or got

    def replace(self, key: str, other: Samples) -> None:
        """Take ``key``'s measurements from ``other`` (a re-measurement), or drop it when ``other``
        has none."""
        self.values.pop(key, None)
        if key in other.values:
            self.values[key] = other.values[key]

    def reference(self) -> dict[str, float]:
        """The calibration's median probes (the preemption its compute probe saw, the run queue)."""
        names = [*Probes.NAMES, *(k for k in ("contention", "others") if all(k in p for p in self.log))]
        return {name: statistics.median([p[name] for p in self.log]) for name in names}

    def all_small(self, keys: Sequence[str]) -> bool:
        """Whether every point of ``keys`` was measured, each block ``UNSCALED`` (kernels too
        short for the thread pool: a block of them needs no probe before it)."""
        return all(key in self.values and all(b[1] == UNSCALED for b in self.values[key]) for key in keys)


def points_to_remeasure(raw: Samples, tolerance: float = REPEAT_TOLERANCE) -> list[str]:
    """The conv, gemm and unit-cost points none of whose blocks has repeats that agree."""
    return [key for key in raw.values if key.split(":")[0] in SCREENED and raw.disagrees(key, tolerance)]
