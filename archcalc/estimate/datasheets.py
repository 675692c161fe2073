"""Devices you do not have: peak throughput and memory bandwidth from the vendors' public
datasheets, and a per-layer roofline on them (never calibrated: every result says so).

Per layer: ``time = max(flops / peak, bytes / bandwidth) + launch overhead``, with ``flops`` the
analysis' FLOPs at the batch, ``bytes`` = input + output activations + weights at the dtype, and
``peak`` the dtype's tensor-core rate for convolutions and fully connected layers (FP32: the
non-tensor FP32 rate; TF32: TF32 tensor cores, storage FP32) and the FP32 vector rate for every
other layer (which a roofline finds memory-bound anyway). Input layers cost nothing; every other
layer is one kernel launch.

Figures are dense (without 2:4 structured sparsity: the datasheets' sparse figures are halved).
The launch overhead is not a datasheet figure: it is the usual 2-5 us of a CUDA kernel launch
back to back, taken as :data:`LAUNCH_US` for every device.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archcalc.errors import DeviceError, OptionError, suggest

if TYPE_CHECKING:
    from archcalc.report import Report

#: what every datasheet result is labelled, in every output format
DATASHEET_LABEL = "datasheet, not calibrated"
#: a CUDA kernel launch, back to back (microseconds); not from a datasheet
LAUNCH_US = 4.0
#: precisions ``--dtype`` takes, and the dtype the analysis stores them in
PRECISIONS = {"fp32": "fp32", "tf32": "fp32", "fp16": "fp16", "bf16": "bf16"}
#: layer families that run on tensor cores (matrix multiplies)
MATRIX_FAMILIES = ("conv", "fc")


@dataclass(frozen=True)
class Datasheet:
    """One device's public figures: dense peak TFLOP/s by precision, memory bandwidth (GB/s)."""

    name: str
    full_name: str
    tflops: Mapping[str, float]
    bandwidth_gbs: float
    source: str
    launch_us: float = LAUNCH_US
    notes: tuple[str, ...] = field(default=())

    def peak_tflops(self, precision: str, matrix: bool) -> float:
        if not matrix:
            return self.tflops["fp32"]
        if precision not in self.tflops:
            raise DeviceError(f"{self.full_name} has no {precision} throughput in its datasheet "
                              f"({self.source}); it lists {', '.join(sorted(self.tflops))}")
        return self.tflops[precision]


def _d(name: str, full: str, fp32: float, tf32: float | None, fp16: float, bf16: float | None, gbs: float,
       source: str) -> Datasheet:
    rates = {"fp32": fp32, "fp16": fp16}
    if tf32 is not None:
        rates["tf32"] = tf32
    if bf16 is not None:
        rates["bf16"] = bf16
    return Datasheet(name, full, rates, gbs, source)


