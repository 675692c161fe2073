"""The calibration cache under hostile contents and places (issues 15 and 16): anything but a
regular file of a valid profile is corrupt (one note, then a recalibration); reading never hangs
or allocates on special files; an unwritable cache does not fail a profile that can run without
it, and refuses `archcalc calibrate` before it measures; every batch and output is checked
before a calibration or any timing; no efficiency above the measured peak."""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from archcalc import estimate as E
from archcalc.cli import main
from archcalc.estimate import calibration, calsamples, profile_schema, suite
from archcalc.estimate.shapes import ConvShape, GemmShape
from tests.test_estimate import synthetic


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "archcalc" / "device-cpu-threads-default.json"


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    from archcalc.runtime import cuda

    monkeypatch.setattr(cuda, "cuda_problems", lambda: ["no CUDA device: test"])


def _valid() -> dict[str, Any]:
    return synthetic().to_dict()


def _deep(n: int) -> str:
    return "[" * n + "]" * n


def _with(**fields: Any) -> str:
    return json.dumps(_valid() | fields)


# contents -> what the one note says
CORRUPT = [
    ("a 100,000-deep array", lambda: json.dumps(_valid())[:-1] + ', "x": ' + _deep(100_000) + "}", "nests deeper"),
    ("Infinity", lambda: json.dumps(_valid()).replace('"run_us": 5.0', '"run_us": Infinity'), "Infinity"),
    ("NaN bandwidth", lambda: _with(bandwidth=[[1e3, "NaN"]]).replace('"NaN"', "NaN"), "NaN"),
    ("1e999 (parses to inf)", lambda: json.dumps(_valid()).replace('"run_us": 5.0', '"run_us": 1e999'), "run_us"),
    ("1e300 run cost", lambda: _with(run_us=1e300), "run_us is 1e+300"),
    ("zero bandwidth", lambda: _with(bandwidth=[[1e3, 0.0]]), "bandwidth[0][1] is 0.0"),
    ("negative bandwidth", lambda: _with(bandwidth=[[1e3, -10.0]]), "bandwidth[0][1] is -10.0"),
    ("zero peak", lambda: _with(matmul_gflops=0), "matmul_gflops is 0"),
    ("negative conv time", lambda: _with(conv=[[16, 16, 1, 3, 1, 8, 1, -1.0]]), "conv[0][7]"),
    ("a string for a number", lambda: _with(run_us="fast"), "run_us is str"),
    ("a bool for a number", lambda: _with(intra_op_threads=True), "intra_op_threads is bool"),
    ("zero threads", lambda: _with(threads=0), "threads is 0"),
    ("a short conv row", lambda: _with(conv=[[16, 16, 1]]), "conv[0] is not a list of 8"),
    ("no conv rows", lambda: _with(conv=[]), "conv is not a list of 1"),
    ("a missing field", lambda: json.dumps({k: v for k, v in _valid().items() if k != "gemm"}), "lacks gemm"),
    ("a list, not an object", lambda: "[1, 2, 3]", "not an object"),
    ("truncated", lambda: json.dumps(_valid())[:200], "not valid JSON"),
    ("not UTF-8", lambda: b"\xff\xfe{}", "not UTF-8"),
    ("5 MiB of spaces", lambda: " " * (5 << 20), "over the"),
]


@pytest.mark.parametrize("what, contents, says", CORRUPT, ids=[c[0] for c in CORRUPT])
def test_corrupt_cache_is_one_note_then_a_recalibration(cache: Path, monkeypatch: pytest.MonkeyPatch, what: str,
                                                         contents: Any, says: str) -> None:
    cache.parent.mkdir(parents=True)
    data = contents()
    if isinstance(data, bytes):
        cache.write_bytes(data)
    else:
        cache.write_text(data)
    started = time.perf_counter()
    got, why = E.load_cached("cpu", None)
    assert time.perf_counter() - started < 2.0
    assert got is None and "is corrupt" in why and says in why and "recalibrating" in why and "\n" not in why
    monkeypatch.setattr(calibration, "calibrate", lambda *a, **k: synthetic(run=7.0))
    profile, notes = E.device_profile("cpu", None)
    assert profile.run_us == 7.0 and notes[0] == why and "cached at" in notes[1]
    assert E.load_cached("cpu", None)[0] is not None  # rewritten valid


