"""The pooled probe's base and drift: what a profile estimates for the probe's chain of
convolutions (:func:`archcalc.estimate.probes.pooled_graph`), and the measured time over it."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from archcalc.estimate.model import estimate_latency
from archcalc.estimate.probes import drift_of, pooled_graph

if TYPE_CHECKING:
    from archcalc.estimate.deviceprofile import DeviceProfile


def pooled_estimate_s(profile: DeviceProfile) -> float:
    """What ``profile`` estimates a run of the pooled probe takes at the calibration's speed
    (seconds): the pooled drift is its measured time over this, so it carries the estimator's own
    error on convolution networks at the moment of measuring, and the preemption such a run gets."""
    return estimate_latency(pooled_graph(), profile, batch=1).total_ms / 1e3


def probe_base(profile: DeviceProfile) -> dict[str, float]:
    """The calibration's probe figures, with the pooled probe's estimate as its base (for
    ``Estimate.band``)."""
    return {**profile.probes, "pooled": pooled_estimate_s(profile)}


def pooled_drift(profile: DeviceProfile, samples: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """``drift_of``'s figures and, where the samples ran the pooled probe, ``pooled``: its median
    measured run over its estimate."""
    out = drift_of(profile, samples)
    pooled = [s["pooled"] for s in samples if "pooled" in s]
    if pooled:
        out["pooled"] = statistics.median(pooled) / pooled_estimate_s(profile)
    return out
