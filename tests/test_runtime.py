"""Runtime: provider selection and the refusal to label CPU timings as GPU ones, timing statistics,
per-layer profiles mapped back to layer names through ORT's fusions, the memory check, the CLI.

Everything runs on the CPU provider; a machine where CUDA works is simulated by replacing the
session factory (the CUDA/IO-binding path must be taken, and labelled CUDA only when the
session's get_providers() says so)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

import archcalc
from archcalc import runtime
from archcalc.cli import main
from archcalc.measure import profile
from archcalc.runtime import CPU, CUDA, LAYOUT, DeviceError, MemoryLimitError, OptNode, cuda, map_kernels, session
from tests.conftest import ROOT

TINY_RES = """
name: tinyres
input: [16, 12, 12]
layers:
  - {name: conv1, type: conv, filters: 16, kernel: 3, padding: 1}
  - {name: bn1, type: bn}
  - {name: relu1, type: relu}
  - {name: conv2, type: conv, filters: 16, kernel: 3, padding: 1}
  - {name: bn2, type: bn}
  - {name: add, type: add, inputs: [bn2, relu1]}
  - {name: relu2, type: relu}
  - {name: pool, type: maxpool, kernel: 2}
  - {name: drop, type: dropout}
  - {name: fc, type: fc, units: 10}
  - {name: relu3, type: relu}
  - {name: out, type: fc, units: 4}
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tinyres.yaml"
    path.write_text(TINY_RES)
    return path


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine without CUDA, whatever this one has."""
    monkeypatch.setattr(cuda, "cuda_problems", lambda: ["no CUDA device: the driver reports no GPU"])


# -- provider selection ---------------------------------------------------------------------


def test_auto_runs_on_cpu_without_cuda_and_says_why(tiny: Path, no_cuda: None) -> None:
    (result,) = profile(tiny, device="auto", warmup=1, repeat=3)
    assert result.provider == CPU and result.device == "cpu"
    assert result.providers == (CPU,)
    assert any("CUDA not used: no CUDA device" in n for n in result.notes)
    assert result.ort_version == ort.__version__ and result.cpu and result.device_name == result.cpu
    assert result.io_binding and result.intra_op_threads >= 1


def test_auto_on_this_machine_reports_the_provider_the_session_uses(tiny: Path) -> None:
    (result,) = profile(tiny, device="auto", warmup=0, repeat=2)
    assert result.provider in ort.get_available_providers()
    assert result.device == runtime.provider_device(result.provider)
    if runtime.cuda_problems():  # no usable CUDA here: CPU, never a GPU label
        assert result.provider == CPU and result.gpu is None


def test_cuda_without_cuda_is_refused_with_the_reason(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reasons = ["CUDA libraries missing: libcublasLt.so.13 cannot be loaded",
               "no CUDA device: the NVIDIA driver library libcuda.so.1 cannot be loaded"]
    monkeypatch.setattr(cuda, "cuda_problems", lambda: reasons)
    with pytest.raises(DeviceError) as err:
        profile(tiny, device="cuda", repeat=1)
    text = str(err.value)
    assert "CUDA libraries missing: libcublasLt.so.13" in text and "no CUDA device" in text
    assert "nothing was timed" in text


def test_the_real_cuda_check_names_the_kind_of_problem() -> None:
    problems = runtime.cuda_problems()
    for p in problems:
        assert p.startswith(("CUDA libraries missing", "no CUDA device", "this onnxruntime build"))
    if problems:
        with pytest.raises(DeviceError, match="CUDA cannot run here"):
            runtime.choose_device("cuda")


def test_missing_libraries_and_missing_device_are_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes

    def no_lib(name: str, *a: Any, **k: Any) -> Any:
        raise OSError(f"{'libcudnn.so.9' if 'providers' in str(name) else name}: cannot open shared object file: "
                      f"No such file or directory")

    monkeypatch.setattr(ctypes, "CDLL", no_lib)
    if CUDA in ort.get_available_providers():
        lib = cuda._cuda_library_problem()
        assert lib is not None and lib.startswith("CUDA libraries missing: libcudnn.so.9 cannot be loaded")
    dev = cuda._cuda_device_problem()
    assert dev is not None and dev.startswith("no CUDA device") and "libcuda.so.1" in dev


class _FakeBinding:
    """Wraps a CPU IO binding; records the device every tensor is bound to."""

    def __init__(self, real: Any, log: dict[str, list[Any]]) -> None:
        self.real = real
        self.log = log

    def bind_ortvalue_input(self, name: str, value: Any) -> None:
        self.real.bind_ortvalue_input(name, value)

    def bind_output(self, name: str, device: str = "cpu", device_id: int = 0) -> None:
        self.log["outputs"].append(device)
        self.real.bind_output(name)

    def bind_ortvalue_output(self, name: str, value: Any) -> None:
        self.real.bind_ortvalue_output(name, value)

    def get_outputs(self) -> Any:
        return self.real.get_outputs()

    def clear_binding_outputs(self) -> None:
        self.real.clear_binding_outputs()

    def synchronize_outputs(self) -> None:
        self.log["syncs"].append(1)


class _FakeSession:
    """A real CPU session whose get_providers() says what the test wants."""

    def __init__(self, real: Any, providers: list[str], log: dict[str, list[Any]]) -> None:
        self.real = real
        self.providers = providers
        self.log = log

    def get_providers(self) -> list[str]:
        return self.providers

    def io_binding(self) -> _FakeBinding:
        return _FakeBinding(self.real.io_binding(), self.log)

    def run_with_iobinding(self, binding: _FakeBinding) -> None:
        self.log["runs"].append(1)
        self.real.run_with_iobinding(binding.real)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _simulate(monkeypatch: pytest.MonkeyPatch, reported: list[str]) -> dict[str, list[Any]]:
    log: dict[str, list[Any]] = {"asked": [], "outputs": [], "syncs": [], "runs": [], "placed": []}
    real_new = session._new_session

    def new_session(model: Any, options: Any, providers: Any, disabled: Any = ()) -> _FakeSession:
        log["asked"].append(list(providers))
        return _FakeSession(real_new(model, options, [CPU], disabled), reported, log)

    def to_device(array: Any, device: str) -> Any:
        log["placed"].append(device)
        return ort.OrtValue.ortvalue_from_numpy(array)

    def empty_like(value: Any, device: str) -> Any:
        log["placed"].append(device)
        return ort.OrtValue.ortvalue_from_shape_and_type(value.shape(), np.float32)

    monkeypatch.setattr(cuda, "cuda_problems", lambda: [])
    monkeypatch.setattr(session, "_new_session", new_session)
    monkeypatch.setattr(session, "_to_device", to_device)
    monkeypatch.setattr(session, "_empty_like", empty_like)
    return log


def test_simulated_cuda_takes_the_io_binding_path_and_is_labelled_cuda(tiny: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    log = _simulate(monkeypatch, [CUDA, CPU])
    (result,) = profile(tiny, device="cuda", warmup=2, repeat=5)
    assert log["asked"][0] == [CUDA, CPU]
    assert result.provider == CUDA and result.device == "cuda" and result.io_binding
    assert set(log["placed"]) == {"cuda"} and set(log["outputs"]) == {"cuda"}
    assert len(log["syncs"]) >= 2 + 5  # every timed run waits for the device
    (auto,) = profile(tiny, device="auto", warmup=0, repeat=1)
    assert auto.provider == CUDA


def test_cuda_asked_but_session_on_cpu_is_refused_not_mislabelled(tiny: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _simulate(monkeypatch, [CPU])
    with pytest.raises(DeviceError, match="runs this session on CPUExecutionProvider"):
        profile(tiny, device="cuda", repeat=1)
    (result,) = profile(tiny, device="auto", warmup=0, repeat=2)  # auto falls back, labelled CPU
    assert result.provider == CPU and result.device == "cpu"
    assert any("CUDA not used" in n for n in result.notes)


def test_bad_device_name() -> None:
    with pytest.raises(archcalc.ArchcalcError, match="device must be one of"):
        runtime.choose_device("gpu")


# -- timing ------------------------------------------------------------------------------------


def test_timing_statistics_on_a_tiny_model(tiny: Path, no_cuda: None) -> None:
    calls: list[tuple[str, int, int]] = []
    (result,) = profile(tiny, device="cpu", warmup=3, repeat=25,
                        progress=lambda stage, done, total: calls.append((stage, done, total)))
    t = result.timing
    assert t.runs == 25 == len(t.samples_ms) and t.warmup == 3
    assert 0 < t.min_ms <= t.median_ms <= t.p90_ms <= t.max_ms
    assert t.min_ms == min(t.samples_ms) and t.max_ms == max(t.samples_ms)
    assert [c[1] for c in calls] == list(range(1, 29)) and calls[-1][2] == 28


def test_timing_of_known_samples() -> None:
    t = runtime.timing_of([0.001 * v for v in (5, 1, 3, 2, 4, 10, 6, 7, 8, 9)], warmup=2)
    assert t.runs == 10 and t.median_ms == pytest.approx(5.5) and t.min_ms == pytest.approx(1.0)
    assert t.p90_ms == pytest.approx(9.1) and t.max_ms == pytest.approx(10.0) and t.mean_ms == pytest.approx(5.5)
    with pytest.raises(archcalc.ArchcalcError):
        runtime.timing_of([], warmup=0)


def test_several_batches(tiny: Path, no_cuda: None) -> None:
    results = profile(tiny, device="cpu", batches=(1, 4), warmup=1, repeat=3)
    assert [r.batch for r in results] == [1, 4]
    assert results[1].macs == 4 * results[0].macs


def test_memory_limit_refuses_before_allocating(tiny: Path, no_cuda: None) -> None:
    with pytest.raises(MemoryLimitError, match="--max-memory"):
        profile(tiny, device="cpu", max_memory=1000, repeat=1)


# -- per-layer profile -------------------------------------------------------------------------


def test_per_layer_kernels_map_to_layers_through_fusions(tiny: Path, no_cuda: None) -> None:
    (result,) = profile(tiny, device="cpu", warmup=2, repeat=5, per_layer=True, profile_runs=30)  # medians of 30 runs: stable on a loaded machine
    names = set(archcalc.load(tiny).layers) | {LAYOUT}
    rows = {layer.name: layer for layer in result.layers}
    for layer in result.layers:
        assert layer.name in names
        assert all(k for k in layer.kernels)
    assert rows["conv1"].measured_ms and rows["conv1"].measured_ms > 0
    for fused, host in (("bn1", "conv1"), ("relu1", "conv1"), ("bn2", "conv2"), ("relu3", "fc")):
        assert rows[fused].fused_into == host and rows[fused].measured_ms == 0
    assert rows["add"].fused_into == "conv2" and rows["relu2"].fused_into == "conv2"
    assert rows["fc"].kernels and rows["out"].kernels
    total = sum(layer.measured_ms or 0.0 for layer in result.layers)
    assert result.profiled_kernels_ms is not None
    assert total == pytest.approx(result.profiled_kernels_ms, rel=0.35)


def test_every_kernel_of_a_bundled_net_maps(no_cuda: None) -> None:
    (result,) = profile("googlenet", device="cpu", warmup=1, repeat=1, per_layer=True, profile_runs=2)
    graph = archcalc.load("googlenet")
    kernels = [k for layer in result.layers for k in layer.kernels]
    assert len(kernels) > 50
    assert {layer.name for layer in result.layers if layer.kernels} <= set(graph.layers) | {LAYOUT}
    rows = {layer.name: layer for layer in result.layers}
    # constant weights must not let ORT merge equal layers (3b.b1 and 3b.b2_reduce are alike)
    assert rows["inception_3b.b1.conv"].kernels and rows["inception_3b.b2_reduce.conv"].kernels


def test_map_kernels_follows_ort_names() -> None:
    """Names as ORT writes them: fused X, X_nchwc (after a tensor), reorders, _token_N."""
    from archcalc.language.loader import load_spec
    from archcalc.onnx_export.export import export_onnx

    graph = load_spec({"name": "t", "input": [16, 8, 8], "layers": [
        {"name": "c1", "type": "conv", "filters": 16, "kernel": 3, "padding": 1},
        {"name": "b1", "type": "bn"}, {"name": "r1", "type": "relu"},
        {"name": "c2", "type": "conv", "filters": 16, "kernel": 1},
        {"name": "sum", "type": "add", "inputs": ["c2", "r1"]},
        {"name": "fc", "type": "fc", "units": 5}, {"name": "r2", "type": "relu"}]})
    model = export_onnx(graph, weights="constant").model
    opt = [OptNode("ReorderInput", "ReorderInput", ("input",), ("reorder_token_0",)),
           OptNode("r1_nchwc", "Conv", ("reorder_token_0",), ("reorder_token_1",)),
           OptNode("c2_nchwc", "Conv", ("reorder_token_1", "w", "b", "reorder_token_1"), ("reorder_token_2",)),
           OptNode("ReorderOutput_token_3", "ReorderOutput", ("reorder_token_2",), ("sum",)),
           OptNode("fc/flatten", "Flatten", ("sum",), ("fc/flatten",)),
           OptNode("fused fc", "FusedGemm", ("fc/flatten",), ("r2",))]
    layers = runtime.node_layers(model, graph.layers)
    kmap = map_kernels(model, opt, layers)
    assert kmap.kernels == {"ReorderInput": LAYOUT, "r1_nchwc": "c1", "c2_nchwc": "c2",
                            "ReorderOutput_token_3": LAYOUT, "fc/flatten": "fc", "fused fc": "fc"}
    assert kmap.fused == {"b1": "c1", "r1": "c1", "sum": "c2", "r2": "fc"}


def test_map_kernels_places_a_blocked_batchnorm_on_its_layer() -> None:
    """ORT runs a BatchNorm of a blocked tensor as a Conv named ``<its output>_bn_nchwc`` (a Relu
    after it fused in, its output a reorder token): the kernel is the BatchNorm's, not the concat's
    before it (DenseNet)."""
    from archcalc.language.loader import load_spec
    from archcalc.onnx_export.export import export_onnx

    graph = load_spec({"name": "t", "input": [16, 8, 8], "layers": [
        {"name": "c1", "type": "conv", "filters": 16, "kernel": 3, "padding": 1},
        {"name": "c2", "type": "conv", "filters": 16, "kernel": 3, "padding": 1, "inputs": ["input"]},
        {"name": "cat", "type": "concat", "inputs": ["c1", "c2"]},
        {"name": "b", "type": "bn"}, {"name": "r", "type": "relu"},
        {"name": "c3", "type": "conv", "filters": 16, "kernel": 1}]})
    model = export_onnx(graph, weights="constant").model
    opt = [OptNode("ReorderInput", "ReorderInput", ("input",), ("reorder_token_0",)),
           OptNode("c1_nchwc", "Conv", ("reorder_token_0",), ("reorder_token_1",)),
           OptNode("c2_nchwc", "Conv", ("reorder_token_0",), ("reorder_token_2",)),
           OptNode("cat", "Concat", ("reorder_token_1", "reorder_token_2"), ("reorder_token_3",)),
           OptNode("b_bn_nchwc", "Conv", ("reorder_token_3",), ("reorder_token_4",)),
           OptNode("c3_nchwc", "Conv", ("reorder_token_4",), ("reorder_token_5",)),
           OptNode("ReorderOutput", "ReorderOutput", ("reorder_token_5",), ("c3",))]
    kmap = map_kernels(model, opt, runtime.node_layers(model, graph.layers))
    assert kmap.kernels["b_bn_nchwc"] == "b" and kmap.kernels["cat"] == "cat"
    assert kmap.fused == {"r": "b"}


def _optimized_by_ort(model: Any) -> list[OptNode]:
    """The nodes of ORT's optimized graph of ``model`` (this ORT, this CPU)."""
    from archcalc.runtime.trace import read_optimized

    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.optimized_model_filepath = str(Path(tmp) / "opt.onnx")
        ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        return read_optimized(options.optimized_model_filepath)


