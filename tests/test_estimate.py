"""Estimates: the device-profile cache (round trip, corruption and staleness detected and rebuilt),
the estimator on synthetic device profiles against hand-computed numbers (fusion, layout
reorders, roofline of GEMMs, drift, profiler cost), and a calibration run on a few shapes."""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from pathlib import Path
from typing import Any

import onnxruntime as ort
import pytest

from archcalc import estimate as E
from archcalc.estimate import (
    ConvShape,
    DeviceProfile,
    GemmShape,
    calibration,
    deviceprofile,
    estimate_latency,
    layout,
    suite,
)
from archcalc.language.loader import load_spec
from archcalc.runtime import LAYOUT, cpu_name

CONV_GFLOPS = 100.0  # -> 1e5 FLOP per microsecond
GEMM_GFLOPS = 10.0  # -> 1e4
BANDWIDTH = 10.0  # GB/s -> 1e4 bytes per microsecond


def synthetic(fixed: float = 1.0, run: float = 5.0, profiler: float = 0.0, heavy: float = 0.0,
              **overrides: Any) -> DeviceProfile:
    """A device where every convolution runs at 100 GFLOP/s and every GEMM at 10 GFLOP/s beyond a
    fixed 1 us per kernel, copies at 10 GB/s, and the unit costs are round numbers."""
    convs = [ConvShape(16, 16, 1, 3, 1, 8, 1), ConvShape(64, 64, 1, 3, 1, 16, 2), ConvShape(3, 32, 1, 7, 2, 32, 1),
             ConvShape(32, 64, 1, 1, 1, 16, 1), ConvShape(32, 32, 32, 3, 1, 16, 1), ConvShape(128, 128, 1, 3, 1, 8, 8)]
    gemms = [GemmShape(1, 1024, 1024), GemmShape(8, 512, 512), GemmShape(64, 256, 256), GemmShape(1, 256, 64)]
    block = layout.nchwc_block()
    conv_rows = []
    for s in convs:
        ran = E.executed_conv(s, block, False)[0]
        conv_rows.append([s.cin, s.cout, s.groups, s.kernel, s.stride, s.out, s.batch, fixed + ran.flops / 1e5])
    data = {
        "device": "cpu", "provider": "CPUExecutionProvider", "ort_version": ort.__version__, "cpu": cpu_name(),
        "gpu": None, "threads": None, "intra_op_threads": 2, "created": time.time(), "seconds": 1.0,
        "run_us": run, "fixed_us": dict.fromkeys(E.FIXED_CHAINS, fixed), "profiler_us": profiler, "profiler_heavy_us": heavy,
        "bandwidth": [[1e3, BANDWIDTH], [1e9, BANDWIDTH]],
        "unit_ns": {"lrn": 10.0, "pool": 1.0, "softmax": 2.0, "transcendental": 3.0, "reorder": 0.5,
                    "resize_nearest": 0.4, "resize_linear": 1.5, "resize_cubic": 60.0},
        "matmul_gflops": 500.0, "conv": conv_rows,
        "gemm": [[g.m, g.k, g.n, fixed + g.flops / 1e4] for g in gemms],
        "probes": {"compute": 1e-3, "overhead": 1e-5}, "suite": E.SUITE_VERSION, "schema_version": E.SCHEMA_VERSION,
    }
    data.update(overrides)
    return DeviceProfile.from_dict(data)


@pytest.fixture(autouse=True)
def block16(monkeypatch: pytest.MonkeyPatch) -> None:
    """The NCHWc block of an AVX-512 CPU, wherever the test runs."""
    monkeypatch.setattr(layout, "nchwc_block", lambda: 16)


CONV_FC = {"name": "convfc", "input": [16, 8, 8], "layers": [
    {"name": "c", "type": "conv", "filters": 16, "kernel": 3, "padding": 1},
    {"name": "r", "type": "relu"},
    {"name": "f", "type": "fc", "units": 10}]}


