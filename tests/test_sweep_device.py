"""Sweeps estimate latency on a datasheet device (``--device h100``), labelled ``datasheet, not
calibrated`` in every output format; a device calibrated here wins and says so."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import pytest

from archcalc.cli import main
from archcalc.errors import OptionError
from archcalc.estimate.datasheets import DATASHEET_LABEL
from archcalc.estimate.ondevice import CALIBRATED_LABEL, estimate_on
from archcalc.language.loader import load_spec
from archcalc.sweeps import sweep
from archcalc.sweeps.variants import apply
from tests.test_estimate import synthetic

SPEC = {"name": "tiny", "input": [3, 32, 32], "layers": [
    {"name": "c1", "type": "conv", "filters": 16, "kernel": 3, "padding": 1},
    {"name": "r1", "type": "relu"},
    {"name": "p", "type": "maxpool", "kernel": 2, "stride": 2},
    {"name": "f", "type": "fc", "units": 10}]}


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def test_api_sweep_on_a_datasheet_is_the_estimate_of_each_variant() -> None:
    result = sweep(SPEC, {"c1.filters": [16, 64], "input.size": [32, 64]}, device="h100", precision="fp16",
                   metrics=("macs",))
    assert result.metrics == ("macs", "latency_ms") and len(result) == 4
    for row in result:
        assert row["latency_basis"].startswith(DATASHEET_LABEL) and "H100" in row["latency_basis"]
        graph = apply(load_spec(SPEC), {"size": row["input.size"]}, {("c1", "filters"): row["c1.filters"]})
        want = estimate_on(graph, "h100", precision="fp16").total_ms
        assert row["latency_ms"] == pytest.approx(want, rel=1e-12)
    small, large = sorted(result.rows, key=lambda r: r["macs"])[0], sorted(result.rows, key=lambda r: r["macs"])[-1]
    assert large["latency_ms"] > small["latency_ms"]
    assert json.loads(result.to_json())["latency_basis"].startswith(DATASHEET_LABEL)


@pytest.mark.parametrize("fmt", ["table", "markdown", "json", "csv"])
def test_cli_sweep_labels_datasheet_latency_in_every_format(fmt: str, tmp_path: Path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(json.dumps(SPEC))
    rc, text, err = _cli(["sweep", str(spec), "--vary", "c1.filters=16,32", "--device", "h100", "-f", fmt])
    assert rc == 0, err
    if fmt == "json":
        data = json.loads(text)
        assert "latency_ms" in data["metrics"] and all(r["latency_basis"].startswith(DATASHEET_LABEL)
                                                       for r in data["rows"])
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == 2 and all(r["latency_basis"].startswith(DATASHEET_LABEL) and float(r["latency_ms"]) > 0
                                      for r in rows)
    else:
        assert f"latency_ms: {DATASHEET_LABEL}" in text and "H100" in text


def test_a_gpu_calibrated_here_wins_in_a_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from archcalc.estimate.calibration import save_profile
    from archcalc.runtime import cuda

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(cuda, "gpu_name", lambda: "NVIDIA H100 80GB HBM3")
    save_profile(synthetic(device="cuda", provider="CUDAExecutionProvider", gpu="NVIDIA H100 80GB HBM3"))
    result = sweep(SPEC, {"c1.filters": [16, 32]}, device="h100", metrics=("macs",))
    for row in result:
        assert row["latency_basis"].startswith(CALIBRATED_LABEL) and "calibrated profile wins" in row["latency_basis"]
        assert DATASHEET_LABEL not in row["latency_basis"]
    assert any("calibrated profile wins" in n for n in result.meta["notes"])
    with pytest.raises(OptionError, match="fp32"):
        sweep(SPEC, {"c1.filters": [16]}, device="h100", precision="fp16")
    other = sweep(SPEC, {"c1.filters": [16]}, device="a100")  # another GPU: still its datasheet
    assert other.rows[0]["latency_basis"].startswith(DATASHEET_LABEL)


def test_a_calibrated_cpu_sweep_says_so() -> None:
    result = sweep(SPEC, {"c1.filters": [16, 32]}, metrics=("latency_ms",), device_profile=synthetic())
    assert all(r["latency_basis"] == CALIBRATED_LABEL and r["latency_ms"] > 0 for r in result)


def test_a_calibrated_sweep_gives_each_estimate_its_band() -> None:
    """Each calibrated row carries the band ``archcalc estimate`` gives the same variant without probes: the
    range the probes took during calibration, widened by the points' repeat disagreement."""
    from archcalc import load
    from archcalc.estimate import estimate_latency

    profile = synthetic(noise={"compute_lo": 0.9, "compute_hi": 1.25, "overhead_lo": 0.8, "overhead_hi": 1.5,
                               "points": 0.04})
    result = sweep(SPEC, {"c1.filters": [16, 32]}, metrics=("latency_ms",), device_profile=profile)
    assert {"latency_low_ms", "latency_high_ms"} <= set(result.columns)
    for r in result:
        spec = {**SPEC, "layers": [{**SPEC["layers"][0], "filters": r["c1.filters"]}, *SPEC["layers"][1:]]}
        graph = load(spec)
        est = estimate_latency(graph, profile, batch=1)
        band = est.band(profile)
        assert r["latency_ms"] == pytest.approx(est.total_ms, rel=1e-12)
        assert (r["latency_low_ms"], r["latency_high_ms"]) == pytest.approx((band.low_ms, band.high_ms), rel=1e-12)
        assert r["latency_low_ms"] < r["latency_ms"] < r["latency_high_ms"]
    datasheet = sweep(SPEC, {"c1.filters": [16]}, device="h100", metrics=("latency_ms",))
    assert "latency_low_ms" not in datasheet.columns  # a datasheet has no noise to give a band


@pytest.mark.parametrize("argv, says", [
    (["--device", "h10"], "unknown device 'h10' (did you mean 'h100'?)"),
    (["--device", "h100", "--dtype", "int8"], "--dtype int8 is not one of them"),
])
def test_sweep_device_refusals_are_one_line(argv: list[str], says: str) -> None:
    rc, _, err = _cli(["sweep", "resnet18", "--vary", "width=32,64", *argv])
    assert rc == 2 and says in err and "Traceback" not in err and err.count("\n") == 1
