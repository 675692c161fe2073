"""Reading what ORT's profiler and optimizer wrote: per-run kernel times from a profile trace,
and the nodes of the optimized graph. onnx is imported inside the function that needs it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from archcalc.runtime.kernelmap import OptNode


def trace_events(session: Any) -> list[dict[str, Any]]:
    """End a profiled session's profiling and read back its trace (a list of events)."""
    trace = session.end_profiling()
    with open(trace) as handle:
        events: list[dict[str, Any]] = json.load(handle)
    return events


def read_optimized(path: str) -> list[OptNode]:
    import onnx

    model = onnx.load(path, load_external_data=False)
    return [OptNode(n.name, n.op_type, tuple(n.input), tuple(n.output)) for n in model.graph.node]


def kernel_times(events: Sequence[Mapping[str, Any]], last_runs: int) -> tuple[list[dict[str, float]], dict[str, str]]:
    """Per run (the last ``last_runs`` runs): kernel name -> microseconds; and kernel -> op type.

    Kernel events (``<node>_kernel_time``) are assigned to the ``model_run`` window holding them.
    """
    import bisect

    windows = sorted((float(e["ts"]), float(e["ts"]) + float(e["dur"])) for e in events
                     if e.get("cat") == "Session" and e.get("name") == "model_run")
    starts = [w[0] for w in windows]
    per_run: list[dict[str, float]] = [{} for _ in windows]
    ops: dict[str, str] = {}
    for e in events:
        if e.get("cat") != "Node" or not str(e.get("name", "")).endswith("_kernel_time"):
            continue
        name = str(e["name"])[: -len("_kernel_time")]
        ts = float(e["ts"])
        k = bisect.bisect_right(starts, ts) - 1
        if k < 0 or ts > windows[k][1]:
            continue
        per_run[k][name] = per_run[k].get(name, 0.0) + float(e["dur"])
        ops.setdefault(name, str(e.get("args", {}).get("op_name", "")))
    kept = per_run[-last_runs:] if last_runs > 0 else per_run
    return kept, ops