def test_hand_computed_conv_fc() -> None:
    """run 5 + conv (1 + 294,912 FLOP / 1e5) + fc (flatten 1 + gemm 1 + 40,960 weight bytes / 1e4:
    memory-bound, above 20,480 FLOP / 1e4) + two reorders (1 + 1,024 elements x 0.5 ns each)."""
    graph = load_spec(CONV_FC)
    est = estimate_latency(graph, synthetic(), batch=1)
    conv = est.layers["c"]
    assert conv.ms * 1e3 == pytest.approx(1 + 2.94912) and conv.bound == "compute" and conv.kernels == 1
    assert est.layers["r"].bound == "fused" and est.layers["r"].fused_into == "c" and est.layers["r"].ms == 0
    fc = est.layers["f"]
    assert fc.ms * 1e3 == pytest.approx(2 + 4.096) and fc.bound == "memory" and fc.kernels == 2
    layout = est.layers[LAYOUT]
    assert layout.kernels == 2 and layout.ms * 1e3 == pytest.approx(2 * (1 + 0.512))
    assert est.run_ms * 1e3 == pytest.approx(5)
    assert est.total_ms * 1e3 == pytest.approx(5 + 3.94912 + 6.096 + 3.024)


def test_drift_scales_work_and_overhead_parts() -> None:
    graph = load_spec(CONV_FC)
    drift = {"compute": 2.0, "overhead": 1.5}
    # batch 1: every kernel is small (runs on one thread): all of it follows the overhead probe
    est = estimate_latency(graph, synthetic(), batch=1, drift=drift)
    assert est.total_ms * 1e3 == pytest.approx(1.5 * (5 + 3.94912 + 6.096 + 3.024))
    assert est.drift == drift
    # batch 64: the work of each kernel (conv 188.7 us, gemm 131.1 us compute-bound, reorders
    # 32.8 us each) follows the compute probe, fixed costs and the run the overhead probe
    est = estimate_latency(graph, synthetic(), batch=64, drift=drift)
    work = 64 * 2.94912 + 2 * 64 * 1024 * 10 / 1e4 + 2 * 64 * 1024 * 0.5 / 1e3
    assert est.total_ms * 1e3 == pytest.approx(1.5 * (5 + 1 + 2 + 2) + 2 * work)


def test_profiler_cost_goes_into_layers_not_the_total() -> None:
    """0.5 us per trivial kernel (flatten), 0.8 us per thread-pool kernel (conv, gemm, reorders)."""
    graph = load_spec(CONV_FC)
    device = synthetic(profiler=0.5, heavy=0.8)
    plain = estimate_latency(graph, device, batch=1)
    profiled = estimate_latency(graph, device, batch=1, as_profiled=True)
    assert profiled.total_ms == pytest.approx(plain.total_ms)
    assert (profiled.layers["c"].ms - plain.layers["c"].ms) * 1e3 == pytest.approx(0.8)
    assert (profiled.layers["f"].ms - plain.layers["f"].ms) * 1e3 == pytest.approx(1.3)
    assert (profiled.layers[LAYOUT].ms - plain.layers[LAYOUT].ms) * 1e3 == pytest.approx(1.6)


def test_gemm_roofline_switches_to_compute_at_large_batch() -> None:
    graph = load_spec(CONV_FC)
    est = estimate_latency(graph, synthetic(), batch=256)
    fc = est.layers["f"]
    assert fc.bound == "compute"
    assert fc.ms * 1e3 == pytest.approx(2 + 2 * 256 * 1024 * 10 / 1e4)