def test_map_kernels_tells_a_conv_that_absorbed_a_batchnorm_named_x_bn_from_a_blocked_batchnorm() -> None:
    """ORT's own optimized graph (this ORT, this CPU) of layers named as MobileNet specs name them:
    a conv + BatchNorm ``project`` + ``project_bn`` runs as one Conv named ``project_bn_nchwc``
    (after the BatchNorm's output), which is the conv's kernel with the BatchNorm fused into it; a
    BatchNorm after a Relu still runs as its own blocked conv, ``bn2_bn_nchwc``, and is the
    BatchNorm's. The estimate prices them the same way, so the per-layer rows must agree."""

    from archcalc.language.loader import load_spec
    from archcalc.onnx_export.export import export_onnx

    graph = load_spec({"name": "t", "input": [32, 16, 16], "layers": [
        {"name": "project", "type": "conv", "filters": 32, "kernel": 3, "padding": 1},
        {"name": "project_bn", "type": "bn"},
        {"name": "c2", "type": "conv", "filters": 32, "kernel": 3, "padding": 1},
        {"name": "r2", "type": "relu"},
        {"name": "bn2", "type": "bn"},
        {"name": "c3", "type": "conv", "filters": 32, "kernel": 3, "padding": 1}]})
    model = export_onnx(graph, weights="constant").model
    opt = _optimized_by_ort(model)
    kmap = map_kernels(model, opt, runtime.node_layers(model, graph.layers))
    if "project_bn_nchwc" not in kmap.kernels:
        pytest.skip("this CPU's ORT does not run these convs blocked (no NCHWc)")
    assert kmap.kernels["project_bn_nchwc"] == "project"
    assert kmap.fused["project_bn"] == "project"
    assert kmap.kernels["bn2_bn_nchwc"] == "bn2"


