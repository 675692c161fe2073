"""Does each CPU of this machine switch between speeds on its own? Prints figures; asserts nothing.

    python benchmarks/cpu_phases.py [--rounds 40] [--gap 0.2] [--loop 100000]

On a shared VM a CPU's speed can switch between two levels several times a second (another tenant
on the host core's other hardware thread, or its frequency): every measurement shorter than that
(a probe, a calibration point, a small model's run) then lands on one level or the other by
luck, which no drift probe measured at another moment can correct (docs/runtime.md, Limits).
This pins a pure-Python loop (no ORT, no numpy: nothing but the core) to each CPU in turn,
``--rounds`` times ``--gap`` seconds apart, and prints per CPU the fastest and slowest round, the
share of rounds nearer the slow level than the fast one, and how often the level changed from one
round to the next. A machine without phases shows a ratio near 1 (x1.0-1.2). Linux only (CPU
affinity); the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time


def loop_ms(n: int) -> float:
    """Milliseconds of a fixed pure-Python loop (the median of three)."""
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        s = 0
        for i in range(n):
            s += i * i
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def summary(values: list[float]) -> tuple[float, float, float, float]:
    """(fastest, slowest, share of rounds nearer the slowest, share of consecutive rounds that
    changed level), the level split at the geometric mean of the fastest and the slowest."""
    fast, slow = min(values), max(values)
    split = (fast * slow) ** 0.5
    levels = [v > split for v in values]
    changes = sum(a != b for a, b in itertools.pairwise(levels))
    return fast, slow, sum(levels) / len(levels), changes / max(len(levels) - 1, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between rounds")
    parser.add_argument("--loop", type=int, default=100_000, help="iterations of the timed loop")
    args = parser.parse_args()
    if not hasattr(os, "sched_setaffinity"):
        sys.exit("cpu_phases: this OS cannot pin a thread to a CPU (os.sched_setaffinity)")
    cpus = sorted(os.sched_getaffinity(0))
    print(f"# {len(cpus)} CPUs; load average before {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    times: dict[int, list[float]] = {c: [] for c in cpus}
    try:
        for _ in range(args.rounds):
            for cpu in cpus:
                os.sched_setaffinity(0, {cpu})
                times[cpu].append(loop_ms(args.loop))
            time.sleep(args.gap)
    finally:
        os.sched_setaffinity(0, set(cpus))
    for cpu in cpus:
        fast, slow, slow_share, changed = summary(times[cpu])
        print(f"CPU {cpu}: fastest {fast:.2f} ms, slowest {slow:.2f} ms (x{slow / fast:.2f}); "
              f"{slow_share:.0%} of rounds nearer the slow level; the level changed between {changed:.0%} of "
              f"consecutive rounds ({args.gap:g} s apart)")
    print(f"# load average after {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
