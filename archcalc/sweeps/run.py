"""Running a sweep: parse and check once, then the variants inline, on a process pool, or on any
``concurrent.futures.Executor``; measured latencies (``profile=True``) one after another."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archcalc.conventions import Conventions
from archcalc.errors import OptionError
from archcalc.sweeps.grid import Grid, SweepMode, check_attrs, make_grid, make_plan
from archcalc.sweeps.pool import MAX_WORKERS, abandon, brief, check_workers, local_pool
from archcalc.sweeps.results import DEFAULT_METRICS, PROFILE_COLUMNS, SweepResult, check_metrics
from archcalc.sweeps.variants import Job, row, run_chunk, variant_graph

if TYPE_CHECKING:
    from archcalc.estimate import DeviceProfile

#: ``progress(done, total)``; called with ``(0, total)`` first, before any variant runs
Progress = Callable[[int, int], None]

#: chunks in flight per worker (more are made only as results come back: nothing waits in memory)
CHUNKS_IN_FLIGHT = 2

#: fewer variants than this run inline (a process pool costs more than it saves)
INLINE_BELOW = 200


def sweep(
    spec: str | Path | Mapping[str, Any],
    grid: Mapping[str, Any],
    *,
    mode: SweepMode | str = SweepMode.PRODUCT,
    conventions: Conventions | str | Mapping[str, Any] | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    profile: bool = False,
    executor: Executor | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    chunk_size: int | None = None,
    device_profile: DeviceProfile | None = None,
    max_variants: int | None = None,
    device: str | None = None,
    precision: str = "fp32",
) -> SweepResult:
    """Analyse every variant of ``spec`` in ``grid``; see the ``archcalc.sweeps`` docstring.

    ``conventions``: a preset name, a ``Conventions``, or ``{key: value}`` over the spec's own.
    Bad grid keys, metric names and modes are errors before any variant runs; so is a grid of more
    than ``max_variants`` variants (default :data:`~archcalc.sweeps.grid.MAX_VARIANTS`, one million)
    and ``workers`` outside 1 .. :data:`~archcalc.sweeps.pool.MAX_WORKERS`.

    ``device`` (``cpu``, or a datasheet GPU such as ``h100``; it adds ``latency_ms`` to the metrics)
    says where ``latency_ms`` is estimated: ``cpu`` and no device from this machine's calibrated
    profile, a GPU from its datasheet roofline at ``precision``, unless that GPU was calibrated
    here (the calibrated profile wins). Every row's ``latency_basis`` says which. The variants are never
    all in memory: they are made from their index, in chunks, as workers become free.
    """
    from archcalc.analysis import conventions_for
    from archcalc.conventions import resolve
    from archcalc.language.loader import build_from_document, load_spec

    chosen = check_metrics(metrics)
    if device is not None and "latency_ms" not in chosen:
        chosen = (*chosen, "latency_ms")
    latency = _latency_source(device, precision, device_profile) if "latency_ms" in chosen else None
    n_workers = min(os.cpu_count() or 1, MAX_WORKERS) if workers is None else check_workers(workers)
    if chunk_size is not None:
        check_positive(chunk_size, "chunk_size")
    if max_variants is not None:
        check_positive(max_variants, "max_variants")
    base_graph = load_spec(spec) if isinstance(spec, (str, Path)) else build_from_document(spec)
    doc = base_graph.meta["document"]
    if isinstance(conventions, Conventions):
        conv = conventions
    elif isinstance(conventions, str):
        conv = resolve(conventions)
    else:
        conv = conventions_for(base_graph, None, conventions)
    variants = make_grid(grid, mode)
    plan = make_plan(doc, list(grid))
    check_attrs(plan, base_graph.layers)
    total = variants.check_size(max_variants)
    token = hashlib.sha1(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
    notes: list[str] = []
    sheet, calibrated, basis = latency if latency is not None else (None, None, None)
    if "latency_ms" in chosen and sheet is None:
        if calibrated is not None:  # a GPU calibrated here
            device_profile = calibrated
            notes.append(f"latency_ms: {basis}")
        elif device_profile is None:
            from archcalc.estimate import device_profile as cached_or_calibrated
            from archcalc.runtime.devices import CpuDevice

            device_profile, notes = cached_or_calibrated(CpuDevice())
    job = Job(doc, base_graph.file, token, plan, conv, chosen, device_profile, sheet, precision, basis)
    rows = _rows(job, variants, total, executor, n_workers, progress, chunk_size)
    meta: dict[str, Any] = {"notes": notes}
    if basis is not None:
        meta["latency_basis"] = basis
    result = SweepResult(rows, tuple(grid), chosen, conv, spec=base_graph.file, meta=meta)
    return profiled(result, job, progress) if profile else result


def _latency_source(device: str | None, precision: str,
                    device_profile: DeviceProfile | None) -> tuple[Any, DeviceProfile | None, str]:
    """(the datasheet, or None for a calibrated profile; the profile of a GPU calibrated here; what
    the rows' ``latency_basis`` says)."""
    from archcalc.estimate.datasheets import DATASHEET_LABEL, check_precision, datasheet_named
    from archcalc.estimate.ondevice import CALIBRATED_LABEL, calibrated_for

    check_precision(precision)
    name = (device or "cpu").strip().lower()
    if name == "cpu" or device_profile is not None:
        if precision != "fp32":
            raise OptionError(f"the calibrated estimator models fp32 kernels; precision {precision} is for "
                              f"datasheet devices")
        return None, None, CALIBRATED_LABEL
    sheet = datasheet_named(name)
    profile = calibrated_for(sheet)
    if profile is not None:
        if precision != "fp32":
            raise OptionError(f"{sheet.full_name} was calibrated here, and the calibrated estimator models fp32 "
                              f"kernels; precision {precision} is for datasheet estimates")
        return None, profile, f"{CALIBRATED_LABEL} ({sheet.full_name}: the calibrated profile wins over its datasheet)"
    return sheet, None, f"{DATASHEET_LABEL} ({sheet.full_name}, {precision}; {sheet.source})"


def check_positive(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise OptionError(f"{name} must be a positive integer, got {brief(value)}")
    return value


def _rows(job: Job, grid: Grid, total: int, executor: Executor | None, workers: int,
          progress: Progress | None, chunk_size: int | None) -> list[dict[str, Any]]:
    if progress is not None:
        progress(0, total)
    if executor is None and (total < INLINE_BELOW or workers == 1):
        rows = []
        step = max(1, total // 100)
        for i, variant in enumerate(grid, 1):
            rows.append(row(job, variant))
            if progress is not None and (i % step == 0 or i == total):
                progress(i, total)
        return rows
    size = chunk_size or max(1, min(500, total // (workers * 8) or 1))
    owned = executor is None
    pool: Executor = executor if executor is not None else local_pool(min(workers, -(-total // size)))
    pending: deque[Any] = deque()
    rows = []
    try:
        for start in range(0, total, size):
            pending.append(pool.submit(run_chunk, job, grid, start, min(start + size, total)))
            if len(pending) >= CHUNKS_IN_FLIGHT * workers:
                rows.extend(pending.popleft().result())
                if progress is not None:
                    progress(len(rows), total)
        while pending:
            rows.extend(pending.popleft().result())
            if progress is not None:
                progress(len(rows), total)
    except BaseException:  # an interrupt, or a worker's failure: stop now, wait for nothing
        for future in pending:
            future.cancel()
        abandon(pool, owned)
        raise
    if owned:
        pool.shutdown()
    return rows


def profiled(result: SweepResult, job: Job, progress: Progress | None, repeat: int = 20) -> SweepResult:
    """The result with the measured latency of every valid row, run one after another in this
    process (never in parallel: concurrent runs would disturb each other's timings)."""
    from archcalc import measure

    valid = sum(1 for r in result.rows if r["error"] is None)
    rows: list[dict[str, Any]] = []
    done = 0
    for old in result.rows:
        if old["error"] is not None:
            rows.append(old)
            continue
        variant = {k: old[k] for k in result.keys}
        graph = variant_graph(job, variant)
        batch = int(variant.get("batch", job.conventions.batch))
        (measured,) = measure.profile(graph, batches=(batch,), repeat=repeat, drift_probes=False)
        values = (measured.median_ms, measured.timing.p90_ms, measured.provider, measured.timing.runs)
        rows.append({**old, **dict(zip(PROFILE_COLUMNS, values, strict=True))})
        done += 1
        if progress is not None:
            progress(done, valid)
    return dataclasses.replace(result, rows=rows)
