"""Calibration: the micro-benchmark suite run on this machine, reduced to a device profile. Blocks
of measurements follow a drift probe and are scaled to the calibration's median probe; kernels
are measured in rounds and every figure is the median of its blocks (``calsamples``).
onnxruntime is imported inside ``calibrate``."""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Any

from archcalc.errors import CalibrationError
from archcalc.estimate import fusedact
from archcalc.estimate.calsamples import SCREENED, UNSCALED, Samples, points_to_remeasure
from archcalc.estimate.deviceprofile import DeviceProfile, reorder_units_ns, unit_cost_ns
from archcalc.estimate.kernels import SMALL_KERNEL_US
from archcalc.estimate.layerunits import measure_units, unit_counts, unit_figures
from archcalc.estimate.layout import timed_conv
from archcalc.estimate.microbench import (
    FIXED_CHAINS,
    Bench,
    chain_model,
    conv_model,
    copy_chain,
    gemm_model,
    kernel_runs_of,
    ops_model,
    reorder_output_runs,
    reorder_points,
    stream_model,
)
from archcalc.estimate.noise import Screened, busy_note, noise_figures, screen
from archcalc.estimate.probes import Probes
from archcalc.estimate.samples import (
    PLANS,
    SuitePlan,
    chunks_by_bytes,
    conv_samples,
    conv_working_set_bytes,
    gemm_samples,
    gemm_working_set_bytes,
    last_level_cache_bytes,
    stream_shapes,
)
from archcalc.estimate.shapes import F32, ConvShape, GemmShape
from archcalc.runtime.devices import Device, choose_device, cpu_count, cpu_name, device_for_provider
from archcalc.runtime.providers import CPU
from archcalc.runtime.timing import Progress, percentile

#: the MatMul whose speed is the device's peak (unless a timed conv or GEMM kernel ran faster)
_MATMUL = GemmShape(1024, 1024, 1024)
#: seconds of kernel blocks between two probes at most (a probe takes ~0.1 s: one before every block
#: was half of a default calibration's time; a block is scaled by the probes on both sides of it)
PROBE_EVERY_S = 0.5
#: kernels shorter than this (microseconds) are too short to raise the measured peak
PEAK_MIN_US = 50.0
#: the percentile of timed kernel throughputs that counts as the peak (the fastest few are glitches)
PEAK_PERCENTILE = 95

def plan_of(mode: str) -> SuitePlan:
    if mode not in PLANS:
        raise CalibrationError(f"no calibration mode {mode!r} (modes: {', '.join(PLANS)})")
    return PLANS[mode]


def announcement(device_name: str, mode: str) -> str:
    """What a calibration says before it starts (through ``progress(text, 0, steps)``)."""
    what = "this CPU" if device_name == "cpu" else f"this {device_name} device"
    return f"calibrating {what}, {plan_of(mode).about}; cached for next time"


