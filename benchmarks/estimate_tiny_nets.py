"""Latency estimates of tiny CNNs that no benchmark scores: seeded random nets of 2-5 convs (with
ReLU, max-pooling) and 1-2 FC layers, inputs of 1 or 3 channels at 16-32 px, built with
``onnx.helper``. For each: the measured median (no drift probes), the estimate at the calibration's
speed, their ratio, and the estimate's fixed-cost parts (per run, per kernel, layout reorders). A
tiny net is where per-kernel fixed costs decide the estimate; this is how those costs are checked
without looking at the accuracy benchmark's models. Prints figures; asserts nothing.

    python benchmarks/estimate_tiny_nets.py [--nets 12] [--fresh]

``--fresh`` calibrates in a private cache folder first (else the cached CPU profile, calibrating
when there is none).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archcalc.estimate import device_profile, estimate_latency  # noqa: E402
from archcalc.measure import profile  # noqa: E402
from archcalc.runtime import LAYOUT  # noqa: E402
from archcalc.sources import load_any  # noqa: E402


def tiny_net(seed: int) -> Any:
    """One seeded random tiny CNN as an ONNX model (weights small and random, opset 17)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rnd = random.Random(seed)
    weights = np.random.default_rng(seed)
    channels, size = rnd.choice([1, 3]), rnd.choice([16, 24, 28, 32])
    shape_in = [1, channels, size, size]
    nodes, inits, x = [], [], "x"
    for i in range(rnd.randint(2, 5)):
        out, k = rnd.choice([4, 6, 8, 16, 32]), rnd.choice([1, 3, 5])
        inits += [numpy_helper.from_array((weights.standard_normal((out, channels, k, k)) * 0.1).astype(np.float32),
                                          f"w{i}"),
                  numpy_helper.from_array(np.zeros(out, np.float32), f"b{i}")]
        nodes += [helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}"], pads=[k // 2] * 4, kernel_shape=[k, k]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        x, channels = f"r{i}", out
        if size >= 8 and rnd.random() < 0.7:
            nodes.append(helper.make_node("MaxPool", [x], [f"p{i}"], kernel_shape=[2, 2], strides=[2, 2]))
            x, size = f"p{i}", size // 2
    nodes.append(helper.make_node("Flatten", [x], ["flat"]))
    x, width = "flat", channels * size * size
    for j in range(rnd.randint(1, 2)):
        out = rnd.choice([10, 32, 64])
        inits += [numpy_helper.from_array((weights.standard_normal((out, width)) * 0.01).astype(np.float32), f"fw{j}"),
                  numpy_helper.from_array(np.zeros(out, np.float32), f"fb{j}")]
        nodes.append(helper.make_node("Gemm", [x, f"fw{j}", f"fb{j}"], [f"g{j}"], transB=1))
        x, width = f"g{j}", out
    graph = helper.make_graph(nodes, f"tiny{seed}", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape_in)],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, width])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # onnxruntime 1.31 refuses onnx 1.23's default IR version
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nets", type=int, default=12)
    parser.add_argument("--fresh", action="store_true", help="calibrate first, in a private cache folder")
    args = parser.parse_args()
    print(f"# load average before {'/'.join(f'{v:.2f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="archcalc-tiny-") as tmp:
        if args.fresh:
            os.environ["XDG_CACHE_HOME"] = tmp
        dev, _ = device_profile("cpu", None, refresh=args.fresh)
        print(f"# per run {dev.run_us:.2f} us; fixed us per kernel: "
              + ", ".join(f"{k} {v:.2f}" for k, v in sorted(dev.fixed_us.items())))
        print(f"{'net':>4s} {'layers':>6s} {'measured us':>11s} {'estimate us':>11s} {'est/meas':>8s}  "
              f"parts: run / kernels' fixed / layout (us)")
        ratios = []
        for seed in range(args.nets):
            path = Path(tmp) / f"tiny{seed}.onnx"
            path.write_bytes(tiny_net(seed).SerializeToString())
            graph = load_any(str(path))
            est = estimate_latency(graph, dev, batch=1)
            (run,) = profile(str(path), device="cpu", batches=(1,), warmup=50, repeat=400, device_profile=dev,
                             drift_probes=False)
            fixed_ms = sum(e.overhead_ms or 0.0 for k, e in est.layers.items() if k != LAYOUT)
            layout_ms = est.layers[LAYOUT].ms if LAYOUT in est.layers else 0.0
            ratios.append(est.total_ms / run.median_ms)
            print(f"{seed:4d} {len(graph.layers):6d} {run.median_ms * 1e3:11.1f} {est.total_ms * 1e3:11.1f} "
                  f"{ratios[-1]:8.2f}  {est.run_ms * 1e3:.1f} / {fixed_ms * 1e3:.1f} / {layout_ms * 1e3:.1f}",
                  flush=True)
    print(f"median est/meas {statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f}) over "
          f"{len(ratios)} nets; load average after {'/'.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
