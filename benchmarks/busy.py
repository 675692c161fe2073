"""Busy processes for the benchmarks' ``--load N``: a Python loop each, that ends by itself when the
benchmark that started it is gone (a benchmark killed by a signal runs no ``finally``: before, its
busy loops ran on, orphaned, and loaded every later measurement on the machine).

    from busy import start_busy, stop_busy   # (benchmarks/ is the script's folder: on sys.path)
"""

from __future__ import annotations

import subprocess
import sys

#: the loop: spins, and every ~100k iterations (a few milliseconds) checks that its parent is
#: still the process that started it (an orphan is re-parented to init or a subreaper)
LOOP = ("import os\n"
        "parent = os.getppid()\n"
        "while os.getppid() == parent:\n"
        "    for _ in range(100_000):\n"
        "        pass\n")


def start_busy(n: int) -> list[subprocess.Popen[bytes]]:
    """``n`` busy processes (none for 0)."""
    return [subprocess.Popen([sys.executable, "-c", LOOP]) for _ in range(max(n, 0))]


def stop_busy(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait()
