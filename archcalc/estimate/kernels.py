"""Which kernels ORT's CPU provider runs for a graph, per layer kind: what fuses into what (conv
absorbs batchnorm, a residual add and an activation; gemm an activation), which tensors run in
the NCHWc layout and where reorders run, and the work of each layer's kernels.

Dispatch is on each layer's :class:`~archcalc.ops.facts.KernelClass`, which its op declares
(``archcalc/ops``): this module keeps no list of layer kinds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from archcalc.estimate.fusedact import FUSABLE, pass_us
from archcalc.estimate.layerunits import unit_key
from archcalc.estimate.layout import doubles, executed_conv, integer_scale, pad_fuses, tapped_conv, whole_blocks
from archcalc.estimate.shapes import F32, ConvShape, GemmShape
from archcalc.estimate.spans import layer_spans, spans_us
from archcalc.ops import REGISTRY
from archcalc.ops.activation import TRANSCENDENTAL
from archcalc.ops.facts import KernelClass as K

if TYPE_CHECKING:
    from archcalc.estimate.deviceprofile import DeviceProfile
    from archcalc.ir import Graph, Layer
    from archcalc.report import LayerRecord, Report

#: kernels (fixed-cost classes) of the activations archcalc exports as several ONNX nodes (opset 17)
_ACTIVATION_KERNELS: dict[str, tuple[str, ...]] = {
    "lecun_tanh": ("binary", "ew", "binary"),
    # ORT's QuickGeluFusion makes one QuickGelu kernel of x * Sigmoid(alpha * x), in the NCHWc
    # layout of its input: EfficientNet-B0's 49 SiLUs, priced as a Sigmoid and a Mul, were 1.8x
    # their profiled time
    "silu": ("ew",), "swish": ("ew",),
    "gelu": ("ew",),  # ORT's GeluFusion makes one Gelu kernel of Div, Erf, Add, Mul, Mul
    "mish": ("ew", "ew", "binary"),
    "softmax": ("softmax",), "log_softmax": ("softmax",), "prelu": ("binary",),
}


def kernel_class(layer: Layer) -> K:
    """The ORT kernel class a layer runs as (its op says, from its attributes)."""
    return REGISTRY[layer.kind].kernel_class_of(layer.attrs)


#: the fixed-cost class of a memory-bound kernel; the broadcasting ones
_MEMORY_BOUND_KEYS = {K.CONCAT: "concat", K.SPLIT: "concat", K.REDUCE: "reduce", K.NORM: "binary", K.ADD: "binary",
                      K.ELEMENTWISE: "binary", K.MUL: "binary", K.SCALE: "binary"}
_BROADCASTING = frozenset({K.ADD, K.ELEMENTWISE, K.MUL, K.SCALE})


@dataclass
class KernelPlan:
    """Which layers run kernels, which are fused into whose, and which tensors are blocked."""

    host: dict[str, str] = field(default_factory=dict)  # fused layer -> layer whose kernel runs it
    removed: set[str] = field(default_factory=set)
    blocked: set[str] = field(default_factory=set)  # layers whose output is in NCHWc layout
    reorders: list[tuple[str, float]] = field(default_factory=list)  # (where, bytes)
    #: what each host kernel has absorbed so far (conv: bn*, then add, then activation)
    absorbed: dict[str, set[str]] = field(default_factory=dict)
    #: BatchNorms ORT runs as blocked depthwise 1x1 convs (their input was blocked)
    blocked_norms: set[str] = field(default_factory=set)
    act_of: dict[str, str] = field(default_factory=dict)  # host -> the activation function it absorbed


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
    klass = kernel_class(layer)
    if klass is K.SUBSAMPLE or a.get("depthwise"):
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
        stride = int(stride_attr) if stride_attr else (kernel if klass is K.SUBSAMPLE else 1)
    positions = prod(spatial) if spatial else 1
    out = max(1, round(math.sqrt(positions)))
    if groups == 1 and cin < block:
        blocked_in = False  # ORT's NCHWc conv reads fewer channels than a block in the plain layout
    return executed_conv(ConvShape(cin, cout, groups, kernel, stride, out, batch), block, blocked_in)


#: the activations ORT's NCHWc transformer runs on a blocked tensor (or fuses into a blocked conv)
_BLOCKED_ACTIVATIONS = frozenset({"relu", "sigmoid", "tanh"})
#: activations whose every kernel runs on a blocked tensor (SiLU: a Sigmoid, then a Mul of equal shapes;
#: GELU: the one Gelu kernel of ORT's GeluFusion, which ORT 1.31 runs between two NCHWc convs as it is)
_BLOCKED_RUNS = _BLOCKED_ACTIVATIONS | {"silu", "swish", "gelu"}
#: kernels that absorb a BatchNorm and an activation after them
_HOSTS = frozenset({K.CONV, K.SUBSAMPLE})
#: kernels with less work than this (microseconds) run on one thread: drift follows the overhead probe
SMALL_KERNEL_US = 20.0
#: kernel classes that run on the thread pool: the profiler costs them more
_HEAVY = frozenset({"conv", "conv_small", "gemm", "pool", "pool_blocked", "reorder"})
#: kernels that run on one thread whatever their size: drift follows the overhead probe
_ONE_THREAD = frozenset({K.LRN})


def _channel_scale(layer: Layer, records: Mapping[str, LayerRecord]) -> bool:
    """A scale (its op says) of one value per channel of its input, or of one value: what ORT's
    ConvMulFusion folds into the conv before it."""
    if kernel_class(layer) is not K.SCALE or len(layer.inputs) != 1:
        return False
    const = list(layer.attrs.get("const_shape") or [])  # a layer scale has one value per channel
    return not const or const == [1] or len(const) == len(_shape_of(records, layer.inputs[0]))


def plan_kernels(graph: Graph, records: Mapping[str, LayerRecord], batch: int, block: int) -> KernelPlan:
    """Predict ORT's CPU graph: Conv absorbs BatchNorm, then one residual Add (NCHWc), then one activation; Gemm
    absorbs one activation; dropout/identity (and zero Pads a Conv reads) vanish; NCHWc convolutions and the
    pools/concats after them keep the blocked layout, and a reorder runs wherever a blocked tensor meets a plain
    consumer (or leaves the graph) and where a plain tensor feeds a conv that reads blocked input."""
    plan = KernelPlan()
    users = graph.consumers()
    layers = graph.layers
    reordered_out: set[tuple[str, int]] = set()
    reordered_in: set[tuple[str, int]] = set()  # one ReorderInput per plain tensor, whatever reads it

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
        klass = kernel_class(layer)
        if klass is K.NONE:
            continue
        fn = layer.attrs.get("fn") if klass is K.ACTIVATION else None
        if klass is K.ELIMINATED or (klass is K.DATA_MOVEMENT and pad_fuses(
                layer.attrs, [kernel_class(layers[r]) for r in users.get((layer.name, 0), ())])):
            plan.removed.add(layer.name)
            if layer.inputs and layer.inputs[0][0] in plan.blocked:
                plan.blocked.add(layer.name)
            continue
        src = layer.inputs[0] if layer.inputs else None
        host = layers[host_of(src[0])] if src else None
        done = plan.absorbed.get(host.name, set()) if host is not None else set()
        # a conv with one bias per unit is Conv + Add: nothing fuses after the Add
        host_class = kernel_class(host) if host is not None else None
        plain_bias = host is not None and not (host_class in _HOSTS and host.attrs.get("bias") == "per_unit")
        if klass is K.NORM and src and host is not None and host_class in _HOSTS and plain_bias \
                and single_use(src) and not done & {"add", "act"}:
            absorb(layer.name, host.name, "bn")
            continue
        # ORT's ConvMulFusion: a Mul by a per-channel constant right after a conv scales its weights
        if src and host is not None and host_class in _HOSTS and plain_bias and single_use(src) \
                and not done & {"add", "act"} and _channel_scale(layer, records):
            absorb(layer.name, host.name, "scale")
            continue
        if klass is K.ACTIVATION and fn in FUSABLE and src and host is not None and plain_bias \
                and host_class in _HOSTS | {K.GEMM} and single_use(src) and "act" not in done:
            absorb(layer.name, host.name, "act")
            plan.act_of[host.name] = str(fn)
            continue
        # ORT's NCHWc transformer runs a BatchNorm on a blocked tensor as a blocked depthwise 1x1
        # conv, which absorbs a following Relu/Sigmoid/Tanh like any blocked conv
        if klass is K.ACTIVATION and fn in _BLOCKED_ACTIVATIONS and src and host is not None \
                and host.name in plan.blocked_norms and single_use(src) and "act" not in done:
            absorb(layer.name, host.name, "act")
            plan.act_of[host.name] = str(fn)
            continue
        if klass is K.NORM and src and src[0] in plan.blocked and len(_shape_of(records, src)) == 3:
            plan.blocked.add(layer.name)
            plan.blocked_norms.add(layer.name)
            continue
        if klass is K.ADD and len(layer.inputs) == 2:
            fused = False
            for ref, other in (layer.inputs, layer.inputs[::-1]):
                h = layers[host_of(ref[0])]
                if kernel_class(h) is K.CONV and h.name in plan.blocked and single_use(ref) \
                        and other[0] in plan.blocked and not plan.absorbed.get(h.name, set()) & {"add", "act"} \
                        and h.attrs.get("bias") != "per_unit":
                    absorb(layer.name, h.name, "add")
                    fused = True
                    break
            if fused:
                continue
        # a Relu/Sigmoid/Tanh, or an Add or Mul of equal blocked tensors, runs on the blocked layout
        if src and all(ref[0] in plan.blocked for ref in layer.inputs) and len(_shape_of(records, src)) == 3 and (
                (klass is K.ACTIVATION and fn in _BLOCKED_RUNS)
                or (klass in (K.ADD, K.MUL)
                    and len(layer.inputs) >= 2 and len({_shape_of(records, r) for r in layer.inputs}) == 1)):
            plan.blocked.add(layer.name)
            continue
        # a layer with kernels of its own: its layout, and the reorders it causes
        blocked_in = [ref[0] in plan.blocked for ref in layer.inputs]
        if klass in _HOSTS:
            shape, runs_blocked = _conv_shape(layer, records, batch, block, bool(blocked_in and blocked_in[0]))
            if runs_blocked:
                plan.blocked.add(layer.name)
                if blocked_in[0] and shape.groups == 1 and _shape_of(records, layer.inputs[0])[0] < block \
                        and layer.inputs[0] not in reordered_out:  # it reads its few channels plain
                    reordered_out.add(layer.inputs[0])
                    plan.reorders.append((f"{layer.inputs[0][0]}->out", tensor_bytes(records, layer.inputs[0])))
                if (shape.cin // shape.groups >= block or shape.groups > 1) and not blocked_in[0] \
                        and layer.inputs[0] not in reordered_in:
                    reordered_in.add(layer.inputs[0])
                    plan.reorders.append((f"{layer.name}<-in", tensor_bytes(records, layer.inputs[0])))
                continue
        elif (klass is K.POOL and blocked_in and blocked_in[0]
              and _shape_of(records, layer.inputs[0])[0] % block == 0) or (
                klass is K.CONCAT and blocked_in and all(blocked_in) and layer.attrs.get("axis") == 0
                and all(_shape_of(records, r)[0] % block == 0 for r in layer.inputs)):
            plan.blocked.add(layer.name)
            continue
        elif klass is K.POOL and blocked_in and layer.attrs.get("kernel") is not None \
                and whole_blocks(_shape_of(records, layer.inputs[0]), block):
            # a MaxPool/AveragePool of a plain tensor: ORT reorders its input (once per tensor) to pool blocked
            plan.blocked.add(layer.name)
            if layer.inputs[0] not in reordered_in:
                reordered_in.add(layer.inputs[0])
                plan.reorders.append((f"{layer.name}<-in", tensor_bytes(records, layer.inputs[0])))
            continue
        elif klass is K.RESIZE and blocked_in and blocked_in[0] and layer.attrs.get("mode") == "nearest" \
                and integer_scale(_shape_of(records, layer.inputs[0]), records[layer.name].shape):
            plan.blocked.add(layer.name)  # ORT's NCHWc Upsample: nearest, integer spatial scales
            continue
        for ref, is_blocked in zip(layer.inputs, blocked_in, strict=True):
            if is_blocked and ref not in reordered_out:
                reordered_out.add(ref)
                plan.reorders.append((f"{ref[0]}->out", tensor_bytes(records, ref)))
    consumed = {ref[0] for layer in layers.values() for ref in layer.inputs}
    for name in layers:
        if name not in consumed and name in plan.blocked and (name, 0) not in reordered_out:
            plan.reorders.append((f"{name}->out", tensor_bytes(records, (name, 0))))
    return plan


def tensor_bytes(records: Mapping[str, LayerRecord], ref: tuple[str, int]) -> float:
    from math import prod

    return float(prod(_shape_of(records, ref)) * F32)


def runs_on_one_thread(layer: Layer) -> bool:
    """Whether ORT runs this layer's kernel on one thread however large it is (LRN)."""
    return kernel_class(layer) in _ONE_THREAD


