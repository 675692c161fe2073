"""archcalc: exact shapes, counts, memory and receptive fields of convolutional networks.

    >>> import archcalc
    >>> graph = archcalc.load("specs/lenet5.yaml")
    >>> report = archcalc.analyze(graph, preset="lecun1998")
    >>> report["C3"].params, report.totals.connections
    (1516, 340908)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archcalc.analysis import analyze, conventions_for
from archcalc.conventions import PRESETS, Conventions, preset, resolve
from archcalc.errors import (
    ArchcalcError,
    ConventionError,
    ExpectationError,
    GraphError,
    ShapeError,
    SpecError,
    VariableError,
)
from archcalc.expected import Check, check
from archcalc.ir import Graph, Layer
from archcalc.report import LayerRecord, Report, Totals

__version__ = "0.1.0"

__all__ = [
    "PRESETS", "ArchcalcError", "Check", "ConventionError", "Conventions", "ExpectationError",
    "Graph", "GraphError", "Layer", "LayerRecord", "Report", "ShapeError", "SpecError", "Totals",
    "VariableError", "analyze", "check", "conventions_for", "load", "preset", "resolve", "sweep",
]


def sweep(spec: Any, grid: Mapping[str, Any], **options: Any) -> Any:
    """Analyse every variant of ``spec`` over ``grid`` (see ``archcalc.sweeps.sweep``)."""
    from archcalc.sweeps import sweep as run

    return run(spec, grid, **options)


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
    if isinstance(source, (str, Path)) and str(source).lower().endswith(".onnx"):
        from archcalc.onnx_import.importer import import_onnx

        return import_onnx(source, input_shapes=input_shapes, batch=batch, allow_unknown=allow_unknown)
    from archcalc.spec.loader import load_spec

    return load_spec(source, variables=variables)
