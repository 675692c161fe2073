"""Recalibration on a machine whose speed changes: a new calibration is merged with the cached one
of the same device, instead of replacing it.

Every figure of a device profile is a time (or a rate) at the speed its calibration's median
probes read (``DeviceProfile.probes``); divided by those probes it is in *probe units*, which a
calibration made under another load should reproduce. Two calibrations of one machine disagree
in probe units only by their noise (the probes never track a loaded machine exactly), so the
merged figure is the weighted geometric mean, in probe units, of the cached figures (weight: how
many calibrations they already merge, at most :data:`MEMORY`) and the new ones (weight 1), put
back at the new calibration's probes. Kernel times, bandwidths and per-unit costs follow the
compute probe, fixed costs and the per-run overhead the overhead probe (as in the estimate). A
point only one calibration measured is kept as it is (converted). The noise figures, notes and
probes are the new calibration's; ``noise["calibrations"]`` counts the calibrations merged.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

from archcalc.estimate.deviceprofile import DeviceProfile

#: the most calibrations a merged profile weighs as one side: older ones fade (a machine that
#: really changed is followed within a few recalibrations)
MEMORY = 4


def calibrations_in(profile: DeviceProfile) -> int:
    """How many calibrations ``profile`` merges (1 for a fresh one)."""
    return max(1, int(profile.noise.get("calibrations", 1)))


def can_merge(old: DeviceProfile, new: DeviceProfile) -> bool:
    """Same device, runtime, CPU, threads, suite and mode, and both with probes to convert by."""
    return (old.key() == new.key() and old.mode == new.mode
            and all(old.probes.get(k, 0) > 0 and new.probes.get(k, 0) > 0 for k in ("compute", "overhead")))


def merge_profiles(old: DeviceProfile, new: DeviceProfile) -> DeviceProfile:
    """``new`` with every figure merged with ``old``'s (see the module docstring); ``new`` itself
    when they cannot be merged (:func:`can_merge`)."""
    if not can_merge(old, new):
        return new
    n = min(calibrations_in(old), MEMORY)
    c = new.probes["compute"] / old.probes["compute"]  # old figures at the new probes' speed
    o = new.probes["overhead"] / old.probes["overhead"]

    def mean(a: float, b: float) -> float:
        if a <= 0 or b <= 0:
            return b
        return math.exp((n * math.log(a) + math.log(b)) / (n + 1))

    def times(a: float, b: float, scale: float) -> float:  # a time (or cost) scales with the probe
        return mean(a * scale, b)

    def rates(a: float, b: float, scale: float) -> float:  # a rate scales against it
        return mean(a / scale, b)

    def rows(olds: Sequence[Sequence[float]], news: Sequence[Sequence[float]], width: int,
             merge: Callable[[float, float], float]) -> list[list[float]]:
        before = {tuple(r[:width]): r[width] for r in olds}
        return [[*r[:width], merge(before[tuple(r[:width])], r[width]) if tuple(r[:width]) in before else r[width]]
                for r in news]

    def pairs(olds: Sequence[tuple[float, float]], news: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        before = dict(olds)
        return [(b, rates(before[b], v, c) if b in before else v) for b, v in news]

    merged = dataclasses.replace(
        new,
        run_us=times(old.run_us, new.run_us, o),
        fixed_us={k: times(old.fixed_us[k], v, o) if k in old.fixed_us else v for k, v in new.fixed_us.items()},
        profiler_us=times(old.profiler_us, new.profiler_us, o),
        profiler_heavy_us=times(old.profiler_heavy_us, new.profiler_heavy_us, o),
        bandwidth=pairs(old.bandwidth, new.bandwidth),
        stream=pairs(old.stream, new.stream),
        unit_ns={k: times(old.unit_ns[k], v, c) if k in old.unit_ns else v for k, v in new.unit_ns.items()},
        matmul_gflops=rates(old.matmul_gflops, new.matmul_gflops, c),
        peak_gflops=rates(old.peak_gflops, new.peak_gflops, c) if old.peak_gflops > 0 else new.peak_gflops,
        conv=rows(old.conv, new.conv, 7, lambda a, b: times(a, b, c)),
        gemm=rows(old.gemm, new.gemm, 3, lambda a, b: times(a, b, c)),
        noise={**new.noise, "calibrations": float(min(n, MEMORY) + 1)},
        notes=[*new.notes, f"merged with the cached calibration ({n} calibration(s) before this one, weighed {n}:1 "
                           f"in probe units)"],
        _conv_index=None, _gemm_index=None,
    )
    merged.validate()
    return merged
