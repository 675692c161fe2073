"""Latency estimates of CNNs at small inputs, where a network's weights and its per-channel
gates cost more than its arithmetic: squeeze-and-excitation networks at 64-128 px and classic
networks at 32-64 px, none of them scored by ``benchmarks/estimate_accuracy.py``. Prints
figures; asserts nothing.

    python benchmarks/small_inputs.py [--rounds 10] [--seconds 1] [--baseline DIR] [--skip-kernels]

1. Kernels, the two costs the estimator prices besides a kernel's arithmetic and bytes:
   a. broadcast spans (``archcalc.estimate.spans``): chains of 40 Muls on one tensor, wall time per
      op: by one value per channel (``N x C x 1 x 1``, the SE gate), by a tensor of its own shape,
      by one value, and of an ``N x H x W x C`` tensor by a vector over its last axis; the extra
      time per span over the same-shape Mul;
   b. SE gates alone, a chain of 20 on one map (GlobalAveragePool, 1x1 conv to C/4, ReLU, 1x1 conv
      back, Sigmoid, Mul), and the same without the convs: measured and estimated per gate. The
      convs of a gate run on a 1x1 map: they read their weights once per run and do little else,
      and 20 gates of 1152 channels hold 53 MB of them.
2. Networks: calibrates (the default suite, in a private cache), then times every network with
   all their sessions open at once, in rounds (a block of each per round, in a new order each
   round, after 40 ms for the last session's idle workers to stop spinning), and estimates each
   from that calibration: as it is, and with the span cost set to zero (paired on the same
   measurements). ``--baseline DIR``: also the estimates of another archcalc checkout (e.g. a
   ``git worktree`` of an older commit) from the same calibration, in a subprocess, paired too.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archcalc.estimate import device_profile, estimate_latency  # noqa: E402
from archcalc.estimate.microbench import Bench, model_of  # noqa: E402
from archcalc.estimate.spans import SPAN_KEY, broadcast_spans  # noqa: E402
from archcalc.runtime.devices import choose_device  # noqa: E402
from archcalc.runtime.session import Runner, feeds_for, open_session  # noqa: E402

CHAIN = 40
GATES = 20
#: (channels, height = width) of the Mul chains, and of the gate chains
KERNEL_CASES = ((1152, 2), (1152, 4), (1152, 7), (4096, 2), (672, 4), (256, 7), (256, 14), (64, 28), (16, 56))
GATE_CASES = ((96, 16), (240, 8), (480, 4), (672, 4), (1152, 2))
#: (name, spec, spec variables, input size or None)
NETWORKS: list[tuple[str, str, dict[str, Any], int | None]] = [
    ("efficientnet_b0 @64", "efficientnet_b0", {"res": 64}, None),
    ("efficientnet_b0 @96", "efficientnet_b0", {"res": 96}, None),
    ("efficientnet_b0 @128", "efficientnet_b0", {"res": 128}, None),
    ("mobilenet_v3_large @64", "mobilenet_v3_large", {}, 64),
    ("mobilenet_v3_large @96", "mobilenet_v3_large", {}, 96),
    ("mobilenet_v3_large @128", "mobilenet_v3_large", {}, 128),
    ("resnet50 @64", "resnet50", {}, 64),
    ("resnet18 @32", "resnet18", {}, 32),
    ("vgg11 @32", "vgg11", {}, 32),
    ("densenet121 @64", "densenet121", {}, 64),
    ("mobilenet_v2 @64", "mobilenet_v2", {}, 64),
    ("mobilenet_v2 @96", "mobilenet_v2", {}, 96),
    ("resnet18 width=16 @64", "resnet18", {"width": 16}, 64),
]
SETTLE_S = 0.04
#: run by ``--baseline`` in the other checkout: its estimates of NETWORKS from a profile (JSON)
BASELINE_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from archcalc.estimate import estimate_latency
from archcalc.estimate.deviceprofile import DeviceProfile
from archcalc.language.loader import load_spec
from archcalc.runtime.prepare import prepare
from archcalc.sweeps.variants import apply
dev = DeviceProfile.from_dict(json.load(open(sys.argv[2])))
out = []
for name, spec, variables, size in json.load(open(sys.argv[3])):
    graph = load_spec(spec, variables=variables or None)
    graph = apply(graph, {"size": size}, {}) if size else graph
    prepared = prepare(graph, 1)
    out.append(estimate_latency(prepared.graph, dev, batch=1, report=prepared.report).total_ms)
print(json.dumps(out))
"""


