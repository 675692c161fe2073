"""Device calibration with ONNX Runtime micro-benchmarks, its cache, and the latency estimator.

**Calibration** (``calibrate``) measures the device with synthetic models only, never with a
model being estimated: per-kernel and per-run overheads (chains of tiny ops), memory bandwidth by
working-set size (copies), elementwise/LRN/pooling/softmax costs, GEMM kernels over a spread of
(M, K, N), and convolution kernels over a generic, seeded sample of shapes in four classes
(regular, pointwise 1x1, few-input-channel "first layer", depthwise) with batch 1-8. Kernel times
come from ORT's profiler (minus its own per-kernel overhead, calibrated too); overheads from wall
times. The machines drift, so probes run before every block of measurements and each block is
scaled to the calibration's median probe; every point is the median of its repeats.

**Estimation** (``estimate_latency``) predicts each layer from the analysis: which kernels ORT
will run (conv/gemm absorb following batchnorm, activations and residual adds; no-ops vanish;
NCHWc layout reorders where blocked and plain tensors meet), then per kernel a fixed cost plus
work: convolutions at the efficiency interpolated from the nearest calibrated shapes (log-space
features: channels per group, output size, batch, kernel, stride), GEMMs likewise, everything
else as bytes over the bandwidth for that working set or per-element costs. The total adds the
per-run overhead. ``drift`` (from ``Probes`` run next to a measurement) scales the work of
kernels big enough for the thread pool by the compute probe, and fixed costs, small kernels and
single-threaded ones (LRN) by the overhead probe, to the machine's current speed.

Numbers live in a ``DeviceProfile``, cached as JSON under ``$XDG_CACHE_HOME/archcalc`` (or
``~/.cache/archcalc``); a cache from another ORT version, CPU, device or thread setting, or that
does not parse, is rebuilt rather than trusted.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archcalc.errors import CalibrationError
from archcalc.runtime import (
    LAYOUT,
    DeviceChoice,
    Progress,
    Runner,
    choose_device,
    cpu_count,
    cpu_name,
    feeds_for,
    gpu_name,
    kernel_times,
    open_session,
    provider_device,
)

if TYPE_CHECKING:
    from archcalc.ir import Graph, Layer
    from archcalc.report import LayerRecord, Report

#: layout of the cached JSON
SCHEMA_VERSION = 1
#: version of the micro-benchmark suite: a cache made by another suite is rebuilt
SUITE_VERSION = 10
OPSET = 17
F32 = 4




# == micro-benchmark models =====================================================================


def model_of(nodes: Sequence[Any], inputs: Sequence[tuple[str, Sequence[int]]],
             outputs: Sequence[str], initializers: Sequence[Any] = ()) -> Any:
    """An ONNX model the installed runtime accepts (IR version and opset probed by the exporter)."""
    from onnx import TensorProto, helper

    from archcalc.onnx_export.export import runtime_limits

    ir, opset = runtime_limits()
    graph = helper.make_graph(
        list(nodes), "archcalc_bench",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        list(initializers),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", min(OPSET, opset))])
    model.ir_version = ir
    return model


def _const(name: str, shape: Sequence[int], value: float = 0.01) -> Any:
    import numpy as np
    from onnx import numpy_helper

    return numpy_helper.from_array(np.full(tuple(shape), value, dtype=np.float32), name)


def _ints(name: str, values: Sequence[int]) -> Any:
    import numpy as np
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


@dataclass(frozen=True)
class ConvShape:
    """A convolution: input/output channels (whole layer), groups, square kernel, stride, square
    output size, batch."""

    cin: int
    cout: int
    groups: int
    kernel: int
    stride: int
    out: int
    batch: int = 1

    @property
    def size_in(self) -> int:
        return (self.out - 1) * self.stride + self.kernel - 2 * (self.kernel // 2)

    @property
    def flops(self) -> int:
        return 2 * self.batch * self.out * self.out * self.cout * (self.cin // self.groups) * self.kernel ** 2


@dataclass(frozen=True)
class GemmShape:
    m: int
    k: int
    n: int

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n


def conv_model(shapes: Sequence[ConvShape]) -> tuple[Any, list[str]]:
    """Independent Conv(+bias)+ReLU nodes (ReLU fuses into the conv, as in real networks), each
    after an op that writes its input just before it runs, as the layer before a conv does."""
    from onnx import helper

    nodes, inits, inputs, outputs, names = [], [], [], [], []
    for i, s in enumerate(shapes):
        pad = s.kernel // 2
        x, h, w, b, c, r = f"x{i}", f"h{i}", f"w{i}", f"b{i}", f"conv{i}", f"relu{i}"
        inputs.append((x, [s.batch, s.cin, s.size_in, s.size_in]))
        inits += [_const(w, (s.cout, s.cin // s.groups, s.kernel, s.kernel), 1.0 / (s.cin // s.groups * s.kernel ** 2)),
                  _const(b, (s.cout,), 0.01)]
        nodes.append(helper.make_node("Relu", [x], [h], name=f"pre{i}"))
        nodes.append(helper.make_node("Conv", [h, w, b], [c], name=c, kernel_shape=[s.kernel] * 2,
                                      strides=[s.stride] * 2, pads=[pad] * 4, group=s.groups))
        nodes.append(helper.make_node("Relu", [c], [r], name=r))
        outputs.append(r)
        names.append(c)
    return model_of(nodes, inputs, outputs, inits), names


def gemm_model(shapes: Sequence[GemmShape]) -> tuple[Any, list[str]]:
    from onnx import helper

    nodes, inits, inputs, outputs, names = [], [], [], [], []
    for i, s in enumerate(shapes):
        x, w, b, g = f"x{i}", f"w{i}", f"b{i}", f"gemm{i}"
        inputs.append((x, [s.m, s.k]))
        inits += [_const(w, (s.n, s.k), 1.0 / s.k), _const(b, (s.n,))]
        nodes.append(helper.make_node("Gemm", [x, w, b], [g], name=g, transB=1))
        outputs.append(g)
        names.append(g)
    return model_of(nodes, inputs, outputs, inits), names


#: fixed-cost classes: (op, tiny input shape) whose chains calibrate them
FIXED_CHAINS: dict[str, tuple[str, tuple[int, ...]]] = {
    "ew": ("Relu", (1, 16)),
    "binary": ("Mul", (1, 16)),
    "shape": ("Flatten", (1, 16)),
    "reduce": ("ReduceSum", (1, 16)),
    "softmax": ("Softmax", (1, 16)),
    "concat": ("Concat", (1, 16)),
    "gemm": ("Gemm", (1, 16)),
    "conv": ("Conv", (1, 16, 4, 4)),
    "conv_small": ("Conv", (1, 8, 8, 8)),
    "pool": ("MaxPool", (1, 8, 8, 8)),
    "pool_blocked": ("MaxPool", (1, 16, 8, 8)),
    "lrn": ("LRN", (1, 8, 4, 4)),
    # a blocked conv, then a plain op: a reorder to plain and one back before the next conv
    "reorder": ("ReorderPair", (1, 16, 4, 4)),
}


def chain_model(op: str, length: int, shape: Sequence[int]) -> Any:
    """``length`` ops one after the other on a small tensor (per-kernel overhead); blocked
    pooling starts with a 1x1 conv so the pools run in ORT's NCHWc layout."""
    from onnx import helper

    nodes, inits = [], []
    c = shape[1]
    src = "t0"
    if op == "MaxPool" and c % nchwc_block() == 0:
        inits.append(_const("w_in", (c, c, 1, 1), 1.0 / c))
        nodes.append(helper.make_node("Conv", ["t0", "w_in"], ["c0"], name="pre", kernel_shape=[1, 1]))
        src = "c0"
    for i in range(length):
        out = f"t{i + 1}"
        if op == "Conv":
            inits.append(_const(f"w{i}", (c, c, 1, 1), 1.0 / c))
            nodes.append(helper.make_node("Conv", [src, f"w{i}"], [out], name=f"n{i}", kernel_shape=[1, 1]))
        elif op == "Gemm":
            inits.append(_const(f"w{i}", (c, c), 1.0 / c))
            nodes.append(helper.make_node("Gemm", [src, f"w{i}"], [out], name=f"n{i}", transB=1))
        elif op == "Mul":
            inits.append(_const(f"k{i}", (1,), 0.999))
            nodes.append(helper.make_node("Mul", [src, f"k{i}"], [out], name=f"n{i}"))
        elif op == "ReduceSum":
            inits.append(_ints(f"a{i}", [0]))
            nodes.append(helper.make_node("ReduceSum", [src, f"a{i}"], [out], name=f"n{i}", keepdims=1))
        elif op == "Concat":
            nodes.append(helper.make_node("Concat", [src], [out], name=f"n{i}", axis=1))
        elif op == "MaxPool":
            nodes.append(helper.make_node("MaxPool", [src], [out], name=f"n{i}", kernel_shape=[3, 3],
                                          pads=[1, 1, 1, 1]))
        elif op == "LRN":
            nodes.append(helper.make_node("LRN", [src], [out], name=f"n{i}", size=3))
        elif op == "ReorderPair":
            inits.append(_const(f"w{i}", (c, c, 1, 1), 1.0 / c))
            nodes.append(helper.make_node("Conv", [src, f"w{i}"], [f"c{i}"], name=f"n{i}", kernel_shape=[1, 1]))
            nodes.append(helper.make_node("Softmax", [f"c{i}"], [out], name=f"s{i}", axis=1))
        else:
            nodes.append(helper.make_node(op, [src], [out], name=f"n{i}"))
        src = out
    return model_of(nodes, [("t0", list(shape))], [src], inits)


