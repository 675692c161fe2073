"""Micro-benchmarks: the synthetic ONNX models calibration measures (never a model being
estimated), and :class:`Bench`, which times them on one device (wall time, or per kernel under
ORT's profiler). onnx and numpy are imported inside the functions that need them.
"""

from __future__ import annotations

import math
import statistics
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from archcalc.estimate import layout
from archcalc.estimate.fusedact import fused_nodes
from archcalc.estimate.shapes import ConvShape, GemmShape
from archcalc.estimate.spans import SPAN_KEY, SPAN_TRAFFIC_BYTES, span_nodes
from archcalc.runtime.devices import DeviceChoice
from archcalc.runtime.kernelmap import ort_name_candidates
from archcalc.runtime.session import Runner, feeds_for, open_session
from archcalc.runtime.trace import kernel_times, trace_events

#: the opset of the micro-benchmark models (or the runtime's newest, if older)
OPSET = 17


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


def stream_model(shape: GemmShape) -> tuple[Any, list[str]]:
    """One Gemm whose weights ORT makes at load time (a ConstantOfShape it folds into an
    initializer, then pre-packs as it does a model's weights): the model stays a few bytes, so a
    weight matrix beyond the last-level cache costs its memory once in ORT, not also in Python."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("ConstantOfShape", ["wshape"], ["w"], name="wmake",
                              value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0 / shape.k])),
             helper.make_node("Gemm", ["x", "w"], ["gemm0"], name="gemm0", transB=1)]
    return model_of(nodes, [("x", [shape.m, shape.k])], ["gemm0"], [_ints("wshape", [shape.n, shape.k])]), ["gemm0"]


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
    # a blocked conv, then a plain elementwise op (Abs, which ORT's NCHWc transformer leaves
    # unblocked): a reorder to plain and one back before the next conv. Not a Softmax over the
    # channel axis: ORT transposes a 4-D tensor for that, which costs ~10x a reorder pair
    "reorder": ("ReorderPair", (1, 16, 4, 4)),
}


def chain_model(op: str, length: int, shape: Sequence[int]) -> Any:
    """``length`` ops one after the other on a small tensor (per-kernel overhead); blocked
    pooling starts with a 1x1 conv so the pools run in ORT's NCHWc layout."""
    from onnx import helper

    nodes, inits = [], []
    c = shape[1]
    src = "t0"
    if op == "MaxPool" and c % layout.nchwc_block() == 0:
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
            nodes.append(helper.make_node("Abs", [f"c{i}"], [out], name=f"s{i}"))
        else:
            nodes.append(helper.make_node(op, [src], [out], name=f"n{i}"))
        src = out
    return model_of(nodes, [("t0", list(shape))], [src], inits)