def test_lrn_and_plain_pooling() -> None:
    graph = load_spec({"name": "lp", "input": [8, 6, 6], "layers": [
        {"name": "n", "type": "lrn", "size": 5}, {"name": "p", "type": "maxpool", "kernel": 2}]})
    est = estimate_latency(graph, synthetic(), batch=1)
    # LRN runs on one thread: it follows the overhead probe, not the (multi-threaded) compute one
    slow = estimate_latency(graph, synthetic(), batch=1, drift={"compute": 2.0, "overhead": 1.0})
    assert slow.layers["n"].ms == pytest.approx(est.layers["n"].ms)
    assert est.layers["n"].ms * 1e3 == pytest.approx(1 + 288 * 10.0 / 1e3)  # (2*5+4)/14 = 1
    # 72 outputs x 4 taps x 1 ns, plus (1,152 + 288) bytes / 1e4 bytes/us, plus the fixed cost
    assert est.layers["p"].ms * 1e3 == pytest.approx(1 + 0.288 + 0.144)
    assert LAYOUT not in est.layers  # 8 channels: nothing runs blocked
    assert est.total_ms * 1e3 == pytest.approx(5 + 3.88 + 1.432)


def test_fusion_plan_of_a_residual_block() -> None:
    graph = load_spec({"name": "res", "input": [16, 8, 8], "layers": [
        {"name": "c1", "type": "conv", "filters": 16, "kernel": 3, "padding": 1},
        {"name": "b1", "type": "bn"}, {"name": "r1", "type": "relu"},
        {"name": "c2", "type": "conv", "filters": 16, "kernel": 3, "padding": 1},
        {"name": "b2", "type": "bn"},
        {"name": "add", "type": "add", "inputs": ["b2", "r1"]}, {"name": "r2", "type": "relu"},
        {"name": "n", "type": "lrn"}, {"name": "r3", "type": "relu"},
        {"name": "d", "type": "dropout"}, {"name": "f", "type": "fc", "units": 4}, {"name": "r4", "type": "relu"}]})
    est = estimate_latency(graph, synthetic(), batch=1)
    fused = {name: e.fused_into for name, e in est.layers.items() if e.bound == "fused"}
    assert fused == {"b1": "c1", "r1": "c1", "b2": "c2", "add": "c2", "r2": "c2", "r4": "f"}
    assert est.layers["d"].bound == "removed" and est.layers["d"].ms == 0
    assert est.layers["r3"].kernels == 1  # after an LRN: a kernel of its own
    assert est.layers[LAYOUT].kernels == 2  # input -> blocked conv, blocked sum -> LRN


def test_cached_profile_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    profile = synthetic()
    path = E.save_profile(profile)
    assert path == tmp_path / "archcalc" / "device-cpu-threads-default.json"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # written atomically, nothing left over
    got, why = E.load_cached("cpu", None)
    assert why == "" and got is not None and got.to_dict() == profile.to_dict()
    again, notes = E.device_profile("cpu", None)
    assert again.to_dict() == profile.to_dict() and "device profile from" in notes[0]


@pytest.mark.parametrize("damage, reason", [
    (lambda text: text[: len(text) // 2], "corrupt (not valid JSON"),
    (lambda text: "not json at all", "corrupt (not valid JSON"),
    (lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "conv"}), "corrupt (it lacks conv)"),
    (lambda text: text.replace('"run_us": 5.0', '"run_us": -5.0'), "corrupt (run_us is -5.0"),
    (lambda text: json.dumps(json.loads(text) | {"ort_version": "0.0.1"}), "stale: ort_version"),
    (lambda text: json.dumps(json.loads(text) | {"cpu": "another CPU"}), "stale: cpu"),
    (lambda text: json.dumps(json.loads(text) | {"suite": -1}), "stale: suite"),
])
def test_corrupt_or_stale_cache_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: Any,
                                           reason: str) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = E.save_profile(synthetic())
    path.write_text(damage(path.read_text()))
    got, why = E.load_cached("cpu", None)
    assert got is None and reason in why
    fresh = synthetic(run=7.0)
    calls: list[Any] = []
    monkeypatch.setattr(calibration, "calibrate", lambda *a, **k: calls.append(a) or fresh)
    profile, notes = E.device_profile("cpu", None)
    assert calls and profile.run_us == 7.0 and reason in notes[0] and "calibrated" in notes[1]
    reread, why = E.load_cached("cpu", None)
    assert why == "" and reread is not None and reread.run_us == 7.0


