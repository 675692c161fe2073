"""The schema of a cached device profile, and the one way a cache file is read.

A cache is a regular file of at most :data:`MAX_CACHE_BYTES`, checked before a byte is read (a
FIFO or a symlink to ``/dev/zero`` is refused at once); its JSON nests at most
:data:`MAX_DEPTH` levels (checked before parsing: no RecursionError); ``NaN``/``Infinity`` are
refused while parsing; and every field has a type and a range (finite, positive bandwidths and
throughputs, bounded list lengths). Anything else raises :class:`CalibrationError`, which the
cache treats as corrupt.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from archcalc.errors import CalibrationError

#: a real cache is ~50 KB (the thorough suite's); anything past this is not one
MAX_CACHE_BYTES = 4 << 20
MAX_DEPTH = 8
MAX_ROWS = 20_000
MAX_TEXT = 4096

_US = (0.0, 1e9)  # microseconds: a kernel or run cost, from none to 1,000 s
_NS = (0.0, 1e9)


def read_cache_text(path: Path) -> str:
    """The text of the cache file at ``path``: only a regular file, size capped before reading,
    opened without blocking (a FIFO swapped in after the check does not hang)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise CalibrationError(f"cannot read it ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise CalibrationError("it is not a regular file")
    if st.st_size > MAX_CACHE_BYTES:
        raise CalibrationError(f"{st.st_size:,} bytes, over the {MAX_CACHE_BYTES:,} a profile can take")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise CalibrationError(f"cannot read it ({exc.strerror or exc})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CalibrationError("it is not a regular file")
        data = os.read(fd, MAX_CACHE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_CACHE_BYTES:
        raise CalibrationError(f"over the {MAX_CACHE_BYTES:,} bytes a profile can take")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CalibrationError("it is not UTF-8 text") from None


def _depth(text: str) -> int:
    """How deep the JSON's arrays and objects nest (strings skipped), without parsing it."""
    deepest = depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a profile can hold")


def parse_cache(text: str) -> dict[str, Any]:
    """The JSON object of a cache file (nesting and non-finite constants refused first)."""
    if _depth(text) > MAX_DEPTH:
        raise CalibrationError(f"its JSON nests deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        raise CalibrationError(f"not valid JSON ({str(exc)[:120]})") from None
    if not isinstance(data, dict):
        raise CalibrationError("its JSON is not an object")
    return data


def _number(where: str, value: Any, lo: float, hi: float, *, positive: bool = False, integer: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CalibrationError(f"{where} is {type(value).__name__}, not a number")
    if integer and not (isinstance(value, int) or float(value).is_integer()):
        raise CalibrationError(f"{where} is {value!r}, not a whole number")
    v = float(value)
    if not math.isfinite(v) or v < lo or v > hi or (positive and v <= 0):
        bound = f"in ({lo:g}, {hi:g}]" if positive else f"in [{lo:g}, {hi:g}]"
        raise CalibrationError(f"{where} is {value!r}, not a finite number {bound}")


def _text(where: str, value: Any, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise CalibrationError(f"{where} is not a string of at most {MAX_TEXT} characters")


def _mapping(where: str, value: Any, check: Callable[[str, Any], None]) -> None:
    if not isinstance(value, dict) or len(value) > 200:
        raise CalibrationError(f"{where} is not an object of at most 200 entries")
    for key, item in value.items():
        _text(f"{where} key", key)
        check(f"{where}.{key}", item)


def _rows(where: str, value: Any, width: int, checks: tuple[tuple[float, float, bool, bool], ...]) -> None:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_ROWS:
        raise CalibrationError(f"{where} is not a list of 1 to {MAX_ROWS:,} rows")
    for i, row in enumerate(value):
        if not isinstance(row, list) or len(row) != width:
            raise CalibrationError(f"{where}[{i}] is not a list of {width} numbers")
        for j, (item, (lo, hi, positive, integer)) in enumerate(zip(row, checks, strict=True)):
            _number(f"{where}[{i}][{j}]", item, lo, hi, positive=positive, integer=integer)


_DIM = (1.0, 1e6, True, True)
_CONV_ROW = (_DIM, _DIM, _DIM, (1.0, 64.0, True, True), (1.0, 64.0, True, True), _DIM, (1.0, 4096.0, True, True),
             (0.0, 1e9, True, False))
_GEMM_ROW = (_DIM, _DIM, _DIM, (0.0, 1e9, True, False))
_BANDWIDTH_ROW = ((0.0, 1e15, True, False), (0.0, 1e6, True, False))  # bytes moved, GB/s


def check_profile_data(data: Mapping[str, Any]) -> None:
    """Types and ranges of every field a device profile holds; raises CalibrationError."""
    required = ("device", "provider", "ort_version", "cpu", "intra_op_threads", "created", "seconds", "run_us",
                "fixed_us", "profiler_us", "profiler_heavy_us", "bandwidth", "unit_ns", "matmul_gflops", "conv",
                "gemm", "probes", "suite", "schema_version")
    missing = [k for k in required if k not in data]
    if missing:
        raise CalibrationError(f"it lacks {', '.join(missing)}")
    for key in ("device", "provider", "ort_version", "cpu"):
        _text(key, data[key])
    _text("gpu", data.get("gpu"), optional=True)
    _text("mode", data.get("mode", "default"))
    if data.get("threads") is not None:
        _number("threads", data["threads"], 1, 4096, integer=True)
    _number("intra_op_threads", data["intra_op_threads"], 1, 4096, integer=True)
    _number("created", data["created"], 0, 1e11)
    _number("seconds", data["seconds"], 0, 1e7)
    _number("suite", data["suite"], -1e9, 1e9, integer=True)
    _number("schema_version", data["schema_version"], -1e9, 1e9, integer=True)
    for key in ("run_us", "profiler_us", "profiler_heavy_us"):
        _number(key, data[key], *_US)
    _number("matmul_gflops", data["matmul_gflops"], 0, 1e7, positive=True)  # GFLOP/s: up to 10 PFLOP/s
    _number("peak_gflops", data.get("peak_gflops", 0.0), 0, 1e7)
    _mapping("fixed_us", data["fixed_us"], lambda w, v: _number(w, v, *_US))
    _mapping("unit_ns", data["unit_ns"], lambda w, v: _number(w, v, *_NS))
    # probe times are positive; the run queue's count of other runnable tasks is 0 on a quiet machine
    _mapping("probes", data["probes"], lambda w, v: _number(w, v, 0, 1e4, positive=w != "probes.others"))
    _mapping("noise", data.get("noise", {}), lambda w, v: _number(w, v, 0, 1e3))
    _rows("bandwidth", data["bandwidth"], 2, _BANDWIDTH_ROW)
    if data.get("stream"):  # optional: GEMV weight streaming, (weight bytes, GB/s)
        _rows("stream", data["stream"], 2, _BANDWIDTH_ROW)
    _rows("conv", data["conv"], 8, _CONV_ROW)
    _rows("gemm", data["gemm"], 4, _GEMM_ROW)
    notes = data.get("notes", [])
    if not isinstance(notes, list) or len(notes) > 100:
        raise CalibrationError("notes is not a list of at most 100 strings")
    for i, note in enumerate(notes):
        _text(f"notes[{i}]", note)