#: ops_model's tensors: the pool's input and output (3x3/2), the softmax's, the tanh's elements;
#: UNIT_TRAFFIC_BYTES is what they move
_POOL_IN, _POOL_OUT, _SOFTMAX, _TANH = (64, 56, 56), (64, 28, 28), (32, 1000), 1 << 18
#: ops_model's Resize inputs (channels, height, width), each scaled 2x on both spatial axes: ORT's
#: interpolating kernels cost per output element, 1.3-3 ns (linear) and ~60 ns (cubic) here,
#: 25-1,000x what their bytes take (measured on maps of 14x14-112x112, 16-128 channels)
RESIZE_INPUTS = {"resize_nearest": (32, 28, 28), "resize_linear": (32, 28, 28), "resize_cubic": (4, 14, 14)}


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
    inputs.append(("pool_x", [1, *_POOL_IN]))
    inits.append(_const("pool_w", (_POOL_IN[0], _POOL_IN[0], 1, 1), 1 / _POOL_IN[0]))
    nodes.append(helper.make_node("Conv", ["pool_x", "pool_w"], ["pool_c"], name="pool_c", kernel_shape=[1, 1]))
    nodes.append(helper.make_node("MaxPool", ["pool_c"], ["pool"], name="pool", kernel_shape=[3, 3], strides=[2, 2],
                                  pads=[1, 1, 1, 1]))
    outputs.append("pool")
    units["pool"] = ("pool", math.prod(_POOL_OUT) * 9)
    # softmax over 1000 classes, batch 32: per element
    inputs.append(("sm_x", list(_SOFTMAX)))
    nodes.append(helper.make_node("Softmax", ["sm_x"], ["softmax"], name="softmax", axis=1))
    outputs.append("softmax")
    units["softmax"] = ("softmax", math.prod(_SOFTMAX))
    # tanh on 2^18 elements: transcendental activations, per element
    inputs.append(("tanh_x", [1, _TANH]))
    nodes.append(helper.make_node("Tanh", ["tanh_x"], ["tanh"], name="tanh"))
    outputs.append("tanh")
    units["tanh"] = ("transcendental", _TANH)
    # a blocked conv output read by a plain op: ORT reorders it back (ReorderOutput), per element;
    # timed on reorder_model(), where it is the only ReorderOutput (here the pool's output needs one too)
    units["ReorderOutput"] = ("reorder", REORDER_CHANNELS * REORDER_SIZE ** 2)
    # Resize 2x with half-pixel coordinates, per output element: nearest on that general path
    # (ORT has a fast copy only for asymmetric floor nearest by whole factors, which the estimator
    # prices by its traffic), bilinear and bicubic
    inits.append(_const("resize_roi", (0,), 0.0))
    inits.append(helper.make_tensor("resize_scales", 1, [4], [1.0, 1.0, 2.0, 2.0]))
    for key, (c, h, w) in RESIZE_INPUTS.items():
        inputs.append((f"{key}_x", [1, c, h, w]))
        nodes.append(helper.make_node("Resize", [f"{key}_x", "resize_roi", "resize_scales"], [key], name=key,
                                      mode=key.removeprefix("resize_"), coordinate_transformation_mode="half_pixel"))
        outputs.append(key)
        units[key] = (key, 4 * c * h * w)
    # a depthwise conv per activation ORT fuses into a conv, and one with a ReLU (fusedact.py)
    more = fused_nodes()
    nodes, inits, inputs, outputs = nodes + more[0], inits + more[1], inputs + more[2], outputs + more[3]
    units.update(more[4])
    # a Mul by one value per channel over maps of 2x2 (spans.py): per broadcast span
    span = span_nodes()
    nodes, inputs, outputs = nodes + span[0], inputs + span[1], outputs + span[2]
    units.update(span[3])
    return model_of(nodes, inputs, outputs, inits), units


#: the tensor whose layout reorder calibration times (channels, height = width): 800 KB
REORDER_CHANNELS, REORDER_SIZE = 64, 56
#: the tensors of the smaller reorder points (channels, height = width): 1k, 12.5k and 50k elements,
#: besides the one above (200k). A reorder's time is far from linear in its elements: profiled
#: here (AVX-512) 4, 6, 7, 10, 16 and 28 us for 256, 1k, 3k, 12.5k, 50k and 200k, so one cost per
#: element (from 200k) put the small reorders of small networks at 0.3-0.5x of their time
REORDER_POINTS = ((16, 8), (16, 28), (64, 28))
#: the fixed-cost class of the kernel each per-element cost is measured on (the pool runs blocked)
UNIT_FIXED = {"reorder": "reorder", "lrn": "lrn", "pool": "pool_blocked", "softmax": "softmax", SPAN_KEY: "binary"}
#: the bytes ops_model's pool, softmax and tanh read and write: the estimator adds a layer's
#: traffic to these units (not to LRN's or a reorder's), so the units are stored net of it. A
#: 3x3 max pool of 192x28x28 costs about its traffic, 1.35M taps at the gross per-tap unit of a
#: stride-2 pool (traffic included) were priced 3-4x its time
UNIT_TRAFFIC_BYTES = {"pool": 4.0 * (math.prod(_POOL_IN) + math.prod(_POOL_OUT)),
                      "softmax": 4.0 * 2 * math.prod(_SOFTMAX), "transcendental": 4.0 * 2 * _TANH,
                      **{key: 4.0 * 5 * math.prod(shape) for key, shape in RESIZE_INPUTS.items()},
                      SPAN_KEY: SPAN_TRAFFIC_BYTES}