def _fifo(path: Path) -> None:
    os.mkfifo(path)


SPECIAL = [
    ("a FIFO with no writer", _fifo, "not a regular file"),
    ("a symlink to /dev/zero", lambda p: p.symlink_to("/dev/zero"), "not a regular file"),
    ("a symlink to a folder", lambda p: p.symlink_to(p.parent), "not a regular file"),
    ("a folder", lambda p: p.mkdir(), "not a regular file"),
    ("a dangling symlink", lambda p: p.symlink_to(p.parent / "gone"), "cannot read it"),
]


@pytest.mark.parametrize("what, make, says", SPECIAL, ids=[c[0] for c in SPECIAL])
def test_special_files_as_cache_are_refused_at_once(cache: Path, what: str, make: Any, says: str) -> None:
    cache.parent.mkdir(parents=True)
    make(cache)
    started = time.perf_counter()
    got, why = E.load_cached("cpu", None)
    assert time.perf_counter() - started < 1.0  # no hang, no read of /dev/zero
    assert got is None and says in why and "corrupt" in why


def test_schema_accepts_what_calibration_writes() -> None:
    data = _valid()
    profile_schema.check_profile_data(data)
    assert profile_schema.parse_cache(json.dumps(data)) == json.loads(json.dumps(data))


def _denied(folder: Path) -> Any:
    """os.access as a non-root user sees a read-only ``folder`` (tests may run as root)."""
    return _deny_two(folder)


def test_read_only_cache_folder_does_not_fail_a_profile(cache: Path, monkeypatch: pytest.MonkeyPatch,
                                                        no_cuda: None) -> None:
    cache.parent.mkdir(parents=True)
    monkeypatch.setattr(os, "access", _denied(cache.parent))
    monkeypatch.setattr(calibration, "calibrate", lambda *a, **k: synthetic())
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["profile", "lenet5", "--device", "cpu", "--repeat", "2", "--warmup", "0", "-f", "json"])
    assert code == 0, err.getvalue()
    notes = json.loads(out.getvalue())["notes"]
    assert any("not cached (cannot write" in n and "permission denied" in n and "this run only" in n for n in notes)
    assert not cache.exists()


def test_cache_under_a_file_is_noted_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    monkeypatch.setattr(calibration, "calibrate", lambda *a, **k: synthetic())
    profile, notes = E.device_profile("cpu", None)
    assert profile.run_us == 5.0 and "not cached" in notes[-1] and "is not a folder" in notes[-1]


def _must_not_calibrate(*a: Any, **k: Any) -> Any:
    raise AssertionError("calibrated before the check")


def _must_not_time(*a: Any, **k: Any) -> Any:
    raise AssertionError("timed before the check")


def _fixed_batch_model(tmp_path: Path) -> Path:
    from archcalc.language.loader import load_spec
    from archcalc.onnx_export.export import export_onnx

    path = tmp_path / "fixed.onnx"
    graph = load_spec({"name": "tiny", "input": [3, 8, 8], "layers": [
        {"name": "c", "type": "conv", "filters": 4, "kernel": 3, "padding": 1}, {"name": "r", "type": "relu"}]})
    path.write_bytes(export_onnx(graph, batch=4).model.SerializeToString())
    return path


def _cases(tmp_path: Path) -> list[tuple[list[str], int, str]]:
    """argv -> exit code -> what the one line says; every one before any calibration or timing."""
    (tmp_path / "ro").mkdir()
    return [
        (["profile", str(_fixed_batch_model(tmp_path)), "--batch", "1,8"], 2, "fixed at 4, so --batch 1 cannot run"),
        (["profile", "lenet5", "-o", str(tmp_path / "missing" / "out.json")], 2, "does not exist"),
        (["profile", "lenet5", "--plot", str(tmp_path / "missing" / "p.png")], 2, "does not exist"),
        (["profile", "lenet5", "-o", str(tmp_path / "ro" / "out.json")], 2, "permission denied"),
        (["profile", "lenet5", "-o", str(tmp_path)], 2, "it is a folder"),
        (["profile", "lenet5", "--batch", "1,100000000", "--max-memory", "1GiB"], 2, "more than the limit"),
        (["calibrate", "--device", "cpu"], 2, "permission denied"),
    ]