def test_drift_of_compares_with_the_calibration_probes() -> None:
    profile = synthetic()
    drift = E.drift_of(profile, [{"compute": 2e-3, "overhead": 1e-5}, {"compute": 3e-3, "overhead": 2e-5},
                                 {"compute": 1e-3, "overhead": 1.5e-5}])
    assert drift == pytest.approx({"compute": 2.0, "overhead": 1.5})


def test_drift_of_can_take_each_probes_fastest_sample() -> None:
    """A probe is only ever slowed by what shares the cores with it: ``fastest`` takes its fastest
    sample of the pass (benchmarks/estimate_accuracy.py scores it against the median, paired)."""
    profile = synthetic()
    samples = [{"compute": 2e-3, "overhead": 1e-5}, {"compute": 3e-3, "overhead": 2e-5},
               {"compute": 1.5e-3, "overhead": 1.5e-5}]
    assert E.drift_of(profile, samples, fastest=True) == pytest.approx({"compute": 1.5, "overhead": 1.0})
    assert E.drift_of(profile, samples) == pytest.approx({"compute": 2.0, "overhead": 1.5})


def test_profile_refuses_a_device_profile_of_another_setting() -> None:
    with pytest.raises(E.CalibrationError, match="threads"):
        E.check_profile_matches(synthetic(), "cpu", 3)


def test_depthwise_efficiency_follows_the_channel_count() -> None:
    """A depthwise conv has one channel per group, so the channel count is the only width it has:
    the estimate must tell 32 channels from 512 (it once weighed every depthwise point alike, and
    ORT's depthwise kernels here run 2-5x more FLOP/s at 512 channels than at 32 on the same map)."""
    def rate(channels: int) -> float:  # FLOP/us of this synthetic device's depthwise kernels
        return 20.0 * channels ** 0.5
    convs = [ConvShape(c, c, c, 3, 1, out, 1) for c in (16, 32, 64, 128, 256, 512, 1024) for out in (7, 14, 28, 56)]
    block = layout.nchwc_block()
    rows = [[s.cin, s.cout, s.groups, s.kernel, s.stride, s.out, s.batch,
             1.0 + E.executed_conv(s, block, False)[0].flops / rate(s.cin)] for s in convs]
    dev = synthetic(conv=rows)
    for c in (48, 96, 384):  # between the calibrated counts
        shape = ConvShape(c, c, c, 3, 1, 20, 1)
        us = dev.conv_us(shape)
        expected = shape.flops / rate(c)
        assert expected / 1.25 <= us <= expected * 1.25, (c, us, expected)


def test_conv_samples_are_generic_and_bounded() -> None:
    shapes = E.conv_samples()
    assert shapes == E.conv_samples()  # seeded
    assert len(shapes) >= 400
    heavy = [s for s in shapes if s.flops > 4e9]
    assert len(heavy) == 10 and all(s.flops <= 4e10 and s.kernel == 3 for s in heavy)  # the "large" stratum
    assert all(s.flops >= 2e4 for s in shapes)
    classes = {E.conv_class(s) for s in shapes}
    assert classes == {"regular", "pointwise", "first", "depthwise"}


def test_conv_samples_end_with_the_generic_grid() -> None:
    """The grid (samples.grid_convs): powers-of-two channels, 7 x 2^k outputs, batch 1, bounded
    work; appended whole at any scale."""
    from archcalc.estimate import samples

    grid = samples.grid_convs()
    assert len(grid) == len(set(grid)) >= 120
    assert all(s.batch == 1 and s.cin in samples.GRID_CHANNELS and s.out in samples.GRID_OUTS for s in grid)
    assert all(2e4 <= s.flops <= samples.GRID_MAX_FLOPS for s in grid)
    assert {E.conv_class(s) for s in grid} == {"regular", "pointwise", "depthwise"}
    assert {s.cout / s.cin for s in grid if s.kernel == 1} == {0.25, 1.0, 4.0}
    assert {(s.kernel, s.stride) for s in grid if s.groups > 1} == {(3, 1), (3, 2), (5, 1), (5, 2)}
    for scale in (0.1, 0.25, 1.0):
        shapes = E.conv_samples(scale)
        assert shapes[-len(grid):] == grid


