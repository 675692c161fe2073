"""archcalc: exact shapes, counts, memory and receptive fields of convolutional networks.

    >>> import archcalc
    >>> graph = archcalc.load("specs/lenet5.yaml")
    >>> report = archcalc.analyze(graph, preset="lecun1998")
    >>> report["C3"].params, report.totals.connections
    (1516, 340908)

The public API is ``__all__``: loading (``load``), counting (``analyze``, ``check``, ``sweep``),
why a figure comes out (``explain``), two networks side by side (``compare``), ONNX export
(``export_onnx``, ``save_onnx``), runs on ONNX Runtime (``profile``), device profiles and latency
estimates (``calibrate``, ``device_profile``, ``estimate_latency``), and every exception archcalc
raises. ``import archcalc`` loads none of onnx, numpy, onnxruntime or networkx: the export,
profile, estimate and compare functions import their modules when called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archcalc.analysis import analyze, conventions_for
from archcalc.conventions import PRESETS, Conventions, preset, resolve
from archcalc.errors import (
    ArchcalcError,
    CalibrationError,
    ConventionError,
    DeviceError,
    ExpectationError,
    ExportError,
    GraphError,
    MemoryLimitError,
    OnnxFileError,
    OnnxImportError,
    OptionError,
    OutputError,
    ShapeError,
    SpecError,
    SymbolicDimsError,
    VariableError,
    YamlSyntaxError,
)
from archcalc.expected import Check, check
from archcalc.explain import FigureExplanation, LayerExplanation, explain
from archcalc.ir import Graph, Layer
from archcalc.report import LayerRecord, Report, Totals

if TYPE_CHECKING:
    from archcalc.comparison import Comparison, compare
    from archcalc.estimate.deviceprofile import DeviceProfile
    from archcalc.estimate.model import Estimate
    from archcalc.onnx_export.export import Exported
    from archcalc.runtime.results import ProfileResult
    from archcalc.sweeps import SweepResult, sweep

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "ArchcalcError",
    "CalibrationError",
    "Check",
    "Comparison",
    "ConventionError",
    "Conventions",
    "DeviceError",
    "ExpectationError",
    "ExportError",
    "FigureExplanation",
    "Graph",
    "GraphError",
    "Layer",
    "LayerExplanation",
    "LayerRecord",
    "MemoryLimitError",
    "OnnxFileError",
    "OnnxImportError",
    "OptionError",
    "OutputError",
    "Report",
    "ShapeError",
    "SpecError",
    "SweepResult",
    "SymbolicDimsError",
    "Totals",
    "VariableError",
    "YamlSyntaxError",
    "analyze",
    "calibrate",
    "check",
    "compare",
    "conventions_for",
    "device_profile",
    "estimate_latency",
    "explain",
    "export_onnx",
    "load",
    "preset",
    "profile",
    "resolve",
    "save_onnx",
    "sweep",
]


_LAZY = {"sweep": "archcalc.sweeps", "SweepResult": "archcalc.sweeps", "compare": "archcalc.comparison",
         "Comparison": "archcalc.comparison"}


def __getattr__(name: str) -> Any:
    """``archcalc.sweep`` and ``archcalc.SweepResult`` are ``archcalc.sweeps``' own, ``compare`` and
    ``Comparison`` ``archcalc.comparison``'s, imported on first use (PEP 562), so that ``import
    archcalc`` stays quick."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'archcalc' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


def load(
    source: str | Path | Mapping[str, Any],
    *,
    variables: Mapping[str, Any] | None = None,
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    batch: int | None = None,
    allow_unknown: bool = False,
) -> Graph:
    """A spec file (YAML), a parsed spec mapping, or an ONNX model (``.onnx``) -> the layer graph.

    ONNX only: ``input_shapes`` fixes input dims (``{"x": (1, 3, 224, 224)}``), ``batch`` fixes a
    symbolic batch axis, ``allow_unknown`` lets ops archcalc does not model through (not counted).
    """
    from archcalc.sources import load_any

    return load_any(source, variables=variables, input_shapes=input_shapes, batch=batch, allow_unknown=allow_unknown)


# -- heavy parts: thin wrappers that import their module when called -------------------------
# (their signatures mirror the targets exactly; tests/test_api.py compares them)


def export_onnx(
    graph: Graph,
    *,
    opset: int | None = None,
    batch: int | str = 1,
    seed: int = 0,
    weights: str = "random",
    max_bytes: int = 4 * 2**30,
) -> Exported:
    """The graph as a checked, runnable ONNX model (``Exported.model``), with random or constant
    weights; ``batch="dynamic"`` makes the batch axis symbolic. Write it with ``save_onnx``."""
    from archcalc.onnx_export.export import export_onnx as run

    return run(graph, opset=opset, batch=batch, seed=seed, weights=weights, max_bytes=max_bytes)


def save_onnx(exported: Exported, path: str | Path) -> None:
    """Write an ``export_onnx`` result to ``path`` (atomically)."""
    from archcalc.onnx_export.export import save

    save(exported, path)


def profile(
    source: str | Path | Graph,
    *,
    device: str = "auto",
    batches: Sequence[int] | None = None,
    warmup: int = 5,
    repeat: int = 30,
    threads: int | None = None,
    per_layer: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    device_profile: DeviceProfile | None = None,
    drift_probes: bool = True,
    profile_runs: int | None = None,
    max_memory: int | None = None,
    variables: Mapping[str, Any] | None = None,
    weights: str = "auto",
) -> list[ProfileResult]:
    """Run a spec, graph or ONNX model on ONNX Runtime and time it (see docs/runtime.md)."""
    from archcalc.measure import profile as run

    return run(source, device=device, batches=batches, warmup=warmup, repeat=repeat, threads=threads,
               per_layer=per_layer, progress=progress, device_profile=device_profile, drift_probes=drift_probes,
               profile_runs=profile_runs, max_memory=max_memory, variables=variables, weights=weights)


def calibrate(
    device: str = "auto",
    threads: int | None = None,
    *,
    quick: bool = False,
    mode: str = "default",
    progress: Callable[[str, int, int], None] | None = None,
) -> DeviceProfile:
    """Measure the device with micro-benchmarks (``default``: about 25 s, under 1 GiB;
    ``thorough``: minutes) -> a fresh device profile."""
    from archcalc.estimate import calibrate as run

    return run(device, threads, quick=quick, mode=mode, progress=progress)


def device_profile(
    device: str = "auto",
    threads: int | None = None,
    *,
    refresh: bool = False,
    quick: bool = False,
    mode: str = "default",
    progress: Callable[[str, int, int], None] | None = None,
    merge: bool = True,
) -> tuple[DeviceProfile, list[str]]:
    """The cached device profile, or one calibrated now (and cached; with ``refresh``, merged with
    the cached one unless ``merge`` is false); with notes on what happened."""
    from archcalc.estimate import device_profile as run

    return run(device, threads, refresh=refresh, quick=quick, mode=mode, progress=progress, merge=merge)


def estimate_latency(
    graph: Graph,
    profile: DeviceProfile,
    *,
    batch: int = 1,
    report: Report | None = None,
    drift: Mapping[str, float] | None = None,
    as_profiled: bool = False,
) -> Estimate:
    """The latency of ``graph`` predicted from a device profile, without running it."""
    from archcalc.estimate import estimate_latency as run

    return run(graph, profile, batch=batch, report=report, drift=drift, as_profiled=as_profiled)