def test_everything_is_checked_before_calibration_or_timing(tmp_path: Path, cache: Path,
                                                            monkeypatch: pytest.MonkeyPatch, no_cuda: None) -> None:
    from archcalc import measure

    monkeypatch.setattr(calibration, "calibrate", _must_not_calibrate)
    monkeypatch.setattr(suite, "calibrate", _must_not_calibrate)
    monkeypatch.setattr(measure, "time_runner", _must_not_time)
    cases = _cases(tmp_path)
    cache.parent.mkdir(parents=True)
    monkeypatch.setattr(os, "access", _deny_two(tmp_path / "ro", cache.parent))
    for argv, code, says in cases:
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            got = main(argv)
        lines = [line for line in err.getvalue().splitlines() if line.strip()]
        assert (got, len(lines)) == (code, 1), (argv, err.getvalue())
        assert says in lines[0], (argv, lines)


def _deny_two(*folders: Path) -> Any:
    denied = {f.resolve() for f in folders}
    real = os.access

    def access(path: Any, mode: int, **kw: Any) -> bool:
        if Path(path).resolve() in denied and mode & os.W_OK:
            return False
        return real(path, mode, **kw)
    return access


def test_no_efficiency_above_the_measured_peak() -> None:
    # a conv point at 1,288 GFLOP/s on a device whose MatMul peak is 100 GFLOP/s
    shape = ConvShape(64, 64, 1, 3, 1, 16, 1)
    ran = E.executed_conv(shape, 16, False)[0]
    rows = [[64, 64, 1, 3, 1, 16, 1, ran.flops / 1.288e6 + 1.0]]
    profile = synthetic(matmul_gflops=100.0, conv=rows)
    assert profile.conv_us(shape) >= shape.flops / 1e5 * 0.999  # 100 GFLOP/s = 1e5 FLOP/us
    gemm = GemmShape(64, 1024, 1024)
    assert profile.gemm_us(gemm) >= gemm.flops / 1e5 * 0.999
    # and calibration never records one: _figures floors every point at the peak
    raw = calsamples.Samples()
    raw.log.append({"compute": 1.0, "overhead": 1.0})
    for key, value in {"run": 5.0, "matmul": 2 * 1024 ** 3 / 1e11, "conv:0": 0.001, "gemm:0": 0.001}.items():
        raw.add(key, value, "compute")
    figures = suite._figures(raw, [shape], [gemm], {}, (1 << 12,))
    assert figures["conv"][0][-1] == pytest.approx(shape.flops / 1e5)
    assert figures["gemm"][0][-1] == pytest.approx(gemm.flops / 1e5)
    assert figures["peak_gflops"] == pytest.approx(100.0)
    # kernels long enough to time (>= 50 us) that beat the MatMul raise the peak to their 95th
    # percentile: twenty at 200 GFLOP/s and one glitch at 900 -> the peak is 200, the glitch floored
    big = ConvShape(256, 256, 1, 3, 1, 56, 1)  # 3,699,376,128 FLOP; at 200 GFLOP/s 18,496.9 us
    shapes = [shape] + [big] * 20 + [big]
    for i in range(1, 21):
        raw.add(f"conv:{i}", big.flops / 2e5, "compute")
    raw.add("conv:21", big.flops / 9e5, "compute")
    figures = suite._figures(raw, shapes, [gemm], {}, (1 << 12,))
    assert figures["peak_gflops"] == pytest.approx(200.0)
    assert figures["conv"][1][-1] == pytest.approx(big.flops / 2e5)  # kept as measured
    assert figures["conv"][21][-1] == pytest.approx(big.flops / 2e5)  # the glitch: at the peak
    assert figures["conv"][0][-1] == pytest.approx(shape.flops / 2e5)  # the tiny one: at the peak
