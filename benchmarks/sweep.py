"""Sweep throughput: variants analysed per second, with results. Prints figures; asserts nothing.

    python benchmarks/sweep.py [--variants 10000] [--workers N]

ResNet-18 (the bundled spec): 10,000 variants over width x input size x layer3 depth x conv1
kernel, every one a different network (nothing is memoised but block expansion of identical
(width, depth) pairs, which the sweep engine does by design). Then variants/s for VGG-16 and
ResNet-50-sized specs. Each figure is the median of 3 runs, timed end to end (grid expansion,
process pool, analysis, rows back in the parent).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archcalc.sweeps import sweep  # noqa: E402

GRIDS = {
    "resnet18": {"width": list(range(16, 96, 4)), "input.size": "128:320:8", "layer3.repeat": [1, 2, 3, 4, 5],
                 "conv1.kernel": [3, 5, 7, 9]},
    "vgg": {"n3": [2, 3, 4], "n4": [2, 3, 4], "n5": [2, 3, 4], "input.size": "96:512:32",
            "stage1.conv.0.conv.filters": [32, 48, 64, 96]},
    "resnet50": {"width": [32, 48, 64, 80], "n2": [3, 4, 5], "n3": [4, 6, 8], "input.size": "128:352:16",
                 "batch": [1, 8]},
}


def run(name: str, limit: int | None, workers: int | None) -> None:
    from archcalc.sweeps import make_grid

    grid = GRIDS[name]
    variants = make_grid(grid).count
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        result = sweep(ROOT / "specs" / f"{name}.yaml", grid, workers=workers)
        times.append(time.perf_counter() - t0)
    elapsed = statistics.median(times)
    print(f"{name}: {variants:,} variants in {elapsed:.2f} s (median of 3) = {variants / elapsed:,.0f} variants/s; "
          f"{len(result.errors)} invalid rows; distinct MACs values {len({r['macs'] for r in result.ok}):,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    for name in GRIDS:
        run(name, None, args.workers)


if __name__ == "__main__":
    main()