def reorder_model(channels: int = REORDER_CHANNELS, size: int = REORDER_SIZE) -> Any:
    """A 1x1 conv (ORT runs it blocked) whose output a plain Abs reads: exactly one ReorderOutput,
    of ``channels x size^2`` elements (the conv's input has the only other reorder, a
    ReorderInput). Not a Softmax over the channels: ORT transposes a 4-D tensor for that."""
    from onnx import helper

    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="ro_c", kernel_shape=[1, 1]),
             helper.make_node("Abs", ["c"], ["y"], name="ro_abs")]
    return model_of(nodes, [("x", [1, channels, size, size])], ["y"],
                    [_const("w", (channels, channels, 1, 1), 1 / channels)])


def copy_chain(size: int) -> int:
    """How many copies of ``size`` floats calibration chains in one model (each reads what the one
    before it wrote, as a layer reads its input): up to 16 for small tensors, so the per-run cost
    subtracted from the model's time is a small part of it. One copy per model put 16-256 KiB
    copies within the noise of that subtraction: 127-1,220 GB/s at 256 KiB in calibrations
    minutes apart, and every memory-bound layer's estimate moved with it."""
    return max(1, min(16, (1 << 20) // max(size, 1)))


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


def reorder_output_runs(bench: Bench, runs: int = 7, sessions: int = 3, channels: int = REORDER_CHANNELS,
                        size: int = REORDER_SIZE) -> list[float] | None:
    """Per-run microseconds of the one ReorderOutput of :func:`reorder_model` (ORT names it
    ``ReorderOutput[_token_N]``) in ``sessions`` sessions one after the other, or None when ORT ran
    it otherwise. Several sessions: here one session in a few ran every reorder at twice the time
    of the others, run after run (17-20 us against 38-41 us for the same reorder), so the median
    of their runs is the common speed, and their disagreement shows in the repeats."""
    got: list[float] = []
    model = reorder_model(channels, size)
    for _ in range(sessions):
        reorders = [v for k, v in bench.kernel_runs(model, runs).items() if k.startswith("ReorderOutput")]
        if len(reorders) != 1:
            return None
        got.extend(reorders[0])
    return got


def reorder_points(bench: Bench) -> dict[int, list[float]]:
    """Per-run microseconds of a ReorderOutput of each :data:`REORDER_POINTS` tensor, by its
    elements (a size ORT ran otherwise is left out)."""
    got = {c * s * s: reorder_output_runs(bench, channels=c, size=s) for c, s in REORDER_POINTS}
    return {n: runs for n, runs in got.items() if runs}


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
        return {k: statistics.median(v) for k, v in self.kernel_runs(model, runs, warmup).items()}

    def kernel_runs(self, model: Any, runs: int = 7, warmup: int = 2) -> dict[str, list[float]]:
        """Kernel name -> its microseconds in each profiled run (0 in a run that did not record it)."""
        with tempfile.TemporaryDirectory(prefix="archcalc-bench-") as tmp:
            session = open_session(model.SerializeToString(), self.choice, self.threads,
                                   profile_prefix=str(Path(tmp) / "bench"))
            runner = Runner(session, feeds_for(session, 1))
            for _ in range(warmup + runs):
                runner.run()
            del runner
            events = trace_events(session)
        per_run, _ = kernel_times(events, runs)
        names = {k for run in per_run for k in run}
        return {k: [run.get(k, 0.0) for run in per_run] for k in names}


def median_time(runner: Runner, runs: int, warmup: int) -> float:
    for _ in range(warmup):
        runner.run()
    return statistics.median([runner.timed() for _ in range(runs)])


def kernel_runs_of(runs: Mapping[str, Sequence[float]], name: str) -> list[float] | None:
    """Per-run microseconds of a node's kernels (see :func:`kernel_of`), or None when none ran."""
    width = max((len(v) for v in runs.values()), default=0)
    got = [kernel_of({k: v[i] for k, v in runs.items() if i < len(v)}, name) for i in range(width)]
    return None if not got or got[0] is None else [g or 0.0 for g in got]


def kernel_of(times: Mapping[str, float], name: str) -> float | None:
    """A node's kernel time where ORT renamed it (``fused x``, ``x_nchwc``, named after the
    fused ReLU): sum of the kernels that derive from the node or its output."""
    alias = name.replace("conv", "relu") if name.startswith("conv") else name
    total, found = 0.0, False
    for kernel, us in times.items():
        cands = ort_name_candidates(kernel)
        if name in cands or alias in cands:
            total += us
            found = True
    return total if found else None