#: name -> datasheet (dense TFLOP/s: FP32 non-tensor, TF32/FP16/BF16 tensor core; GB/s)
DATASHEETS: dict[str, Datasheet] = {d.name: d for d in (
    _d("h100", "NVIDIA H100 SXM5 80GB", 67.0, 494.5, 989.5, 989.5, 3350.0,
       "NVIDIA H100 Tensor Core GPU Datasheet (H100 SXM column; TF32 989 / FP16, BF16 1,979 TFLOPS "
       "with sparsity)"),
    _d("h100-pcie", "NVIDIA H100 PCIe 80GB", 51.0, 378.0, 756.0, 756.0, 2000.0,
       "NVIDIA H100 Tensor Core GPU Datasheet (H100 PCIe column; TF32 756 / FP16, BF16 1,513 TFLOPS "
       "with sparsity)"),
    _d("h200", "NVIDIA H200 SXM 141GB", 67.0, 494.5, 989.5, 989.5, 4800.0,
       "NVIDIA H200 Tensor Core GPU Datasheet (H200 SXM column; TF32 989 / FP16, BF16 1,979 TFLOPS "
       "with sparsity)"),
    _d("a100", "NVIDIA A100 SXM4 80GB", 19.5, 156.0, 312.0, 312.0, 2039.0,
       "NVIDIA A100 Tensor Core GPU Datasheet (A100 80GB SXM column; TF32 156, FP16/BF16 312 TFLOPS dense)"),
    _d("a100-40gb", "NVIDIA A100 PCIe 40GB", 19.5, 156.0, 312.0, 312.0, 1555.0,
       "NVIDIA A100 Tensor Core GPU Datasheet (A100 40GB PCIe column)"),
    _d("a10", "NVIDIA A10", 31.2, 62.5, 125.0, 125.0, 600.0,
       "NVIDIA A10 Tensor Core GPU Datasheet (TF32 62.5 / FP16, BF16 125 TFLOPS dense)"),
    _d("l4", "NVIDIA L4", 30.3, 60.0, 121.0, 121.0, 300.0,
       "NVIDIA L4 Tensor Core GPU Datasheet (TF32 120 / FP16, BF16 242 TFLOPS with sparsity)"),
    _d("l40s", "NVIDIA L40S", 91.6, 183.0, 362.05, 362.05, 864.0,
       "NVIDIA L40S GPU Datasheet (TF32 183 / FP16, BF16 362.05 TFLOPS dense)"),
    _d("t4", "NVIDIA T4", 8.1, None, 65.0, None, 320.0,
       "NVIDIA T4 Tensor Core GPU Datasheet (mixed-precision FP16/FP32 65 TFLOPS; Turing: no TF32, no BF16)"),
    _d("v100", "NVIDIA V100 SXM2", 15.7, None, 125.0, None, 900.0,
       "NVIDIA Tesla V100 GPU Datasheet (V100 SXM2 column; Tensor Performance 125 TFLOPS; Volta: no TF32, "
       "no BF16)"),
    _d("v100-pcie", "NVIDIA V100 PCIe", 14.0, None, 112.0, None, 900.0,
       "NVIDIA Tesla V100 GPU Datasheet (V100 PCIe column; Tensor Performance 112 TFLOPS)"),
    _d("rtx4090", "NVIDIA GeForce RTX 4090", 82.6, 82.6, 165.2, 165.2, 1008.0,
       "NVIDIA Ada GPU Architecture whitepaper, Appendix A (RTX 4090: FP32 82.6; TF32 82.6, FP16/BF16 "
       "with FP32 accumulate 165.2 TFLOPS dense)"),
    _d("rtx3090", "NVIDIA GeForce RTX 3090", 35.6, 35.6, 71.0, 71.0, 936.0,
       "NVIDIA Ampere GA102 GPU Architecture whitepaper (RTX 3090: FP32 35.6; TF32 35.6, FP16/BF16 with FP32 "
       "accumulate 71 TFLOPS dense)"),
)}


def datasheet_named(name: str) -> Datasheet:
    """The datasheet of ``name`` (case-insensitive); an unknown name is an error with a
    did-you-mean and the list."""
    key = name.strip().lower()
    if key in DATASHEETS:
        return DATASHEETS[key]
    raise OptionError(f"unknown device {name!r}{suggest(key, DATASHEETS)}; devices: cpu (calibrated here), "
                      f"{', '.join(DATASHEETS)}")


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise OptionError(f"unknown precision {precision!r}{suggest(precision, PRECISIONS)}; "
                          f"precisions: {', '.join(PRECISIONS)}")
    return precision


@dataclass(frozen=True)
class RooflineLayer:
    name: str
    kind: str
    flops: int
    bytes: int
    compute_ms: float
    memory_ms: float
    launch_ms: float
    ms: float
    bound: str  # compute, memory, launch, none (an input)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "flops": self.flops, "bytes": self.bytes,
                "compute_ms": self.compute_ms, "memory_ms": self.memory_ms, "launch_ms": self.launch_ms,
                "ms": self.ms, "bound": self.bound}


def roofline(report: Report, sheet: Datasheet, precision: str) -> list[RooflineLayer]:
    """Per-layer roofline times of ``report`` (analysed at the batch and the precision's dtype)."""
    check_precision(precision)
    records = {r.name: r for r in report.layers}
    out = []
    bandwidth = sheet.bandwidth_gbs * 1e9  # bytes per second
    for r in report.layers:
        if r.kind == "input":
            out.append(RooflineLayer(r.name, r.kind, 0, 0, 0.0, 0.0, 0.0, 0.0, "none"))
            continue
        nbytes = sum(records[i].activation_bytes for i in r.inputs if i in records) + r.activation_bytes + \
            r.param_bytes
        peak = sheet.peak_tflops(precision, r.family in MATRIX_FAMILIES) * 1e12  # FLOP per second
        compute_ms = r.flops / peak * 1e3
        memory_ms = nbytes / bandwidth * 1e3
        launch_ms = sheet.launch_us / 1e3
        parts = {"compute": compute_ms, "memory": memory_ms, "launch": launch_ms}
        work = max(compute_ms, memory_ms)
        bound = max(parts, key=lambda k: parts[k])
        out.append(RooflineLayer(r.name, r.kind, r.flops, nbytes, compute_ms, memory_ms, launch_ms,
                                 work + launch_ms, bound))
    return out