def profiler_cost_us(profile: DeviceProfile, keys: Sequence[str]) -> float:
    """What ORT's profiler adds to kernels of these fixed-cost classes (thread-pool kernels cost it more)."""
    return sum(profile.profiler_heavy_us if k in _HEAVY else profile.profiler_us for k in keys)


def layer_work(layer: Layer, records: Mapping[str, LayerRecord], plan: KernelPlan, profile: DeviceProfile,
               report: Report, batch: int, block: int) -> tuple[float, float, list[str]]:
    """One layer's kernels as ORT's CPU provider runs them: compute and memory microseconds
    (before drift) and the fixed-cost class of each kernel."""
    from math import prod

    def mem_us(nbytes: float) -> float:
        return nbytes / profile.bandwidth_at(nbytes)

    def weights_bound(work_us: float, weights: float) -> tuple[float, float]:
        """(compute, memory) of a kernel of ``work_us`` reading ``weights`` bytes once per run: all the
        model's weights and every activation it writes pass through the caches every run, so its
        weights come from as far as that working set lives, at the speed a calibrated GEMV streams
        weights from there; it is bound by whichever takes longer."""
        run_bytes = report.totals.param_bytes + report.totals.activation_bytes
        stream = weights / profile.stream_at(max(weights, run_bytes))
        return (0.0, stream) if stream >= work_us else (work_us, 0.0)

    name = layer.name
    rec = records[name]
    compute = memory = 0.0
    keys: list[str] = ["ew"]
    out_bytes = float(rec.activation_bytes)
    in_refs = layer.inputs
    in_bytes = sum(tensor_bytes(records, r) * batch for r in in_refs)
    klass = kernel_class(layer)
    unit_name = unit_key(layer)
    if klass in _HOSTS:
        shape, _ = _conv_shape(layer, records, batch, block, bool(in_refs and in_refs[0][0] in plan.blocked))
        shape = tapped_conv(shape, _shape_of(records, in_refs[0])[1:], rec.shape[1:])
        compute, memory = weights_bound(profile.conv_us(shape), shape.weight_bytes)
        keys = ["conv"]
        if layer.attrs.get("bias") == "per_unit":  # Conv + Add of one bias per output
            keys.append("binary")
            memory += mem_us(2 * out_bytes + rec.biases * F32)
    elif klass is K.CONV_OTHER:
        c_in = _shape_of(records, in_refs[0])[0]
        out = max(1, round(math.sqrt(prod(rec.shape[1:]) or 1)))
        k = max(1, round(math.sqrt(rec.macs / max(batch * prod(rec.shape[1:]) * rec.shape[0] * c_in, 1))))
        shape = ConvShape(c_in, rec.shape[0], 1, k, 1, out, batch)
        compute = profile.conv_us(shape) * rec.macs / max(shape.flops / 2, 1)
        keys = ["conv"]
    elif klass in (K.GEMM, K.MATMUL, K.RBF):
        in_shape = _shape_of(records, in_refs[0])
        if klass is K.MATMUL and len(in_refs) == 2:
            other = _shape_of(records, in_refs[1])
            m, k_, n = batch * prod(in_shape[:-1]), in_shape[-1], other[-1]
        elif klass is K.MATMUL:
            m, k_, n = batch * prod(in_shape[:-1]), in_shape[-1], int(layer.attrs["units"])
        else:
            m, k_, n = batch, prod(in_shape), int(layer.attrs["units"])
        if klass is K.RBF:  # unsqueeze, subtract, square, sum: elementwise over batch x units x inputs
            keys = ["shape", "binary", "binary", "reduce"]
            memory = mem_us(3 * F32 * batch * n * k_) + 3 * mem_us(F32 * batch * n * k_)
        else:
            # weights alone put MobileNetV3's 5 MB classifier GEMVs in cache (21 MB of weights) at
            # 0.29x of their profiled time: its 53 MB of activations evict them
            compute, memory = weights_bound(profile.gemm_us(GemmShape(m, k_, n)), F32 * k_ * n)
            keys = ["gemm"]
            if klass is K.GEMM and len(in_shape) > 1:  # Flatten before the Gemm
                keys.insert(0, "shape")
            if klass is K.MATMUL and layer.attrs.get("bias") not in (None, "none") and len(in_refs) == 1:
                keys.append("binary")
                memory += mem_us(2 * out_bytes)
    elif klass is K.LRN:
        size = int(layer.attrs.get("size") or 5)
        compute = rec.activation_bytes / F32 * profile.unit_ns.get("lrn", 0.0) / 1e3 * (2 * size + 4) / 14
        keys = ["lrn"]
    elif klass is K.POOL:
        in_shape = _shape_of(records, in_refs[0])
        taps = max(1, round(prod(in_shape[1:]) / max(prod(rec.shape[1:]), 1)))
        k_attr = layer.attrs.get("kernel")
        if k_attr is not None:
            taps = prod(k_attr) if isinstance(k_attr, (list, tuple)) else int(k_attr) ** (len(rec.shape) - 1)
        compute = rec.activation_bytes / F32 * taps * profile.unit_ns.get("pool", 0.0) / 1e3
        memory = mem_us(in_bytes + out_bytes)
        keys = ["pool_blocked" if name in plan.blocked else "pool"]
    elif unit_name in profile.unit_ns:  # a layer unit (layerunits.py): its exported form's kernels, traffic included
        compute = rec.activation_bytes / F32 * profile.unit_ns[str(unit_name)] / 1e3
        keys = [f"unit:{unit_name}"]  # the fixed cost of the form's kernels, measured
    elif klass is K.ACTIVATION:
        fn = str(layer.attrs.get("fn"))
        keys = list(_ACTIVATION_KERNELS.get(fn, ("ew",)))
        elements = rec.activation_bytes / F32
        if fn in ("softmax", "log_softmax"):
            compute = elements * profile.unit_ns.get("softmax", 0.0) / 1e3
        elif fn in TRANSCENDENTAL:
            compute = elements * profile.unit_ns.get("transcendental", 0.0) / 1e3
        memory = len(keys) * mem_us(in_bytes + out_bytes)
    elif klass is K.VIEW:
        keys = ["shape"]
    elif klass is K.UNKNOWN:
        keys = ["ew"]
    elif klass is K.RESIZE and name not in plan.blocked and not (
            layer.attrs.get("mode") == "nearest" and doubles(_shape_of(records, in_refs[0]), rec.shape)):
        # ORT copies a plain nearest 2x2 upsampling (its traffic); any other Resize costs per output
        # element: nearest by 3, 4, 8 or 2x1 at 0.38-0.40 ns here against 0.07 for 2x2; calibrated
        # on 2-D maps (4 taps bilinear, 16 bicubic), so a 3-D map reads 2x (or 4x) the taps
        mode = str(layer.attrs.get("mode"))
        key = {"nearest": "resize_nearest", "cubic": "resize_cubic"}.get(mode, "resize_linear")
        reads = 1.0 if mode == "nearest" else (4.0 if mode == "cubic" else 2.0) ** (len(rec.shape) - 3)
        compute = rec.activation_bytes / F32 * reads * profile.unit_ns.get(key, 0.0) / 1e3
        memory = mem_us(in_bytes + out_bytes)
    elif klass is K.NORM and name in plan.blocked_norms:  # a blocked depthwise 1x1 conv: reads and writes once
        memory = mem_us(in_bytes + out_bytes)
        keys = ["conv"]
    else:  # memory-bound: norm, add, elementwise, concat, split, copies, resize, reduce
        memory = mem_us(in_bytes + out_bytes)
        keys = [_MEMORY_BOUND_KEYS.get(klass, "ew")]
        if klass in _BROADCASTING:  # and the spans of its broadcast (spans.py)
            compute = spans_us(layer_spans(layer.attrs, [_shape_of(records, r) for r in in_refs], batch),
                               profile.unit_ns)
    if name in plan.act_of and name in plan.blocked and (klass in _HOSTS or name in plan.blocked_norms):
        compute += pass_us(plan.act_of[name], out_bytes / F32, profile.unit_ns)  # fusedact.py: all but ReLU
    return compute, memory, keys
