"""Cancelling a sweep: Ctrl-C returns within a second (exit 130, one line), and no worker outlives the
sweeping process, whether it is interrupted, terminated or killed (issue 16)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

#: ~50,000 ResNet-18 variants: minutes of work on any machine
BIG = ["sweep", "resnet18", "--vary", "width=8:200", "--vary", "input.size=64:320", "--workers", "2"]
CLI = [sys.executable, "-c", "import sys; from archcalc.cli import main; sys.exit(main())"]


def _children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (psutil, else /proc, else ps)."""
    try:
        import psutil

        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except ImportError:
        pass
    if Path("/proc").is_dir():
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
        return found
    out = subprocess.run(["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True, check=True).stdout
    return [int(a) for a, b in (line.split() for line in out.splitlines()) if int(b) == pid]


def _running(pid: int) -> bool:
    """Whether ``pid`` is still a live process (a zombie waiting to be reaped is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rpartition(")")[2].split()[0] != "Z" if stat.parent.exists() else True
    except OSError:
        return False


def _start(new_session: bool = False) -> tuple[subprocess.Popen[str], list[int]]:
    """``archcalc sweep`` on a big grid, once its workers run (before the progress bar is drawn)."""
    proc = subprocess.Popen([*CLI, *BIG], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=new_session)
    deadline = time.monotonic() + 30
    workers: list[int] = []
    while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
        time.sleep(0.05)
        workers = _children(proc.pid)
    if len(workers) < 2 or proc.poll() is not None:
        proc.kill()
        _finish(proc, workers)
        raise AssertionError(f"the workers never started (exit {proc.returncode})")
    time.sleep(0.3)  # let them take work
    return proc, workers


def _gone_within(pids: list[int], seconds: float) -> float:
    """Seconds until every pid is gone; past ``seconds`` an AssertionError (the leftovers, which
    this test started, are killed: a failing test leaves nothing running)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if not any(_running(p) for p in pids):
            return time.monotonic() - t0
        time.sleep(0.05)
    left = [p for p in pids if _running(p)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    raise AssertionError(f"workers still running {seconds} s later: {left}")


def _finish(proc: subprocess.Popen[str], workers: list[int]) -> tuple[str, str]:
    """The output of ``proc`` once it has exited (workers that hold its pipes open are given 10 s)."""
    try:
        return proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        _gone_within(workers, 0)
        raise


@pytest.mark.parametrize("group", [False, True], ids=["parent", "process-group"])
def test_sigint_returns_within_a_second(group: bool) -> None:
    proc, workers = _start(new_session=group)
    t0 = time.monotonic()
    if group:  # what a terminal's Ctrl-C does: every process of the group gets SIGINT
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    out, err = _finish(proc, workers)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 130 and elapsed < 1.0, (proc.returncode, elapsed, err)
    assert out == "" and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("archcalc")]
    assert lines == ["archcalc: sweep: 49,601 variants", "archcalc: interrupted"], err
    assert err.rstrip().endswith("\narchcalc: interrupted")
    _gone_within(workers, 2.0)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_workers_die_with_their_parent(sig: signal.Signals) -> None:
    proc, workers = _start()
    proc.send_signal(sig)
    proc.wait(timeout=10)
    assert proc.returncode == -sig
    _finish(proc, workers)
    _gone_within(workers, 5.0)


def test_the_watchdog_alone_ends_orphaned_workers(tmp_path: Path) -> None:
    """Without the parent-death signal (systems other than Linux), the watchdog thread still ends
    a worker whose parent is gone."""
    code = ("import os, signal, sys\n"
            "from archcalc.sweeps import pool\n"
            "pool._PR_SET_PDEATHSIG = 0  # prctl(0): an invalid option, no parent-death signal\n"
            "p = pool.local_pool(1)\n"
            "print(p.submit(os.getpid).result(), flush=True)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    out = tmp_path / "out"
    with out.open("w") as stdout:  # a file, not a pipe: an orphan holding it cannot block this test
        proc = subprocess.run([sys.executable, "-c", code], stdout=stdout, stderr=subprocess.STDOUT, timeout=60)
    assert proc.returncode == -signal.SIGKILL, out.read_text()
    worker = int(out.read_text().split()[0])
    assert _gone_within([worker], 5.0) < 3.0


def test_an_interrupt_through_the_api_stops_the_pool_at_once() -> None:
    """``sweep`` itself: a KeyboardInterrupt while chunks run (here raised by the progress callback)
    cancels the queued chunks, kills the workers and propagates, without waiting for the work."""
    from archcalc.sweeps import sweep
    from tests.conftest import SPECS

    before = set(_children(os.getpid()))
    seen: list[int] = []
    workers: list[int] = []

    def progress(done: int, total: int) -> None:
        if done:
            workers.extend(set(_children(os.getpid())) - before)
            raise KeyboardInterrupt
        seen.append(total)

    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        sweep(SPECS / "resnet18.yaml", {"width": "8:200", "input.size": "64:320"}, workers=2, chunk_size=20,
              metrics=("params",), progress=progress)
    assert time.monotonic() - t0 < 20 and seen == [49_601]
    assert workers, "the pool never started"
    _gone_within(workers, 2.0)
