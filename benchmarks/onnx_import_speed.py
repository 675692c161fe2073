"""ONNX import + analysis time on large models, against `onnx.load` alone (and onnx-tool when it
is installed). Prints figures; asserts nothing.

    python benchmarks/onnx_import_speed.py [--runs 5] [--keep DIR]

Models: VGG-16 (~553 MB of random fp32 weights) and ResNet-50 (~102 MB), exported from the bundled
specs with real weights. Every run times, interleaved so machine drift hits all alike:
  onnx.load (parses every weight byte), archcalc.load + analyze (reads dims only: the weight bytes
  are skipped in the file, never parsed), onnx-tool's shape inference + profile (if installed:
  pip install onnx-tool), and the whole CLI `archcalc report MODEL -f json` in a subprocess.
Medians and min of N runs; the first (cold page cache) run is included in neither.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import archcalc  # noqa: E402


def _time(fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t0


def main() -> None:
    import onnx

    from archcalc.onnx_export.export import export_onnx, save

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", help="a folder to write the models to (and reuse)")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="archcalc-onnx-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import onnx_tool
    except ImportError:
        onnx_tool = None
    for name in ("vgg", "resnet50"):
        path = folder / f"{name}.onnx"
        if not path.exists():
            save(export_onnx(archcalc.load(name), seed=1), path)
        size = path.stat().st_size
        report = archcalc.analyze(archcalc.load(str(path)))  # warm the page cache once
        onnx.load(str(path))
        timings: dict[str, list[float]] = {"onnx.load": [], "archcalc load+analyze": [], "archcalc CLI (process)": []}
        if onnx_tool is not None:
            timings["onnx-tool shape_infer+profile"] = []

        def tool(p: Path = path) -> None:
            m = onnx_tool.Model(str(p))
            m.graph.shape_infer()
            m.graph.profile()

        for _ in range(args.runs):
            timings["onnx.load"].append(_time(lambda p=path: onnx.load(str(p))))
            timings["archcalc load+analyze"].append(_time(lambda p=path: archcalc.analyze(archcalc.load(str(p)))))
            timings["archcalc CLI (process)"].append(_time(lambda p=path: subprocess.run(
                [sys.executable, "-m", "archcalc", "report", str(p), "-f", "json"], check=True,
                capture_output=True)))
            if onnx_tool is not None:
                timings["onnx-tool shape_infer+profile"].append(_time(tool))
        print(f"{name}: {size / 2**20:,.0f} MiB file, {len(report.layers)} layers, {report.totals.params:,} params, "
              f"{report.totals.macs:,} MACs")
        base = statistics.median(timings["onnx.load"])
        for label, values in timings.items():
            median = statistics.median(values)
            print(f"  {label:32s} median {median * 1e3:9.1f} ms  min {min(values) * 1e3:9.1f} ms  "
                  f"({median / base:.3f} x onnx.load)")
    if onnx_tool is None:
        print("onnx-tool not installed: pip install onnx-tool to time it side by side")


if __name__ == "__main__":
    main()
