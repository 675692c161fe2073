"""How good the latency estimates are, from paired (estimate, measured) figures: pure functions
used by ``benchmarks/estimate_accuracy.py`` (and tested on made-up numbers).

- :func:`within`: the share of models whose estimate is within a tolerance of the measured median
  (the absolute figure: the machine's speed at the time matters).
- :func:`pairs_within`: for every pair of models, the estimate ratio against the measured ratio
  (the machine's speed cancels), the share within a tolerance.
- :func:`repeatable`: per model, the largest over the smallest of its estimates across passes,
  the share within a tolerance.
- :func:`hindsight_constant`: per model, the one value that puts the most of its measured times
  over the passes within a tolerance: chosen in hindsight, so no estimate fixed per model (blind to
  how fast the machine ran at the moment) has more models within it, over all passes.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Share:
    """``hits`` of ``total`` met the tolerance."""

    hits: int
    total: int
    tolerance: float

    @property
    def share(self) -> float:
        return self.hits / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"{self.hits} of {self.total} ({self.share:.0%}) within +-{self.tolerance:.0%}"

    def to_dict(self) -> dict[str, Any]:
        return {"hits": self.hits, "total": self.total, "share": self.share, "tolerance": self.tolerance}


def _close(ratio: float, tolerance: float) -> bool:
    return abs(ratio - 1.0) <= tolerance + 1e-12


def within(estimates: Mapping[str, float], measured: Mapping[str, float], tolerance: float) -> Share:
    """Models (keys of both) whose estimate / measured is within 1 +- ``tolerance``."""
    keys = [k for k in estimates if k in measured and measured[k] > 0]
    return Share(sum(_close(estimates[k] / measured[k], tolerance) for k in keys), len(keys), tolerance)


def pairs_within(estimates: Mapping[str, float], measured: Mapping[str, float], tolerance: float) -> Share:
    """Pairs (a, b) whose (estimate a / estimate b) / (measured a / measured b) is within
    1 +- ``tolerance``: a factor common to all estimates (the machine's speed) cancels."""
    keys = sorted(k for k in estimates if k in measured and measured[k] > 0 and estimates[k] > 0)
    pairs = list(itertools.combinations(keys, 2))
    hits = sum(_close((estimates[a] / estimates[b]) / (measured[a] / measured[b]), tolerance) for a, b in pairs)
    return Share(hits, len(pairs), tolerance)


def _common(passes: Sequence[Mapping[str, float]]) -> list[str]:
    """The models with a positive value in every pass."""
    return [k for k in passes[0] if all(k in p and p[k] > 0 for p in passes)] if passes else []


def spread_across(passes: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Per model present in every pass: largest / smallest of its values across the passes."""
    return {k: max(p[k] for p in passes) / min(p[k] for p in passes) for k in _common(passes)}


def repeatable(passes: Sequence[Mapping[str, float]], tolerance: float) -> Share:
    """Models whose values across ``passes`` stay within a factor 1 + ``tolerance`` (largest over
    smallest)."""
    spreads = spread_across(passes)
    return Share(sum(s <= 1.0 + tolerance + 1e-12 for s in spreads.values()), len(spreads), tolerance)


def in_band(low: Mapping[str, float], high: Mapping[str, float], measured: Mapping[str, float]) -> Share:
    """Models whose measured median lies inside the estimate's band."""
    keys = [k for k in measured if k in low and k in high]
    return Share(sum(low[k] <= measured[k] <= high[k] for k in keys), len(keys), 0.0)


def hindsight_constant(passes: Sequence[Mapping[str, float]], tolerance: float) -> dict[str, float]:
    """Per model present in every pass: the value that puts the most of its values over the passes
    within 1 +- ``tolerance`` of it (:func:`within`'s test), the nearest to their median among
    equals.

    Scored against each pass's measured medians it is the ceiling, in hindsight, of an estimate
    fixed per model, blind to how fast the machine ran at that moment: none has more models within
    ``tolerance`` over all the passes. (The median of the values is not: of 1.0, 1.15 and 1.3 it
    puts one within 10%, and 1.1 puts two.)"""
    out = {}
    for k in _common(passes):
        values = [p[k] for p in passes]
        middle = statistics.median(values)
        # a best value can be moved until a value sits on the edge of its tolerance: try those
        candidates = [v * f for v in values for f in (1.0 - tolerance, 1.0, 1.0 + tolerance)]
        out[k] = max(candidates, key=lambda c: (sum(_close(c / v, tolerance) for v in values),
                                                -abs(math.log(c / middle))))
    return out
