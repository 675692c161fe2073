"""Calibration that costs little: the default suite's micro-benchmarks are capped in working set
(so its memory is bounded), the thorough suite is the full one, and a calibration announces
itself before it starts (CLI: on stderr, before the progress bar; also on the first profile).
The measured time and peak RSS are in benchmarks/calibration_cost.py."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest

from archcalc.cli import main
from archcalc.cli.progress import ProgressBar
from archcalc.estimate import calibration, samples, suite
from archcalc.estimate.samples import (
    PLANS,
    conv_samples,
    conv_working_set_bytes,
    gemm_samples,
    gemm_working_set_bytes,
)
from archcalc.estimate.shapes import conv_class
from tests.test_estimate import synthetic


def test_default_suite_is_capped_and_thorough_is_the_full_one() -> None:
    default, thorough = PLANS["default"], PLANS["thorough"]
    assert default.max_model_bytes <= 96 << 20 and default.repeats == 1
    assert max(default.copy_sizes) * 4 * 2 <= default.max_model_bytes  # a copy's input and output
    convs = [s for s in conv_samples(default.conv_scale) if conv_working_set_bytes(s) <= default.max_model_bytes]
    gemms = [s for s in gemm_samples(default.gemm_scale) if gemm_working_set_bytes(s) <= default.max_model_bytes]
    assert len(convs) >= 100 and len(gemms) >= 15  # still a spread of shapes
    assert {"regular", "pointwise", "first", "depthwise"} <= {conv_class(s) for s in convs}
    # the thorough suite keeps everything, the multi-GiB convs included
    assert thorough.repeats == 3 and max(conv_working_set_bytes(s) for s in conv_samples(thorough.conv_scale)) > 1 << 30


def test_chunks_respect_the_cap() -> None:
    sizes = [10, 30, 50, 20, 90, 5, 5]
    chunks = samples.chunks_by_bytes(range(len(sizes)), sizes, 3, 60)
    assert [i for c in chunks for i in c] == list(range(len(sizes)))
    assert all(len(c) <= 3 and (len(c) == 1 or sum(sizes[i] for i in c) <= 60) for c in chunks)
    assert chunks == [[0, 1], [2], [3], [4], [5, 6]]


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(suite.CalibrationError, match="modes: quick, default, thorough"):
        suite.plan_of("fast")


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_announcement_is_written_at_once_then_the_bar() -> None:
    stream = Tty()
    bar = ProgressBar(stream, after=3600)
    bar.has_tqdm = False
    bar(suite.announcement("cpu", "default"), 0, 10)
    assert stream.getvalue() == "archcalc: calibrating this CPU, about 25 s; cached for next time\n"
    bar("calibrate: probes", 1, 10)  # no waiting after an announcement
    assert "calibrate: probes" in stream.getvalue() and "1/10" in stream.getvalue()
    bar.close()


def _fake_calibrate(seen: list[dict[str, Any]]) -> Any:
    def fake(device: Any, threads: Any, *, quick: bool = False, mode: str = "default", progress: Any = None) -> Any:
        seen.append({"mode": "quick" if quick else mode})
        if progress:
            progress(suite.announcement("cpu", mode), 0, 3)
        return synthetic()
    return fake


@pytest.mark.parametrize("flags, mode", [([], "default"), (["--thorough"], "thorough"), (["--quick"], "quick")])
def test_cli_calibrate_modes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str], mode: str) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(calibration, "calibrate", _fake_calibrate(seen))
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert main(["calibrate", "--device", "cpu", *flags]) == 0
    assert seen == [{"mode": mode}]
    assert "calibrating this CPU" in err.getvalue()


def test_first_profile_announces_its_calibration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from archcalc.runtime import cuda

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(cuda, "cuda_problems", lambda: ["no CUDA device: test"])
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(calibration, "calibrate", _fake_calibrate(seen))
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert main(["profile", "lenet5", "--device", "cpu", "--repeat", "2", "--warmup", "0"]) == 0
    lines = err.getvalue().splitlines()
    said = [i for i, line in enumerate(lines) if "calibrating this CPU, about 25 s; cached for next time" in line]
    assert seen == [{"mode": "default"}] and said
    assert any("no device profile cached" in line for line in lines[: said[0]])
