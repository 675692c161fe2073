"""Latency of a spec or ONNX model on a named device, without running it: this machine's CPU from
its calibrated device profile, or a GPU from its datasheet roofline
(:mod:`~archcalc.estimate.datasheets`). Where a device was calibrated here, the calibrated
profile wins, and the result says so; a datasheet result is labelled
:data:`~archcalc.estimate.datasheets.DATASHEET_LABEL` everywhere it is shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archcalc.errors import CalibrationError, OptionError
from archcalc.estimate.datasheets import (
    DATASHEET_LABEL,
    PRECISIONS,
    Datasheet,
    check_precision,
    datasheet_named,
    roofline,
)
from archcalc.runtime.timing import Progress

if TYPE_CHECKING:
    from archcalc.estimate.deviceprofile import DeviceProfile
    from archcalc.ir import Graph

#: what a calibrated result is labelled
CALIBRATED_LABEL = "calibrated on this machine"


@dataclass(frozen=True)
class LayerTime:
    name: str
    kind: str
    ms: float
    bound: str
    flops: int | None = None
    bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "ms": self.ms, "bound": self.bound, "flops": self.flops,
                "bytes": self.bytes}


@dataclass(frozen=True)
class DeviceEstimate:
    """Estimated latency of one inference of a model on a device."""

    name: str
    device: str
    device_name: str
    precision: str
    batch: int
    #: DATASHEET_LABEL or CALIBRATED_LABEL
    basis: str
    #: the datasheet cited, or the device profile used
    source: str
    total_ms: float
    layers: tuple[LayerTime, ...]
    notes: tuple[str, ...] = ()
    #: the datasheet figures used (none when calibrated)
    peak_tflops: float | None = None
    bandwidth_gbs: float | None = None
    launch_us: float | None = None
    #: the band the measured noise allows (calibrated only: a datasheet measures nothing)
    low_ms: float | None = None
    high_ms: float | None = None
    band_basis: str | None = None

    @property
    def calibrated(self) -> bool:
        return self.basis.startswith(CALIBRATED_LABEL)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "device": self.device, "device_name": self.device_name,
                "precision": self.precision, "batch": self.batch, "basis": self.basis, "source": self.source,
                "total_ms": self.total_ms, "peak_tflops": self.peak_tflops, "bandwidth_gbs": self.bandwidth_gbs,
                "launch_us": self.launch_us, "low_ms": self.low_ms, "high_ms": self.high_ms,
                "band_basis": self.band_basis, "notes": list(self.notes),
                "layers": [layer.to_dict() for layer in self.layers]}


def _graph(source: str | Path | Graph, batch: int, variables: Mapping[str, Any] | None) -> Graph:
    from archcalc.ir import Graph
    from archcalc.sources import load_any

    if isinstance(source, Graph):
        return source
    if str(source).lower().endswith(".onnx"):
        return load_any(str(source), batch=batch, allow_unknown=True)
    return load_any(str(source), variables=variables)


def gpu_matches(sheet: Datasheet, gpu: str | None) -> bool:
    """Whether a GPU name as the driver reports it (``NVIDIA H100 80GB HBM3``, ``NVIDIA
    A100-PCIE-40GB``) is the datasheet's device (the model, and PCIe or not)."""
    if not gpu:
        return False
    words = sheet.full_name.split()
    model = " ".join(words[2:4]) if words[1] == "GeForce" else words[1]  # "RTX 4090", "H100"
    pattern = r"\s*".join(re.escape(w) for w in model.split())
    if not re.search(rf"\b{pattern}\b", gpu, re.IGNORECASE):
        return False
    return ("PCIe" in sheet.full_name) == ("pcie" in gpu.lower())


def calibrated_for(sheet: Datasheet, threads: int | None = None) -> DeviceProfile | None:
    """A trusted device profile calibrated here on the datasheet's GPU, if the cache has one."""
    from archcalc.estimate.calibration import load_cached
    from archcalc.runtime.devices import device_named

    try:
        cuda = device_named("cuda")
        profile, _ = load_cached(cuda, threads)
    except (CalibrationError, OptionError, OSError):
        return None
    if profile is not None and gpu_matches(sheet, profile.gpu):
        return profile
    return None


