"""Does a calibration repeat? Prints figures; asserts nothing.

    python benchmarks/calibration_repeat.py [--calibrations 5] [--mode default]

Runs ``--calibrations`` fresh calibrations one after the other in this process (nothing cached,
nothing merged) and prints, per calibration: its time, its probes, and the fixed costs of the
pooled kernel classes; then each later calibration's conv points against the first one's, by the
first one's kernel time (median and range of the ratio per size bin); then the estimate of a few
models (ONNX fixtures and bundled specs, batch 1, at the calibration's speed: no drift) under
every calibration, with the largest over the smallest. The load average is printed before and
after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archcalc.estimate import calibrate, estimate_latency  # noqa: E402
from archcalc.sources import load_any  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "onnx"
MODELS = {
    "lenet5_modern": str(FIXTURES / "lenet5_modern.onnx"),
    "mobilenet_small": str(FIXTURES / "mobilenet_small.onnx"),
    "fcn_small": str(FIXTURES / "fcn_small.onnx"),
    "convnext_stage": str(FIXTURES / "torch_export" / "convnext_stage_legacy_op17.onnx"),
    "efficientnet_b0": str(FIXTURES / "torchvision" / "efficientnet_b0_tv.onnx"),
    "mobilenet_v2": "mobilenet_v2",
    "resnet18": "resnet18",
}
#: (label, upper bound in microseconds of the first calibration's kernel time)
BINS = (("under 20 us", 20.0), ("20-100 us", 100.0), ("0.1-1 ms", 1000.0), ("over 1 ms", float("inf")))
FIXED = ("conv", "conv_small", "pool", "pool_blocked", "gemm", "ew")


def _load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def _ratios(first: Any, other: Any) -> dict[str, list[float]]:
    base = {tuple(point[:7]): point[7] for point in first.conv}
    out: dict[str, list[float]] = {label: [] for label, _ in BINS}
    for point in other.conv:
        key = tuple(point[:7])
        if key in base and base[key] > 0:
            label = next(label for label, top in BINS if base[key] < top)
            out[label].append(point[7] / base[key])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calibrations", type=int, default=5)
    parser.add_argument("--mode", choices=("quick", "default", "thorough"), default="default")
    args = parser.parse_args()
    graphs = {name: load_any(source) for name, source in MODELS.items()}
    print(f"# {os.cpu_count()} cores; load average before {_load()}; "
          f"{args.calibrations} fresh {args.mode} calibrations")
    profiles = []
    for i in range(args.calibrations):
        started = time.perf_counter()
        profile = calibrate("cpu", mode=args.mode)
        seconds = time.perf_counter() - started
        profiles.append(profile)
        probes = ", ".join(f"{k} {profile.probes[k] * 1e6:.1f} us" for k in ("compute", "overhead")
                           if k in profile.probes)
        fixed = ", ".join(f"{k} {profile.fixed_us[k]:.2f}" for k in FIXED if k in profile.fixed_us)
        print(f"calibration {i}: {seconds:.1f} s; probes {probes}; fixed us: {fixed}", flush=True)
    print("\nconv points against calibration 0, by its kernel time (median ratio [min-max], points):")
    for i, profile in enumerate(profiles[1:], start=1):
        parts = [f"{label}: {statistics.median(v):.2f} [{min(v):.2f}-{max(v):.2f}] n={len(v)}"
                 for label, v in _ratios(profiles[0], profile).items() if v]
        print(f"  calibration {i}: " + "; ".join(parts))
    print("\nestimates (us, batch 1, at each calibration's speed):")
    for name, graph in graphs.items():
        values = [estimate_latency(graph, profile, batch=1).total_ms * 1e3 for profile in profiles]
        print(f"  {name:16s} " + " ".join(f"{v:9.1f}" for v in values)
              + f"   largest/smallest {max(values) / min(values):.2f}")
    print(f"# load average after {_load()}")


if __name__ == "__main__":
    main()
