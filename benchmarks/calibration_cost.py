"""What a calibration costs: wall time and peak RSS of `archcalc calibrate` in a subprocess (a
fresh cache folder, so it really measures), with the load average before and after. Prints
figures; asserts nothing.

    python benchmarks/calibration_cost.py [--mode default|thorough|quick] [--rounds 1] [--threads N]

Peak RSS is the child's ``ru_maxrss`` (the largest resident set the calibration process reached),
read with ``os.wait4`` so that only this child counts. Goals for the default mode: at most 30 s
and 1 GiB on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

GOAL_S = 30.0
GOAL_BYTES = 1 << 30


def run_once(mode: str, threads: int | None) -> tuple[float, int, int]:
    """(seconds, peak RSS bytes, exit status) of one calibration in a fresh cache folder."""
    with tempfile.TemporaryDirectory(prefix="archcalc-calcost-") as cache:
        cmd = [sys.executable, "-m", "archcalc", "calibrate", "--device", "cpu"]
        if mode != "default":
            cmd.append(f"--{mode}")
        if threads:
            cmd += ["--threads", str(threads)]
        env = dict(os.environ, XDG_CACHE_HOME=cache, PYTHONPATH=str(ROOT))
        started = time.perf_counter()
        child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert child.stderr is not None
        err = child.stderr.read()
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            print(err.decode(errors="replace")[-2000:], file=sys.stderr)
        return seconds, int(usage.ru_maxrss) * 1024, child.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("default", "thorough", "quick"), default="default")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    print(f"archcalc calibrate ({args.mode}) on {os.cpu_count()} cores; load average before "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for i in range(args.rounds):
        seconds, rss, rc = run_once(args.mode, args.threads)
        verdict = ""
        if args.mode == "default":
            ok = seconds <= GOAL_S and rss <= GOAL_BYTES
            verdict = "  (within the goals: 30 s, 1 GiB)" if ok else "  (OVER the goals: 30 s, 1 GiB)"
        print(f"round {i + 1}: {seconds:.1f} s, peak RSS {rss / 2**20:.0f} MiB, exit {rc}; load average "
              f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}{verdict}")


if __name__ == "__main__":
    main()