def ops_model() -> tuple[Any, dict[str, tuple[str, float]]]:
    """Independent ops whose per-element costs the estimator uses: kernel name -> (cost key, units)."""
    from onnx import helper

    nodes, inits, inputs, outputs = [], [], [], []
    units: dict[str, tuple[str, float]] = {}
    # LRN across 64 channels of 32x32 (size 5): cost per element
    inputs.append(("lrn_x", [1, 64, 32, 32]))
    nodes.append(helper.make_node("LRN", ["lrn_x"], ["lrn"], name="lrn", size=5, alpha=1e-4, beta=0.75, bias=2.0))
    outputs.append("lrn")
    units["lrn"] = ("lrn", 64 * 32 * 32)
    # max pooling 3x3/2 after a 1x1 conv (so it runs in the conv's blocked layout): per output tap
    inputs.append(("pool_x", [1, 64, 56, 56]))
    inits.append(_const("pool_w", (64, 64, 1, 1), 1 / 64))
    nodes.append(helper.make_node("Conv", ["pool_x", "pool_w"], ["pool_c"], name="pool_c", kernel_shape=[1, 1]))
    nodes.append(helper.make_node("MaxPool", ["pool_c"], ["pool"], name="pool", kernel_shape=[3, 3], strides=[2, 2],
                                  pads=[1, 1, 1, 1]))
    outputs.append("pool")
    units["pool"] = ("pool", 64 * 28 * 28 * 9)
    # softmax over 1000 classes, batch 32: per element
    inputs.append(("sm_x", [32, 1000]))
    nodes.append(helper.make_node("Softmax", ["sm_x"], ["softmax"], name="softmax", axis=1))
    outputs.append("softmax")
    units["softmax"] = ("softmax", 32 * 1000)
    # tanh on 2^18 elements: transcendental activations, per element
    inputs.append(("tanh_x", [1, 1 << 18]))
    nodes.append(helper.make_node("Tanh", ["tanh_x"], ["tanh"], name="tanh"))
    outputs.append("tanh")
    units["tanh"] = ("transcendental", 1 << 18)
    # a blocked conv output read by a plain op: ORT reorders it back (ReorderOutput), per element
    inputs.append(("ro_x", [1, 64, 56, 56]))
    inits.append(_const("ro_w", (64, 64, 1, 1), 1 / 64))
    nodes.append(helper.make_node("Conv", ["ro_x", "ro_w"], ["ro_c"], name="ro_c", kernel_shape=[1, 1]))
    nodes.append(helper.make_node("Softmax", ["ro_c"], ["ro_s"], name="ro_s", axis=1))
    outputs.append("ro_s")
    units["ReorderOutput"] = ("reorder", 64 * 56 * 56)
    return model_of(nodes, inputs, outputs, inits), units


def copy_model(sizes: Sequence[int]) -> tuple[Any, list[str]]:
    """Independent ReLUs over tensors of ``sizes`` floats: bandwidth by working set."""
    from onnx import helper

    nodes, inputs, outputs, names = [], [], [], []
    for i, n in enumerate(sizes):
        inputs.append((f"x{i}", [1, n]))
        nodes.append(helper.make_node("Relu", [f"x{i}"], [f"copy{i}"], name=f"copy{i}"))
        outputs.append(f"copy{i}")
        names.append(f"copy{i}")
    return model_of(nodes, inputs, outputs), names


class Bench:
    """Measures micro-benchmark models on one device with one thread setting."""

    def __init__(self, choice: DeviceChoice, threads: int | None, spinning: bool = True) -> None:
        self.choice = choice
        self.threads = threads
        self.spinning = spinning

    def runner(self, model: Any) -> Runner:
        session = open_session(model.SerializeToString(), self.choice, self.threads, spinning=self.spinning)
        return Runner(session, feeds_for(session, 1))

    def wall(self, model: Any, runs: int = 20, warmup: int = 3) -> float:
        """Median seconds per run."""
        return median_time(self.runner(model), runs, warmup)

    def kernels(self, model: Any, runs: int = 7, warmup: int = 2) -> dict[str, float]:
        """Kernel name -> median microseconds per run, under ORT's profiler."""
        with tempfile.TemporaryDirectory(prefix="archcalc-bench-") as tmp:
            session = open_session(model.SerializeToString(), self.choice, self.threads,
                                   profile_prefix=str(Path(tmp) / "bench"))
            runner = Runner(session, feeds_for(session, 1))
            for _ in range(warmup + runs):
                runner.run()
            del runner
            trace = session.end_profiling()
            with open(trace) as handle:
                events = json.load(handle)
        per_run, _ = kernel_times(events, runs)
        names = {k for run in per_run for k in run}
        return {k: statistics.median([run.get(k, 0.0) for run in per_run]) for k in names}


def median_time(runner: Runner, runs: int, warmup: int) -> float:
    for _ in range(warmup):
        runner.run()
    return statistics.median([runner.timed() for _ in range(runs)])


def kernel_of(times: Mapping[str, float], name: str) -> float | None:
    """A node's kernel time where ORT renamed it (``fused x``, ``x_nchwc``, named after the
    fused ReLU): sum of the kernels that derive from the node or its output."""
    from archcalc.runtime import ort_name_candidates

    alias = name.replace("conv", "relu") if name.startswith("conv") else name
    total, found = 0.0, False
    for kernel, us in times.items():
        cands = ort_name_candidates(kernel)
        if name in cands or alias in cands:
            total += us
            found = True
    return total if found else None


# == generic shape samples ======================================================================


