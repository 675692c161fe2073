"""The benchmarks' busy processes (``--load N``) end when the benchmark that started them is gone,
even one killed by a signal, which runs no ``finally`` (one left spinning loaded every later
measurement on the machine)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie nobody reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_a_busy_loop_ends_when_its_benchmark_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; sys.path.insert(0, sys.argv[1]); from busy import start_busy; "
         "(p,) = start_busy(1); print(p.pid, flush=True); time.sleep(60)", str(BENCHMARKS)],
        stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        time.sleep(0.2)
        assert not _gone(child)  # it spins while its benchmark runs
        os.kill(parent.pid, signal.SIGKILL)  # no cleanup of any kind
        parent.wait()
        deadline = time.monotonic() + 5.0
        while not _gone(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _gone(child)
    finally:
        if not _gone(child):
            os.kill(child, signal.SIGKILL)


def test_start_and_stop() -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from busy import start_busy, stop_busy
    finally:
        sys.path.remove(str(BENCHMARKS))
    assert start_busy(0) == []
    procs = start_busy(2)
    stop_busy(procs)
    assert all(p.returncode is not None for p in procs)