def test_map_kernels_places_ort_contrib_fusions_on_the_layer_they_are_named_after() -> None:
    """ORT's QuickGeluFusion makes one kernel of a SiLU (x * Sigmoid(x)) named
    ``<the Mul>/QuickGeluFusion/``, on the conv's blocked output (no tensor of the original graph):
    its time is the SiLU's, not the conv's before it. With the name unread it went to the conv and
    every SiLU of EfficientNet-B0 measured 0 while its conv held both."""

    from archcalc.language.loader import load_spec
    from archcalc.onnx_export.export import export_onnx
    from archcalc.runtime.kernelmap import ort_name_candidates

    assert ort_name_candidates("a/b/Mul/QuickGeluFusion/")[-3:] == ["a/b/Mul", "a/b", "a"]
    assert "blk/Add" in ort_name_candidates("blk/Add/matmul/MatMulAddFusion")
    graph = load_spec({"name": "t", "input": [32, 16, 16], "layers": [
        {"name": "c1", "type": "conv", "filters": 32, "kernel": 3, "padding": 1},
        {"name": "b1", "type": "bn"}, {"name": "act", "type": "activation", "fn": "silu"},
        {"name": "c2", "type": "conv", "filters": 32, "kernel": 3, "padding": 1}]})
    model = export_onnx(graph, weights="constant").model
    opt = _optimized_by_ort(model)
    fused = [n.name for n in opt if n.op_type == "QuickGelu"]
    if not fused:
        pytest.skip("this ORT does not fuse x * Sigmoid(x)")
    kmap = map_kernels(model, opt, runtime.node_layers(model, graph.layers))
    assert [kmap.kernels[name] for name in fused] == ["act"]
    assert "act" not in kmap.fused and kmap.fused["b1"] == "c1"