def estimate_on(source: str | Path | Graph, device: str, *, batch: int = 1, precision: str = "fp32",
                variables: Mapping[str, Any] | None = None, threads: int | None = None,
                device_profile: DeviceProfile | None = None, progress: Progress | None = None,
                probe: bool = True) -> DeviceEstimate:
    """Estimated latency of ``source`` at ``batch`` on ``device``: ``cpu`` (this machine, from its
    calibrated profile: cached, or calibrated now) or a datasheet device (``h100``, ``a100``,
    ``l4``, ``t4``, ... see ``DATASHEETS``). A datasheet device calibrated here uses its profile
    instead. ``precision`` (fp32, tf32, fp16, bf16) picks the datasheet's throughput and the
    bytes per element. A calibrated CPU estimate is scaled by probes of the machine's speed
    measured now (``probe``; without, it is at the calibration's speed) and carries the band the
    measured noise allows."""
    from archcalc.analysis import analyze

    check_precision(precision)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise OptionError(f"batch must be a positive integer, got {batch!r}")
    graph = _graph(source, batch, variables)
    name = device.strip().lower()
    sheet = None if name == "cpu" else datasheet_named(name)
    profile = device_profile
    notes: list[str] = []
    if profile is None and sheet is not None:
        profile = calibrated_for(sheet, threads)
        if profile is not None:
            notes.append(f"{sheet.full_name} was calibrated here: the calibrated profile wins over its datasheet")
    if sheet is None or profile is not None:
        return _calibrated(graph, name, batch, precision, threads, profile, progress, notes, probe)
    report = analyze(graph, overrides={"batch": batch, "dtype": PRECISIONS[precision]})
    rows = roofline(report, sheet, precision)
    layers = tuple(LayerTime(r.name, r.kind, r.ms, r.bound, r.flops, r.bytes) for r in rows if r.kind != "input")
    if precision == "fp32":
        notes.append("fp32 runs on the CUDA cores; --dtype tf32 uses the TF32 tensor cores")
    notes.append(f"per layer: max(FLOPs / {sheet.peak_tflops(precision, True):g} TFLOP/s (conv, fc; other layers "
                 f"{sheet.tflops['fp32']:g}), bytes / {sheet.bandwidth_gbs:g} GB/s) + {sheet.launch_us:g} us launch "
                 f"(the launch overhead is an assumption, not a datasheet figure)")
    return DeviceEstimate(graph.name, sheet.name, sheet.full_name, precision, batch, DATASHEET_LABEL, sheet.source,
                          sum(r.ms for r in layers), layers, tuple(notes),
                          sheet.peak_tflops(precision, True), sheet.bandwidth_gbs, sheet.launch_us)


def _calibrated(graph: Graph, name: str, batch: int, precision: str, threads: int | None,
                profile: DeviceProfile | None, progress: Progress | None, notes: list[str],
                probe: bool = True) -> DeviceEstimate:
    from archcalc.estimate.calibration import device_profile as cached_or_calibrated
    from archcalc.estimate.model import estimate_latency
    from archcalc.estimate.probes import drift_of

    if precision != "fp32":
        raise OptionError(f"the calibrated estimator models fp32 kernels; --dtype {precision} is for datasheet "
                          f"devices")
    if profile is None:
        profile, got = cached_or_calibrated("cpu", threads, progress=progress)
        notes.extend(got)
    samples = probe_now(profile, threads) if probe else []
    est = estimate_latency(graph, profile, batch=batch, drift=drift_of(profile, samples) if samples else None)
    band = est.band(profile, samples)
    if samples:
        notes.append("scaled to the machine's speed now by probes: " + ", ".join(
            f"{k} x{v:.2f}" for k, v in est.drift.items()) + " of the calibration's")
    layers = tuple(LayerTime(e.name, "runtime" if e.name not in graph.layers else graph.layers[e.name].kind,
                             e.ms, e.bound) for e in est.layers.values())
    notes.append(f"per-run overhead {est.run_ms:.3f} ms included in the total")
    shown = profile.gpu or profile.cpu
    return DeviceEstimate(graph.name, name, shown, precision, batch,
                          f"{CALIBRATED_LABEL} ({profile.mode} suite)", f"device profile of {profile.device}, "
                          f"ORT {profile.ort_version}, threads {profile.threads or 'default'}", est.total_ms,
                          layers, tuple(notes), low_ms=band.low_ms, high_ms=band.high_ms, band_basis=band.basis)


def probe_now(profile: DeviceProfile, threads: int | None, measurements: int = 3) -> list[dict[str, float]]:
    """Probes of this machine's speed now (CPU profiles only; a GPU profile has none to compare)."""
    from archcalc.estimate.probes import Probes
    from archcalc.runtime.devices import choose_device

    if profile.device != "cpu":
        return []
    probes = Probes(choose_device("cpu"), threads)
    return [probes.measure() for _ in range(measurements)]
