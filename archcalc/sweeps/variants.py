"""One variant -> one row: expand the spec (cached per worker), apply input sizes and layer
attributes to the expanded graph, analyse, read the metrics. Runs in worker processes."""

from __future__ import annotations

import dataclasses
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archcalc.conventions import Conventions
from archcalc.errors import ArchcalcError, SpecError, suggest
from archcalc.sweeps.grid import Grid, Plan

if TYPE_CHECKING:
    from archcalc.ir import Graph


def with_repeats(doc: dict[str, Any], repeats: Mapping[str, Any]) -> dict[str, Any]:
    """The spec document with the repeat counts of top-level block uses changed (line marks kept)."""
    if not repeats:
        return doc
    layers = []
    for entry in doc["layers"]:
        if isinstance(entry, dict) and entry.get("name") in repeats:
            changed = type(entry)(entry)
            for attr in ("line", "key_lines"):
                if hasattr(entry, attr):
                    setattr(changed, attr, getattr(entry, attr))
            changed["repeat"] = repeats[entry["name"]]
            entry = changed
        layers.append(entry)
    out = type(doc)(doc)
    for attr in ("line", "key_lines"):
        if hasattr(doc, attr):
            setattr(out, attr, getattr(doc, attr))
    out["layers"] = type(doc["layers"])(layers) if isinstance(doc["layers"], list) else layers
    for attr in ("line", "item_lines"):
        if hasattr(doc["layers"], attr):
            setattr(out["layers"], attr, getattr(doc["layers"], attr))
    return out


def apply(graph: Graph, inputs: Mapping[str, Any], attrs: Mapping[tuple[str, str], Any]) -> Graph:
    """The graph with input sizes and layer attributes changed (wiring unchanged)."""
    from archcalc.ir import freeze
    from archcalc.ops import REGISTRY

    if not inputs and not attrs:
        return graph
    layers = dict(graph.layers)
    n_outputs = dict(graph.n_outputs)
    if inputs:
        (inp,) = graph.inputs() if len(graph.inputs()) == 1 else (None,)
        if inp is None:
            raise SpecError("input.* keys need a network with one input")
        shape = list(inp.attrs["shape"])
        for what, value in inputs.items():
            if what == "shape":
                shape = list(value)
            elif what == "channels":
                shape[0] = value
            else:
                sizes = [value] * (len(shape) - 1) if isinstance(value, int) else list(value)
                shape = [shape[0], *sizes]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape):
            raise SpecError(f"input shape {shape} must be positive integers")
        layers[inp.name] = dataclasses.replace(inp, attrs=freeze({"shape": tuple(shape)}))
    for (name, attr), value in attrs.items():
        layer = layers.get(name)
        if layer is None:
            raise SpecError(f"no layer named '{name}'{suggest(name, layers)}")
        op = REGISTRY[layer.kind]
        if attr not in op.schema:
            raise SpecError(f"layer {name} ({layer.kind}) has no key '{attr}'{suggest(attr, op.schema)}")
        new = dict(layer.attrs)
        new[attr] = op.schema[attr].parse(value, attr)
        op.check(new)
        layers[name] = dataclasses.replace(layer, attrs=freeze(new))
        n_outputs[name] = op.n_outputs(new)
    return dataclasses.replace(graph, layers=layers, n_outputs=n_outputs)


@dataclass(frozen=True)
class Job:
    """Everything a worker needs for its rows (pickled once per chunk)."""

    doc: Any
    file: str | None
    token: str
    plan: Plan
    conventions: Conventions
    metrics: tuple[str, ...]
    device_profile: Any = None
    #: the datasheet latency is estimated from (None: the calibrated ``device_profile``), its precision
    datasheet: Any = None
    precision: str = "fp32"
    #: what every row's ``latency_basis`` says (datasheet, not calibrated / calibrated on this machine)
    latency_basis: str | None = None


_CACHE: OrderedDict[tuple[str, str], Any] = OrderedDict()
_CACHE_SIZE = 64


def _expanded(job: Job, variables: Mapping[str, Any], repeats: Mapping[str, Any]) -> Graph:
    from archcalc.language.loader import build_from_document

    key = (job.token, json.dumps([sorted(variables.items()), sorted(repeats.items())], default=str))
    graph = _CACHE.get(key)
    if graph is None:
        graph = build_from_document(with_repeats(job.doc, repeats), variables=variables, file=job.file)
        _CACHE[key] = graph
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return graph


