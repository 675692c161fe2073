"""What a profile reports: one model at one batch on one device, and its layers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archcalc.runtime.timing import Timing

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class LayerProfile:
    """One layer's measured kernel time (median over profiled runs) next to its estimate."""

    name: str
    kind: str
    measured_ms: float | None = None
    estimate_ms: float | None = None
    #: the layer whose kernel computes this one (ORT fused it), as measured
    fused_into: str | None = None
    kernels: tuple[str, ...] = ()
    #: what limits the estimate: compute, memory, overhead, fused, none
    bound: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.measured_ms and self.estimate_ms is not None and self.measured_ms > 0:
            return self.estimate_ms / self.measured_ms
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "measured_ms": self.measured_ms,
                "estimate_ms": self.estimate_ms, "ratio": self.ratio, "fused_into": self.fused_into,
                "kernels": list(self.kernels), "bound": self.bound}


@dataclass(frozen=True)
class ProfileResult:
    """One model at one batch size on one device, with everything needed to read the numbers."""

    name: str
    source: str
    batch: int
    device: str
    provider: str
    providers: tuple[str, ...]
    device_name: str
    cpu: str
    gpu: str | None
    ort_version: str
    threads: int | None
    intra_op_threads: int
    io_binding: bool
    timing: Timing
    estimate_ms: float | None = None
    layers: tuple[LayerProfile, ...] = ()
    #: sum of kernel medians in the profiled session (profiler overhead included)
    profiled_kernels_ms: float | None = None
    profile_runs: int = 0
    #: measured/calibrated ratios of the drift probes run next to this measurement
    drift: Mapping[str, float] = field(default_factory=dict)
    #: what the drift is computed from: each probe measurement (seconds per probe run, and the
    #: contention ratio) between the blocks of timed runs and after them, and the calibration's
    probes: tuple[Mapping[str, float], ...] = ()
    calibration_probes: Mapping[str, float] = field(default_factory=dict)
    #: the estimate's parts at the calibration's speed (ms): what follows the compute probe and what
    #: follows the overhead probe (the estimate is their drift-scaled sum, times the preemption factor)
    estimate_compute_part_ms: float | None = None
    estimate_overhead_part_ms: float | None = None
    params: int = 0
    macs: int = 0
    notes: tuple[str, ...] = ()
    #: the band the measured noise allows around the estimate (ms), and where it comes from
    estimate_low_ms: float | None = None
    estimate_high_ms: float | None = None
    band_basis: str | None = None
    #: the machine's 1-minute load average when the timed runs started (None where the OS keeps
    #: none): other work shares the cores, and medians move with it
    load_average: float | None = None
    #: the CPU cores this process may run on
    cores: int | None = None

    @property
    def median_ms(self) -> float:
        return self.timing.median_ms

    @property
    def ratio(self) -> float | None:
        return self.estimate_ms / self.timing.median_ms if self.estimate_ms is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "name": self.name, "source": self.source, "batch": self.batch, "device": self.device,
            "provider": self.provider, "providers": list(self.providers), "device_name": self.device_name,
            "cpu": self.cpu, "gpu": self.gpu, "ort_version": self.ort_version, "threads": self.threads,
            "intra_op_threads": self.intra_op_threads, "io_binding": self.io_binding,
            **self.timing.to_dict(),
            "estimate_ms": self.estimate_ms, "estimate_low_ms": self.estimate_low_ms,
            "estimate_high_ms": self.estimate_high_ms, "band_basis": self.band_basis, "ratio": self.ratio,
            "profiled_kernels_ms": self.profiled_kernels_ms, "profile_runs": self.profile_runs,
            "drift": dict(self.drift), "probes": [dict(p) for p in self.probes],
            "calibration_probes": dict(self.calibration_probes),
            "estimate_compute_part_ms": self.estimate_compute_part_ms,
            "estimate_overhead_part_ms": self.estimate_overhead_part_ms, "params": self.params, "macs": self.macs,
            "load_average": self.load_average, "cores": self.cores,
            "layers": [layer.to_dict() for layer in self.layers], "notes": list(self.notes),
        }