def test_profile_of_an_onnx_file(tmp_path: Path, tiny: Path, no_cuda: None) -> None:
    from archcalc.onnx_export.export import export_onnx, save

    path = tmp_path / "tiny.onnx"
    save(export_onnx(archcalc.load(tiny), batch="dynamic"), path)
    results = profile(path, device="cpu", batches=(1, 3), warmup=1, repeat=2, per_layer=True, profile_runs=2)
    assert [r.batch for r in results] == [1, 3] and results[0].provider == CPU
    assert {layer.name for layer in results[0].layers if layer.measured_ms} >= {"conv1", "fc"}
    fixed = tmp_path / "tiny4.onnx"
    save(export_onnx(archcalc.load(tiny), batch=4), fixed)
    (result,) = profile(fixed, device="cpu", warmup=0, repeat=2)  # the model's own batch by default
    assert result.batch == 4
    with pytest.raises(archcalc.ArchcalcError, match="batch is fixed at 4"):
        profile(fixed, device="cpu", batches=(2,), repeat=1)


# -- CLI ---------------------------------------------------------------------------------------


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_cli_profile_json_and_table(tiny: Path, no_cuda: None) -> None:
    code, out, _ = _run("profile", str(tiny), "--device", "cpu", "--repeat", "3", "--warmup", "1",
                        "--estimate", "off", "-f", "json", "--batch", "1,2")
    assert code == 0
    data = json.loads(out)
    assert [r["batch"] for r in data["results"]] == [1, 2]
    assert all(r["provider"] == CPU and r["runs"] == 3 and r["warmup"] == 1 for r in data["results"])
    # the machine's load when the timed runs started, with the cores it is shared by
    assert all(isinstance(r["cores"], int) and r["cores"] >= 1 for r in data["results"])
    if hasattr(os, "getloadavg"):
        assert all(isinstance(r["load_average"], float) and r["load_average"] >= 0 for r in data["results"])
    code, out, _ = _run("profile", str(tiny), "--device", "cpu", "--repeat", "3", "--estimate", "off", "--per-layer")
    assert code == 0 and "CPUExecutionProvider" in out and "per layer" in out and "fused into conv1" in out
    assert "onnxruntime " + ort.__version__ in out and "timed runs" in out
    if hasattr(os, "getloadavg"):
        assert re.search(r"batch 1: 1-minute load average \d+\.\d\d when the timed runs started \(\d+ cores\)", out)
    for fmt in ("markdown", "csv"):
        code, out, _ = _run("profile", str(tiny), "--device", "cpu", "--repeat", "2", "--estimate", "off", "-f", fmt)
        assert code == 0 and "CPUExecutionProvider" in out


