"""The latency model: per-layer and total latency of a graph on a calibrated device, without
running it.

Each layer's kernels (as ORT will run them, see :mod:`archcalc.estimate.kernels`) cost a fixed
cost per kernel plus their work: convolutions and GEMMs at the efficiency interpolated from the
nearest calibrated shapes, everything else as bytes over the bandwidth for that working set or
per-element costs. The total adds the per-run overhead. ``drift`` (from drift probes run next to
a measurement) scales the work of kernels big enough for the thread pool by the compute probe,
and fixed costs, small kernels and single-threaded ones by the overhead probe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archcalc.estimate import layout
from archcalc.estimate.kernels import (
    SMALL_KERNEL_US,
    kernel_class,
    layer_work,
    plan_kernels,
    profiler_cost_us,
    runs_on_one_thread,
)
from archcalc.estimate.probes import contention_factor
from archcalc.estimate.shapes import F32
from archcalc.ops.facts import KernelClass
from archcalc.runtime.kernelmap import LAYOUT

if TYPE_CHECKING:
    from archcalc.estimate.deviceprofile import DeviceProfile
    from archcalc.estimate.noise import Band
    from archcalc.ir import Graph
    from archcalc.report import Report


@dataclass(frozen=True)
class LayerEstimate:
    """Predicted time of one layer's kernels (0 when ORT fuses it into another layer's kernel)."""

    name: str
    ms: float
    #: compute, memory, overhead (the largest part), fused, removed
    bound: str
    fused_into: str | None = None
    kernels: int = 0
    compute_ms: float = 0.0
    memory_ms: float = 0.0
    overhead_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ms": self.ms, "bound": self.bound, "fused_into": self.fused_into,
                "kernels": self.kernels, "compute_ms": self.compute_ms, "memory_ms": self.memory_ms,
                "overhead_ms": self.overhead_ms}


@dataclass(frozen=True)
class Estimate:
    """Estimated latency of one inference: per layer (kernel time), the per-run overhead, total."""

    total_ms: float
    run_ms: float
    layers: Mapping[str, LayerEstimate]
    batch: int
    drift: Mapping[str, float] = field(default_factory=dict)
    #: per-layer times include the ORT profiler's per-kernel cost (to compare with a profile)
    as_profiled: bool = False
    #: the total's parts at the calibration's speed (in probe units): the part that follows the
    #: compute probe and the part that follows the overhead probe; total = compute x drift + overhead x drift
    compute_part_ms: float = 0.0
    overhead_part_ms: float = 0.0
    #: the factor the total was multiplied by for preemption by other processes (see
    #: ``probes.contention_factor``; 1 without a contention probe or for a run within one slice;
    #: under a pooled drift, only the part off the thread pool is scaled, and this is the whole's factor)
    contention: float = 1.0
    #: how far the conv and GEMM interpolation typically misses this estimate, at the calibration's
    #: speed: the sum over those kernels of their time x their log error left out
    #: (``DeviceProfile.interpolation_error``), as if every kernel missed the same way
    interpolation_ms: float = 0.0

    def band(self, profile: DeviceProfile, samples: Sequence[Mapping[str, float]] = (),
             base: Mapping[str, float] | None = None) -> Band:
        """The range the noise allows (see :func:`~archcalc.estimate.noise.band_of`): ``samples``
        are the probes measured at the time of use (none: the calibration's own probe range),
        ``base`` what they compare with (default the profile's probes; with the pooled probe,
        ``pooled.probe_base``)."""
        from archcalc.estimate.noise import band_of

        base = profile.probes if base is None else base
        at_calibration_ms = self.compute_part_ms + self.overhead_part_ms
        return band_of(self.compute_part_ms, self.overhead_part_ms, profile.noise, base, samples,
                       run_ms=self.total_ms / self.contention, threads=profile.intra_op_threads,
                       interpolation=self.interpolation_ms / at_calibration_ms if at_calibration_ms > 0 else 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"total_ms": self.total_ms, "run_ms": self.run_ms, "batch": self.batch, "drift": dict(self.drift),
                "as_profiled": self.as_profiled, "compute_part_ms": self.compute_part_ms,
                "overhead_part_ms": self.overhead_part_ms, "contention": self.contention,
                "interpolation_ms": self.interpolation_ms,
                "layers": [e.to_dict() for e in self.layers.values()]}


def estimate_latency(graph: Graph, profile: DeviceProfile, *, batch: int = 1, report: Report | None = None,
                     drift: Mapping[str, float] | None = None, as_profiled: bool = False) -> Estimate:
    """Per-layer and total latency of ``graph`` at ``batch`` on the device ``profile`` describes.

    ``drift`` (see ``Probes``/``drift_of``) scales compute, memory and overhead parts to the
    machine's current speed, and its ``contention`` the total of a run long enough to be
    preempted. With a ``pooled`` drift (the pooled probe's measured time over its estimate), the
    layers on the thread pool follow it instead of the compute probe, and the preemption factor
    scales only the rest: the pooled probe's mean run already carries the preemption its runs got.
    ``as_profiled`` adds the profiler's per-kernel cost to each layer, to compare with a per-layer
    profile (the total never includes it).
    """
    from archcalc.analysis import analyze

    if report is None:
        report = analyze(graph, overrides={"batch": batch, "dtype": "fp32"})
    drift = dict(drift or {})
    d_compute = drift.get("compute", 1.0)
    d_over = drift.get("overhead", 1.0)
    d_pooled = drift.get("pooled")
    records = {r.name: r for r in report.layers}
    block = layout.nchwc_block()
    plan = plan_kernels(graph, records, batch, block)
    fixed = profile.fixed_us
    layers: dict[str, LayerEstimate] = {}

    def prof_of(keys: Sequence[str]) -> float:
        return profiler_cost_us(profile, keys) if as_profiled else 0.0

    prof_total = 0.0
    pooled_us = 0.0  # the layers on the thread pool, drift applied: not scaled by preemption under a pooled drift
    parts = {"compute": 0.0, "overhead": 0.0, "interpolation": 0.0}  # microseconds at the calibration's speed

    def fx(keys: Sequence[str]) -> float:
        us = sum(fixed.get(k, fixed["ew"]) for k in keys)
        parts["overhead"] += us
        return us * d_over

    for layer in graph.layers.values():
        name = layer.name
        if kernel_class(layer) is KernelClass.NONE:  # the graph input runs nothing
            continue
        if name in plan.removed:
            layers[name] = LayerEstimate(name, 0.0, "removed")
            continue
        if name in plan.host:
            layers[name] = LayerEstimate(name, 0.0, "fused", plan.host[name])
            continue
        compute, memory, keys = layer_work(layer, records, plan, profile, report, batch, block)
        # the compute probe (a conv on every thread) tracks kernels big enough for the thread pool;
        # small kernels run on one thread, like the overhead probe, and so does ORT's LRN
        pooled = compute + memory >= SMALL_KERNEL_US * len(keys) and not runs_on_one_thread(layer)
        d_work = (d_compute if d_pooled is None else d_pooled) if pooled else d_over
        parts["compute" if pooled else "overhead"] += compute + memory
        family = _INTERPOLATED.get(kernel_class(layer))
        if family is not None and compute > 0:
            parts["interpolation"] += compute * profile.interpolation_error().at(family, compute)
        compute *= d_work
        memory *= d_work
        if pooled:
            pooled_us += compute + memory
        over = fx(keys)
        prof = prof_of(keys)
        prof_total += prof
        us = compute + memory + over + prof
        shares = {"compute": compute, "memory": memory, "overhead": over}
        bound = max(shares, key=lambda k: shares[k])
        layers[name] = LayerEstimate(name, us / 1e3, bound, None, len(keys), compute / 1e3, memory / 1e3, over / 1e3)
    if plan.reorders:
        memory = sum(b * batch / F32 * profile.reorder_ns(b * batch / F32) / 1e3 for _, b in plan.reorders)
        pooled = memory >= SMALL_KERNEL_US * len(plan.reorders)
        parts["compute" if pooled else "overhead"] += memory
        memory *= ((d_compute if d_pooled is None else d_pooled) if pooled else d_over)
        if pooled:
            pooled_us += memory
        over = fx(["reorder"] * len(plan.reorders))
        prof = prof_of(["reorder"] * len(plan.reorders))
        prof_total += prof
        us = memory + over + prof
        layers[LAYOUT] = LayerEstimate(LAYOUT, us / 1e3, "memory" if memory > over else "overhead", None,
                                       len(plan.reorders), 0.0, memory / 1e3, over / 1e3)
    run_ms = profile.run_us * d_over / 1e3
    parts["overhead"] += profile.run_us
    kernel_ms = sum(e.ms for e in layers.values()) - prof_total / 1e3
    # a run long enough to be preempted by other processes is slower by the contention measured now
    factor = contention_factor(drift.get("contention", 1.0), run_ms + kernel_ms)
    kept_ms = pooled_us / 1e3 if d_pooled is not None else 0.0
    unscaled_ms = run_ms + kernel_ms
    total_ms = kept_ms + (unscaled_ms - kept_ms) * factor
    return Estimate(total_ms, run_ms, layers, batch, drift, as_profiled, parts["compute"] / 1e3,
                    parts["overhead"] / 1e3, total_ms / unscaled_ms if unscaled_ms > 0 else factor,
                    parts["interpolation"] / 1e3)


#: the kernel classes priced by the interpolated efficiency, and the family of calibration points
_INTERPOLATED = {KernelClass.CONV: "conv", KernelClass.SUBSAMPLE: "conv", KernelClass.CONV_OTHER: "conv",
                 KernelClass.GEMM: "gemm", KernelClass.MATMUL: "gemm"}