@pytest.mark.parametrize(("mode", "scale", "unit_ns"), [
    ("nearest", 2, None),  # ORT's plain 2x2 nearest copy: its traffic only (0.07 ns per output here)
    ("nearest", 3, 0.4),  # any other nearest: ORT's general path, 0.38-0.40 ns per output here
    ("bilinear", 2, 1.5),
    ("cubic", 2, 60.0),
])
def test_resize_costs_per_output_element_except_the_plain_2x2_nearest(mode: str, scale: int,
                                                                     unit_ns: float | None) -> None:
    """An interpolating Resize is 25-1,000x what its bytes take on ORT's CPU kernels (bilinear
    1.3-3 ns, bicubic ~60 ns per output element here): FCN's bilinear Resize was estimated at its
    traffic, 0.07x its profiled time. 8 channels (no NCHWc block of 16): the tensors stay plain."""
    graph = load_spec({"name": "up", "input": [8, 6, 6], "layers": [
        {"name": "u", "type": "upsample", "mode": mode, "scale": scale}]})
    est = estimate_latency(graph, synthetic(), batch=1)
    outputs = 8 * (6 * scale) ** 2
    traffic_us = (8 * 36 + outputs) * 4 / 1e4
    assert est.layers["u"].ms * 1e3 == pytest.approx(1 + traffic_us + outputs * (unit_ns or 0.0) / 1e3)


def test_trilinear_resize_reads_twice_the_taps_of_bilinear() -> None:
    graph = load_spec({"name": "up3", "input": [2, 4, 4, 4], "layers": [
        {"name": "u", "type": "upsample", "mode": "trilinear", "scale": 2}]})
    est = estimate_latency(graph, synthetic(), batch=1)
    outputs = 2 * 8 ** 3
    assert est.layers["u"].ms * 1e3 == pytest.approx(1 + (2 * 64 + outputs) * 4 / 1e4 + outputs * 2 * 1.5 / 1e3)


