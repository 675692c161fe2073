"""Drift probes: short measurements of the machine's current speed, and how far it drifted from
the calibration."""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from archcalc.estimate.microbench import Bench, chain_model, conv_model
from archcalc.estimate.shapes import ConvShape
from archcalc.runtime.devices import DeviceChoice

if TYPE_CHECKING:
    from archcalc.estimate.deviceprofile import DeviceProfile
    from archcalc.ir import Graph
    from archcalc.runtime.session import Runner

#: the pooled probe, a small network of the layers most of a network's time goes to: twelve 3x3
#: convolutions (+ReLU) of 32 channels on a 28x28 map (86.7 M MACs: 0.47 ms a run on 2 AMD EPYC cores)
POOLED_LAYERS = 12
POOLED_INPUT = (32, 28, 28)


def pooled_spec() -> dict[str, Any]:
    """The pooled probe's spec (a fresh mapping each call)."""
    conv = {"type": "conv", "filters": POOLED_INPUT[0], "kernel": 3, "padding": 1}
    return {"name": "pooled_probe", "description": "drift probe: a chain of 3x3 convolutions",
            "input": list(POOLED_INPUT),
            "layers": [dict(conv) if i % 2 == 0 else "relu" for i in range(2 * POOLED_LAYERS)]}


@lru_cache(maxsize=1)
def pooled_graph() -> Graph:
    """The pooled probe's layer graph (immutable: built once)."""
    from archcalc.sources import load_any

    return load_any(pooled_spec())


class Probes:
    """Short wall-clock probes of the machine's current speed: compute (a convolution, the bulk
    of most networks) and overhead (a chain of 32 tiny kernels). Their sessions never spin idle
    threads, so they do not steal cores from the model measured between them.

    The compute probe runs back to back for a window of at least :data:`WINDOW_S`; besides the
    median run (``compute``, the speed a run gets when nothing preempts it) it reports
    ``contention``, the mean run over the median: on a machine shared with other busy processes
    the scheduler preempts some runs, and a model run long enough to be preempted in proportion
    is slower by that factor (see :func:`contention_factor`).

    With ``pooled``, each measurement also runs the pooled probe (:func:`pooled_spec`, a network
    of convolutions) back to back for :data:`POOLED_WINDOW_S` and reports its mean run
    (``pooled``): preempted runs included, as a model's runs are. Its session spins idle workers
    as a model's does (ORT's default), since that is what a loaded machine punishes: with one busy
    process on one of 2 cores, spinning sessions ran 1.85x (this probe), 1.89x (AlexNet), 2.00x
    (ResNet-18) and 2.76x (MobileNetV2 at 160) slower than quiet, the same sessions without
    spinning 1.03x (this probe: a run within a scheduler slice sees nothing), 1.27x, 1.54x and
    1.40x. The run queue is read before it and the workers left to settle after it. Estimates
    scale the layers that run on the thread pool by its ratio to ``pooled.pooled_estimate_s``
    instead of the compute probe's (see ``estimate_latency``) where ``pooled.gated`` keeps it.
    Not ``archcalc profile``'s default: paired on a 2-core machine under load it did not raise the
    share of model pairs whose ratio the estimate gets within 15% (benchmarks/estimate_accuracy.py
    --pooled-probe; figures in docs/runtime.md)."""

    NAMES = ("compute", "overhead")
    #: the pooled probe's window (seconds): many runs over many scheduler slices
    POOLED_WINDOW_S = 0.06
    pooled: Runner | None = None
    #: the compute probe's window (seconds): several scheduler slices, so preemption shows in its mean
    WINDOW_S = 0.03
    #: ORT's idle worker threads spin for ~20-30 ms after a run: let the measured model's settle
    SETTLE_S = 0.04

    def __init__(self, choice: DeviceChoice, threads: int | None, pooled: bool = False) -> None:
        bench = Bench(choice, threads, spinning=False)
        conv, _ = conv_model([ConvShape(128, 128, 1, 3, 1, 24)])
        self.runners = {"compute": bench.runner(conv), "overhead": bench.runner(chain_model("Relu", 32, (1, 16)))}
        if pooled:
            from archcalc.runtime.prepare import prepare
            from archcalc.runtime.session import Runner, feeds_for, open_session

            prepared = prepare(pooled_graph(), 1)
            session = open_session(prepared.payload, choice, threads, disabled_optimizers=prepared.disabled_optimizers)
            self.pooled = Runner(session, feeds_for(session, 1))
        for runner in [*self.runners.values(), *([self.pooled] if self.pooled else [])]:
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
        others = runnable_others()  # after the probes that never spin: no thread of ours runs but this one
        if others is not None:
            out["others"] = others
        if self.pooled is not None:
            self.pooled.run()
            times = [self.pooled.timed() for _ in range(3)]
            while sum(times) < self.POOLED_WINDOW_S and len(times) < 200:
                times.append(self.pooled.timed())
            out["pooled"] = statistics.fmean(times)
            time.sleep(self.SETTLE_S)  # its idle workers spin after its last run: not into the model's runs
        return out


