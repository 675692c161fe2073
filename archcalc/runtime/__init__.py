"""Run models on ONNX Runtime: a verified provider, honest timing, per-layer kernel mapping.

- :mod:`~archcalc.runtime.devices`: one class per device (CPU, CUDA) owning provider choice,
  refusal reasons, IO binding and names; :func:`choose_device` parses a device request once.
- :mod:`~archcalc.runtime.cuda`: why CUDA cannot run here, and the GPU's name.
- :mod:`~archcalc.runtime.session`: sessions (providers read back and verified) and IO-bound runs.
- :mod:`~archcalc.runtime.timing`: warm-up and timed runs, and their statistics.
- :mod:`~archcalc.runtime.trace`: ORT profiler traces and optimized graphs, read back.
- :mod:`~archcalc.runtime.kernelmap`: ORT kernels mapped back to layers through its fusions.
- :mod:`~archcalc.runtime.prepare`: a spec, graph or ONNX file made ready for ORT, memory checked.
- :mod:`~archcalc.runtime.results`: what a profile reports.

Profiling a model (which combines these with the estimator) is :func:`archcalc.measure.profile`.
onnxruntime, onnx and numpy are imported inside the functions that need them.
"""

from __future__ import annotations

from archcalc.errors import DeviceError, MemoryLimitError
from archcalc.runtime.cuda import cuda_problems, gpu_name
from archcalc.runtime.devices import (
    DEVICES,
    CpuDevice,
    CudaDevice,
    Device,
    DeviceChoice,
    choose_device,
    cpu_count,
    cpu_name,
    device_for_provider,
    device_named,
    provider_device,
)
from archcalc.runtime.kernelmap import (
    LAYOUT,
    UNMAPPED,
    KernelMap,
    OptNode,
    map_kernels,
    node_labels,
    node_layers,
    ort_name_candidates,
)
from archcalc.runtime.prepare import (
    CONSTANT_WEIGHTS_ABOVE,
    Prepared,
    check_memory,
    memory_limit,
    model_batch,
    prepare,
)
from archcalc.runtime.providers import CPU, CUDA
from archcalc.runtime.results import SCHEMA_VERSION, LayerProfile, ProfileResult
from archcalc.runtime.session import Runner, feeds_for, open_session, session_options
from archcalc.runtime.timing import (
    DEFAULT_REPEAT,
    DEFAULT_WARMUP,
    MIN_STABLE_MS,
    MIN_STABLE_RUNS,
    STABLE_SPREAD,
    Progress,
    Timing,
    percentile,
    time_runner,
    timing_of,
)
from archcalc.runtime.trace import kernel_times, read_optimized, trace_events

__all__ = [
    "CONSTANT_WEIGHTS_ABOVE", "CPU", "CUDA", "DEFAULT_REPEAT", "DEFAULT_WARMUP", "DEVICES", "LAYOUT",
    "MIN_STABLE_MS", "MIN_STABLE_RUNS", "SCHEMA_VERSION", "STABLE_SPREAD", "UNMAPPED", "CpuDevice", "CudaDevice",
    "Device", "DeviceChoice", "DeviceError", "KernelMap", "LayerProfile", "MemoryLimitError", "OptNode", "Prepared",
    "ProfileResult", "Progress", "Runner", "Timing", "check_memory", "choose_device", "cpu_count", "cpu_name",
    "cuda_problems", "device_for_provider", "device_named", "feeds_for", "gpu_name", "kernel_times", "map_kernels",
    "memory_limit", "model_batch", "node_labels", "node_layers", "open_session", "ort_name_candidates", "percentile",
    "prepare", "provider_device", "read_optimized", "session_options", "time_runner", "timing_of", "trace_events",
]
