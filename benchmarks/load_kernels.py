"""Why estimates fail under load: per network, quiet and then with busy processes beside it, the sum
of its kernels' medians (what calibration's points are: medians of profiled kernels), the sum of
their means, and the wall time. Prints figures; asserts nothing.

    python benchmarks/load_kernels.py [--models mobilenet_v2,resnet18,densenet121] [--runs 30] [--load 1]

Measured 2026-12-02 (2-core Intel Xeon, ORT 1.31.1, one busy process): the medians' sums stayed
near the quiet ones (MobileNetV2 3.51 -> 4.21 ms, ResNet-18 12.9 -> 13.8, DenseNet-121 26.7 ->
27.2) while the means' sums followed the wall time (7.73 / 8.02, 31.0 / 32.6, 56.8 / 55.0 ms).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from busy import start_busy, stop_busy  # noqa: E402  (benchmarks/busy.py, beside this script)


def _measure(tag: str, models: dict[str, bytes | str], runs: int) -> None:
    import onnx

    from archcalc.estimate.microbench import Bench
    from archcalc.runtime.devices import choose_device

    bench = Bench(choose_device("cpu"), None)
    for name, payload in models.items():
        model = onnx.load_from_string(payload) if isinstance(payload, bytes) else onnx.load(payload)
        kernels = bench.kernel_runs(model, runs=runs)
        medians = sum(statistics.median(v) for v in kernels.values()) / 1e3
        means = sum(statistics.fmean(v) for v in kernels.values()) / 1e3
        wall = bench.wall(model, runs=runs) * 1e3
        print(f"{tag:6s} {name:14s} kernels {len(kernels):4d}  sum of medians {medians:8.2f} ms  "
              f"sum of means {means:8.2f} ms  wall {wall:8.2f} ms  (load {os.getloadavg()[0]:.2f})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="mobilenet_v2,resnet18,densenet121", help="bundled specs, comma-separated")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--load", type=int, default=1, help="busy processes for the second measurement")
    args = parser.parse_args()

    from archcalc.runtime.prepare import prepare
    from archcalc.sources import load_any

    models = {name: prepare(load_any(name), 1).payload for name in args.models.split(",") if name}
    _measure("quiet", models, args.runs)
    busy = start_busy(args.load)
    try:
        time.sleep(2.0)
        _measure(f"load{args.load}", models, args.runs)
    finally:
        stop_busy(busy)


if __name__ == "__main__":
    main()