#: how many times (1 ms apart) the run queue is read per probe measurement
QUEUE_READS = 20


def runnable_others(reads: int = QUEUE_READS) -> float | None:
    """The mean number of runnable tasks on the machine besides the calling thread (Linux's
    ``procs_running``, read ``reads`` times 1 ms apart), or None where the OS does not say."""
    got = []
    for i in range(reads):
        try:
            with open("/proc/stat", "rb") as f:
                running = next((int(line.split()[1]) for line in f if line.startswith(b"procs_running")), None)
        except (OSError, ValueError, IndexError):
            return None
        if running is None:
            return None
        got.append(max(running - 1, 0))
        if i + 1 < reads:
            time.sleep(0.001)
    return statistics.fmean(got)


def cpu_share(others: float, threads: int, cores: int) -> float:
    """How much slower a run keeping ``threads`` threads busy goes with ``others`` runnable tasks
    beside it on ``cores`` cores: the scheduler shares the cores among all of them (1 when they
    all fit). With a busy process on one of 2 cores a network's run was 1.4-1.6x slower (2 ORT
    threads + 1 on 2 cores: 1.5), with two 2.0-2.2x (2.0); a 0.4 ms probe, within one scheduler
    slice, 1.0-1.16x, so the probes' own times cannot see it."""
    return max(1.0, (max(others, 0.0) + threads) / max(cores, 1))


def contention_of(sample: Mapping[str, float], base: Mapping[str, float], threads: int, cores: int) -> float | None:
    """How much a run longer than a scheduler slice is slowed by preemption now: from the run
    queue where the sample read it (:func:`cpu_share`), else from the compute probe's mean run
    over its median, relative to the calibration's.

    The run queue's figure is absolute, not relative to calibration's: calibration's points are
    medians of kernels mostly shorter than a slice, so they do not carry the preemption of their
    moment. Calibrated while another task was runnable (a test suite), a relative factor put
    torchvision ResNet-18's estimate at 0.48x of its measured time, the absolute one at 0.73x;
    over those runs (32 models, two passes) the median error went from 45% with the probe's
    mean/median to 23%."""
    if "others" in sample:
        return cpu_share(sample["others"], threads, cores)
    if "contention" in sample:
        return sample["contention"] / base.get("contention", 1.0)
    return None


def drift_of(profile: DeviceProfile, samples: Sequence[Mapping[str, float]],
             fastest: bool = False) -> dict[str, float]:
    """How much slower (>1) or faster the machine is now than at calibration, per probe, and how
    much more (>1) or less a run of the calibrated threads is preempted now than during
    calibration (``contention``, see :func:`contention_of`: from the run queue, the other runnable
    tasks sharing the cores; calibration's kernels run in blocks longer than a scheduler slice, so
    their times carry the preemption of their moment). The pooled probe's drift is
    :func:`archcalc.estimate.pooled.pooled_drift`'s.

    Each probe's drift is the median of its samples over calibration's, or with ``fastest`` the
    fastest sample's: what a probe shares the cores with (the measured model's spinning workers,
    another process) only ever slows it, so its fastest sample is the machine's speed when the
    probe ran undisturbed."""
    out = {}
    for name in Probes.NAMES:
        values = [s[name] for s in samples if name in s]
        base = profile.probes.get(name)
        if values and base:
            out[name] = (min(values) if fastest else statistics.median(values)) / base
    from archcalc.runtime.devices import cpu_count

    contention = [c for s in samples
                  if (c := contention_of(s, profile.probes, profile.intra_op_threads, cpu_count())) is not None]
    if contention:
        out["contention"] = statistics.median(contention)
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

