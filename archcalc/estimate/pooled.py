"""The pooled probe's base and drift: what a profile estimates for the probe's chain of
convolutions (:func:`archcalc.estimate.probes.pooled_graph`), the measured time over it, and
when it is used (:func:`gated`: only while other tasks share the cores)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from archcalc.estimate.model import estimate_latency
from archcalc.estimate.probes import drift_of, pooled_graph

if TYPE_CHECKING:
    from archcalc.estimate.deviceprofile import DeviceProfile


#: the pooled probe's drift is used when the run queue's reads (``others``, the runnable tasks
#: besides the probing thread) have at least this median over the measurement's probes
BUSY_OTHERS = 0.5


def busy(samples: Sequence[Mapping[str, float]]) -> bool:
    """Whether other tasks shared the cores while ``samples`` were probed: the median of their
    run-queue reads is :data:`BUSY_OTHERS` or more (False where the OS gave none)."""
    others = [s["others"] for s in samples if "others" in s]
    return bool(others) and statistics.median(others) >= BUSY_OTHERS


def gated(samples: Sequence[Mapping[str, float]]) -> list[dict[str, float]]:
    """The probe samples an estimate uses: as measured while other tasks share the cores
    (:func:`busy`), else without the pooled probe's figure. On a quiet machine its ratio carries
    the estimator's own error on the chain into every model (paired on a 2-core machine, 32
    models: 12/19 within 10% against 24/21 without it); under load it carries the preemption the
    model's runs get, which made estimates repeat pass to pass (15 of 32 against 3 and 11) but
    did not raise the share of model pairs within 15% (21-29% against 23-39%; docs/runtime.md)."""
    keep = busy(samples)
    return [dict(s) if keep else {k: v for k, v in s.items() if k != "pooled"} for s in samples]


def pooled_estimate_s(profile: DeviceProfile) -> float:
    """What ``profile`` estimates a run of the pooled probe takes at the calibration's speed
    (seconds): the pooled drift is its measured time over this, so it carries the estimator's own
    error on convolution networks at the moment of measuring, and the preemption such a run gets."""
    return estimate_latency(pooled_graph(), profile, batch=1).total_ms / 1e3


def probe_base(profile: DeviceProfile) -> dict[str, float]:
    """The calibration's probe figures, with the pooled probe's estimate as its base (for
    ``Estimate.band``)."""
    return {**profile.probes, "pooled": pooled_estimate_s(profile)}


def pooled_drift(profile: DeviceProfile, samples: Sequence[Mapping[str, float]],
                 fastest: bool = False) -> dict[str, float]:
    """``drift_of``'s figures and, where the samples ran the pooled probe, ``pooled``: its median
    measured run over its estimate."""
    out = drift_of(profile, samples, fastest)
    pooled = [s["pooled"] for s in samples if "pooled" in s]
    if pooled:
        out["pooled"] = statistics.median(pooled) / pooled_estimate_s(profile)
    return out