def _wall_us(bench: Bench, models: dict[str, Any], rounds: int, per_model: int) -> dict[str, float]:
    """Each model's median run (us), its runs interleaved with the others' in rounds."""
    runners = {k: bench.runner(m) for k, m in models.items()}
    got: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(rounds):
        for k, r in runners.items():
            for _ in range(3):
                r.run()
            got[k].append(statistics.median(r.timed() for _ in range(15)))
    return {k: statistics.median(v) / per_model * 1e6 for k, v in got.items()}


def _mul_chain(shape: list[int], other: list[int]) -> Any:
    from onnx import helper

    nodes, x = [], "x"
    for i in range(CHAIN):
        nodes.append(helper.make_node("Mul", [x, "s"], [f"y{i}"], name=f"m{i}"))
        x = f"y{i}"
    return model_of(nodes, [("x", shape), ("s", other)], [x])


def _gate_chain(c: int, h: int, convs: bool) -> Any:
    import numpy as np
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(c * 100 + h)
    nodes, inits, x, r = [], [], "x", max(8, c // 4)
    for i in range(GATES):
        nodes.append(helper.make_node("GlobalAveragePool", [x], [f"g{i}"], name=f"gap{i}"))
        cur = f"g{i}"
        if convs:
            inits += [numpy_helper.from_array((rng.random((r, c, 1, 1)) * 0.01).astype(np.float32), f"w1_{i}"),
                      numpy_helper.from_array(np.zeros(r, np.float32), f"b1_{i}"),
                      numpy_helper.from_array((rng.random((c, r, 1, 1)) * 0.01).astype(np.float32), f"w2_{i}"),
                      numpy_helper.from_array(np.zeros(c, np.float32), f"b2_{i}")]
            nodes += [helper.make_node("Conv", [cur, f"w1_{i}", f"b1_{i}"], [f"c1_{i}"], kernel_shape=[1, 1]),
                      helper.make_node("Relu", [f"c1_{i}"], [f"r{i}"]),
                      helper.make_node("Conv", [f"r{i}", f"w2_{i}", f"b2_{i}"], [f"c2_{i}"], kernel_shape=[1, 1])]
            cur = f"c2_{i}"
        nodes.append(helper.make_node("Sigmoid", [cur], [f"s{i}"]))
        nodes.append(helper.make_node("Mul", [x, f"s{i}"], [f"y{i}"]))
        x = f"y{i}"
    return model_of(nodes, [("x", [1, c, h, h])], [x], inits)


def kernels(rounds: int, dev: Any) -> None:
    import onnx

    from archcalc.sources import load_any

    bench = Bench(choose_device("cpu"), None)
    print(f"# 1a. chains of {CHAIN} Muls, wall time per op (median of {rounds} rounds of 15 runs, interleaved)")
    print(f"{'C':>5s} {'HxW':>7s} {'spans':>6s} | {'per-channel':>11s} {'same-shape':>10s} {'one value':>9s} "
          f"{'last-axis':>9s} | extra ns per span: per-channel, last-axis")
    for c, h in KERNEL_CASES:
        us = _wall_us(bench, {"channel": _mul_chain([1, c, h, h], [1, c, 1, 1]),
                              "same": _mul_chain([1, c, h, h], [1, c, h, h]), "scalar": _mul_chain([1, c, h, h], [1]),
                              "last": _mul_chain([1, h, h, c], [c])}, rounds, CHAIN)
        spans_c = broadcast_spans([(1, c, h, h), (1, c, 1, 1)])
        spans_l = broadcast_spans([(1, h, h, c), (c,)])
        print(f"{c:5d} {h:3d}x{h:<3d} {spans_c:6d} | {us['channel']:9.2f}us {us['same']:8.2f}us {us['scalar']:7.2f}us "
              f"{us['last']:7.2f}us | {(us['channel'] - us['same']) * 1e3 / spans_c:6.2f}, "
              f"{(us['last'] - us['same']) * 1e3 / spans_l:6.2f}")
    print(f"\n# 1b. chains of {GATES} SE gates on one map, per gate (median of {rounds} rounds, interleaved)")
    print(f"{'C':>5s} {'HxW':>7s} {'weights MB':>10s} | {'gate us':>8s} {'estimate':>8s} {'est/meas':>8s} | "
          f"{'no convs':>8s} {'estimate':>8s} {'est/meas':>8s}")
    with tempfile.TemporaryDirectory(prefix="archcalc-gates-") as folder:
        for c, h in GATE_CASES:
            models = {"gate": _gate_chain(c, h, True), "bare": _gate_chain(c, h, False)}
            us = _wall_us(bench, models, rounds, GATES)
            est = {}
            for k, m in models.items():
                path = os.path.join(folder, f"{k}.onnx")
                onnx.save(m, path)
                est[k] = estimate_latency(load_any(path), dev, batch=1).total_ms * 1e3 / GATES
            mb = GATES * 2 * c * max(8, c // 4) * 4 / 1e6
            print(f"{c:5d} {h:3d}x{h:<3d} {mb:10.1f} | {us['gate']:8.2f} {est['gate']:8.2f} "
                  f"{est['gate'] / us['gate']:8.2f} | {us['bare']:8.2f} {est['bare']:8.2f} "
                  f"{est['bare'] / us['bare']:8.2f}")


def _baseline(folder: str, dev: Any) -> list[float] | None:
    with tempfile.TemporaryDirectory(prefix="archcalc-baseline-") as tmp:
        prof, nets = os.path.join(tmp, "profile.json"), os.path.join(tmp, "networks.json")
        Path(prof).write_text(json.dumps(dev.to_dict()))
        Path(nets).write_text(json.dumps(NETWORKS))
        done = subprocess.run([sys.executable, "-c", BASELINE_SCRIPT, str(Path(folder).resolve()), prof, nets],
                              capture_output=True, text=True, cwd=tmp, check=False)
    if done.returncode:
        print(f"# --baseline {folder}: failed ({done.stderr.strip().splitlines()[-1:]})")
        return None
    return [float(v) for v in json.loads(done.stdout)]


def networks(rounds: int, seconds: float, dev: Any, baseline: str | None) -> None:
    from archcalc.language.loader import load_spec
    from archcalc.runtime.prepare import prepare
    from archcalc.sweeps.variants import apply

    without = dataclasses.replace(dev, unit_ns={**dev.unit_ns, SPAN_KEY: 0.0})
    old = _baseline(baseline, dev) if baseline else None
    choice = choose_device("cpu")
    opened: list[tuple[str, Runner, float, float, int, list[float]]] = []
    for name, spec, variables, size in NETWORKS:
        graph = load_spec(spec, variables=variables or None)
        graph = apply(graph, {"size": size}, {}) if size else graph
        prepared = prepare(graph, 1)
        session = open_session(prepared.payload, choice, None, disabled_optimizers=prepared.disabled_optimizers)
        est = estimate_latency(prepared.graph, dev, batch=1, report=prepared.report).total_ms
        est0 = estimate_latency(prepared.graph, without, batch=1, report=prepared.report).total_ms
        runner = Runner(session, feeds_for(session, 1))
        for _ in range(5):
            runner.run()
        runs = max(10, min(200, int(seconds * 1e3 / max(est, 1e-3)))) // rounds + 1
        opened.append((name, runner, est, est0, runs, []))
    order = list(range(len(opened)))
    shuffle = random.Random(0)
    for _ in range(rounds):
        shuffle.shuffle(order)
        for i in order:
            _, runner, _, _, runs, times = opened[i]
            time.sleep(SETTLE_S)
            runner.run()
            times.extend(runner.timed() for _ in range(runs))
    print(f"\n# 2. networks (load average {os.getloadavg()[0]:.2f} after timing)")
    print(f"{'network':26s} {'measured ms':>11s} {'estimate ms':>11s} {'est/meas':>8s} | {'no spans':>8s} "
          f"{'est/meas':>8s}" + (f" | {'baseline':>8s} {'est/meas':>8s}" if old else ""))
    for i, (name, _, est, est0, _, times) in enumerate(opened):
        meas = statistics.median(times) * 1e3
        line = f"{name:26s} {meas:11.3f} {est:11.3f} {est / meas:8.2f} | {est0:8.3f} {est0 / meas:8.2f}"
        print(line + (f" | {old[i]:8.3f} {old[i] / meas:8.2f}" if old else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=1.0, help="timed seconds per network (default 1)")
    parser.add_argument("--baseline", help="another archcalc checkout: its estimates too, from the same calibration")
    parser.add_argument("--skip-kernels", action="store_true", help="networks only")
    args = parser.parse_args()
    print(f"# {os.cpu_count()} cores; load average before {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="archcalc-small-") as cache:
        os.environ["XDG_CACHE_HOME"] = cache
        started = time.perf_counter()
        dev, _ = device_profile("cpu", None, refresh=True)
    print(f"# calibrated in {time.perf_counter() - started:.0f} s: {dev.unit_ns.get(SPAN_KEY, 0.0):.2f} ns per "
          f"broadcast span; load average {os.getloadavg()[0]:.2f}")
    if not args.skip_kernels:
        kernels(args.rounds, dev)
    networks(args.rounds, args.seconds, dev, args.baseline)
    print(f"# load average after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
