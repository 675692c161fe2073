"""How far the conv and GEMM interpolation misses, measured on the calibration's own points.

An estimate's conv and GEMM kernels are priced from the efficiency interpolated between the
calibrated shapes (``deviceprofile._Index``); the band an estimate carries must include how wrong
that interpolation is, not only how much the probes moved. Each calibration point is predicted
from all the others (leave-one-out: the fit archcalc uses, capped at the measured peak as an
estimate is; ``DeviceProfile.interpolation_error``): its ``|log(predicted / measured)|`` is the
error of a shape the calibration did not measure, at that distance from the rest. Errors depend on
the kernel's size (a kernel of a few microseconds is a noisy point and a noisy neighbour), so a
kernel of ``us`` microseconds gets the :data:`QUANTILE` of the errors of the :data:`WINDOW` points
nearest to it in time: the error that share of such points stayed within when left out.

On this machine's calibrations (five default ones, 159 conv points each) the median error left out
was 0.10 for points of 100 us and more, against 0.066 for the same points' disagreement between
calibrations (docs/runtime.md, Limits): most of it is the points' own noise. numpy is imported by
the fit itself (``deviceprofile``).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from archcalc.runtime.timing import percentile

#: the points nearest in time whose errors set a kernel's (fewer when the family has fewer)
WINDOW = 15
#: the share of those points' left-out errors the band covers
QUANTILE = 0.5


@dataclass(frozen=True)
class InterpolationError:
    """Per family (``conv``, ``gemm``): (point microseconds, |log error| left out), by time."""

    conv: tuple[tuple[float, float], ...]
    gemm: tuple[tuple[float, float], ...]
    #: each family's log times, for the lookups of ``at`` (one per conv or GEMM layer of an estimate)
    _logs: dict[str, list[float]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_logs", {name: [math.log(us) for us, _ in points]
                                           for name, points in (("conv", self.conv), ("gemm", self.gemm))})

    def at(self, family: str, us: float) -> float:
        """The log error of a ``family`` kernel of ``us`` microseconds: :data:`QUANTILE` of the
        errors of the :data:`WINDOW` points nearest to it in log time; 0 without points."""
        points, logs = (self.conv, self._logs["conv"]) if family == "conv" else (self.gemm, self._logs["gemm"])
        if not points or us <= 0:
            return 0.0
        at = math.log(us)
        i = bisect.bisect_left(logs, at)
        lo, hi = i, i  # grow the window [lo, hi) towards the nearer side, one point at a time
        while hi - lo < min(WINDOW, len(points)):
            if lo > 0 and (hi >= len(points) or at - logs[lo - 1] <= logs[hi] - at):
                lo -= 1
            else:
                hi += 1
        return percentile([p[1] for p in points[lo:hi]], 100 * QUANTILE)


def left_out_errors(flops: Sequence[float], measured_us: Sequence[float], features: Sequence[tuple[float, ...]],
                    efficiencies: Sequence[float], weights: Sequence[float], fixed_us: float, peak: float,
                    index: Callable[..., object]) -> tuple[tuple[float, float], ...]:
    """(work microseconds, the kernel's time less its fixed cost as the estimator prices it; |log
    error| left out) per point, sorted by time: each point predicted by ``index`` (the fit:
    features, efficiencies, weights) over all the others, capped at ``peak``, plus the fixed cost."""
    if len(flops) < 3:  # too few to leave one out
        return ()
    effs = list(efficiencies)
    out = []
    for i, f in enumerate(flops):
        fit = index(list(features[:i]) + list(features[i + 1:]), effs[:i] + effs[i + 1:], weights)
        predicted = f / min(fit.predict(features[i]), peak) + fixed_us  # type: ignore[attr-defined]
        work_us = max(measured_us[i] - fixed_us, 1e-3)
        out.append((work_us, abs(math.log(predicted / measured_us[i]))))
    return tuple(sorted(out))