def variant_graph(job: Job, variant: Mapping[str, Any]) -> Graph:
    """The layer graph of one variant."""
    plan = job.plan
    graph = _expanded(job, plan.variables_of(variant), plan.repeats_of(variant))
    return apply(graph, plan.inputs_of(variant), plan.attrs_of(variant))


#: what else one variant's analysis may raise that makes it a row with an error, not the end of the
#: sweep: numbers past what Python converts or represents (an integer of thousands of digits as a
#: value: OverflowError in a float conversion, ValueError past the int/str digit limit or a math
#: domain error), a graph too deep (RecursionError) or too large (MemoryError) for this machine.
#: Anything else (TypeError, KeyError, AttributeError, ...) is an archcalc bug and propagates.
VARIANT_FAILURES: tuple[type[BaseException], ...] = (OverflowError, ValueError, RecursionError, MemoryError)


def failure_reason(exc: BaseException) -> str:
    """One line: ``cannot analyse this variant (OverflowError: int too large to convert to float)``."""
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    reasons: dict[type[BaseException], str] = {OverflowError: "a number is too large",
                                                RecursionError: "the graph is too deep", MemoryError: "out of memory"}
    what = reasons.get(type(exc), "a value cannot be used")
    return f"cannot analyse this variant: {what} ({type(exc).__name__}{': ' + text if text else ''})"


def row(job: Job, variant: Mapping[str, Any]) -> dict[str, Any]:
    """The variant's keys, its metrics (None where it is invalid) and ``error``: an ArchcalcError or
    one of :data:`VARIANT_FAILURES` becomes the row's one-line ``error``."""
    out: dict[str, Any] = dict(variant)
    out["error"] = None
    try:
        out.update(_metrics(job, variant))
    except ArchcalcError as exc:
        out["error"] = str(exc)
    except VARIANT_FAILURES as exc:
        out["error"] = failure_reason(exc)
    else:
        return out
    for metric in job.metrics:
        out[metric] = None
    return out


def _metrics(job: Job, variant: Mapping[str, Any]) -> dict[str, Any]:
    from archcalc.analysis import analyze
    from archcalc.conventions import resolve

    plan = job.plan
    graph = variant_graph(job, variant)
    conv = resolve(job.conventions, plan.conventions_of(variant))
    report = analyze(graph, conv)
    if job.datasheet is not None and "latency_ms" in job.metrics and job.precision != "fp32":
        from archcalc.estimate.datasheets import PRECISIONS

        conv = resolve(conv, {"dtype": PRECISIONS[job.precision]})
    out: dict[str, Any] = {}
    totals = report.totals
    for metric in job.metrics:
        if metric == "rf":
            spatial = [r.rf for r in report.layers if r.rf.axes and not r.rf.is_global and not r.rf.is_unknown]
            out["rf"] = max(spatial[-1].size) if spatial else None
        elif metric == "output_shape":
            out["output_shape"] = "x".join(str(v) for v in report[report.outputs[0]].shape)
        elif metric == "layers":
            out["layers"] = len(report.layers)
        elif metric == "latency_ms":
            out.update(_latency(job, graph, report, conv))
            out["latency_basis"] = job.latency_basis
        else:
            out[metric] = getattr(totals, metric)
    return out


def _latency(job: Job, graph: Graph, report: Any, conv: Conventions) -> dict[str, float]:
    """The variant's estimated latency: the datasheet roofline (at the precision's bytes), or the
    calibrated device profile with the band its noise allows (``latency_low_ms`` ..
    ``latency_high_ms``: the range the probes took during calibration, as ``archcalc estimate``
    gives it without probes of its own; a datasheet has no noise to give a band)."""
    if job.datasheet is not None:
        from archcalc.analysis import analyze
        from archcalc.estimate.datasheets import roofline

        if report.conventions != conv:
            report = analyze(graph, conv)
        return {"latency_ms": sum(r.ms for r in roofline(report, job.datasheet, job.precision) if r.kind != "input")}
    from archcalc.estimate import estimate_latency

    batch = job.conventions.batch if not job.plan.conventions else report.conventions.batch
    est = estimate_latency(graph, job.device_profile, batch=batch)
    band = est.band(job.device_profile)
    return {"latency_ms": est.total_ms, "latency_low_ms": band.low_ms, "latency_high_ms": band.high_ms}


def run_chunk(job: Job, grid: Grid, start: int, stop: int) -> list[dict[str, Any]]:
    """The rows of variants ``start`` .. ``stop - 1`` of ``grid`` (made here, from their index)."""
    return [row(job, v) for v in grid.variants(start, stop)]
