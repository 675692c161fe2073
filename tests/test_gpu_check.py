"""benchmarks/gpu_check.sh refuses on a machine without an NVIDIA GPU, with its reason and exit
code, before installing anything; its measuring half writes its summaries when the CUDA
provider is missing (datasheet estimates only, said plainly); the quick GPU roofline
calibration's arithmetic on simulated timings."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from archcalc.estimate import gpu_roofline
from archcalc.estimate.microbench import Bench
from tests.conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
BASH = shutil.which("bash")


def _run(out: Path, path: str, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert BASH is not None
    full = {"PATH": path, "HOME": str(out.parent)} | (env or {})
    return subprocess.run([BASH, str(SCRIPT), str(out), *extra], capture_output=True, text=True, env=full,
                          timeout=60)


def _bin_without_nvidia_smi(tmp: Path) -> str:
    """A PATH with the tools the script uses but no nvidia-smi (whatever this machine has)."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "grep", "head", "printf", "date", "ls", "mkdir", "tail", "timeout", "python3"):
        found = shutil.which(tool)
        if found:
            os.symlink(found, bin_dir / tool)
    return str(bin_dir)


def _fake_nvidia_smi(bin_dir: str, script: str) -> None:
    fake = Path(bin_dir) / "nvidia-smi"
    fake.write_text("#!/bin/sh\n" + script + "\n")
    fake.chmod(0o755)


@pytest.mark.skipif(BASH is None, reason="needs bash")
def test_refuses_without_nvidia_smi_before_installing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = _run(out, _bin_without_nvidia_smi(tmp_path), str(tmp_path / "wheels"))
    assert res.returncode == 3, res.stderr
    assert "refusing: no NVIDIA GPU here (nvidia-smi is not installed: no NVIDIA driver)" in res.stderr
    assert "nothing was installed" in res.stderr and "installing" not in res.stderr
    assert not out.exists()  # no venv, no output folder: it stopped at the check


@pytest.mark.skipif(BASH is None, reason="needs bash")
def test_refuses_when_nvidia_smi_lists_no_gpu(tmp_path: Path) -> None:
    path = _bin_without_nvidia_smi(tmp_path)
    _fake_nvidia_smi(path, 'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver."; exit 9')
    out = tmp_path / "out"
    res = _run(out, path)
    assert res.returncode == 3, res.stderr
    assert "nvidia-smi lists no CUDA device: NVIDIA-SMI has failed" in res.stderr and not out.exists()


@pytest.mark.skipif(BASH is None, reason="needs bash")
def test_with_a_gpu_it_asks_for_the_wheels_before_installing(tmp_path: Path) -> None:
    path = _bin_without_nvidia_smi(tmp_path)
    _fake_nvidia_smi(path, 'echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0)"')
    out = tmp_path / "out"
    res = _run(out, path)
    assert res.returncode == 2, res.stderr
    assert "GPU: GPU 0: NVIDIA H100 80GB HBM3" in res.stderr and "no wheels folder" in res.stderr
    assert not (out / "venv").exists()


@pytest.mark.skipif(BASH is None, reason="needs bash")
def test_usage_without_an_output_folder(tmp_path: Path) -> None:
    assert BASH is not None
    res = subprocess.run([BASH, str(SCRIPT)], capture_output=True, text=True, timeout=30)
    assert res.returncode == 2 and "usage: benchmarks/gpu_check.sh OUT_DIR" in res.stderr


def _driver() -> Any:
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_the_cuda_provider_it_says_so_and_writes_datasheet_estimates(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from archcalc.runtime import cuda

    driver = _driver()
    monkeypatch.setattr(cuda, "gpu_name", lambda: "NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(cuda, "cuda_problems", lambda: ["CUDA libraries missing: libcublasLt.so.13 (test)"])
    monkeypatch.setattr(driver, "MODELS", ("lenet5_modern", "resnet18"))
    monkeypatch.setattr(driver, "_torch_available", lambda: "torch not importable (test)")
    summary = driver.run(tmp_path)
    data = json.loads((tmp_path / "gpu_check.json").read_text())
    assert data["datasheet"] == "h100" and data["cuda_problems"] == summary["cuda_problems"]
    assert any(n.startswith("CUDA provider missing") for n in data["notes"])
    assert len(data["results"]) == 4 and all(r["median_ms"] is None and r["datasheet_fp32_ms"] > 0
                                             for r in data["results"])
    md = (tmp_path / "gpu_check.md").read_text()
    assert "datasheet, not calibrated" in md and "CUDA provider missing" in md and "| resnet18 | 32 |" in md


def test_quick_gpu_roofline_arithmetic(monkeypatch: pytest.MonkeyPatch) -> None:
    """MatMul 4096^3 = 2 x 4096^3 = 137,438,953,472 FLOP in 2.0 ms beyond a 10 us run ->
    68.7 TFLOP/s; copy 2 x 256 MiB = 536,870,912 bytes in 0.2 ms + 10 us -> 2,684 GB/s; chains:
    one kernel 10 us, 33 kernels 10 + 32 x 3 us -> 3 us per launch."""
    times = {"gemm": 2.0e-3 + 10e-6, "copy": 0.2e-3 + 10e-6, "relu1": 10e-6, "relu33": 10e-6 + 32 * 3e-6}

    def wall(self: Bench, model: Any, runs: int = 20, warmup: int = 3) -> float:
        names = [n.op_type for n in model.graph.node]
        if names == ["Gemm"]:
            return times["gemm"]
        dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
        if dims == [1, gpu_roofline.COPY_FLOATS]:
            return times["copy"]
        return times["relu1"] if len(names) == 1 else times["relu33"]

    monkeypatch.setattr(Bench, "wall", wall)
    choice = SimpleNamespace(device=SimpleNamespace(name="cuda"))
    steps: list[int] = []
    sheet = gpu_roofline.measure_roofline(choice, gpu="NVIDIA H100 80GB HBM3",  # type: ignore[arg-type]
                                          progress=lambda s, d, t: steps.append(d))
    assert steps == [0, 1, 2, 3, 4]
    assert sheet.tflops["fp32"] == pytest.approx(2 * 4096 ** 3 / 2.0e-3 / 1e12)
    assert sheet.bandwidth_gbs == pytest.approx(2 * (1 << 26) * 4 / 0.2e-3 / 1e9)
    assert sheet.launch_us == pytest.approx(3.0)
    with pytest.raises(gpu_roofline.CalibrationError, match="on CUDA, not on cpu"):
        gpu_roofline.measure_roofline(SimpleNamespace(device=SimpleNamespace(name="cpu")))  # type: ignore[arg-type]