def test_cli_refusals_are_one_line(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cuda, "cuda_problems", lambda: ["CUDA libraries missing: libcudart.so.13 cannot be loaded"])
    code, out, err = _run("profile", str(tiny), "--device", "cuda")
    assert code == 2 and out == "" and err.count("\n") == 1 and "libcudart.so.13" in err
    code, _, err = _run("profile", str(tiny), "--device", "cpu", "--batch", "0")
    assert code == 2 and "--batch" in err
    code, _, err = _run("profile", str(tiny), "--device", "cpu", "--max-memory", "1KiB", "--estimate", "off")
    assert code == 2 and "--max-memory" in err


def test_runtime_cli_module_imports_nothing_heavy() -> None:
    probe = ("import sys, archcalc.cli, archcalc.cli.measure, archcalc.render.profile_cli\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('onnx', 'onnxruntime', 'numpy')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_stability_is_reported_from_the_spread() -> None:
    from archcalc.runtime import STABLE_SPREAD, timing_of

    steady = timing_of([0.010 + 0.0001 * (i % 3) for i in range(20)], warmup=2)
    assert steady.stable and steady.stability_note() is None
    assert steady.spread == pytest.approx((steady.p90_ms - steady.min_ms) / steady.median_ms)
    noisy = timing_of([0.010, 0.011, 0.030, 0.010, 0.025, 0.012, 0.040, 0.010], warmup=2)
    assert not noisy.stable and noisy.spread > STABLE_SPREAD
    assert "unstable measurement" in (noisy.stability_note() or "")
    few = timing_of([0.01, 0.01], warmup=0)
    assert not few.stable and "too few" in (few.stability_note() or "")
    tiny = timing_of([30e-6] * 20, warmup=2)  # 30 us: steady, but too short to trust across runs
    assert tiny.spread == 0 and not tiny.stable and "too short" in (tiny.stability_note() or "")
    assert steady.to_dict()["stable"] is True and noisy.to_dict()["stable"] is False
