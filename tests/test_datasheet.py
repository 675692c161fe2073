"""Devices you do not have: the datasheet roofline against hand arithmetic, its label in every
output format, the calibrated profile winning where there is one, and names that are not
devices refused with a did-you-mean."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import pytest

from archcalc.cli import main
from archcalc.errors import ArchcalcError, DeviceError, OptionError
from archcalc.estimate import datasheets, ondevice
from archcalc.estimate.datasheets import DATASHEET_LABEL, DATASHEETS, datasheet_named
from archcalc.estimate.ondevice import CALIBRATED_LABEL, estimate_on, gpu_matches
from archcalc.language.loader import load_spec
from tests.test_estimate import synthetic

CONV = {"name": "oneconv", "input": [64, 56, 56], "layers": [
    {"name": "c", "type": "conv", "filters": 64, "kernel": 3, "padding": 1, "bias": "none"}]}


def test_roofline_of_a_known_conv_is_the_hand_value() -> None:
    """64->64 3x3 conv on 56x56, no bias, batch 1.
    MACs = 56*56*64 outputs x 64*3*3 = 200,704 x 576 = 115,605,504; FLOPs = 2 x MACs = 231,211,008.
    fp32 bytes = input 64*56*56*4 = 802,816 + output 802,816 + weights 64*64*9*4 = 147,456 -> 1,753,088.
    A100 fp32 (19.5 TFLOP/s, 2,039 GB/s): compute 231,211,008 / 19.5e12 s = 0.0118570 ms, memory
    1,753,088 / 2.039e12 s = 0.00085978 ms -> compute-bound; + 4 us launch = 0.0158570 ms.
    A100 fp16 (312 TFLOP/s): compute 0.00074106 ms, memory 876,544 / 2.039e12 s = 0.00042989 ms
    -> 0.00074106 + 0.004 = 0.00474106 ms.
    L4 fp32 (30.3 TFLOP/s, 300 GB/s): compute 0.0076307 ms, memory 0.0058436 ms -> 0.0116307 ms."""
    graph = load_spec(CONV)
    est = estimate_on(graph, "a100")
    (conv,) = est.layers
    assert (conv.flops, conv.bytes) == (231_211_008, 1_753_088)
    assert conv.ms == pytest.approx(231_211_008 / 19.5e12 * 1e3 + 0.004, rel=1e-9) == pytest.approx(0.0158570, rel=1e-5)
    assert conv.bound == "compute" and est.total_ms == conv.ms
    half = estimate_on(graph, "a100", precision="fp16").layers[0]
    assert half.bytes == 876_544 and half.ms == pytest.approx(0.00474106, rel=1e-5)
    l4 = estimate_on(graph, "l4").layers[0]
    assert l4.ms == pytest.approx(231_211_008 / 30.3e12 * 1e3 + 0.004, rel=1e-9)
    # TF32 is a tensor-core rate, storage stays 4 bytes: A100 156 TFLOP/s
    tf32 = estimate_on(graph, "a100", precision="tf32").layers[0]
    assert tf32.bytes == 1_753_088 and tf32.ms == pytest.approx(231_211_008 / 156e12 * 1e3 + 0.004, rel=1e-9)


def test_memory_bound_layers_and_batch() -> None:
    """A ReLU on 64x56x56 at batch 8 on an H100: 0 FLOP-heavy, bytes = in + out = 2 x 8 x 802,816
    = 12,845,056 -> 12,845,056 / 3.35e12 s = 0.0038344 ms + 0.004 launch."""
    graph = load_spec({"name": "relu", "input": [64, 56, 56], "layers": [{"name": "r", "type": "relu"}]})
    (relu,) = estimate_on(graph, "h100", batch=8).layers
    assert relu.bytes == 12_845_056 and relu.bound in ("memory", "launch")
    assert relu.ms == pytest.approx(12_845_056 / 3.35e12 * 1e3 + 0.004, rel=1e-6)


def test_every_device_cites_its_datasheet_and_has_sane_figures() -> None:
    assert {"h100", "h200", "a100", "l4", "t4", "v100", "rtx4090"} <= set(DATASHEETS)
    for sheet in DATASHEETS.values():
        assert "Datasheet" in sheet.source or "whitepaper" in sheet.source
        assert sheet.bandwidth_gbs > 100 and sheet.tflops["fp32"] > 1 and sheet.tflops["fp16"] >= sheet.tflops["fp32"]
        assert sheet.launch_us == datasheets.LAUNCH_US


@pytest.mark.parametrize("fmt", ["table", "markdown", "json", "csv"])
def test_the_label_is_in_every_format(fmt: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["estimate", "resnet18", "--device", "h100", "--dtype", "bf16", "-f", fmt]) == 0, err.getvalue()
    text = out.getvalue()
    assert DATASHEET_LABEL in text
    if fmt == "json":
        data = json.loads(text)
        assert data["basis"] == DATASHEET_LABEL and "H100 Tensor Core GPU Datasheet" in data["source"]
        assert data["precision"] == "bf16" and data["peak_tflops"] == 989.5
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))  # the first line is the header
        assert rows and all(r["basis"] == DATASHEET_LABEL for r in rows)
    else:
        assert "H100 Tensor Core GPU Datasheet" in text


def test_calibrated_cpu_says_so_and_not_datasheet() -> None:
    est = estimate_on(load_spec(CONV), "cpu", device_profile=synthetic())
    assert est.calibrated and est.basis.startswith(CALIBRATED_LABEL) and DATASHEET_LABEL not in est.basis
    with pytest.raises(OptionError, match="fp32"):
        estimate_on(load_spec(CONV), "cpu", precision="fp16", device_profile=synthetic())


def test_a_device_calibrated_here_wins_over_its_datasheet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from archcalc.estimate.calibration import save_profile
    from archcalc.runtime import cuda

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(cuda, "gpu_name", lambda: "NVIDIA H100 80GB HBM3")
    save_profile(synthetic(device="cuda", provider="CUDAExecutionProvider", gpu="NVIDIA H100 80GB HBM3"))
    est = estimate_on(load_spec(CONV), "h100")
    assert est.calibrated and any("calibrated profile wins" in n for n in est.notes)
    other = estimate_on(load_spec(CONV), "a100")  # another GPU: still its datasheet
    assert other.basis == DATASHEET_LABEL


@pytest.mark.parametrize("gpu, device, match", [
    ("NVIDIA H100 80GB HBM3", "h100", True), ("NVIDIA H100 PCIe", "h100", False), ("NVIDIA H100 PCIe", "h100-pcie", True),
    ("NVIDIA A100-SXM4-80GB", "a100", True), ("NVIDIA A100-PCIE-40GB", "a100-40gb", True),
    ("NVIDIA GeForce RTX 4090", "rtx4090", True), ("Tesla T4", "t4", True), ("NVIDIA L40S", "l4", False),
    (None, "h100", False),
])
def test_gpu_names_match_their_datasheet(gpu: str | None, device: str, match: bool) -> None:
    assert gpu_matches(DATASHEETS[device], gpu) is match


# argv -> exit code -> the one line
REFUSED = [
    (["estimate", "resnet18", "--device", "h10"], "unknown device 'h10' (did you mean 'h100'?)"),
    (["estimate", "resnet18", "--device", "a1000"], "(did you mean 'a100'?)"),
    (["estimate", "resnet18", "--device", "tpu"], "devices: cpu (calibrated here), h100"),
    (["estimate", "resnet18", "--device", "h100", "--dtype", "fp61"], "unknown precision 'fp61' (did you mean"),
    (["estimate", "resnet18", "--device", "t4", "--dtype", "bf16"], "NVIDIA T4 has no bf16 throughput"),
    (["estimate", "resnet18", "--device", "v100", "--dtype", "tf32"], "no tf32 throughput"),
    (["estimate", "resnet18", "--device", "h100", "--batch", "0"], "--batch must be at least 1"),
]


@pytest.mark.parametrize("argv, says", REFUSED, ids=[" ".join(a[3:]) for a, _ in REFUSED])
def test_refusals_are_one_line(argv: list[str], says: str) -> None:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert main(argv) == 2
    assert err.getvalue().count("\n") == 1 and says in err.getvalue(), err.getvalue()


def test_library_errors_are_archcalc_errors() -> None:
    with pytest.raises(OptionError):
        datasheet_named("h10")
    with pytest.raises(DeviceError):
        DATASHEETS["t4"].peak_tflops("bf16", True)
    assert issubclass(DeviceError, ArchcalcError)
    assert ondevice.estimate_on("lenet5", "H100").device == "h100"  # names are case-insensitive
