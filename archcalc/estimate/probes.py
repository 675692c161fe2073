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
    threads, so they do not steal cores from the model measured between them."""

    NAMES = ("compute", "overhead")
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
            out[name] = statistics.median([runner.timed() for _ in range(n)])
        return out


def drift_of(profile: DeviceProfile, samples: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """How much slower (>1) or faster the machine is now than at calibration, per probe."""
    out = {}
    for name in Probes.NAMES:
        values = [s[name] for s in samples if name in s]
        base = profile.probes.get(name)
        if values and base:
            out[name] = statistics.median(values) / base
    return out

