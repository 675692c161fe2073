"""What an activation fused into a convolution costs, whole runs: each network against its twin with
every Clip (ReLU6) or HardSwish replaced by a ReLU, timed in one process, interleaved, so the
machine's speed cancels; the estimate's ratio of the two against the measured ratio. Prints
figures; asserts nothing (performance is not a test).

    python benchmarks/fused_activation.py [--rounds 30] [--runs 20]

ORT's NCHWc conv applies a fused ReLU as it writes its output, and a fused Clip, HardSwish,
HardSigmoid, Sigmoid, Tanh or LeakyRelu as a second pass (``archcalc/estimate/fusedact.py``),
which calibration measures on one synthetic depthwise conv per activation. The twins here are
networks calibration never saw. Each ratio is the median over rounds of (median of ``--runs``
runs of the network) / (the same of its twin), the two alternating, each block 40 ms after the
other's (ORT's idle worker threads spin for ~20-30 ms after a run, on the same cores), with the
25th-75th percentiles.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archcalc import load  # noqa: E402
from archcalc.estimate import device_profile, estimate_latency  # noqa: E402
from archcalc.onnx_export.export import export_onnx  # noqa: E402
from archcalc.runtime.devices import choose_device  # noqa: E402
from archcalc.runtime.session import Runner, feeds_for, open_session  # noqa: E402
from archcalc.sources import load_any  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "onnx"
#: (name, source): bundled specs exported; ONNX fixtures imported and exported with weights
MODELS = [("mobilenet_v2 (ReLU6)", "mobilenet_v2"), ("mobilenet_small (ReLU6)", str(FIXTURES / "mobilenet_small.onnx")),
          ("MobileNetV3-Large (HardSwish)", str(FIXTURES / "torchvision" / "mobilenet_v3_large_tv.onnx"))]
#: the ops replaced by a ReLU in the twin
REPLACED = ("Clip", "HardSwish")
#: seconds between one session's block and the other's
SETTLE_S = 0.04


def _twin(model: Any) -> tuple[Any, int]:
    """The model with every Clip and HardSwish a Relu (Clip's bounds dropped), and how many."""
    import onnx

    twin = onnx.ModelProto()
    twin.CopyFrom(model)
    count = 0
    for node in twin.graph.node:
        if node.op_type in REPLACED:
            node.op_type = "Relu"
            del node.input[1:]
            count += 1
    used = {name for node in twin.graph.node for name in node.input}
    keep = [init for init in twin.graph.initializer if init.name in used]
    del twin.graph.initializer[:]
    twin.graph.initializer.extend(keep)
    return twin, count


def _median_run_s(runner: Runner, runs: int) -> float:
    return statistics.median(runner.timed() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    import onnx

    dev, notes = device_profile("cpu")
    for note in notes:
        print(note)
    choice = choose_device("cpu")
    units = {k: round(v, 4) for k, v in sorted(dev.unit_ns.items()) if k.startswith("fused:")}
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; fused-activation units "
          f"(ns per output element): {units or 'none (a profile from before suite 21)'}")
    print(f"{'network':32s} {'replaced':>8s} | measured ms: network, twin, ratio [q25-q75] | estimate: ratio")
    with tempfile.TemporaryDirectory(prefix="archcalc-fused-") as tmp:
        for name, source in MODELS:
            graph = load_any(source)
            model = export_onnx(graph, weights="random").model
            twin, count = _twin(model)
            twin_path = Path(tmp) / "twin.onnx"
            onnx.save(twin, str(twin_path))
            twin_graph = load(str(twin_path), batch=1)
            est = estimate_latency(graph, dev, batch=1).total_ms / estimate_latency(twin_graph, dev, batch=1).total_ms
            runners = [Runner(s, feeds_for(s, 1)) for s in (open_session(m.SerializeToString(), choice)
                                                            for m in (model, twin))]
            for runner in runners:
                _median_run_s(runner, 10)
            times: list[list[float]] = [[], []]
            for r in range(args.rounds):
                for i in ((0, 1) if r % 2 else (1, 0)):
                    time.sleep(SETTLE_S)  # the other session's idle worker threads stop spinning first
                    runners[i].run()
                    times[i].append(_median_run_s(runners[i], args.runs))
            ratios = sorted(a / b for a, b in zip(*times, strict=True))
            q = statistics.quantiles(ratios, n=4)
            print(f"{name:32s} {count:8d} | {statistics.median(times[0]) * 1e3:8.3f} "
                  f"{statistics.median(times[1]) * 1e3:8.3f} {statistics.median(ratios):6.3f} [{q[0]:.3f}-{q[2]:.3f}]"
                  f" | {est:6.3f}")
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
