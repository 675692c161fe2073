"""Design-space sweeps: many variants of one spec, analysed in parallel, as rows.

``grid`` keys (names as the spec language defines them):

- ``width`` or ``${width}``: a spec variable;
- ``input.size`` (an int for a square input, or [H, W]), ``input.channels``, ``input.shape``;
- ``NAME.repeat``: the repeat count of the block use NAME (a top-level ``layers:`` entry);
- ``LAYER.KEY``: an attribute of an expanded layer (``conv1.filters``, ``layer2.0.conv1.kernel``);
- ``batch``, ``dtype`` and any other convention name (unless the spec declares a variable of that
  name): how the variant is counted.

Values are lists; ``"160:320:32"`` is an inclusive range. A variant that is invalid (a stride no
longer fits, channels mismatch) becomes a row with its error; the sweep goes on.

Work: the spec is parsed once. Each distinct combination of variables, repeats (the keys that
change the block expansion) is expanded once per worker and cached; input sizes and layer
attributes are applied to the expanded graph; then the analysis runs. Variants run in chunks on
the local cores (processes), or on any ``concurrent.futures.Executor`` (``executor=``), such as
Dask's ``Client.get_executor()`` or a Ray-backed executor. Progress is reported through a callback.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import itertools
import json
import os
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archcalc.conventions import Conventions
from archcalc.errors import ArchcalcError, SpecError, suggest

#: metrics a row can carry
METRICS: dict[str, str] = {
    "params": "trainable parameters",
    "macs": "multiply-accumulates (x batch)",
    "flops": "forward FLOPs (x batch)",
    "connections": "connections",
    "units": "units",
    "param_bytes": "bytes of stored parameters",
    "activation_bytes": "bytes of all activations (x batch)",
    "peak_activation_bytes": "peak activation memory of an inference pass",
    "training_bytes": "training memory (params, stored activations, gradients, optimizer state)",
    "rf": "receptive field (largest axis) of the last layer with a spatial field",
    "output_shape": "per-sample shape of the (first) output",
    "layers": "number of layers",
    "latency_ms": "estimated latency (ms) on the calibrated device (archcalc calibrate)",
}
DEFAULT_METRICS = ("params", "macs", "flops", "param_bytes", "peak_activation_bytes", "training_bytes", "rf",
                   "output_shape")

Progress = Callable[[int, int], None]


# -- grid ------------------------------------------------------------------------------------


def parse_values(text: str) -> list[Any]:
    """``"32,64,128"`` -> [32, 64, 128]; ``"160:320:32"`` -> 160..320 step 32 (both ends)."""
    import yaml

    text = text.strip()
    m = re.fullmatch(r"(-?\d+):(-?\d+)(?::(-?\d+))?", text)
    if m:
        return expand_range(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1))
    values = []
    for item in text.split(","):
        try:
            values.append(yaml.safe_load(item) if item.strip() else item)
        except yaml.YAMLError:
            values.append(item.strip())
    return values


def expand_range(start: int, stop: int, step: int) -> list[int]:
    if step == 0 or (stop - start) * step < 0:
        raise SpecError(f"range {start}:{stop}:{step} is empty")
    count = (stop - start) // step + 1
    if count > 10_000_000:
        raise SpecError(f"range {start}:{stop}:{step} has {count:,} values")
    return [start + i * step for i in range(count)]


def _values(key: str, value: Any) -> list[Any]:
    if isinstance(value, str):
        return parse_values(value)
    if isinstance(value, range):
        return list(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def expand_grid(grid: Mapping[str, Any], mode: str = "product") -> list[dict[str, Any]]:
    """Every variant of ``grid`` as a dict key -> value."""
    keys = list(grid)
    lists = [_values(k, grid[k]) for k in keys]
    if any(not v for v in lists):
        raise SpecError("every grid key needs at least one value")
    if mode == "product":
        combos: Iterable[tuple[Any, ...]] = itertools.product(*lists)
    elif mode == "zip":
        lengths = {len(v) for v in lists}
        if len(lengths) > 1:
            raise SpecError(f"zip mode needs value lists of one length, got {sorted(lengths)}")
        combos = zip(*lists, strict=True)
    else:
        raise SpecError(f"mode must be 'product' or 'zip', got {mode!r}")
    return [dict(zip(keys, combo, strict=True)) for combo in combos]


# -- variants --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """How each grid key applies to the spec."""

    variables: tuple[str, ...]
    repeats: tuple[tuple[str, str], ...]  # grid key -> use name
    inputs: tuple[tuple[str, str], ...]  # grid key -> size | channels | shape
    attrs: tuple[tuple[str, str, str], ...]  # grid key -> (layer, attribute)
    conventions: tuple[tuple[str, str], ...]  # grid key -> convention name


def _plan(doc: Mapping[str, Any], keys: Sequence[str]) -> _Plan:
    from archcalc.conventions import _FIELDS

    declared = dict(doc.get("variables") or {})
    uses = {str(e.get("name")) for e in doc.get("layers") or [] if isinstance(e, dict) and "block" in e}
    variables, repeats, inputs, attrs, convs = [], [], [], [], []
    for key in keys:
        bare = key[2:-1] if key.startswith("${") and key.endswith("}") else key
        if bare in declared:
            variables.append(key)
        elif bare.startswith("input.") and bare[6:] in ("size", "channels", "shape"):
            inputs.append((key, bare[6:]))
        elif bare.endswith(".repeat"):
            use = bare[: -len(".repeat")]
            if use not in uses:
                raise SpecError(f"grid key {key!r}: no top-level block use named '{use}'{suggest(use, uses)}")
            repeats.append((key, use))
        elif bare in _FIELDS and bare != "preset":
            convs.append((key, bare))
        elif "." in bare:
            layer, _, attr = bare.rpartition(".")
            attrs.append((key, layer, attr))
        else:
            raise SpecError(
                f"grid key {key!r} is not a spec variable{suggest(bare, declared)}, input.size, NAME.repeat, "
                f"LAYER.KEY or a convention (variables: {', '.join(declared) or 'none'})"
            )
    return _Plan(tuple(variables), tuple(repeats), tuple(inputs), tuple(attrs), tuple(convs))


def _with_repeats(doc: dict[str, Any], repeats: Mapping[str, Any]) -> dict[str, Any]:
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


def _apply(graph: Any, inputs: Mapping[str, Any], attrs: Mapping[tuple[str, str], Any]) -> Any:
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
class _Job:
    doc: Any
    file: str | None
    token: str
    plan: _Plan
    conventions: Conventions
    metrics: tuple[str, ...]
    device_profile: Any = None


_CACHE: OrderedDict[tuple[str, str], Any] = OrderedDict()
_CACHE_SIZE = 64


def _expanded(job: _Job, variables: Mapping[str, Any], repeats: Mapping[str, Any]) -> Any:
    from archcalc.spec.loader import build_from_document

    key = (job.token, json.dumps([sorted(variables.items()), sorted(repeats.items())], default=str))
    graph = _CACHE.get(key)
    if graph is None:
        graph = build_from_document(_with_repeats(job.doc, repeats), variables=variables, file=job.file)
        _CACHE[key] = graph
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return graph


def _row(job: _Job, variant: Mapping[str, Any]) -> dict[str, Any]:
    from archcalc.analysis import analyze
    from archcalc.conventions import resolve

    row: dict[str, Any] = dict(variant)
    plan = job.plan
    try:
        variables = {k[2:-1] if k.startswith("${") else k: variant[k] for k in plan.variables}
        repeats = {use: variant[k] for k, use in plan.repeats}
        graph = _expanded(job, variables, repeats)
        graph = _apply(graph, {what: variant[k] for k, what in plan.inputs},
                       {(layer, attr): variant[k] for k, layer, attr in plan.attrs})
        conv = resolve(job.conventions, {name: variant[k] for k, name in plan.conventions})
        report = analyze(graph, conv)
    except ArchcalcError as exc:
        row["error"] = str(exc)
        for metric in job.metrics:
            row[metric] = None
        return row
    row["error"] = None
    totals = report.totals
    for metric in job.metrics:
        if metric == "rf":
            spatial = [r.rf for r in report.layers if r.rf.axes and not r.rf.is_global and not r.rf.is_unknown]
            row["rf"] = max(spatial[-1].size) if spatial else None
        elif metric == "output_shape":
            row["output_shape"] = "x".join(str(v) for v in report[report.outputs[0]].shape)
        elif metric == "layers":
            row["layers"] = len(report.layers)
        elif metric == "latency_ms":
            from archcalc.estimate import estimate_latency

            batch = job.conventions.batch if not plan.conventions else report.conventions.batch
            row["latency_ms"] = estimate_latency(graph, job.device_profile, batch=batch).total_ms
        else:
            row[metric] = getattr(totals, metric)
    return row


def _run_chunk(job: _Job, variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [_row(job, v) for v in variants]


# -- results ---------------------------------------------------------------------------------

_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(<=|>=|==|!=|<|>)\s*([^<>=!\s]\S*)\s*$")


def _condition(text: str) -> Callable[[Mapping[str, Any]], bool]:
    """``"params <= 5e6"`` -> a predicate (a tiny parser: nothing is evaluated as code)."""
    m = _CONDITION.match(text)
    if not m:
        raise SpecError(f"condition {text!r} must look like 'metric <= value'")
    key, op, raw = m.groups()
    try:
        value: Any = float(raw)
    except ValueError:
        value = raw
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
    }
    compare = ops[op]

    def check(row: Mapping[str, Any]) -> bool:
        got = row.get(key)
        if got is None or isinstance(got, str) != isinstance(value, str):
            return False
        return compare(got, value)

    return check


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]
    keys: tuple[str, ...]
    metrics: tuple[str, ...]
    conventions: Conventions
    spec: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Any:
        return iter(self.rows)

    @property
    def ok(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["error"] is None]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["error"] is not None]

    @property
    def columns(self) -> list[str]:
        extra = [k for k in self.rows[0] if k not in (*self.keys, *self.metrics, "error")] if self.rows else []
        return [*self.keys, *self.metrics, *extra, "error"]

    def to_csv(self, path: str | Path | None = None) -> str:
        buf = io.StringIO()
        buf.write(f"# conventions: {self.conventions.describe()}\n")
        writer = csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
        text = buf.getvalue()
        if path is not None:
            from archcalc.fileio import write_atomic

            write_atomic(path, text)
        return text

    def to_json(self, path: str | Path | None = None) -> str:
        data = {"schema_version": 1, "spec": self.spec, "keys": list(self.keys), "metrics": list(self.metrics),
                "conventions": self.conventions.to_dict(), "rows": self.rows, **self.meta}
        text = json.dumps(data, indent=2, default=str) + "\n"
        if path is not None:
            from archcalc.fileio import write_atomic

            write_atomic(path, text)
        return text

    def to_dataframe(self) -> Any:
        try:
            import pandas as pd
        except ImportError:
            raise ArchcalcError("to_dataframe needs pandas: pip install 'archcalc[dataframe]'") from None
        return pd.DataFrame(self.rows, columns=self.columns)

    def where(self, *conditions: str | Callable[[Mapping[str, Any]], bool]) -> list[dict[str, Any]]:
        checks = [_condition(c) if isinstance(c, str) else c for c in conditions]
        return [r for r in self.ok if all(check(r) for check in checks)]

    def best(self, by: str, where: str | Sequence[str] | Callable[[Mapping[str, Any]], bool] | None = None,
             maximize: bool = False) -> dict[str, Any] | None:
        """The row with the smallest (or largest) ``by`` among the valid rows meeting ``where``."""
        conditions: list[Any] = [] if where is None else [where] if isinstance(where, str) or callable(where) \
            else list(where)
        rows = [r for r in self.where(*conditions) if r.get(by) is not None]
        if not rows:
            return None
        return (max if maximize else min)(rows, key=lambda r: r[by])

    def pareto(self, x: str, y: str, *, minimize: tuple[bool, bool] = (True, True)) -> list[dict[str, Any]]:
        """Rows not dominated in (x, y), sorted by x (both minimised by default)."""
        sx = 1 if minimize[0] else -1
        sy = 1 if minimize[1] else -1
        rows = sorted((r for r in self.ok if r.get(x) is not None and r.get(y) is not None),
                      key=lambda r: (sx * r[x], sy * r[y]))
        front: list[dict[str, Any]] = []
        best_y: Any = None
        for r in rows:
            if best_y is None or sy * r[y] < best_y:
                front.append(r)
                best_y = sy * r[y]
        return front


# -- the sweep -------------------------------------------------------------------------------


def sweep(
    spec: str | Path | Mapping[str, Any],
    grid: Mapping[str, Any],
    *,
    mode: str = "product",
    conventions: Conventions | str | Mapping[str, Any] | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    profile: bool = False,
    executor: Executor | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    chunk_size: int | None = None,
    device_profile: Any = None,
) -> SweepResult:
    """Analyse every variant of ``spec`` in ``grid``; see the module docstring."""
    from archcalc.analysis import conventions_for
    from archcalc.conventions import resolve
    from archcalc.spec.loader import build_from_document, load_spec

    for metric in metrics:
        if metric not in METRICS:
            raise SpecError(f"unknown metric '{metric}'{suggest(metric, METRICS)}; metrics: {', '.join(METRICS)}")
    base_graph = load_spec(spec) if isinstance(spec, (str, Path)) else build_from_document(spec)
    doc = base_graph.meta["document"]
    file = base_graph.file
    if isinstance(conventions, Conventions):
        conv = conventions
    elif isinstance(conventions, str):
        conv = resolve(conventions)
    else:
        conv = conventions_for(base_graph, None, conventions)
    variants = expand_grid(grid, mode)
    plan = _plan(doc, list(grid))
    token = hashlib.sha1(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
    notes: list[str] = []
    if "latency_ms" in metrics and device_profile is None:
        from archcalc.estimate import device_profile as cached_or_calibrated
        from archcalc.runtime.devices import CpuDevice

        device_profile, notes = cached_or_calibrated(CpuDevice())
    job = _Job(doc, file, token, plan, conv, tuple(metrics), device_profile)
    total = len(variants)
    workers = workers or os.cpu_count() or 1
    rows: list[dict[str, Any]]
    if executor is None and (total < 200 or workers == 1):
        rows = []
        step = max(1, total // 100)
        for i, variant in enumerate(variants, 1):
            rows.append(_row(job, variant))
            if progress is not None and (i % step == 0 or i == total):
                progress(i, total)
    else:
        size = chunk_size or max(1, min(500, total // (workers * 8) or 1))
        chunks = [variants[i:i + size] for i in range(0, total, size)]
        owned = executor is None
        pool: Executor = executor if executor is not None else ProcessPoolExecutor(max_workers=workers)
        try:
            futures = [pool.submit(_run_chunk, job, chunk) for chunk in chunks]
            results: list[list[dict[str, Any]]] = []
            done = 0
            for future, chunk in zip(futures, chunks, strict=True):
                results.append(future.result())
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        finally:
            if owned:
                pool.shutdown()
        rows = [row for part in results for row in part]
    result = SweepResult(rows, tuple(grid), tuple(metrics), conv, spec=file, meta={"notes": notes})
    if profile:
        _profile_rows(result, job, progress)
    return result


def _profile_rows(result: SweepResult, job: _Job, progress: Progress | None, repeat: int = 20) -> None:
    """Measured latency of every valid row, run one after another in this process (never in
    parallel: concurrent runs would disturb each other's timings)."""
    from archcalc import measure

    rows = result.ok
    for i, row in enumerate(rows, 1):
        variant = {k: row[k] for k in result.keys}
        variables = {k[2:-1] if k.startswith("${") else k: variant[k] for k in job.plan.variables}
        graph = _expanded(job, variables, {use: variant[k] for k, use in job.plan.repeats})
        graph = _apply(graph, {what: variant[k] for k, what in job.plan.inputs},
                       {(layer, attr): variant[k] for k, layer, attr in job.plan.attrs})
        batch = int(variant.get("batch", job.conventions.batch))
        (measured,) = measure.profile(graph, batches=(batch,), repeat=repeat, drift_probes=False)
        row.update({"measured_ms": measured.median_ms, "measured_p90_ms": measured.timing.p90_ms,
                    "provider": measured.provider, "runs": measured.timing.runs})
        if progress is not None:
            progress(i, len(rows))
