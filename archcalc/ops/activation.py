"""Activations: elementwise functions (and softmax over channels).

No parameters except PReLU (one slope per channel, or one shared). Cost: one "activation"
FLOP per element whatever the function (transcendental cost is not modelled; say so).
SiLU/Swish: ONNX Swish (opset 24; alpha != 1 is ``swish`` with ``alpha``) or Mul(x, Sigmoid(x))
(recognised as one layer, ``onnx_import/act_patterns.py``, as are the multi-node Mish, HardSwish and both
GELUs of older opsets); GELU: Gelu (opset 20), its ``approximate="tanh"`` form is ``gelu_tanh``.
Each function is also a layer type of its own: ``type: relu`` = ``type: activation, fn: relu``.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import Any

from archcalc.errors import ExportError, OnnxImportError
from archcalc.ir import Layer
from archcalc.ops._derive import Step, num
from archcalc.ops._emit import Builder, Shape, record_group
from archcalc.ops._onnx import LayerSpec, Node, sample_axis
from archcalc.ops.base import MODULE_DOC, Applied, Attr, Cost, Op, boolean, choice, number
from archcalc.ops.facts import KernelClass

FUNCTIONS = (
    "relu", "relu6", "leaky_relu", "prelu", "elu", "selu", "gelu", "gelu_tanh", "silu", "swish",
    "mish", "hardswish", "hardsigmoid", "sigmoid", "tanh", "lecun_tanh", "softplus",
    "softsign", "softmax", "log_softmax", "hardtanh", "identity", "clip", "celu",
    "thresholded_relu", "shrink", "erf", "exp", "log", "sqrt", "abs", "neg", "reciprocal",
    "floor", "ceil", "round", "sign", "sin", "cos", "not",
)

#: functions that evaluate exp, log, tanh, erf, a square root or a sine per element: the latency
#: estimator costs them at the device's transcendental rate (archcalc/estimate/kernels.py)
TRANSCENDENTAL = frozenset({
    "tanh", "sigmoid", "elu", "selu", "softplus", "softsign", "gelu", "gelu_tanh", "silu", "swish", "mish", "erf",
    "exp", "log", "sqrt", "sin", "cos", "celu", "lecun_tanh", "hardswish", "reciprocal",
})
#: the rest: comparisons, clamps, sign and rounding, and softmax (costed by its own unit). Every
#: function is in exactly one of the two sets (tests/test_transcendental.py), so a new one is decided
NOT_TRANSCENDENTAL = frozenset({
    "relu", "relu6", "leaky_relu", "prelu", "hardsigmoid", "softmax", "log_softmax", "hardtanh", "identity", "clip",
    "thresholded_relu", "shrink", "abs", "neg", "floor", "ceil", "round", "sign", "not",
})
#: functions with a calibrated per-element cost of their own (archcalc.estimate.layerunits)
UNIT_FNS = frozenset({"gelu", "gelu_tanh", "silu", "mish", "hardswish", "hardsigmoid", "sigmoid", "elu", "softplus"})

#: ONNX unary op -> function
UNARY = {
    "Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Elu": "elu", "Selu": "selu", "Softplus": "softplus",
    "Softsign": "softsign", "HardSigmoid": "hardsigmoid", "HardSwish": "hardswish", "LeakyRelu": "leaky_relu",
    "Gelu": "gelu", "Mish": "mish", "Erf": "erf", "Exp": "exp", "Log": "log", "Sqrt": "sqrt", "Abs": "abs",
    "Neg": "neg", "Reciprocal": "reciprocal", "Floor": "floor", "Ceil": "ceil", "Round": "round", "Sign": "sign",
    "Sin": "sin", "Cos": "cos", "Celu": "celu", "ThresholdedRelu": "thresholded_relu", "Shrink": "shrink",
    "Not": "not",
}

#: functions written as one ONNX node of the same name
_SIMPLE = {
    "relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "elu": "Elu", "selu": "Selu", "softplus": "Softplus",
    "softsign": "Softsign", "hardsigmoid": "HardSigmoid", "leaky_relu": "LeakyRelu", "erf": "Erf", "exp": "Exp",
    "log": "Log", "sqrt": "Sqrt", "abs": "Abs", "neg": "Neg", "reciprocal": "Reciprocal", "floor": "Floor",
    "ceil": "Ceil", "round": "Round", "sign": "Sign", "sin": "Sin", "cos": "Cos", "celu": "Celu",
    "thresholded_relu": "ThresholdedRelu", "shrink": "Shrink",
}


def unary_from_onnx(node: Node) -> LayerSpec:
    node.act(0)
    alpha = float(node.attrs["alpha"]) if "alpha" in node.attrs else None
    # normal form (LayerSpec.normal): every UNARY function is one of FUNCTIONS; alpha a (finite) float
    attrs = {"fn": UNARY[node.op_type], "alpha": alpha, "shared": False, "module": True}
    return LayerSpec("activation", attrs, [node.input_names[0]], normal=True)


def gelu_from_onnx(node: Node) -> LayerSpec:
    """Gelu (opset 20): ``approximate="tanh"`` is the tanh approximation, a function of its own."""
    node.act(0)
    fn = "gelu_tanh" if node.text("approximate", "none") == "tanh" else "gelu"
    return LayerSpec("activation", {"fn": fn}, [node.input_names[0]])


def swish_from_onnx(node: Node) -> LayerSpec:
    """Swish (opset 24): x * sigmoid(alpha * x); alpha 1 is SiLU."""
    node.act(0)
    alpha = float(node.attrs.get("alpha", 1.0))
    return LayerSpec("activation", {"fn": "silu"} if alpha == 1.0 else {"fn": "swish", "alpha": alpha},
                     [node.input_names[0]])


def softmax_from_onnx(node: Node) -> LayerSpec:
    """Softmax, LogSoftmax: opset < 13 normalises over all axes from ``axis`` on (default 1)."""
    x = node.act(0)
    default = 1 if node.opset < 13 else -1
    axis = sample_axis(int(node.attrs.get("axis", default)), len(x.shape), node.op_type)
    notes = []
    if node.opset < 13 and len(x.shape) > 2:
        notes.append(f"{node.op_type} (opset < 13) normalises over all axes from {axis + 1}")
    elif axis != 0 and len(x.sample) > 1:
        notes.append(f"{node.op_type} over per-sample axis {axis}")
    fn = "softmax" if node.op_type == "Softmax" else "log_softmax"
    return LayerSpec("activation", {"fn": fn}, [node.input_names[0]], notes=notes)


def clip_from_onnx(node: Node) -> LayerSpec:
    """Clip: bounds as attributes (opset < 11) or inputs; relu6 and relu are recognised."""
    node.act(0)
    if node.opset < 11:
        lo, hi = node.attrs.get("min"), node.attrs.get("max")
    else:
        lo_v, hi_v = node.optional_floats(1, "min"), node.optional_floats(2, "max")
        lo = lo_v[0] if lo_v else None
        hi = hi_v[0] if hi_v else None
    fn = "relu6" if (lo == 0 and hi == 6) else "relu" if (lo == 0 and hi is None) else "clip"
    attrs = {"fn": fn, "alpha": None, "shared": False, "module": True}  # normal form (LayerSpec.normal)
    return LayerSpec("activation", attrs, [node.input_names[0]], normal=True)


def prelu_from_onnx(node: Node) -> LayerSpec:
    x = node.act(0)
    slope = node.const(1, "slope")
    if slope.size not in (1, x.sample[0]):
        raise OnnxImportError(f"PRelu slope of shape {list(slope.shape)} is neither shared nor one per channel")
    return LayerSpec("activation", {"fn": "prelu", "shared": slope.size == 1}, [node.input_names[0]],
                     {"weights": [node.input_names[1]]})


def _composite(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], out_name: str) -> list[str]:
    """Functions ONNX (at this opset) has no single op for: several nodes, recorded as a group."""
    fn = layer.attrs["fn"]
    name = layer.name
    start = len(b.nodes)
    if fn == "identity":
        out = b.node("Identity", ins[:1], [out_name], name)
    elif fn in ("hardtanh", "clip"):
        out = b.node("Clip", [ins[0], b.const(f"{name}/min", -1.0, "float32"), b.const(f"{name}/max", 1.0, "float32")],
                     [out_name], name)
    elif fn == "lecun_tanh":  # 1.7159 tanh(2x/3), LeCun 1998 Appendix A
        (scaled,) = b.node("Mul", [ins[0], b.const(f"{name}/two_thirds", 2.0 / 3.0, "float32")], 1, f"{name}/scale")
        (t,) = b.node("Tanh", [scaled], 1, f"{name}/tanh")
        out = b.node("Mul", [t, b.const(f"{name}/amplitude", 1.7159, "float32")], [out_name], name)
    elif fn in ("silu", "swish"):
        alpha = layer.attrs.get("alpha")
        scaled = ins[0]
        if alpha is not None and alpha != 1.0:
            (scaled,) = b.node("Mul", [ins[0], b.const(f"{name}/alpha", float(alpha), "float32")], 1, f"{name}/alpha")
        (sig,) = b.node("Sigmoid", [scaled], 1, f"{name}/sigmoid")
        out = b.node("Mul", [ins[0], sig], [out_name], name)
    elif fn == "hardswish":
        (hs,) = b.node("HardSigmoid", ins[:1], 1, f"{name}/hardsigmoid", alpha=1.0 / 6.0, beta=0.5)
        out = b.node("Mul", [ins[0], hs], [out_name], name)
    elif fn == "gelu":
        (half,) = b.node("Div", [ins[0], b.const(f"{name}/sqrt2", 2**0.5, "float32")], 1, f"{name}/div")
        (erf,) = b.node("Erf", [half], 1, f"{name}/erf")
        (one_,) = b.node("Add", [erf, b.const(f"{name}/one", 1.0, "float32")], 1, f"{name}/add")
        (prod_,) = b.node("Mul", [ins[0], one_], 1, f"{name}/mul")
        out = b.node("Mul", [prod_, b.const(f"{name}/half", 0.5, "float32")], [out_name], name)
    elif fn == "gelu_tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        (cube,) = b.node("Pow", [ins[0], b.const(f"{name}/three", 3.0, "float32")], 1, f"{name}/cube")
        (small,) = b.node("Mul", [cube, b.const(f"{name}/c", 0.044715, "float32")], 1, f"{name}/c")
        (inner,) = b.node("Add", [ins[0], small], 1, f"{name}/inner")
        (arg,) = b.node("Mul", [inner, b.const(f"{name}/k", (2.0 / 3.141592653589793) ** 0.5, "float32")], 1,
                        f"{name}/k")
        (t,) = b.node("Tanh", [arg], 1, f"{name}/tanh")
        (one_,) = b.node("Add", [t, b.const(f"{name}/one", 1.0, "float32")], 1, f"{name}/add")
        (prod_,) = b.node("Mul", [ins[0], one_], 1, f"{name}/mul")
        out = b.node("Mul", [prod_, b.const(f"{name}/half", 0.5, "float32")], [out_name], name)
    elif fn == "mish":
        (sp,) = b.node("Softplus", ins[:1], 1, f"{name}/softplus")
        (t,) = b.node("Tanh", [sp], 1, f"{name}/tanh")
        out = b.node("Mul", [ins[0], t], [out_name], name)
    elif fn == "not":
        raise ExportError("a logical not is not an activation of float tensors")
    else:
        raise ExportError(f"activation {fn} has no ONNX export")
    record_group(b, layer, ins, out, start)
    return out


class Activation(Op):
    kind = "activation"
    family = "activation"
    schema = {
        "fn": Attr(choice(*FUNCTIONS), required=True, doc="the function"),
        "alpha": Attr(number, doc="slope or scale where the function has one"),
        "shared": Attr(boolean, default=False, doc="prelu: one slope for all channels"),
        "module": Attr(boolean, default=True, doc=MODULE_DOC),
    }
    shorthands = {fn: {"fn": fn} for fn in FUNCTIONS if fn != "identity"}
    doc = "elementwise activation (softmax over channels)"
    doc_notes = ("also every function as a type: `relu`, `tanh`, `sigmoid`, `softmax`, `lecun_tanh`, `leaky_relu`, "
                 "`prelu` (per-channel slopes; `shared: true` for one), `gelu`, `silu`, `hardswish`, ...")
    inplace = True
    kernel_class = KernelClass.ACTIVATION
    translators = {**dict.fromkeys(UNARY, unary_from_onnx), "Softmax": softmax_from_onnx,
                   "LogSoftmax": softmax_from_onnx, "Clip": clip_from_onnx, "PRelu": prelu_from_onnx,
                   "Gelu": gelu_from_onnx, "Swish": swish_from_onnx}
    export_refusal = "a logical not is not an activation of float tensors"

    def kernel_class_of(self, attrs: Mapping[str, Any]) -> KernelClass:
        """``fn: identity`` runs nothing: ORT's optimiser removes it."""
        return KernelClass.ELIMINATED if attrs.get("fn") == "identity" else self.kernel_class

    def cost_unit(self, attrs: Mapping[str, Any]) -> str | None:
        """Functions whose ORT kernels (as exported, fusions included) take far longer than their
        bytes have a calibrated unit each; the others are priced by a shared transcendental unit."""
        return f"act:{attrs.get('fn')}" if attrs.get("fn") in UNIT_FNS else None

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        n = prod(shape)
        slopes = (1 if attrs["shared"] else shape[0]) if attrs["fn"] == "prelu" else 0
        # the input's own shapes tuple when it is the one input (equal; one tuple fewer kept per layer)
        return Applied(outs=ins if len(ins) == 1 else (shape,), cost=Cost(weights=slopes, cheap=(("activation", n),)))

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        """The formulas of ``apply`` written out."""
        shape = ins[0]
        n = prod(shape)
        steps = {"cheap:activation": Step(n, f"one {attrs['fn']} per element", "activation FLOPs = elements",
                                          f"{' x '.join(str(v) for v in shape)} = {num(n)}")}
        if attrs["fn"] == "prelu":
            slopes = 1 if attrs["shared"] else shape[0]
            steps["weights"] = Step(slopes, "one slope" + ("" if attrs["shared"] else " per channel"),
                                    "weights = 1" if attrs["shared"] else "weights = C", str(slopes))
        return steps

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        fn = layer.attrs["fn"]
        name = layer.name
        out_name = b.unique(name)
        if fn in _SIMPLE:
            attrs = {"alpha": float(layer.attrs["alpha"])} if layer.attrs.get("alpha") is not None else {}
            return b.node(_SIMPLE[fn], ins[:1], [out_name], name, **attrs)
        if fn in ("softmax", "log_softmax"):
            if len(in_shapes[0]) > 1 and b.opset < 13:
                raise ExportError(f"{fn} over channels of a multi-axis tensor needs opset 13 or newer")
            return b.node("Softmax" if fn == "softmax" else "LogSoftmax", ins[:1], [out_name], name, axis=1)
        single = {"hardswish": ("HardSwish", 14), "gelu": ("Gelu", 20), "mish": ("Mish", 18)}
        if fn in single and b.opset >= single[fn][1]:
            return b.node(single[fn][0], ins[:1], [out_name], name)
        if fn == "gelu_tanh" and b.opset >= 20:
            return b.node("Gelu", ins[:1], [out_name], name, approximate="tanh")
        alpha = layer.attrs.get("alpha")
        if fn in ("silu", "swish") and b.opset >= 24 and alpha not in (None, 1.0):
            return b.node("Swish", ins[:1], [out_name], name, alpha=float(alpha))
        if fn == "relu6":
            return b.node("Clip", [ins[0], b.const(f"{name}/min", 0.0, "float32"),
                                   b.const(f"{name}/max", 6.0, "float32")], [out_name], name)
        if fn == "prelu":
            c = in_shapes[0][0]
            slope_shape = (1,) if layer.attrs["shared"] else (c,) + (1,) * (len(in_shapes[0]) - 1)
            slope = b.weight(f"{name}.slope", slope_shape, 1, scale=0.25)
            return b.node("PRelu", [ins[0], slope], [out_name], name)
        return _composite(b, layer, ins, in_shapes, out_name)