def calibrate(device: Device | str = "auto", threads: int | None = None, *, quick: bool = False,
              mode: str = "default", progress: Progress | None = None) -> DeviceProfile:
    """Measure this machine with micro-benchmarks and return its device profile (not cached:
    see ``device_profile``). ``mode`` is ``default`` (a few tens of seconds, every micro-benchmark
    model's working set capped so the whole calibration stays well under 1 GiB), ``thorough``
    (the full suite: minutes and several GiB) or ``quick`` (smoke runs; ``quick=True`` too).
    Before it starts, ``progress(announcement, 0, steps)`` says what is coming.

    Blocks of measurements follow a probe of the machine's current speed (a kernel block one at
    most every ``PROBE_EVERY_S``) and are scaled to the calibration's median probe (kernels and
    copies by the compute probe, fixed costs by the overhead probe; kernels under
    ``SMALL_KERNEL_US`` are taken as measured); fixed costs, op costs and kernels are measured in
    ``plan.kernel_rounds`` rounds seconds apart, and each figure is the median of its blocks, so
    neither a burst of load from another process nor one CPU speed phase ends up in the profile.
    """
    import onnxruntime as ort

    plan = plan_of("quick" if quick else mode)
    choice = choose_device(device)
    if not choice.device.estimable:
        # the kernel classes and layout rules below describe ORT's CPU kernels
        raise CalibrationError("calibration models ORT's CPU kernels; on a GPU, time models with "
                               "archcalc profile (estimates are CPU-only for now)")
    started = time.perf_counter()
    bench = Bench(choice, threads)
    reps = plan.repeats
    cap = plan.max_model_bytes
    convs = [s for s in conv_samples(plan.conv_scale) if conv_working_set_bytes(s) <= cap]
    gemms = [s for s in gemm_samples(plan.gemm_scale) if gemm_working_set_bytes(s) <= cap]
    streams = stream_shapes(last_level_cache_bytes(), plan.stream_bytes)
    # measured a few at a time, with shapes of similar size together: a small kernel next to
    # large ones would find its weights and input evicted, which in a small network they are not
    conv_order = sorted(range(len(convs)), key=lambda i: convs[i].flops)
    gemm_order = sorted(range(len(gemms)), key=lambda i: gemms[i].k * gemms[i].n)
    conv_chunks = chunks_by_bytes(conv_order, [conv_working_set_bytes(s) for s in convs], 8, cap)
    gemm_chunks = chunks_by_bytes(gemm_order, [gemm_working_set_bytes(s) for s in gemms], 4, cap)
    steps = 3 + reps * (1 + plan.kernel_rounds * (2 + len(conv_chunks) + len(gemm_chunks)))
    done = 0
    if progress:
        progress(announcement(choice.device.name, plan.name), 0, steps)

    def tick(what: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(f"calibrate: {what}", done, steps)

    probes = Probes(choice, threads)
    raw = Samples()
    last_probe = 0.0

    def probe() -> None:
        nonlocal last_probe
        raw.log.append(probes.measure(5))
        last_probe = time.perf_counter()

    probe()
    tick("probes")
    ops, op_units = ops_model()
    units = {**op_units, **unit_counts()}  # and the one-layer unit models (layerunits.py)
    blocks = [("conv", chunk) for chunk in conv_chunks] + [("gemm", chunk) for chunk in gemm_chunks]
    for _ in range(reps):
        probe()
        _measure_bandwidth(bench, raw, plan.copy_sizes)
        _measure_stream(bench, raw, streams)
        tick("bandwidth")
        # fixed costs, op costs, conv and gemm kernels (profiled) in rounds seconds apart (a point's
        # figure is the median of its rounds), a probe before a block every PROBE_EVERY_S but not
        # before one of kernels too short for the thread pool (taken as measured); each model is
        # built just before it runs and dropped after
        for _ in range(plan.kernel_rounds):
            probe()
            _measure_overheads(bench, raw)
            tick("kernel overheads")
            probe()
            _measure_op_costs(bench, raw, ops, units)
            tick("op costs")
            for family, chunk in blocks:
                if (time.perf_counter() - last_probe >= PROBE_EVERY_S
                        and not raw.all_small([f"{family}:{i}" for i in chunk])):
                    probe()
                model, names = (conv_model([convs[i] for i in chunk]) if family == "conv"
                                else gemm_model([gemms[i] for i in chunk]))
                _measure_kernels(bench, raw, family, chunk, model, names)
                del model
                tick(f"{family} kernels")
            probe()
            _measure_matmul(bench, raw)
    screened = _remeasure(bench, raw, probe, convs, gemms, cap, ops, units)
    tick("re-measured the points whose repeats disagreed")
    probe()
    figures = _figures(raw, convs, gemms, units, plan.copy_sizes, streams)
    tick("done")
    provider = CPU
    profile = DeviceProfile(
        device=choice.device.name, provider=provider, ort_version=ort.__version__, cpu=cpu_name(),
        gpu=device_for_provider(provider).gpu_name(), threads=threads, intra_op_threads=threads or cpu_count(),
        created=time.time(), seconds=time.perf_counter() - started, **figures, mode=plan.name,
        notes=[f"{plan.name} suite: {len(figures['conv'])} conv and {len(figures['gemm'])} gemm shapes, "
               f"{reps} repeat(s) each, kernels in {plan.kernel_rounds} round(s), {len(raw.log)} probes",
               screened.note(len(screened.kept) + len(screened.dropped)), *busy_note(raw.log, cpu_count())],
        noise=noise_of(raw, screened),
    )
    profile.validate()
    return profile


def _measure_overheads(bench: Bench, raw: Samples) -> None:
    """Fixed costs: wall time of chains of 1 and 17 tiny kernels; the profiler's own cost."""
    raw.add("run", 1e6 * bench.wall(chain_model("Relu", 1, (1, 16)), runs=300, warmup=30), "overhead")
    for key, (op, shape) in FIXED_CHAINS.items():
        one = bench.wall(chain_model(op, 1, shape), runs=300, warmup=30)
        many = bench.wall(chain_model(op, 17, shape), runs=200, warmup=20)
        raw.add(f"fixed:{key}", max(1e6 * (many - one) / 16, 0.05), "overhead")
    prof = bench.kernels(chain_model("Relu", 33, (1, 16)), runs=20)
    if prof:
        raw.add("profiled_relu", statistics.median(prof.values()), "overhead")
    prof = bench.kernels(chain_model("Conv", 17, FIXED_CHAINS["conv"][1]), runs=20)
    if prof:
        raw.add("profiled_conv", statistics.median(prof.values()), "overhead")


def _measure_bandwidth(bench: Bench, raw: Samples, sizes: Sequence[int]) -> None:
    """Bandwidth by working set: a chain of copies per size (each input stays in cache, as a
    layer's input does when the layer before it just wrote it; ``copy_chain``)."""
    for size in sizes:
        model = chain_model("Relu", copy_chain(size), (1, size))
        raw.add(f"copy:{size}", 1e6 * bench.wall(model, runs=max(5, min(200, (1 << 22) // size)), warmup=3),
                "compute")


def _measure_stream(bench: Bench, raw: Samples, shapes: Sequence[GemmShape]) -> None:
    """Matrix-vector products, one model each (built, run, dropped: one in memory at a time):
    the profiled kernel time of reading their weights, in cache and from memory."""
    for i, shape in enumerate(shapes):
        model, names = stream_model(shape)
        runs = bench.kernel_runs(model, runs=7)
        del model
        got = kernel_runs_of(runs, names[0])
        if got:
            raw.add(f"stream:{i}", statistics.median(got), "compute", got)


def _measure_op_costs(bench: Bench, raw: Samples, ops: Any, units: Mapping[str, tuple[str, float]],
                      matmul: bool = True) -> None:
    """Per-element costs of the ops in ``ops_model`` (with the time of each profiled run, the
    repeats :func:`_remeasure` judges), and the peak of a 1024^3 MatMul."""
    runs = bench.kernel_runs(ops, runs=7)
    for name, (key, _count) in units.items():
        got = reorder_output_runs(bench) if name == "ReorderOutput" else kernel_runs_of(runs, name)
        if got:
            raw.add(f"unit:{key}", statistics.median(got), "compute", got)
    for n, got in (reorder_points(bench) if "ReorderOutput" in units else {}).items():
        raw.add(f"unit:reorder@{n}", statistics.median(got), "compute", got)
    measure_units(units, lambda m: bench.kernel_runs(m, runs=7), lambda k, v, got: raw.add(k, v, "compute", got))
    if matmul:
        _measure_matmul(bench, raw)


def _measure_matmul(bench: Bench, raw: Samples) -> None:
    """The 1024^3 MatMul, measured after several probes: its median sets the peak."""
    raw.add("matmul", bench.wall(gemm_model([_MATMUL])[0], runs=10), "compute")


def _measure_kernels(bench: Bench, raw: Samples, family: str, chunk: Sequence[int], model: Any,
                     names: Sequence[str]) -> None:
    """Profiled kernel times of one block of conv or gemm shapes (``family:index``), with each
    profiled run's (the repeats :func:`_remeasure` judges). A kernel under ``SMALL_KERNEL_US``:
    its median, as measured (``UNSCALED``). A larger one runs on the thread pool: its mean without
    the slowest run (a run of many kernels takes the sum of their means), by the compute probe."""
    runs = bench.kernel_runs(model, runs=5)
    for i, name in zip(chunk, names, strict=True):
        got = kernel_runs_of(runs, name)
        if got is not None:
            pooled = statistics.median(got) >= SMALL_KERNEL_US
            raw.add(f"{family}:{i}", statistics.fmean(sorted(got)[:-1] or got) if pooled else statistics.median(got),
                    "compute" if pooled else UNSCALED, got)


def _remeasure(bench: Bench, raw: Samples, probe: Any, convs: Sequence[ConvShape], gemms: Sequence[GemmShape],
               cap: int, ops: Any = None, units: Mapping[str, tuple[str, float]] | None = None) -> Screened:
    """Measure again (a probe first) every point whose repeats disagreed; keep the new
    measurement when its repeats agree, else drop the point."""
    keys = points_to_remeasure(raw)
    again = Samples()
    again.log = raw.log  # the same probes: each block follows one
    for family in ("conv", "gemm"):
        index = [int(k.split(":")[1]) for k in keys if k.startswith(family + ":")]
        shapes: Sequence[Any] = convs if family == "conv" else gemms
        size = conv_working_set_bytes if family == "conv" else gemm_working_set_bytes
        for chunk in chunks_by_bytes(index, [size(s) for s in shapes], 4, cap) if index else []:
            probe()
            model, names = (conv_model([convs[i] for i in chunk]) if family == "conv"
                            else gemm_model([gemms[i] for i in chunk]))
            _measure_kernels(bench, again, family, chunk, model, names)
    if units and any(k.startswith("unit:") for k in keys):
        probe()
        _measure_op_costs(bench, again, ops, units, matmul=False)
    if keys:
        probe()  # the probe after the last re-measured block
    screened = screen({k: raw.best_repeats(k) for k in raw.values if k.split(":")[0] in SCREENED},
                      {k: again.best_repeats(k) for k in again.values})
    # a unit cost has no neighbour to stand in for it: one that disagrees twice keeps both
    # measurements (their median) instead of being dropped
    merged = {k: [*raw.repeats(k), *again.repeats(k)] for k in screened.dropped
              if k.startswith("unit:") and k in again.values}
    for key in screened.remeasured:
        if key in merged:
            raw.values[key] = raw.values[key] + again.values[key]
        else:
            raw.replace(key, again if key in screened.kept else Samples())
    return Screened({**screened.kept, **merged}, screened.remeasured,
                    tuple(k for k in screened.dropped if k not in merged))


def noise_of(raw: Samples, screened: Screened) -> dict[str, float]:
    """The noise calibration measured (see :func:`~archcalc.estimate.noise.noise_figures`)."""
    return noise_figures(raw.log, screened, Probes.NAMES)


def _figures(raw: Samples, convs: Sequence[ConvShape], gemms: Sequence[GemmShape],
             units: Mapping[str, tuple[str, float]], copy_sizes: Sequence[int],
             streams: Sequence[GemmShape] = ()) -> dict[str, Any]:
    """The device profile's figures from the raw samples, scaled to the median probe."""
    ref = raw.reference()

    def get(key: str, default: float = 0.0) -> float:
        value = raw.get(key, ref)
        return default if value is None else value

    run_us = get("run")
    fixed = {key: max(get(f"fixed:{key}", 0.05), 0.05) for key in FIXED_CHAINS}
    if {"reorder", "conv"} <= set(fixed):  # the pair chain runs a conv, an elementwise op, two reorders
        fixed["reorder"] = max((fixed["reorder"] - fixed["conv"] - fixed["ew"]) / 2, fixed["ew"])
    profiler_us = max(get("profiled_relu") - fixed["ew"], 0.0)
    profiler_heavy_us = max(get("profiled_conv") - fixed["conv"], profiler_us)
    bandwidth = []
    for size in copy_sizes:
        moved = 2 * size * F32
        per_copy = (get(f"copy:{size}") - run_us) / copy_chain(size) - fixed["ew"]
        bandwidth.append((float(moved), moved / max(per_copy, 0.05) / 1e3))
    stream = []
    for i, g in enumerate(streams):
        value = raw.get(f"stream:{i}", ref)
        if value is not None:
            weights = float(F32 * g.k * g.n)
            stream.append((weights, weights / max(value - profiler_heavy_us - fixed["gemm"], 0.05) / 1e3))
    unit_ns, unit_fixed = unit_figures(lambda key: raw.get(key, ref), profiler_us, fixed["ew"])
    fixed.update(unit_fixed)
    for _name, (key, count) in units.items():
        value = raw.get(f"unit:{key}", ref) if not _name.startswith("layer:") else None
        if value is not None and not key.startswith(fusedact.PREFIX):
            prof_us = profiler_heavy_us if key == "pool" else profiler_us
            unit_ns[key] = unit_cost_ns(key, value - prof_us, count, fixed, bandwidth)
    unit_ns.update(fusedact.fused_figures(lambda key: raw.get(key, ref)))
    unit_ns.update(reorder_units_ns(lambda key: raw.get(key, ref), profiler_us, fixed, bandwidth))
    matmul_gflops = _MATMUL.flops / max(get("matmul"), 1e-9) / 1e9
    measured: list[tuple[str, list[float], float]] = []  # (family, shape row, kernel us)
    for i, s in enumerate(convs):
        value = raw.get(f"conv:{i}", ref)
        if value is not None:
            measured.append(("conv", [s.cin, s.cout, s.groups, s.kernel, s.stride, s.out, s.batch],
                             max(value - profiler_heavy_us, 0.05)))
    for i, g in enumerate(gemms):
        value = raw.get(f"gemm:{i}", ref)
        if value is not None:
            measured.append(("gemm", [g.m, g.k, g.n], max(value - profiler_heavy_us, 0.05)))

    def flops_of(family: str, row: list[float]) -> int:
        return (timed_conv(ConvShape(*(int(v) for v in row))) if family == "conv"
                else GemmShape(*(int(v) for v in row))).flops

    # the measured peak: the MatMul's, or the 95th percentile of the kernels long enough to time
    # when that is faster (ORT's blocked convs beat its GEMM); no point is credited with more, so
    # a glitch (a kernel too short to time, or one timed impossibly fast) stays at the peak
    timed = [flops_of(f, row) / us for f, row, us in measured if us >= PEAK_MIN_US]
    peak = max(matmul_gflops * 1e3, percentile(timed, PEAK_PERCENTILE) if timed else 0.0)  # FLOP per us
    conv_points = [[*row, max(us, flops_of(f, row) / peak)] for f, row, us in measured if f == "conv"]
    gemm_points = [[*row, max(us, flops_of(f, row) / peak)] for f, row, us in measured if f == "gemm"]
    return {"run_us": run_us, "fixed_us": fixed, "profiler_us": profiler_us, "profiler_heavy_us": profiler_heavy_us,
            "bandwidth": bandwidth, "stream": stream, "unit_ns": unit_ns, "matmul_gflops": matmul_gflops,
            "peak_gflops": peak / 1e3,
            "conv": conv_points,
            "gemm": gemm_points, "probes": ref}