def conv_samples(scale: float = 1.0, seed: int = 20240611) -> list[ConvShape]:
    """A seeded, stratified sample of generic convolution shapes (nothing from any network):
    regular KxK, pointwise 1x1, few input channels with large kernels and strides, depthwise,
    grouped; channels log-uniform in 16..1024 (multiples of 16), output size log-uniform 2..112
    (to 220 for regular convs), batch 1-8. Shapes are bounded in work so each runs in at most a
    few tens of milliseconds, but for ten heavy 3x3 convs (32-256 channels, 56-220 outputs,
    batch 2-8, 4-40 GFLOP) so that large maps are measured, not extrapolated."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def ch(lo: float = 4.0, hi: float = 10.0) -> int:
        return max(16, int(2 ** rng.uniform(lo, hi)) // 16 * 16)

    def out(lo: float = 1.0, hi: float = 6.8) -> int:
        return max(1, round(2 ** rng.uniform(lo, hi)))

    def batch() -> int:
        return int(rng.choice([1, 1, 1, 2, 4, 8, 8]))

    plan = [("regular", 200), ("pointwise", 120), ("first", 160), ("depthwise", 40), ("grouped", 20), ("large", 10)]
    shapes: list[ConvShape] = []
    for cls, count in plan:
        made = 0
        target = max(4, round(count * scale))
        while made < target:
            if cls == "regular":
                s = ConvShape(ch(), ch(), 1, int(rng.choice([3, 3, 3, 5, 7])), int(rng.choice([1, 1, 1, 2])),
                              out(1.0, 7.8), batch())
            elif cls == "large":  # heavy regular convs (big maps, several images): beyond the bound below
                s = ConvShape(ch(5, 8), ch(5, 8), 1, 3, 1, out(5.8, 7.8), int(rng.choice([2, 4, 8])))
                if 4e9 < s.flops <= 4e10:
                    shapes.append(s)
                    made += 1
                continue
            elif cls == "pointwise":  # half of them with few output channels (bottleneck reductions)
                s = ConvShape(ch(4, 11), ch(4, 11) if made % 2 else ch(4, 7), 1, 1, int(rng.choice([1, 1, 1, 2])),
                              out(), batch())
            elif cls == "first":
                k = int(rng.choice([2, 3, 5, 7, 11]))
                stride = int(rng.choice([1, 2, 4])) if k >= 5 else int(rng.choice([1, 2]))
                s = ConvShape(int(rng.choice([1, 2, 3, 4, 6, 8, 12])), int(rng.choice([6, 8, 16, 32, 64, 96, 128])), 1,
                              k, stride, out(1.5, 7.0), batch())
            elif cls == "depthwise":  # whole channel blocks (run blocked) or any count (run plain)
                c = ch(3.0, 10.0) if made % 2 else int(2 ** rng.uniform(1.0, 7.0))
                s = ConvShape(c, c, c, int(rng.choice([2, 3, 5])), int(rng.choice([1, 2])), out(), batch())
            else:
                g = int(rng.choice([2, 4, 8]))
                s = ConvShape(ch(5, 10) * g // g, ch(5, 10), g, int(rng.choice([1, 3, 5])), 1, out(), batch())
                s = ConvShape(max(16, s.cin // (16 * g)) * 16 * g, max(16, s.cout // (16 * g)) * 16 * g, g, s.kernel,
                              1, s.out, s.batch)
            if not 2e4 <= s.flops <= 4e9 or s.size_in < 1:
                continue
            shapes.append(s)
            made += 1
    return shapes


def gemm_samples(scale: float = 1.0, seed: int = 7) -> list[GemmShape]:
    """Generic (M, K, N): M from 1 (matrix-vector) to 512, K and N log-uniform 16..16384, weights
    up to 128 MiB; plus a few large matrix-vector shapes for streaming bandwidth."""
    import numpy as np

    rng = np.random.default_rng(seed)
    shapes: list[GemmShape] = []
    target = max(6, round(48 * scale))
    while len(shapes) < target:
        m = int(rng.choice([1, 1, 2, 4, 8, 8, 16, 32, 64, 128, 512]))
        k = int(2 ** rng.uniform(4, 14))
        n = int(2 ** rng.uniform(4, 14))
        s = GemmShape(m, k, n)
        if k * n * F32 > 128 * 2**20 or s.flops > 4e9 or s.flops < 2e3:
            continue
        shapes.append(s)
    shapes += [GemmShape(1, 8192, 4096), GemmShape(1, 4096, 8192), GemmShape(8, 8192, 4096)]
    return shapes


COPY_SIZES = (1 << 12, 1 << 15, 1 << 18, 1 << 21, 1 << 24, 1 << 25)


# == the device profile =========================================================================


@dataclass
class DeviceProfile:
    """What calibration measured on one device with one thread setting."""

    device: str
    provider: str
    ort_version: str
    cpu: str
    gpu: str | None
    threads: int | None
    intra_op_threads: int
    created: float
    seconds: float
    #: per-run overhead (one tiny node, microseconds)
    run_us: float
    #: fixed cost of one kernel by class (microseconds, executor overhead included)
    fixed_us: dict[str, float]
    #: ORT profiler's own cost per kernel (microseconds): profiled kernel time - real, for a
    #: trivial kernel and for a multi-threaded one (conv, gemm, pooling: it records pool stats)
    profiler_us: float
    profiler_heavy_us: float
    #: (bytes moved, GB/s) by working set
    bandwidth: list[tuple[float, float]]
    #: per-unit costs (nanoseconds): lrn (element), pool (output tap), softmax, transcendental
    unit_ns: dict[str, float]
    #: peak MatMul GFLOP/s
    matmul_gflops: float
    #: conv points: [cin, cout, groups, kernel, stride, out, batch, kernel microseconds]
    conv: list[list[float]]
    #: gemm points: [m, k, n, kernel microseconds]
    gemm: list[list[float]]
    #: drift probes at calibration (seconds)
    probes: dict[str, float]
    suite: int = SUITE_VERSION
    schema_version: int = SCHEMA_VERSION
    notes: list[str] = field(default_factory=list)
    _conv_index: Any = field(default=None, repr=False, compare=False)
    _gemm_index: Any = field(default=None, repr=False, compare=False)

    def key(self) -> dict[str, Any]:
        return {"device": self.device, "ort_version": self.ort_version, "cpu": self.cpu, "gpu": self.gpu,
                "threads": self.threads, "suite": self.suite, "schema_version": self.schema_version}

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version, "suite": self.suite, "device": self.device,
            "provider": self.provider, "ort_version": self.ort_version, "cpu": self.cpu, "gpu": self.gpu,
            "threads": self.threads, "intra_op_threads": self.intra_op_threads, "created": self.created,
            "seconds": self.seconds, "run_us": self.run_us, "fixed_us": dict(self.fixed_us),
            "profiler_us": self.profiler_us, "profiler_heavy_us": self.profiler_heavy_us,
            "bandwidth": [list(p) for p in self.bandwidth],
            "unit_ns": dict(self.unit_ns), "matmul_gflops": self.matmul_gflops, "conv": self.conv,
            "gemm": self.gemm, "probes": dict(self.probes), "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeviceProfile:
        try:
            profile = cls(
                device=str(data["device"]), provider=str(data["provider"]), ort_version=str(data["ort_version"]),
                cpu=str(data["cpu"]), gpu=data.get("gpu"), threads=data.get("threads"),
                intra_op_threads=int(data["intra_op_threads"]), created=float(data["created"]),
                seconds=float(data["seconds"]), run_us=float(data["run_us"]),
                fixed_us={str(k): float(v) for k, v in data["fixed_us"].items()},
                profiler_us=float(data["profiler_us"]), profiler_heavy_us=float(data["profiler_heavy_us"]),
                bandwidth=[(float(a), float(b)) for a, b in data["bandwidth"]],
                unit_ns={str(k): float(v) for k, v in data["unit_ns"].items()},
                matmul_gflops=float(data["matmul_gflops"]),
                conv=[[float(x) for x in row] for row in data["conv"]],
                gemm=[[float(x) for x in row] for row in data["gemm"]],
                probes={str(k): float(v) for k, v in data["probes"].items()},
                suite=int(data["suite"]), schema_version=int(data["schema_version"]),
                notes=[str(n) for n in data.get("notes", [])],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CalibrationError(f"device profile is malformed ({type(exc).__name__}: {exc})") from None
        profile.validate()
        return profile

    def validate(self) -> None:
        """Sanity of the numbers (a cache edited or truncated into nonsense is not used)."""
        finite = [self.run_us, self.profiler_us, self.profiler_heavy_us, self.matmul_gflops, *self.fixed_us.values(),
                  *self.unit_ns.values(),
                  *(b for _, b in self.bandwidth), *self.probes.values()]
        if not all(math.isfinite(v) and v >= 0 for v in finite):
            raise CalibrationError("device profile holds negative or non-finite numbers")
        if not self.bandwidth or not self.conv or not self.gemm or self.matmul_gflops <= 0:
            raise CalibrationError("device profile lacks bandwidth, conv or gemm measurements")
        for key in FIXED_CHAINS:
            if key not in self.fixed_us:
                raise CalibrationError(f"device profile lacks the fixed cost of {key} kernels")
        if any(len(row) != 8 or row[-1] <= 0 for row in self.conv) or any(len(row) != 4 or row[-1] <= 0
                                                                          for row in self.gemm):
            raise CalibrationError("device profile has malformed conv or gemm points")

    # -- interpolation ----------------------------------------------------------------------

    def bandwidth_at(self, nbytes: float) -> float:
        """Bytes per microsecond for a kernel moving ``nbytes`` (log-log interpolation)."""
        points = sorted(self.bandwidth)
        x = math.log(max(nbytes, 1.0))
        xs = [math.log(p[0]) for p in points]
        ys = [math.log(p[1] * 1e3) for p in points]  # GB/s -> bytes/us
        if x <= xs[0]:
            return math.exp(ys[0])
        if x >= xs[-1]:
            return math.exp(ys[-1])
        for i in range(1, len(xs)):
            if x <= xs[i]:
                t = (x - xs[i - 1]) / (xs[i] - xs[i - 1])
                return math.exp(ys[i - 1] + t * (ys[i] - ys[i - 1]))
        return math.exp(ys[-1])

    def conv_us(self, shape: ConvShape) -> float:
        """Estimated kernel microseconds of a convolution as ORT runs it (``executed_conv``),
        work only: without the fixed cost."""
        if self._conv_index is None:
            block = nchwc_block()
            runs = [executed_conv(ConvShape(*(int(v) for v in row[:7])), block, False)[0] for row in self.conv]
            self._conv_index = _Index([_conv_features(s) for s in runs],
                                      [_efficiency(s.flops, row[7], self.fixed_us["conv"])
                                       for s, row in zip(runs, self.conv, strict=True)], _CONV_WEIGHTS)
        return shape.flops / self._conv_index.predict(_conv_features(shape))

    def gemm_us(self, shape: GemmShape) -> float:
        if self._gemm_index is None:
            self._gemm_index = _Index([_gemm_features(GemmShape(*(int(v) for v in row[:3]))) for row in self.gemm],
                                      [_efficiency(GemmShape(*(int(v) for v in row[:3])).flops, row[3],
                                                   self.fixed_us["gemm"]) for row in self.gemm], _GEMM_WEIGHTS)
        return shape.flops / self._gemm_index.predict(_gemm_features(shape))


def _efficiency(flops: float, us: float, fixed: float) -> float:
    """FLOPs per microsecond of the work beyond the kernel's fixed cost (floored so tiny kernels
    stay finite)."""
    return flops / max(us - fixed, 0.25 * us, 0.05)


def conv_class(shape: ConvShape) -> str:
    per_group = shape.cin // shape.groups
    if shape.groups > 1 and per_group == 1:
        return "depthwise"
    if per_group < 16 and shape.groups == 1:
        return "first"
    if shape.kernel == 1:
        return "pointwise"
    return "regular"


_CLASSES = ("regular", "pointwise", "first", "depthwise")
#: feature weights of the conv distance: per-group input and output channels, output size, batch,
#: kernel, stride, groups, a large weight on the class (classes do not mix), and whether ORT runs
#: the conv in its blocked layout
_CONV_WEIGHTS = (1.0, 1.0, 1.2, 0.8, 1.5, 1.0, 0.7, 8.0, 8.0, 8.0, 4.0)
_GEMM_WEIGHTS = (1.2, 1.0, 1.0)


def _conv_features(shape: ConvShape) -> tuple[float, ...]:
    cls = conv_class(shape)
    onehot = tuple(1.0 if cls == c else 0.0 for c in _CLASSES[1:])
    blocked = 1.0 if executed_conv(shape, nchwc_block(), False)[1] else 0.0
    return (math.log2(max(shape.cin // shape.groups, 1)), math.log2(max(shape.cout // shape.groups, 1)),
            math.log2(max(shape.out, 1)), math.log2(max(shape.batch, 1)), math.log2(max(shape.kernel, 1)),
            math.log2(max(shape.stride, 1)), math.log2(max(shape.groups, 1)) if cls != "depthwise" else 0.0,
            *onehot, blocked)


def _gemm_features(shape: GemmShape) -> tuple[float, ...]:
    return (math.log2(max(shape.m, 1)), math.log2(max(shape.k, 1)), math.log2(max(shape.n, 1)))


class _Index:
    """Locally weighted linear regression of log efficiency over the nearest calibrated shapes
    (inverse-distance weights, ridge-damped slopes): interpolates between shapes and follows
    the trend a little beyond them."""

    def __init__(self, features: Sequence[tuple[float, ...]], values: Sequence[float],
                 weights: Sequence[float], k: int | None = None) -> None:
        import numpy as np

        self.w = np.asarray(weights, dtype=float)
        self.x = np.asarray(features, dtype=float) * self.w
        self.y = np.log(np.asarray(values, dtype=float))
        self.k = min(k or NEIGHBOURS, len(values))

    def predict(self, features: tuple[float, ...]) -> float:
        import numpy as np

        q = np.asarray(features, dtype=float) * self.w
        d = np.sqrt(((self.x - q) ** 2).sum(axis=1))
        idx = np.argsort(d)[: self.k]
        w = 1.0 / (d[idx] + DISTANCE_OFFSET) ** 2
        dx = self.x[idx] - q
        a = np.hstack([np.ones((len(idx), 1)), dx])
        aw = a * w[:, None]
        ridge = np.diag([0.0] + [RIDGE * w.sum()] * dx.shape[1])
        try:
            coef = np.linalg.solve(a.T @ aw + ridge, aw.T @ self.y[idx])
            value = float(coef[0])
        except np.linalg.LinAlgError:
            value = float((w * self.y[idx]).sum() / w.sum())
        lo, hi = float(self.y[idx].min()), float(self.y[idx].max())
        span = hi - lo
        return float(np.exp(min(max(value, lo - EXTRAPOLATE * span), hi + EXTRAPOLATE * span)))


#: ridge damping of the local slopes (relative to the total neighbour weight)
RIDGE = 0.05
#: neighbours of a local fit, and the distance added before inverse-square weighting
NEIGHBOURS = 6
DISTANCE_OFFSET = 0.5
#: how far beyond its neighbours' range (as a fraction of it) a local fit may go
EXTRAPOLATE = 0.5


# == calibration ================================================================================


class Probes:
    """Short wall-clock probes of the machine's current speed: compute (a convolution, the bulk
    of most networks) and overhead (a chain of 32 tiny kernels). Their sessions never spin idle
    threads, so they do not steal cores from the model measured between them."""

    NAMES = ("compute", "overhead")
    #: ORT's idle worker threads spin for ~20-30 ms after a run: let the measured model's settle
    SETTLE_S = 0.04

    def __init__(self, choice: DeviceChoice, threads: int | None) -> None:
        bench = Bench(choice, threads, spinning=False)
        conv, _ = conv_model([ConvShape(128, 128, 1, 3, 1, 24)])
        self.runners = {"compute": bench.runner(conv), "overhead": bench.runner(chain_model("Relu", 32, (1, 16)))}
        for runner in self.runners.values():
            for _ in range(3):
                runner.run()

    def measure(self, runs: int = 5) -> dict[str, float]:
        """Median seconds of each probe (the overhead probe repeats more: it is tiny)."""
        time.sleep(self.SETTLE_S)
        out = {}
        for name, runner in self.runners.items():
            n = runs * 8 if name == "overhead" else runs
            runner.run()
            out[name] = statistics.median([runner.timed() for _ in range(n)])
        return out


def drift_of(profile: DeviceProfile, samples: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """How much slower (>1) or faster the machine is now than at calibration, per probe."""
    out = {}
    for name in Probes.NAMES:
        values = [s[name] for s in samples if name in s]
        base = profile.probes.get(name)
        if values and base:
            out[name] = statistics.median(values) / base
    return out


class _Samples:
    """Raw measurements, each with the probe taken just before it; normalised at the end to the
    calibration's median probe and reduced to the median over repeats."""

    def __init__(self) -> None:
        self.values: dict[str, list[tuple[float, str, float]]] = {}
        self.log: list[dict[str, float]] = []

    def add(self, key: str, value: float, kind: str) -> None:
        self.values.setdefault(key, []).append((value, kind, self.log[-1][kind]))

    def reference(self) -> dict[str, float]:
        return {name: statistics.median([p[name] for p in self.log]) for name in Probes.NAMES}

    def get(self, key: str, ref: Mapping[str, float]) -> float | None:
        got = self.values.get(key)
        if not got:
            return None
        return statistics.median([v * ref[kind] / probe for v, kind, probe in got])


