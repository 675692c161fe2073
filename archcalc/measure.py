"""Profiles: time a model on ONNX Runtime, per layer when asked, next to its latency estimate.

The one module that combines the runtime (sessions, timing, kernel mapping) with the estimator
(device profiles, drift probes, the latency model); nothing in either imports it.

- **Device.** ``device="cuda"`` asks for the CUDA execution provider with IO binding, ``"cpu"`` the
  CPU provider, ``"auto"`` CUDA when it can work, else CPU (see :mod:`archcalc.runtime.devices`).
  The provider really used is read back from the session and recorded with every result.
- **Timing.** Warm-up runs, then timed runs, summarised as median, p90 and min with the run count,
  thread settings, ORT version and CPU/GPU name (:mod:`archcalc.runtime.timing`).
- **Per-layer.** A second session with ORT's profiler (the profiler costs a few microseconds per
  kernel, so it never touches the timed session) and its optimized graph saved; every kernel is
  mapped back to a layer name through ORT's fusions (:mod:`archcalc.runtime.kernelmap`).

Library code never prints: ``progress(stage, done, total)`` reports progress to the caller.
onnxruntime is imported inside the functions that need it.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archcalc.errors import ArchcalcError, DeviceError
from archcalc.estimate.calibration import check_profile_matches
from archcalc.estimate.model import estimate_latency
from archcalc.estimate.probes import Probes, drift_of
from archcalc.runtime.devices import (
    Device,
    DeviceChoice,
    choose_device,
    cpu_count,
    cpu_name,
    device_for_provider,
    load_average,
)
from archcalc.runtime.kernelmap import LAYOUT, UNMAPPED, KernelMap, OptNode, map_kernels, node_layers
from archcalc.runtime.prepare import Prepared, check_batches, model_batch, prepare
from archcalc.runtime.results import LayerProfile, ProfileResult
from archcalc.runtime.session import Runner, feeds_for, open_session
from archcalc.runtime.timing import DEFAULT_REPEAT, DEFAULT_WARMUP, Progress, Timing, time_runner
from archcalc.runtime.trace import kernel_times, read_optimized, trace_events

if TYPE_CHECKING:
    from archcalc.estimate.deviceprofile import DeviceProfile
    from archcalc.estimate.model import Estimate
    from archcalc.ir import Graph
    from archcalc.report import Report

#: profile runs for per-layer times (the profiler writes one event per kernel and run)
DEFAULT_PROFILE_RUNS = 20


def _machine(device: Device) -> tuple[str, str | None, str]:
    """CPU name, GPU name (on a GPU), and the name of the device that ran."""
    cpu = cpu_name()
    gpu = device.gpu_name()
    return cpu, gpu, device.display_name(cpu, gpu)


def profile(
    source: str | Path | Graph,
    *,
    device: Device | str = "auto",
    batches: Sequence[int] | None = None,
    warmup: int = DEFAULT_WARMUP,
    repeat: int = DEFAULT_REPEAT,
    threads: int | None = None,
    per_layer: bool = False,
    progress: Progress | None = None,
    device_profile: DeviceProfile | None = None,
    drift_probes: bool = True,
    profile_runs: int | None = None,
    max_memory: int | None = None,
    variables: Mapping[str, Any] | None = None,
    weights: str = "auto",
) -> list[ProfileResult]:
    """Time ``source`` (spec path or bundled name, Graph, or .onnx path) at each batch size
    (default: 1, or an ONNX model's own fixed batch).

    With ``device_profile`` (see ``archcalc.estimate``), each result carries the estimate; with
    ``drift_probes`` the device's peaks are re-measured briefly between blocks of timed runs and
    the estimate is scaled by how far they drifted from the calibration.
    """
    import onnxruntime as ort

    _check_counts(warmup, repeat, threads)
    batches = _batches(source, batches)
    check_batches(source, batches, variables=variables, max_memory=max_memory)  # all, before timing any
    choice = choose_device(device)
    if device_profile is not None:
        check_profile_matches(device_profile, choice.device, threads)
    runs_profiled = profile_runs if profile_runs is not None else min(repeat, DEFAULT_PROFILE_RUNS)
    per_batch = warmup + repeat + ((warmup + runs_profiled) if per_layer else 0)
    total = per_batch * len(batches)
    results = []
    probes = Probes(choice, threads) if device_profile is not None and drift_probes else None
    for index, batch in enumerate(batches):
        prepared = prepare(source, batch, variables=variables, weights=weights, max_memory=max_memory)
        stage = f"{prepared.name} batch {batch}"
        session, choice = _open(prepared, choice, threads)
        runner = Runner(session, feeds_for(session, batch))
        load = load_average()
        timing, drift_samples = _time(runner, warmup, repeat, probes, progress, stage, index * per_batch, total)
        provider = runner.provider
        del runner, session
        profiled_ms = None
        notes = list(choice.notes) + prepared.notes
        unstable = timing.stability_note()
        if unstable:
            notes.insert(0, unstable)
        kernel_map = None
        per_layer_ms: dict[str, float] = {}
        kernels_of: dict[str, list[str]] = {}
        if per_layer:
            per_layer_ms, kernel_map, profiled_ms, kernels_of = _profile_layers(
                prepared, choice, threads, batch, warmup, runs_profiled, progress, stage,
                index * per_batch + warmup + repeat, total)
        estimate: Estimate | None = None
        layer_estimate: Estimate | None = None
        drift: dict[str, float] = {}
        band = None
        if device_profile is not None:
            estimate, layer_estimate, drift = _estimates(prepared, device_profile, batch, drift_samples, per_layer)
            band = estimate.band(device_profile, drift_samples)
            note = _drift_note(drift)
            if note:
                notes.append(note)
        layers = _layer_rows(prepared.report, per_layer, per_layer_ms, kernel_map, kernels_of,
                             layer_estimate if per_layer else estimate)
        ran_on = device_for_provider(provider)
        cpu, gpu, device_name = _machine(ran_on)
        results.append(ProfileResult(
            name=prepared.name, source=prepared.source, batch=batch, device=ran_on.name,
            provider=provider, providers=tuple(choice.providers), device_name=device_name, cpu=cpu, gpu=gpu,
            ort_version=ort.__version__, threads=threads, intra_op_threads=threads or cpu_count(),
            io_binding=True, timing=timing, estimate_ms=estimate.total_ms if estimate else None,
            layers=layers, profiled_kernels_ms=profiled_ms, profile_runs=runs_profiled if per_layer else 0,
            drift=drift, probes=tuple(drift_samples) if estimate else (),
            calibration_probes=dict(device_profile.probes) if estimate and device_profile else {},
            estimate_compute_part_ms=estimate.compute_part_ms if estimate else None,
            estimate_overhead_part_ms=estimate.overhead_part_ms if estimate else None,
            params=prepared.report.totals.params, macs=prepared.report.totals.macs,
            notes=tuple(notes), estimate_low_ms=band.low_ms if band else None,
            estimate_high_ms=band.high_ms if band else None, band_basis=band.basis if band else None,
            load_average=load, cores=cpu_count(),
        ))
    return results


def _check_counts(warmup: int, repeat: int, threads: int | None) -> None:
    if warmup < 0 or repeat < 1:
        raise ArchcalcError("warmup must be >= 0 and repeat >= 1")
    if threads is not None and threads < 1:
        raise ArchcalcError("threads must be at least 1")


def check_inputs(source: str | Path | Graph, batches: Sequence[int] | None = None, *,
                 variables: Mapping[str, Any] | None = None, max_memory: int | None = None) -> Sequence[int]:
    """The batches ``profile`` will run, each checked (fixed batch, memory) before any work: the
    command line calls it before a calibration."""
    checked = _batches(source, batches)
    check_batches(source, checked, variables=variables, max_memory=max_memory)
    return checked


def _batches(source: str | Path | Graph, batches: Sequence[int] | None) -> Sequence[int]:
    """The batch sizes asked for, checked; by default 1, or an ONNX model's own batch."""
    if batches is None:
        from archcalc.ir import Graph

        is_onnx = not isinstance(source, Graph) and str(source).lower().endswith(".onnx")
        batches = (model_batch(str(source)),) if is_onnx else (1,)
    if not batches or any(not isinstance(b, int) or b < 1 for b in batches):
        raise ArchcalcError(f"batch sizes must be positive integers, got {list(batches)}")
    return batches


def _open(prepared: Prepared, choice: DeviceChoice, threads: int | None) -> tuple[Any, DeviceChoice]:
    """The timed session, and the device choice it ran on (an automatic choice whose session
    did not come up on CUDA falls back to the CPU, labelled as such)."""
    try:
        return open_session(prepared.payload, choice, threads,
                            disabled_optimizers=prepared.disabled_optimizers), choice
    except DeviceError as exc:
        fallback = choice.fallback(str(exc))
        if fallback is None:
            raise
    return open_session(prepared.payload, fallback, threads,
                        disabled_optimizers=prepared.disabled_optimizers), fallback


def _time(runner: Runner, warmup: int, repeat: int, probes: Probes | None, progress: Progress | None, stage: str,
          offset: int, total: int) -> tuple[Timing, list[dict[str, float]]]:
    """The timed runs, and the drift probes' measurements between their blocks and after them."""
    samples: list[dict[str, float]] = []
    between: Callable[[], None] | None = None
    if probes is not None:
        active = probes

        def between_blocks() -> None:
            samples.append(active.measure())

        between = between_blocks
    timing = time_runner(runner, warmup, repeat, progress=progress, stage=stage, offset=offset, total=total,
                         between=between, blocks=min(5, repeat) if probes is not None else 1)
    if probes is not None:
        samples.append(probes.measure())
    return timing, samples


def _estimates(prepared: Prepared, device_profile: DeviceProfile, batch: int,
               drift_samples: Sequence[Mapping[str, float]], per_layer: bool,
               ) -> tuple[Estimate, Estimate | None, dict[str, float]]:
    """The estimate of the run, the per-layer one to compare with profiled kernels (the
    profiler's cost added), and the drift both are scaled by."""
    drift = drift_of(device_profile, drift_samples) if drift_samples else {}
    estimate = estimate_latency(prepared.graph, device_profile, batch=batch, report=prepared.report, drift=drift)
    layer_estimate = None
    if per_layer:
        layer_estimate = estimate_latency(prepared.graph, device_profile, batch=batch, report=prepared.report,
                                          drift=drift, as_profiled=True)
    return estimate, layer_estimate, drift


def _drift_note(drift: Mapping[str, float]) -> str | None:
    """A note when the machine ran more than 15% off its calibrated speed."""
    far = {k: v for k, v in drift.items() if abs(v - 1.0) > 0.15 and k != "contention"}
    notes = []
    if far:
        notes.append("the machine ran at " + ", ".join(f"{k} x{v:.2f}" for k, v in far.items())
                     + " of its calibrated speed during this measurement: the estimate is scaled, but compare "
                       "with care")
    if abs(drift.get("contention", 1.0) - 1.0) > 0.15:
        notes.append(f"other runnable tasks shared the cores during this measurement: a run longer than a "
                     f"scheduler slice is estimated x{drift['contention']:.2f} slower (the run queue, or the "
                     f"probe's preemption where the OS has no run queue to read)")
    return "; ".join(notes) or None


def _layer_rows(report: Report, per_layer: bool, measured: Mapping[str, float], kmap: KernelMap | None,
                kernels_of: Mapping[str, list[str]], estimate: Estimate | None) -> tuple[LayerProfile, ...]:
    if not per_layer and estimate is None:
        return ()
    rows = []
    for record in report.layers:
        est = estimate.layers.get(record.name) if estimate is not None else None
        fused = kmap.fused.get(record.name) if kmap is not None else None
        got = measured.get(record.name) if per_layer else None
        if per_layer and got is None:
            got = 0.0
        rows.append(LayerProfile(record.name, record.kind, got, est.ms if est else None, fused,
                                 tuple(kernels_of.get(record.name, ())), est.bound if est else None))
    extra = [LAYOUT, UNMAPPED]
    for name in extra:
        est_ms = estimate.layers[name].ms if estimate is not None and name in estimate.layers else None
        got = measured.get(name) if per_layer else None
        if got is None and est_ms is None:
            continue
        rows.append(LayerProfile(name, "runtime", got if got is not None else (0.0 if per_layer else None),
                                 est_ms, None, tuple(kernels_of.get(name, ())),
                                 estimate.layers[name].bound if estimate is not None and name in estimate.layers
                                 else None))
    return tuple(rows)


def _profile_layers(prepared: Prepared, choice: DeviceChoice, threads: int | None, batch: int, warmup: int,
                    runs: int, progress: Progress | None, stage: str, offset: int, total: int,
                    ) -> tuple[dict[str, float], KernelMap, float, dict[str, list[str]]]:
    with tempfile.TemporaryDirectory(prefix="archcalc-profile-") as tmp:
        optimized = str(Path(tmp) / "optimized.onnx")
        session = open_session(prepared.payload, choice, threads, profile_prefix=str(Path(tmp) / "ort"),
                               optimized_path=optimized, disabled_optimizers=prepared.disabled_optimizers)
        runner = Runner(session, feeds_for(session, batch))
        time_runner(runner, warmup, runs, progress=progress, stage=f"{stage} (per-layer profile)",
                    offset=offset, total=total)
        del runner
        events = trace_events(session)
        opt_nodes = read_optimized(optimized) if Path(optimized).exists() else []
    per_run, ops = kernel_times(events, runs)
    if not opt_nodes:
        opt_nodes = [OptNode(name, op) for name, op in ops.items()]
    known = {n.name for n in opt_nodes}
    opt_nodes += [OptNode(name, op) for name, op in ops.items() if name not in known]
    kmap = map_kernels(prepared.model, opt_nodes, node_layers(prepared.model, prepared.graph.layers))
    layer_runs: list[dict[str, float]] = []
    for run in per_run:
        sums: dict[str, float] = {}
        for kernel, us in run.items():
            layer = kmap.kernels.get(kernel, UNMAPPED)
            sums[layer] = sums.get(layer, 0.0) + us / 1e3
        layer_runs.append(sums)
    names = {name for run in layer_runs for name in run}
    medians = {name: statistics.median([run.get(name, 0.0) for run in layer_runs]) for name in names}
    totals = [sum(run.values()) for run in layer_runs]
    kernels_of: dict[str, list[str]] = {}
    for kernel, layer in kmap.kernels.items():
        kernels_of.setdefault(layer, []).append(kernel)
    return medians, kmap, statistics.median(totals) if totals else 0.0, kernels_of