def test_calibration_on_a_few_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole pipeline on a handful of micro-benchmarks (the real suite takes about a minute)."""
    monkeypatch.setattr(suite, "conv_samples", lambda scale: [ConvShape(16, 16, 1, 3, 1, 8), ConvShape(3, 16, 1, 5, 2, 8),
                                                          ConvShape(32, 32, 32, 3, 1, 8), ConvShape(16, 32, 1, 1, 1, 8, 2)])
    monkeypatch.setattr(suite, "gemm_samples", lambda scale: [GemmShape(1, 64, 64), GemmShape(8, 256, 128)])
    few_chains = {k: E.FIXED_CHAINS[k] for k in ("ew", "conv", "gemm")}
    monkeypatch.setattr(suite, "FIXED_CHAINS", few_chains)
    monkeypatch.setattr(deviceprofile, "FIXED_CHAINS", few_chains)  # what validation asks for
    monkeypatch.setitem(suite.PLANS, "quick", dataclasses.replace(suite.PLANS["quick"], copy_sizes=(1 << 12, 1 << 16)))
    steps: list[int] = []
    said: list[str] = []
    profile = E.calibrate("cpu", quick=True, progress=lambda stage, done, total: steps.append(done) or said.append(stage))
    assert said[0] == "calibrating this CPU, about 10 s; cached for next time" and steps[0] == 0  # before any work
    steps = steps[1:]
    assert profile.mode == "quick"
    assert profile.device == "cpu" and profile.provider == "CPUExecutionProvider"
    # a point whose repeats disagreed twice is dropped (said in the notes and the noise figures)
    assert len(profile.conv) + len(profile.gemm) + profile.noise["dropped"] == 6 and profile.matmul_gflops > 0
    assert any("re-measured" in n for n in profile.notes)
    assert profile.run_us > 0 and all(v > 0 for v in profile.fixed_us.values())
    assert set(profile.unit_ns) >= {"lrn", "pool", "softmax", "transcendental", "reorder", "resize_nearest",
                                    "resize_linear", "resize_cubic"}  # each kernel found in ORT's profile
    from archcalc.estimate.layerunits import LAYER_UNITS

    assert set(profile.unit_ns) >= set(LAYER_UNITS)  # every one-layer unit model timed
    # ORT's interpolating kernels cost far more than their traffic (>= 0.1 ns per output element)
    assert all(profile.unit_ns[k] > 0.1 for k in ("resize_nearest", "resize_linear", "resize_cubic"))
    assert profile.stream and all(gbs > 0 for _, gbs in profile.stream)  # GEMVs streaming their weights
    assert steps == list(range(1, len(steps) + 1))
    restored = DeviceProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    est = estimate_latency(load_spec(CONV_FC), restored, batch=2)
    assert est.total_ms > 0 and est.layers["c"].ms > 0


def test_cli_calibrate_and_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib
    import io

    from archcalc.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(calibration, "calibrate", lambda *a, **k: synthetic(run=3.0))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["calibrate", "--device", "cpu"]) == 0
    text = out.getvalue()
    assert "device profile: cpu" in text and "per-run overhead 3.0 us" in text and "cached at" in text
    assert (tmp_path / "archcalc" / "device-cpu-threads-default.json").exists()
    monkeypatch.setattr(calibration, "calibrate", lambda *a, **k: pytest.fail("--show must not measure again"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["calibrate", "--device", "cpu", "--show", "-f", "json"]) == 0
    assert json.loads(out.getvalue())["run_us"] == 3.0


def test_cli_profile_prints_estimate_next_to_measured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib
    import io

    from archcalc.cli import main
    from archcalc.runtime import cuda

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(cuda, "cuda_problems", lambda: ["no CUDA device: test"])
    E.save_profile(synthetic())
    spec = tmp_path / "convfc.yaml"
    spec.write_text(json.dumps(CONV_FC))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["profile", str(spec), "--device", "cpu", "--repeat", "5", "--per-layer", "-f", "json"]) == 0
    (result,) = json.loads(out.getvalue())["results"]
    assert result["estimate_ms"] > 0 and result["ratio"] == pytest.approx(result["estimate_ms"] / result["median_ms"])
    assert set(result["drift"]) == {"compute", "overhead", "contention"}
    # traceable: the drift is the median probe over the calibration's, and the estimate its parts
    # scaled by it, times the preemption factor of a run that long
    probes, base = result["probes"], result["calibration_probes"]
    assert len(probes) >= 2 and base == synthetic().probes
    for name in ("compute", "overhead"):
        assert result["drift"][name] == pytest.approx(statistics.median(p[name] for p in probes) / base[name])
    scaled = (result["estimate_compute_part_ms"] * result["drift"]["compute"]
              + result["estimate_overhead_part_ms"] * result["drift"]["overhead"])
    from archcalc.estimate.probes import contention_factor

    assert result["estimate_ms"] == pytest.approx(scaled * contention_factor(result["drift"]["contention"], scaled))
    rows = {layer["name"]: layer for layer in result["layers"]}
    assert rows["c"]["estimate_ms"] > 0 and rows["c"]["measured_ms"] > 0 and rows["r"]["fused_into"] == "c"


def test_plot_without_matplotlib_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from archcalc.errors import ArchcalcError
    from archcalc.plots import profile_comparison

    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] == "matplotlib":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ArchcalcError, match=r"pip install 'archcalc\[plot\]'"):
        profile_comparison([])


def test_progress_bar_waits_then_draws_and_clears() -> None:
    import io

    from archcalc.cli.progress import ProgressBar

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    bar = ProgressBar(stream, after=3600)
    bar.has_tqdm = False
    bar("quick", 1, 10)
    assert stream.getvalue() == ""  # short runs draw nothing
    bar = ProgressBar(stream, after=0)
    bar.has_tqdm = False
    bar("resnet18 batch 1", 5, 10)
    assert "resnet18 batch 1" in stream.getvalue() and "5/10" in stream.getvalue()
    bar.close()
    assert stream.getvalue().endswith("\r")