def calibrate(device: str = "auto", threads: int | None = None, *, quick: bool = False,
              progress: Progress | None = None) -> DeviceProfile:
    """Measure this machine with micro-benchmarks and return its device profile (not cached:
    see ``device_profile``). ``quick`` measures fewer shapes once each (tests, smoke runs).

    Every block of measurements follows a probe of the machine's current speed, and is scaled to
    the calibration's median probe (kernels and copies by the compute probe, fixed costs by the
    overhead probe); each figure is the median of its repeats,
    so a burst of load from another process does not end up in the profile.
    """
    import onnxruntime as ort

    choice = choose_device(device)
    if choice.device != "cpu":
        # the kernel classes and layout rules below describe ORT's CPU kernels
        raise CalibrationError("calibration models ORT's CPU kernels; on a GPU, time models with "
                               "archcalc profile (estimates are CPU-only for now)")
    started = time.perf_counter()
    bench = Bench(choice, threads)
    scale = 0.25 if quick else 1.0
    reps = 1 if quick else 3
    convs = conv_samples(scale)
    gemms = gemm_samples(scale)
    # measured a few at a time, with shapes of similar size together: a small kernel next to
    # large ones would find its weights and input evicted, which in a small network they are not
    conv_order = sorted(range(len(convs)), key=lambda i: convs[i].flops)
    gemm_order = sorted(range(len(gemms)), key=lambda i: gemms[i].k * gemms[i].n)
    conv_chunks = [conv_order[i:i + 8] for i in range(0, len(convs), 8)]
    gemm_chunks = [gemm_order[i:i + 4] for i in range(0, len(gemms), 4)]
    steps = 1 + reps * (4 + len(conv_chunks) + len(gemm_chunks))
    done = 0

    def tick(what: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(f"calibrate: {what}", done, steps)

    probes = Probes(choice, threads)
    raw = _Samples()

    def probe() -> None:
        raw.log.append(probes.measure(3))

    probe()
    tick("probes")
    ops, units = ops_model()
    matmul = gemm_model([GemmShape(1024, 1024, 1024)])[0]
    for _ in range(reps):
        # fixed costs: wall time of chains of 1 and 17 tiny kernels; the profiler's own cost
        probe()
        raw.add("run", 1e6 * bench.wall(chain_model("Relu", 1, (1, 16)), runs=300, warmup=30), "overhead")
        for key, (op, shape) in FIXED_CHAINS.items():
            one = bench.wall(chain_model(op, 1, shape), runs=300, warmup=30)
            many = bench.wall(chain_model(op, 17, shape), runs=200, warmup=20)
            raw.add(f"fixed:{key}", max(1e6 * (many - one) / 16, 0.05), "overhead")
        prof = bench.kernels(chain_model("Relu", 33, (1, 16)), runs=20)
        if prof:
            raw.add("profiled_relu", statistics.median(prof.values()), "overhead")
        prof = bench.kernels(chain_model("Conv", 17, FIXED_CHAINS["conv"][1]), runs=20)
        if prof:
            raw.add("profiled_conv", statistics.median(prof.values()), "overhead")
        tick("kernel overheads")
        # bandwidth by working set: one copy per model (its input stays in cache, as a layer's
        # input does when the layer before it just wrote it)
        probe()
        for size in COPY_SIZES:
            model, _ = copy_model([size])
            raw.add(f"copy:{size}", 1e6 * bench.wall(model, runs=max(5, min(200, (1 << 22) // size)), warmup=3),
                    "compute")
        tick("bandwidth")
        probe()
        times = bench.kernels(ops, runs=7)
        for name, (key, _count) in units.items():
            op_us = kernel_of(times, name)
            if name == "ReorderOutput":
                op_us = sum(us for k, us in times.items() if k.startswith("ReorderOutput")) or None
            if op_us is not None:
                raw.add(f"unit:{key}", op_us, "compute")
        raw.add("matmul", bench.wall(matmul, runs=10), "compute")
        tick("op costs")
        # conv and gemm kernels (profiled), a probe before every block
        blocks = [("conv", chunk, conv_model([convs[i] for i in chunk])) for chunk in conv_chunks]
        blocks += [("gemm", chunk, gemm_model([gemms[i] for i in chunk])) for chunk in gemm_chunks]
        for family, chunk, (model, names) in blocks:
            probe()
            times = bench.kernels(model, runs=5)
            for i, name in zip(chunk, names, strict=True):
                got = kernel_of(times, name)
                if got is not None:
                    raw.add(f"{family}:{i}", got, "compute")
            tick(f"{family} kernels")
    probe()
    ref = raw.reference()

    def get(key: str, default: float = 0.0) -> float:
        value = raw.get(key, ref)
        return default if value is None else value

    run_us = get("run")
    fixed = {key: max(get(f"fixed:{key}", 0.05), 0.05) for key in FIXED_CHAINS}
    if {"reorder", "conv", "softmax"} <= set(fixed):  # the pair chain runs a conv, a softmax, two reorders
        fixed["reorder"] = max((fixed["reorder"] - fixed["conv"] - fixed["softmax"]) / 2, fixed["ew"])
    profiler_us = max(get("profiled_relu") - fixed["ew"], 0.0)
    profiler_heavy_us = max(get("profiled_conv") - fixed["conv"], profiler_us)
    bandwidth = []
    for size in COPY_SIZES:
        moved = 2 * size * F32
        bandwidth.append((float(moved), moved / max(get(f"copy:{size}") - run_us - fixed["ew"], 0.05) / 1e3))
    unit_ns: dict[str, float] = {}
    for _name, (key, count) in units.items():
        value = raw.get(f"unit:{key}", ref)
        if value is not None:
            prof_us = profiler_heavy_us if key == "pool" else profiler_us
            unit_ns[key] = max(value - prof_us - fixed["ew"], 0.0) * 1e3 / count
    matmul_gflops = GemmShape(1024, 1024, 1024).flops / max(get("matmul"), 1e-9) / 1e9
    conv_points = []
    for i, s in enumerate(convs):
        value = raw.get(f"conv:{i}", ref)
        if value is not None:
            conv_points.append([s.cin, s.cout, s.groups, s.kernel, s.stride, s.out, s.batch,
                                max(value - profiler_heavy_us, 0.05)])
    gemm_points = []
    for i, g in enumerate(gemms):
        value = raw.get(f"gemm:{i}", ref)
        if value is not None:
            gemm_points.append([g.m, g.k, g.n, max(value - profiler_heavy_us, 0.05)])
    tick("done")
    provider = "CPUExecutionProvider"
    profile = DeviceProfile(
        device=choice.device, provider=provider, ort_version=ort.__version__, cpu=cpu_name(),
        gpu=gpu_name() if provider_device(provider) == "cuda" else None, threads=threads,
        intra_op_threads=threads or cpu_count(), created=time.time(), seconds=time.perf_counter() - started,
        run_us=run_us, fixed_us=fixed, profiler_us=profiler_us, profiler_heavy_us=profiler_heavy_us,
        bandwidth=bandwidth, unit_ns=unit_ns,
        matmul_gflops=matmul_gflops, conv=conv_points, gemm=gemm_points, probes=ref,
        notes=[f"{len(conv_points)} conv and {len(gemm_points)} gemm shapes, {reps} repeat(s) each, "
               f"{len(raw.log)} probes"],
    )
    profile.validate()
    return profile


# == the cache ==================================================================================


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "archcalc"


def cache_path(device: str, threads: int | None) -> Path:
    return cache_dir() / f"device-{device}-threads-{threads or 'default'}.json"


def expected_key(device: str, threads: int | None) -> dict[str, Any]:
    import onnxruntime as ort

    return {"device": device, "ort_version": ort.__version__, "cpu": cpu_name(),
            "gpu": gpu_name() if device == "cuda" else None, "threads": threads, "suite": SUITE_VERSION,
            "schema_version": SCHEMA_VERSION}


def load_cached(device: str, threads: int | None) -> tuple[DeviceProfile | None, str]:
    """The cached profile for (device, threads) and "" if it can be trusted; else None and why."""
    path = cache_path(device, threads)
    if not path.exists():
        return None, f"no device profile cached at {path}"
    try:
        data = json.loads(path.read_text())
        profile = DeviceProfile.from_dict(data)
    except (OSError, ValueError, CalibrationError) as exc:
        return None, f"cached device profile {path} is unreadable ({exc}): rebuilt"
    want = expected_key(device, threads)
    have = profile.key()
    stale = [f"{k} {have.get(k)!r} (now {v!r})" for k, v in want.items() if have.get(k) != v]
    if stale:
        return None, f"cached device profile {path} is stale: {', '.join(stale)}: rebuilt"
    return profile, ""


def save_profile(profile: DeviceProfile) -> Path:
    from archcalc.fileio import write_atomic

    path = cache_path(profile.device, profile.threads)
    with contextlib.suppress(FileExistsError):
        path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(profile.to_dict(), indent=1) + "\n")
    return path


def device_profile(device: str = "auto", threads: int | None = None, *, refresh: bool = False,
                   quick: bool = False, progress: Progress | None = None) -> tuple[DeviceProfile, list[str]]:
    """The cached profile when it can be trusted; otherwise calibrate now and cache it.
    Returns the profile and notes on what happened."""
    choice = choose_device(device)
    notes: list[str] = []
    if not refresh:
        cached, why = load_cached(choice.device, threads)
        if cached is not None:
            return cached, [f"device profile from {cache_path(choice.device, threads)} "
                            f"(calibrated {time.strftime('%Y-%m-%d %H:%M', time.localtime(cached.created))})"]
        notes.append(why)
    profile = calibrate(choice.device, threads, quick=quick, progress=progress)
    path = save_profile(profile)
    notes.append(f"calibrated in {profile.seconds:.0f} s; device profile cached at {path}")
    return profile, notes


def check_profile_matches(profile: DeviceProfile, device: str, threads: int | None) -> None:
    if profile.device != device:
        raise CalibrationError(f"the device profile is for {profile.device}, but the model runs on {device}")
    if profile.threads != threads:
        raise CalibrationError(f"the device profile was calibrated with threads={profile.threads}, "
                               f"the model runs with threads={threads}: calibrate with the same setting")


# == the estimator ==============================================================================


@dataclass(frozen=True)
class LayerEstimate:
    """Predicted time of one layer's kernels (0 when ORT fuses it into another layer's kernel)."""

    name: str
    ms: float
    #: compute, memory, overhead (the largest part), fused, removed
    bound: str
    fused_into: str | None = None
    kernels: int = 0
    compute_ms: float = 0.0
    memory_ms: float = 0.0
    overhead_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ms": self.ms, "bound": self.bound, "fused_into": self.fused_into,
                "kernels": self.kernels, "compute_ms": self.compute_ms, "memory_ms": self.memory_ms,
                "overhead_ms": self.overhead_ms}


@dataclass(frozen=True)
class Estimate:
    """Estimated latency of one inference: per layer (kernel time), the per-run overhead, total."""

    total_ms: float
    run_ms: float
    layers: Mapping[str, LayerEstimate]
    batch: int
    drift: Mapping[str, float] = field(default_factory=dict)
    #: per-layer times include the ORT profiler's per-kernel cost (to compare with a profile)
    as_profiled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"total_ms": self.total_ms, "run_ms": self.run_ms, "batch": self.batch, "drift": dict(self.drift),
                "as_profiled": self.as_profiled, "layers": [e.to_dict() for e in self.layers.values()]}


_FUSABLE_ACTIVATIONS = frozenset({"relu", "tanh", "sigmoid", "leaky_relu", "relu6", "clip", "hardsigmoid",
                                  "hardtanh"})
_TRANSCENDENTAL = frozenset({"tanh", "sigmoid", "elu", "selu", "softplus", "softsign", "gelu", "silu", "swish",
                             "mish", "erf", "exp", "log", "sqrt", "sin", "cos", "celu", "lecun_tanh", "hardswish",
                             "reciprocal"})
#: kernels (fixed-cost classes) of the activations archcalc exports as several ONNX nodes (opset 17)
_ACTIVATION_KERNELS: dict[str, tuple[str, ...]] = {
    "lecun_tanh": ("binary", "ew", "binary"), "silu": ("ew", "binary"), "swish": ("ew", "binary"),
    "gelu": ("binary", "ew", "binary", "binary", "binary"), "mish": ("ew", "ew", "binary"),
    "softmax": ("softmax",), "log_softmax": ("softmax",), "prelu": ("binary",),
}
_CONV_KINDS = frozenset({"conv", "subsample", "conv_transpose", "locally_connected"})
_NCHWC_FOLLOWERS = frozenset({"maxpool", "avgpool", "global_avgpool", "global_maxpool", "adaptive_avgpool"})


@functools.lru_cache(maxsize=1)
def nchwc_block() -> int:
    """Channel block of ORT's NCHWc kernels on this CPU (16 with AVX-512, else 8)."""
    with contextlib.suppress(OSError):
        flags = Path("/proc/cpuinfo").read_text()
        if " avx512f" in flags:
            return 16
    return 8


@dataclass
class _Plan:
    """Which layers run kernels, which are fused into whose, and which tensors are blocked."""

    host: dict[str, str] = field(default_factory=dict)  # fused layer -> layer whose kernel runs it
    removed: set[str] = field(default_factory=set)
    blocked: set[str] = field(default_factory=set)  # layers whose output is in NCHWc layout
    reorders: list[tuple[str, float]] = field(default_factory=list)  # (where, bytes)
    #: what each host kernel has absorbed so far (conv: bn*, then add, then activation)
    absorbed: dict[str, set[str]] = field(default_factory=dict)


def _shape_of(records: Mapping[str, LayerRecord], ref: tuple[str, int]) -> tuple[int, ...]:
    return records[ref[0]].shapes[ref[1]]


def _conv_shape(layer: Layer, records: Mapping[str, LayerRecord], batch: int, block: int,
                blocked_in: bool) -> tuple[ConvShape, bool]:
    """The convolution ORT runs for a conv/subsample layer (channels padded to the NCHWc block
    when it runs blocked), and whether it runs blocked."""
    from math import prod

    a = layer.attrs
    rec = records[layer.name]
    in_shape = _shape_of(records, layer.inputs[0])
    cin, cout = in_shape[0], rec.shape[0]
    spatial = rec.shape[1:]
    if layer.kind == "subsample" or a.get("depthwise"):
        groups = cin
    elif a.get("connections") is not None:
        groups = 1
    else:
        groups = int(a.get("groups") or 1)
    kernel_attr = a.get("kernel") or 1
    taps = prod(kernel_attr) if isinstance(kernel_attr, (list, tuple)) else int(kernel_attr) ** max(len(spatial), 1)
    kernel = max(1, round(taps ** (1.0 / max(len(spatial), 1))))
    stride_attr = a.get("stride")
    if isinstance(stride_attr, (list, tuple)):
        stride = max(int(v) for v in stride_attr)
    else:
        stride = int(stride_attr) if stride_attr else (kernel if layer.kind == "subsample" else 1)
    positions = prod(spatial) if spatial else 1
    out = max(1, round(math.sqrt(positions)))
    return executed_conv(ConvShape(cin, cout, groups, kernel, stride, out, batch), block, blocked_in)


def executed_conv(shape: ConvShape, block: int, blocked_in: bool) -> tuple[ConvShape, bool]:
    """The convolution ORT's CPU provider runs, and whether in the NCHWc layout: a dense conv
    runs blocked with output channels padded to the block (input channels too when it reads a
    blocked tensor or has at least a block of them); depthwise and grouped convs run blocked only
    when their channels per group fill whole blocks."""
    cin, cout, groups = shape.cin, shape.cout, shape.groups
    per_group_in = cin // groups
    if groups == 1:
        def pad(c: int) -> int:
            return -(-c // block) * block

        cin_x = pad(cin) if cin >= block or blocked_in else cin
        return ConvShape(cin_x, pad(cout), 1, shape.kernel, shape.stride, shape.out, shape.batch), True
    if per_group_in == 1 and groups == cin == cout:
        return shape, cin % block == 0
    return shape, per_group_in % block == 0 and (cout // groups) % block == 0


_HOSTS = frozenset({"conv", "subsample"})
#: kernels with less work than this (microseconds) run on one thread: drift follows the overhead probe
SMALL_KERNEL_US = 20.0
#: kernel classes that run on the thread pool: the profiler costs them more
_HEAVY = frozenset({"conv", "conv_small", "gemm", "pool", "pool_blocked", "reorder"})


def _plan(graph: Graph, records: Mapping[str, LayerRecord], batch: int, block: int) -> _Plan:
    """Predict ORT's CPU graph: Conv absorbs BatchNorm, then one residual Add (NCHWc), then one
    activation; Gemm absorbs one activation; dropout/identity vanish; NCHWc convolutions and the
    pools/concats that follow them keep the blocked layout, and a reorder runs wherever a blocked
    tensor meets a plain consumer (or leaves the graph) and where a plain tensor feeds a conv
    that reads blocked input."""
    plan = _Plan()
    users = graph.consumers()
    layers = graph.layers
    reordered_out: set[tuple[str, int]] = set()

    def host_of(name: str) -> str:
        return plan.host.get(name, name)

    def single_use(ref: tuple[str, int]) -> bool:
        return len(users.get(ref, [])) == 1

    def absorb(name: str, host: str, what: str) -> None:
        plan.host[name] = host
        plan.absorbed.setdefault(host, set()).add(what)
        if host in plan.blocked:
            plan.blocked.add(name)

    for layer in layers.values():
        kind = layer.kind
        if kind == "input":
            continue
        fn = layer.attrs.get("fn") if kind == "activation" else None
        if kind in ("dropout", "identity") or fn == "identity":
            plan.removed.add(layer.name)
            if layer.inputs and layer.inputs[0][0] in plan.blocked:
                plan.blocked.add(layer.name)
            continue
        src = layer.inputs[0] if layer.inputs else None
        host = layers[host_of(src[0])] if src else None
        done = plan.absorbed.get(host.name, set()) if host is not None else set()
        # a conv with one bias per unit is Conv + Add: nothing fuses after the Add
        plain_bias = host is not None and not (host.kind in _HOSTS and host.attrs.get("bias") == "per_unit")
        if kind == "batchnorm" and src and host is not None and host.kind in _HOSTS and plain_bias \
                and single_use(src) and not done & {"add", "act"}:
            absorb(layer.name, host.name, "bn")
            continue
        if kind == "activation" and fn in _FUSABLE_ACTIVATIONS and src and host is not None and plain_bias \
                and host.kind in _HOSTS | {"fc"} and single_use(src) and "act" not in done:
            absorb(layer.name, host.name, "act")
            continue
        if kind == "add" and len(layer.inputs) == 2:
            fused = False
            for ref, other in (layer.inputs, layer.inputs[::-1]):
                h = layers[host_of(ref[0])]
                if h.kind == "conv" and h.name in plan.blocked and single_use(ref) and other[0] in plan.blocked \
                        and not plan.absorbed.get(h.name, set()) & {"add", "act"} and h.attrs.get("bias") != "per_unit":
                    absorb(layer.name, h.name, "add")
                    fused = True
                    break
            if fused:
                continue
        # a layer with kernels of its own: its layout, and the reorders it causes
        blocked_in = [ref[0] in plan.blocked for ref in layer.inputs]
        if kind in _HOSTS:
            shape, runs_blocked = _conv_shape(layer, records, batch, block, bool(blocked_in and blocked_in[0]))
            if runs_blocked:
                plan.blocked.add(layer.name)
                if (shape.cin // shape.groups >= block or shape.groups > 1) and not blocked_in[0]:
                    plan.reorders.append((f"{layer.name}<-in", _bytes(records, layer.inputs[0])))
                continue
        elif (kind in _NCHWC_FOLLOWERS and blocked_in and blocked_in[0]
              and _shape_of(records, layer.inputs[0])[0] % block == 0) or (
                kind == "concat" and blocked_in and all(blocked_in) and layer.attrs.get("axis") == 0
                and all(_shape_of(records, r)[0] % block == 0 for r in layer.inputs)):
            plan.blocked.add(layer.name)
            continue
        for ref, is_blocked in zip(layer.inputs, blocked_in, strict=True):
            if is_blocked and ref not in reordered_out:
                reordered_out.add(ref)
                plan.reorders.append((f"{ref[0]}->out", _bytes(records, ref)))
    consumed = {ref[0] for layer in layers.values() for ref in layer.inputs}
    for name in layers:
        if name not in consumed and name in plan.blocked and (name, 0) not in reordered_out:
            plan.reorders.append((f"{name}->out", _bytes(records, (name, 0))))
    return plan


def _bytes(records: Mapping[str, LayerRecord], ref: tuple[str, int]) -> float:
    from math import prod

    return float(prod(_shape_of(records, ref)) * F32)


def estimate_latency(graph: Graph, profile: DeviceProfile, *, batch: int = 1, report: Report | None = None,
                     drift: Mapping[str, float] | None = None, as_profiled: bool = False) -> Estimate:
    """Per-layer and total latency of ``graph`` at ``batch`` on the device ``profile`` describes.

    ``drift`` (see ``Probes``/``drift_of``) scales compute, memory and overhead parts to the
    machine's current speed. ``as_profiled`` adds the profiler's per-kernel cost to each layer,
    to compare with a per-layer profile (the total never includes it).
    """
    from math import prod

    from archcalc.analysis import analyze

    if report is None:
        report = analyze(graph, overrides={"batch": batch, "dtype": "fp32"})
    drift = dict(drift or {})
    d_compute = drift.get("compute", 1.0)
    d_over = drift.get("overhead", 1.0)
    records = {r.name: r for r in report.layers}
    block = nchwc_block()
    plan = _plan(graph, records, batch, block)
    fixed = profile.fixed_us
    layers: dict[str, LayerEstimate] = {}
    def prof_of(keys: Sequence[str]) -> float:
        if not as_profiled:
            return 0.0
        return sum(profile.profiler_heavy_us if k in _HEAVY else profile.profiler_us for k in keys)


    def mem_us(nbytes: float) -> float:
        return nbytes / profile.bandwidth_at(nbytes)

    prof_total = 0.0

    def fx(keys: Sequence[str]) -> float:
        return sum(fixed.get(k, fixed["ew"]) for k in keys) * d_over

    for layer in graph.layers.values():
        name = layer.name
        rec = records[name]
        if layer.kind == "input":
            continue
        if name in plan.removed:
            layers[name] = LayerEstimate(name, 0.0, "removed")
            continue
        if name in plan.host:
            layers[name] = LayerEstimate(name, 0.0, "fused", plan.host[name])
            continue
        compute = memory = 0.0
        keys: list[str] = ["ew"]
        out_bytes = float(rec.activation_bytes)
        in_refs = layer.inputs
        in_bytes = sum(_bytes(records, r) * batch for r in in_refs)
        kind = layer.kind
        if kind in ("conv", "subsample"):
            shape, _ = _conv_shape(layer, records, batch, block, bool(in_refs and in_refs[0][0] in plan.blocked))
            compute = profile.conv_us(shape)
            keys = ["conv"]
            if layer.attrs.get("bias") == "per_unit":  # Conv + Add of one bias per output
                keys.append("binary")
                memory += mem_us(2 * out_bytes + rec.biases * F32)
        elif kind in ("conv_transpose", "locally_connected"):
            c_in = _shape_of(records, in_refs[0])[0]
            out = max(1, round(math.sqrt(prod(rec.shape[1:]) or 1)))
            k = max(1, round(math.sqrt(rec.macs / max(batch * prod(rec.shape[1:]) * rec.shape[0] * c_in, 1))))
            shape = ConvShape(c_in, rec.shape[0], 1, k, 1, out, batch)
            compute = profile.conv_us(shape) * rec.macs / max(shape.flops / 2, 1)
            keys = ["conv"]
        elif kind in ("fc", "matmul", "rbf"):
            in_shape = _shape_of(records, in_refs[0])
            if kind == "matmul" and len(in_refs) == 2:
                other = _shape_of(records, in_refs[1])
                m, k_, n = batch * prod(in_shape[:-1]), in_shape[-1], other[-1]
            elif kind == "matmul":
                m, k_, n = batch * prod(in_shape[:-1]), in_shape[-1], int(layer.attrs["units"])
            else:
                m, k_, n = batch, prod(in_shape), int(layer.attrs["units"])
            if kind == "rbf":  # unsqueeze, subtract, square, sum: elementwise over batch x units x inputs
                keys = ["shape", "binary", "binary", "reduce"]
                memory = mem_us(3 * F32 * batch * n * k_) + 3 * mem_us(F32 * batch * n * k_)
            else:
                g = GemmShape(m, k_, n)
                weights = F32 * k_ * n
                # the weights are read at least once per run; all the model's weights pass through
                # the caches every run, so they come from as far as that working set lives
                stream = weights / profile.bandwidth_at(max(weights, report.totals.param_bytes))
                work = profile.gemm_us(g)
                if stream >= work:
                    memory = stream
                else:
                    compute = work
                keys = ["gemm"]
                if kind == "fc" and len(in_shape) > 1:  # Flatten before the Gemm
                    keys.insert(0, "shape")
                if kind == "matmul" and layer.attrs.get("bias") not in (None, "none") and len(in_refs) == 1:
                    keys.append("binary")
                    memory += mem_us(2 * out_bytes)
        elif kind == "lrn":
            size = int(layer.attrs.get("size") or 5)
            compute = rec.activation_bytes / F32 * profile.unit_ns.get("lrn", 0.0) / 1e3 * (2 * size + 4) / 14
            keys = ["lrn"]
        elif kind in ("maxpool", "avgpool", "adaptive_avgpool", "global_avgpool", "global_maxpool"):
            in_shape = _shape_of(records, in_refs[0])
            taps = max(1, round(prod(in_shape[1:]) / max(prod(rec.shape[1:]), 1)))
            k_attr = layer.attrs.get("kernel")
            if k_attr is not None:
                taps = prod(k_attr) if isinstance(k_attr, (list, tuple)) else int(k_attr) ** (len(rec.shape) - 1)
            compute = rec.activation_bytes / F32 * taps * profile.unit_ns.get("pool", 0.0) / 1e3
            memory = mem_us(in_bytes + out_bytes)
            keys = ["pool_blocked" if name in plan.blocked else "pool"]
        elif kind == "activation":
            fn = str(layer.attrs.get("fn"))
            keys = list(_ACTIVATION_KERNELS.get(fn, ("ew",)))
            elements = rec.activation_bytes / F32
            if fn in ("softmax", "log_softmax"):
                compute = elements * profile.unit_ns.get("softmax", 0.0) / 1e3
            elif fn in _TRANSCENDENTAL:
                compute = elements * profile.unit_ns.get("transcendental", 0.0) / 1e3
            memory = len(keys) * mem_us(in_bytes + out_bytes)
        elif kind in ("flatten", "reshape"):
            keys = ["shape"]
        elif kind == "unknown":
            keys = ["ew"]
        else:  # batchnorm, add, mul, elementwise, concat, split, pad, slice, transpose, upsample, reduce, ...
            memory = mem_us(in_bytes + out_bytes)
            keys = [{"concat": "concat", "reduce": "reduce", "split": "concat", "batchnorm": "binary", "add": "binary",
                     "mul": "binary", "elementwise": "binary"}.get(kind, "ew")]
        # the compute probe (a conv on every thread) tracks kernels big enough for the thread pool;
        # small kernels run on one thread, like the overhead probe, and so does ORT's LRN
        d_work = d_compute if compute + memory >= SMALL_KERNEL_US * len(keys) and kind != "lrn" else d_over
        compute *= d_work
        memory *= d_work
        over = fx(keys)
        prof = prof_of(keys)
        prof_total += prof
        us = compute + memory + over + prof
        parts = {"compute": compute, "memory": memory, "overhead": over}
        bound = max(parts, key=lambda k: parts[k])
        layers[name] = LayerEstimate(name, us / 1e3, bound, None, len(keys), compute / 1e3, memory / 1e3, over / 1e3)
    if plan.reorders:
        memory = sum(b * batch / F32 * profile.unit_ns.get("reorder", 0.0) / 1e3 for _, b in plan.reorders)
        memory *= d_compute if memory >= SMALL_KERNEL_US * len(plan.reorders) else d_over
        over = fx(["reorder"] * len(plan.reorders))
        prof = prof_of(["reorder"] * len(plan.reorders))
        prof_total += prof
        us = memory + over + prof
        layers[LAYOUT] = LayerEstimate(LAYOUT, us / 1e3, "memory" if memory > over else "overhead", None,
                                       len(plan.reorders), 0.0, memory / 1e3, over / 1e3)
    run_ms = profile.run_us * d_over / 1e3
    kernel_ms = sum(e.ms for e in layers.values()) - prof_total / 1e3
    return Estimate(run_ms + kernel_ms, run_ms, layers, batch, drift, as_profiled)
