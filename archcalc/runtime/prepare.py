"""Preparing a model for ORT: a spec or graph exported in memory (or an ONNX file read as it
is), its archcalc report, and the memory check made before anything is allocated.
onnx is imported inside the functions that need it."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archcalc.errors import ArchcalcError, MemoryLimitError, SymbolicDimsError

if TYPE_CHECKING:
    from archcalc.ir import Graph
    from archcalc.report import Report

#: weights above this many bytes are exported as ConstantOfShape fills (same speed, less time)
CONSTANT_WEIGHTS_ABOVE = 16 * 2**20


@dataclass
class Prepared:
    """A model ready for ORT: bytes or path, its ONNX graph, the archcalc graph and report."""

    name: str
    source: str
    model: Any  # onnx.ModelProto (weights may be ConstantOfShape fills)
    payload: bytes | str
    graph: Graph
    report: Report
    notes: list[str] = field(default_factory=list)
    #: ORT optimizers to leave out (constant weights are all alike: common-subexpression
    #: elimination would merge layers of the same shape, which real weights never allow)
    disabled_optimizers: tuple[str, ...] = ()


def memory_limit() -> int:
    """Default limit for one run: 80% of the memory available now (16 GiB if unknown)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(int(line.split()[1]) * 1024 * 0.8)
    return 16 * 2**30


def check_memory(report: Report, limit: int | None, constant_bytes: int = 0) -> int:
    """Bytes a run needs (weights + every activation at this batch + constant outputs ONNX Runtime
    materialises); refuse past ``limit``."""
    need = report.totals.param_bytes + report.totals.activation_bytes + constant_bytes
    cap = memory_limit() if limit is None else limit
    if need > cap:
        consts = f" + constant outputs {constant_bytes / 2**20:,.0f} MiB" if constant_bytes else ""
        raise MemoryLimitError(
            f"a run at batch {report.conventions.batch} needs about {need / 2**20:,.0f} MiB (weights "
            f"{report.totals.param_bytes / 2**20:,.0f} MiB + activations {report.totals.activation_bytes / 2**20:,.0f}"
            f" MiB{consts}), more than the limit of {cap / 2**20:,.0f} MiB: use a smaller batch, or raise the limit "
            f"(--max-memory / max_memory=)"
        )
    return need


def prepare(source: str | Path | Graph, batch: int, *, variables: Mapping[str, Any] | None = None,
            weights: str = "auto", max_memory: int | None = None) -> Prepared:
    """Export a spec/graph (or read an ONNX model) for ``batch``, after the memory check."""
    from archcalc.analysis import analyze
    from archcalc.ir import Graph

    if isinstance(source, Graph):
        graph = source
        src = str(graph.file or graph.name)
    elif str(source).lower().endswith(".onnx"):
        return _prepare_onnx(str(source), batch, max_memory)
    else:
        from archcalc.language.loader import load_spec

        graph = load_spec(source, variables=variables)
        src = str(source)
    report = analyze(graph, overrides={"batch": batch, "dtype": "fp32"})
    check_memory(report, max_memory)
    from archcalc.onnx_export.export import export_onnx

    mode = weights
    if mode == "auto":
        mode = "constant" if report.totals.param_bytes > CONSTANT_WEIGHTS_ABOVE else "random"
    exported = export_onnx(graph, batch=batch, weights=mode, max_bytes=max(report.totals.param_bytes, 1) * 2)
    model = exported.model
    if mode == "constant":
        return Prepared(graph.name, src, model, model.SerializeToString(), graph, report,
                        ["constant weights made at load time (a distinct value per tensor, so the runtime "
                         "cannot merge equal layers): the same work as random weights"])
    return Prepared(graph.name, src, model, model.SerializeToString(), graph, report)


def model_batch(path: str) -> int:
    """An ONNX model's own batch size (1 when its batch axis is symbolic)."""
    from archcalc.onnx_import.importer import import_onnx

    if not Path(path).exists():
        raise ArchcalcError("no such file", file=path)
    try:
        graph = import_onnx(path, allow_unknown=True)
    except SymbolicDimsError:
        return 1
    return int(graph.conventions.get("batch") or 1)


def _onnx_graph(path: str, batch: int) -> Graph:
    """An ONNX model's graph at ``batch``; refused when the model's batch is fixed at another."""
    from archcalc.onnx_import.importer import import_onnx

    if not Path(path).exists():
        raise ArchcalcError("no such file", file=path)
    graph = import_onnx(path, batch=batch, allow_unknown=True)
    model_batch = graph.conventions.get("batch")
    if model_batch is not None and int(model_batch) != batch:
        raise ArchcalcError(f"the model's batch is fixed at {model_batch}, so --batch {batch} cannot run: "
                            f"--batch {model_batch} (or export it with a dynamic batch axis)", file=path)
    return graph


def check_batches(source: str | Path | Graph, batches: Sequence[int], *,
                  variables: Mapping[str, Any] | None = None, max_memory: int | None = None) -> None:
    """What :func:`prepare` would refuse at any of ``batches`` (a fixed-batch model at another
    batch, a run past the memory limit), checked for all of them before any is timed."""
    from archcalc.analysis import analyze
    from archcalc.ir import Graph

    spec: Graph | None = source if isinstance(source, Graph) else None
    for batch in batches:
        if spec is not None:
            graph = spec
        elif str(source).lower().endswith(".onnx"):
            graph = _onnx_graph(str(source), batch)
        else:
            from archcalc.language.loader import load_spec

            graph = spec = load_spec(str(source), variables=variables)
        check_memory(analyze(graph, overrides={"batch": batch, "dtype": "fp32"}), max_memory)


def _prepare_onnx(path: str, batch: int, max_memory: int | None) -> Prepared:
    import onnx

    from archcalc.analysis import analyze

    graph = _onnx_graph(path, batch)
    report = analyze(graph, overrides={"batch": batch, "dtype": "fp32"})
    check_memory(report, max_memory, int(graph.meta.get("constant_output_bytes", 0)))
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:  # onnx raises several kinds of errors
        raise ArchcalcError(f"cannot read the model: {exc}", file=path) from None
    return Prepared(graph.name, path, model, path, graph, report)
