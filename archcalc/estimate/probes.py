"""Drift probes: short measurements of the machine's current speed, and how far it drifted from
the calibration."""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from archcalc.estimate.microbench import Bench, chain_model, conv_model
from archcalc.estimate.shapes import ConvShape
from archcalc.runtime.devices import DeviceChoice

if TYPE_CHECKING:
    from archcalc.estimate.deviceprofile import DeviceProfile


class Probes:
    """Short wall-clock probes of the machine's current speed: compute (a convolution, the bulk
    of most networks) and overhead (a chain of 32 tiny kernels). Their sessions never spin idle
    threads, so they do not steal cores from the model measured between them.

    The compute probe runs back to back for a window of at least :data:`WINDOW_S`; besides the
    median run (``compute``, the speed a run gets when nothing preempts it) it reports
    ``contention``, the mean run over the median: on a machine shared with other busy processes
    the scheduler preempts some runs, and a model run long enough to be preempted in proportion
    is slower by that factor (see :func:`contention_factor`)."""

    NAMES = ("compute", "overhead")
    #: the compute probe's window (seconds): several scheduler slices, so preemption shows in its mean
    WINDOW_S = 0.03
    #: ORT's idle worker threads spin for ~20-30 ms after a run: let the measured model's settle
    SETTLE_S = 0.04

    def __init__(self, choice: DeviceChoice, threads: int | None) -> None:
        bench = Bench(choice, threads, spinning=False)
        conv, _ = conv_model([ConvShape(128, 128, 1, 3, 1, 24)])
        self.runners = {"compute": bench.runner(conv), "overhead": bench.runner(chain_model("Relu", 32, (1, 16)))}
        for runner in self.runners.values():
            for _ in range(3):
                runner.run()

    def measure(self, runs: int = 5) -> dict[str, float]:
        """Median seconds of each probe (the overhead probe repeats more: it is tiny)."""
        time.sleep(self.SETTLE_S)
        out = {}
        for name, runner in self.runners.items():
            n = runs * 8 if name == "overhead" else runs
            runner.run()
            times = [runner.timed() for _ in range(n)]
            while name == "compute" and sum(times) < self.WINDOW_S and len(times) < 200:
                times.append(runner.timed())
            out[name] = statistics.median(times)
            if name == "compute":
                out["contention"] = max(statistics.fmean(times) / out[name], 1.0)
        return out


def drift_of(profile: DeviceProfile, samples: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """How much slower (>1) or faster the machine is now than at calibration, per probe, and how
    much more (>1) or less preemption the compute probe sees now than during calibration
    (``contention``: calibration's kernels run in blocks longer than a scheduler slice, so their
    times carry the preemption of their moment)."""
    out = {}
    for name in Probes.NAMES:
        values = [s[name] for s in samples if name in s]
        base = profile.probes.get(name)
        if values and base:
            out[name] = statistics.median(values) / base
    contention = [s["contention"] for s in samples if "contention" in s]
    if contention:
        out["contention"] = statistics.median(contention) / profile.probes.get("contention", 1.0)
    return out


#: a run shorter than this (ms) mostly runs within one scheduler slice and is not preempted; a
#: longer one is preempted in proportion (Linux's default scheduler base slice is 3 ms)
SLICE_MS = 3.0


def contention_factor(contention: float, run_ms: float) -> float:
    """How much slower (or faster, under 1) a run of ``run_ms`` is when the probe sees
    ``contention`` times the preemption it saw during calibration: not at all for a run well
    within a scheduler slice, by the whole factor for one of a slice or longer, in proportion
    between."""
    weight = min(1.0, max(run_ms, 0.0) / SLICE_MS)
    return 1.0 + (max(contention, 0.0) - 1.0) * weight

