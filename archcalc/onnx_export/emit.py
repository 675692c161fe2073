"""archcalc layer -> ONNX nodes, one small function per layer family.

Each emitter gets the builder, the layer, its input tensor names and per-sample shapes, and the
per-sample output shapes the analysis computed; it returns the output tensor names. The main node
carries the layer's name. A layer that needs several nodes, tied or masked weights records a
``Group`` so import can restore the original layer (LeCun subsampling, connection tables, RBF,
per-unit conv biases, fc on a multi-axis input, activations without a single ONNX op).
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import Any

import numpy as np

from archcalc.errors import ExportError
from archcalc.ir import Layer, plain
from archcalc.onnx_export.builder import Builder, Group
from archcalc.ops._formulas import per_axis, resolve_padding
from archcalc.ops._window import geometry

Shape = tuple[int, ...]
Emitter = Callable[[Builder, Layer, list[str], list[Shape], list[Shape]], list[str]]





def _group(b: Builder, layer: Layer, inputs: list[str], outputs: list[str], first_node: int) -> None:
    attrs = {k: plain(v) for k, v in layer.attrs.items() if v is not None}  # None = the default
    b.groups.append(Group(layer.name, layer.kind, attrs, inputs, outputs,
                          [n.name for n in b.nodes[first_node:] if n.op_type != "ConstantOfShape"]))


def _pads_flat(pads: tuple[tuple[int, int], ...]) -> list[int]:
    return [p[0] for p in pads] + [p[1] for p in pads]


# -- convolution -----------------------------------------------------------------------------


def conv(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    a = layer.attrs
    if layer.kind == "locally_connected":
        raise ExportError("locally connected layers have no faithful ONNX form (ONNX has no unshared "
                          "convolution); archcalc does not approximate them")
    c_in, spatial = in_shapes[0][0], in_shapes[0][1:]
    c_out = outs[0][0]
    geo = geometry(a, spatial)
    pads = [list(p) for p in geo.pads]
    # ONNX convolution floors: ceil rounding becomes extra padding at the end
    for i, (n_out, n_in) in enumerate(zip(outs[0][1:], spatial, strict=True)):
        floor_out = (n_in + pads[i][0] + pads[i][1] - geo.k_eff[i]) // geo.stride[i] + 1
        if n_out > floor_out:
            pads[i][1] += (n_out - floor_out) * geo.stride[i]
    start = len(b.nodes)
    table = a.get("connections")
    groups = c_in if a.get("depthwise") else (a.get("groups") or 1)
    fan_in = (c_in // groups) * geo.taps
    if table is not None:
        groups = 1
        mask = np.zeros((c_out, c_in, *geo.kernel), dtype=np.float32)
        for m, maps in enumerate(table):
            mask[m, list(maps)] = 1.0
        dense = b.rng.standard_normal(mask.shape, dtype=np.float32) * np.float32((2.0 / max(fan_in, 1)) ** 0.5)
        weight = b.weight(f"{layer.name}.weight", mask.shape, fan_in, fill=dense * mask)
        b.notes.append(f"{layer.name}: connection table exported as a dense kernel with "
                       f"{int(mask.size - mask.sum()):,} weights masked to zero")
    else:
        weight = b.weight(f"{layer.name}.weight", (c_out, c_in // groups, *geo.kernel), fan_in)
    inputs = [ins[0], weight]
    per_unit = a["bias"] == "per_unit"
    if a["bias"] == "per_map":
        inputs.append(b.weight(f"{layer.name}.bias", (c_out,), fan_in, scale=0.1))
    conv_attrs: dict[str, Any] = {
        "kernel_shape": list(geo.kernel), "strides": list(geo.stride),
        "pads": [p[0] for p in pads] + [p[1] for p in pads],
        "dilations": list(per_axis(a.get("dilation") or 1, len(spatial), "dilation")),
    }
    if groups > 1:
        conv_attrs["group"] = groups
    if per_unit:
        (mid,) = b.node("Conv", inputs, 1, f"{layer.name}/conv", **conv_attrs)
        bias = b.weight(f"{layer.name}.bias", outs[0], fan_in, scale=0.1)
        out = b.node("Add", [mid, bias], [b.unique(layer.name)], layer.name)
    else:
        out = b.node("Conv", inputs, [b.unique(layer.name)], layer.name, **conv_attrs)
    if per_unit or table is not None:
        _group(b, layer, ins, out, start)
    return out


def conv_transpose(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    from archcalc.ops.conv_transpose import _pads as transpose_pads

    a = layer.attrs
    c_in, spatial = in_shapes[0][0], in_shapes[0][1:]
    n = len(spatial)
    k = per_axis(a["kernel"], n, "kernel")
    s = per_axis(a["stride"], n, "stride")
    d = per_axis(a["dilation"], n, "dilation")
    op = per_axis(a["output_padding"], n, "output_padding")
    k_eff = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d, strict=True))
    pads = transpose_pads(a["padding"], n, spatial, k_eff, s, op)
    groups = a["groups"]
    fan_in = (c_in // groups) * prod(k)
    inputs = [ins[0], b.weight(f"{layer.name}.weight", (c_in, a["filters"] // groups, *k), fan_in)]
    if a["bias"] == "per_map":
        inputs.append(b.weight(f"{layer.name}.bias", (a["filters"],), fan_in, scale=0.1))
    elif a["bias"] == "per_unit":
        raise ExportError("a transposed convolution with one bias per unit is not exported")
    attrs: dict[str, Any] = {"kernel_shape": list(k), "strides": list(s), "pads": _pads_flat(pads),
                             "dilations": list(d), "output_padding": list(op)}
    if groups > 1:
        attrs["group"] = groups
    return b.node("ConvTranspose", inputs, [b.unique(layer.name)], layer.name, **attrs)


# -- pooling and subsampling -----------------------------------------------------------------


def pool(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    a = layer.attrs
    geo = geometry(a, in_shapes[0][1:])
    ceil = any(
        o > (n + p[0] + p[1] - k) // s + 1
        for o, n, p, k, s in zip(outs[0][1:], in_shapes[0][1:], geo.pads, geo.k_eff, geo.stride, strict=True)
    )
    attrs: dict[str, Any] = {"kernel_shape": list(geo.kernel), "strides": list(geo.stride),
                             "pads": _pads_flat(geo.pads), "ceil_mode": int(ceil)}
    dil = per_axis(a.get("dilation") or 1, len(geo.kernel), "dilation")
    if any(v != 1 for v in dil):
        attrs["dilations"] = list(dil)
    if layer.kind == "maxpool":
        return b.node("MaxPool", ins[:1], [b.unique(layer.name)], layer.name, **attrs)
    attrs["count_include_pad"] = int(bool(a.get("count_include_pad")))
    return b.node("AveragePool", ins[:1], [b.unique(layer.name)], layer.name, **attrs)


def global_pool(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    op = "GlobalMaxPool" if layer.kind == "global_maxpool" else "GlobalAveragePool"
    return b.node(op, ins[:1], [b.unique(layer.name)], layer.name)


def adaptive_pool(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    spatial, target = in_shapes[0][1:], outs[0][1:]
    if any(n % t for n, t in zip(spatial, target, strict=True)):
        raise ExportError(f"adaptive average pooling {list(spatial)} -> {list(target)} has windows of unequal "
                          f"length: no single ONNX pooling op computes it")
    start = len(b.nodes)
    k = [n // t for n, t in zip(spatial, target, strict=True)]
    out = b.node("AveragePool", ins[:1], [b.unique(layer.name)], layer.name, kernel_shape=k, strides=k)
    _group(b, layer, ins, out, start)
    return out


def subsample(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    """Window sum x one coefficient + one bias per map = a depthwise conv with tied kernel taps."""
    a = layer.attrs
    c, spatial = in_shapes[0][0], in_shapes[0][1:]
    geo = geometry(a, spatial)
    start = len(b.nodes)
    coef = b.rng.standard_normal(c, dtype=np.float32) * np.float32(1.0 / geo.taps)
    tied = np.broadcast_to(coef.reshape((c, 1) + (1,) * len(spatial)), (c, 1, *geo.kernel)).copy()
    inputs = [ins[0], b.weight(f"{layer.name}.coefficient", tied.shape, geo.taps, fill=tied)]
    if a["bias"] != "none":
        inputs.append(b.weight(f"{layer.name}.bias", (c,), geo.taps, scale=0.1))
    out = b.node("Conv", inputs, [b.unique(layer.name)], layer.name, kernel_shape=list(geo.kernel),
                 strides=list(geo.stride), pads=_pads_flat(geo.pads), group=c)
    _group(b, layer, ins, out, start)
    b.notes.append(f"{layer.name}: trainable subsampling exported as a depthwise convolution with tied taps")
    return out


# -- dense -----------------------------------------------------------------------------------


def _flat(b: Builder, layer: Layer, tensor: str, shape: Shape) -> tuple[str, int]:
    if len(shape) == 1:
        return tensor, shape[0]
    (flat,) = b.node("Flatten", [tensor], 1, f"{layer.name}/flatten", axis=1)
    return flat, prod(shape)


def fc(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    start = len(b.nodes)
    x, k = _flat(b, layer, ins[0], in_shapes[0])
    units = layer.attrs["units"]
    inputs = [x, b.weight(f"{layer.name}.weight", (units, k), k)]
    if layer.attrs["bias"] != "none":
        inputs.append(b.weight(f"{layer.name}.bias", (units,), k, scale=0.1))
    out = b.node("Gemm", inputs, [b.unique(layer.name)], layer.name, transB=1)
    if len(b.nodes) - start > 1:
        _group(b, layer, ins, out, start)
    return out


def rbf(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    """out_j = sum_i (x_i - w_ji)^2 with fixed w: Unsqueeze, Sub, Mul, ReduceSum."""
    start = len(b.nodes)
    x, k = _flat(b, layer, ins[0], in_shapes[0])
    units = layer.attrs["units"]
    centres = b.weight(f"{layer.name}.centres", (units, k), k, scale=1.0)
    (x3,) = b.node("Unsqueeze", [x, b.const(f"{layer.name}/axes", [1])], 1, f"{layer.name}/unsqueeze")
    (diff,) = b.node("Sub", [x3, centres], 1, f"{layer.name}/sub")
    (sq,) = b.node("Mul", [diff, diff], 1, f"{layer.name}/square")
    out = b.node("ReduceSum", [sq, b.const(f"{layer.name}/sum_axes", [2])], [b.unique(layer.name)], layer.name,
                 keepdims=0)
    _group(b, layer, ins, out, start)
    return out


def matmul(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    if len(ins) == 2:
        return b.node("MatMul", ins, [b.unique(layer.name)], layer.name)
    k = in_shapes[0][-1]
    units = layer.attrs["units"]
    weight = b.weight(f"{layer.name}.weight", (k, units), k)
    if layer.attrs["bias"] == "none":
        return b.node("MatMul", [ins[0], weight], [b.unique(layer.name)], layer.name)
    start = len(b.nodes)
    (mid,) = b.node("MatMul", [ins[0], weight], 1, f"{layer.name}/matmul")
    out = b.node("Add", [mid, b.weight(f"{layer.name}.bias", (units,), k, scale=0.1)], [b.unique(layer.name)],
                 layer.name)
    _group(b, layer, ins, out, start)
    return out


# -- activations and normalisation -----------------------------------------------------------

_SIMPLE = {
    "relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "elu": "Elu", "selu": "Selu", "softplus": "Softplus",
    "softsign": "Softsign", "hardsigmoid": "HardSigmoid", "leaky_relu": "LeakyRelu", "erf": "Erf", "exp": "Exp",
    "log": "Log", "sqrt": "Sqrt", "abs": "Abs", "neg": "Neg", "reciprocal": "Reciprocal", "floor": "Floor",
    "ceil": "Ceil", "round": "Round", "sign": "Sign", "sin": "Sin", "cos": "Cos", "celu": "Celu",
    "thresholded_relu": "ThresholdedRelu", "shrink": "Shrink",
}


def activation(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    fn = layer.attrs["fn"]
    name = layer.name
    out_name = b.unique(name)
    start = len(b.nodes)
    if fn in _SIMPLE:
        attrs = {"alpha": float(layer.attrs["alpha"])} if layer.attrs.get("alpha") is not None else {}
        return b.node(_SIMPLE[fn], ins[:1], [out_name], name, **attrs)
    if fn in ("softmax", "log_softmax"):
        if len(in_shapes[0]) > 1 and b.opset < 13:
            raise ExportError(f"{fn} over channels of a multi-axis tensor needs opset 13 or newer")
        return b.node("Softmax" if fn == "softmax" else "LogSoftmax", ins[:1], [out_name], name, axis=1)
    if fn == "hardswish" and b.opset >= 14:
        return b.node("HardSwish", ins[:1], [out_name], name)
    if fn == "identity":
        out = b.node("Identity", ins[:1], [out_name], name)
    elif fn in ("relu6", "hardtanh", "clip"):
        lo, hi = (0.0, 6.0) if fn == "relu6" else (-1.0, 1.0)
        out = b.node("Clip", [ins[0], b.const(f"{name}/min", lo, np.float32), b.const(f"{name}/max", hi, np.float32)],
                     [out_name], name)
        if fn == "relu6":
            return out
    elif fn == "prelu":
        c = in_shapes[0][0]
        slope_shape = (1,) if layer.attrs["shared"] else (c,) + (1,) * (len(in_shapes[0]) - 1)
        slope = b.weight(f"{name}.slope", slope_shape, 1, scale=0.25)
        return b.node("PRelu", [ins[0], slope], [out_name], name)
    elif fn == "lecun_tanh":  # 1.7159 tanh(2x/3), LeCun 1998 Appendix A
        (scaled,) = b.node("Mul", [ins[0], b.const(f"{name}/two_thirds", 2.0 / 3.0, np.float32)], 1, f"{name}/scale")
        (t,) = b.node("Tanh", [scaled], 1, f"{name}/tanh")
        out = b.node("Mul", [t, b.const(f"{name}/amplitude", 1.7159, np.float32)], [out_name], name)
    elif fn in ("silu", "swish"):
        (sig,) = b.node("Sigmoid", ins[:1], 1, f"{name}/sigmoid")
        out = b.node("Mul", [ins[0], sig], [out_name], name)
    elif fn == "hardswish":
        (hs,) = b.node("HardSigmoid", ins[:1], 1, f"{name}/hardsigmoid", alpha=1.0 / 6.0, beta=0.5)
        out = b.node("Mul", [ins[0], hs], [out_name], name)
    elif fn == "gelu":
        if b.opset >= 20:
            return b.node("Gelu", ins[:1], [out_name], name)
        (half,) = b.node("Div", [ins[0], b.const(f"{name}/sqrt2", 2**0.5, np.float32)], 1, f"{name}/div")
        (erf,) = b.node("Erf", [half], 1, f"{name}/erf")
        (one,) = b.node("Add", [erf, b.const(f"{name}/one", 1.0, np.float32)], 1, f"{name}/add")
        (prod_,) = b.node("Mul", [ins[0], one], 1, f"{name}/mul")
        out = b.node("Mul", [prod_, b.const(f"{name}/half", 0.5, np.float32)], [out_name], name)
    elif fn == "mish":
        if b.opset >= 18:
            return b.node("Mish", ins[:1], [out_name], name)
        (sp,) = b.node("Softplus", ins[:1], 1, f"{name}/softplus")
        (t,) = b.node("Tanh", [sp], 1, f"{name}/tanh")
        out = b.node("Mul", [ins[0], t], [out_name], name)
    elif fn == "not":
        raise ExportError("a logical not is not an activation of float tensors")
    else:
        raise ExportError(f"activation {fn} has no ONNX export")
    _group(b, layer, ins, out, start)
    return out


def batchnorm(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    c = in_shapes[0][0]
    name = layer.name
    start = len(b.nodes)
    affine = layer.attrs["affine"]
    scale = b.weight(f"{name}.scale", (c,), 1, fill=None if affine else np.ones(c, np.float32), scale=0.1)
    shift = b.weight(f"{name}.shift", (c,), 1, fill=None if affine else np.zeros(c, np.float32), scale=0.1)
    mean = b.weight(f"{name}.running_mean", (c,), 1, scale=0.1)
    var = b.positive(f"{name}.running_var", (c,))
    out = b.node("BatchNormalization", [ins[0], scale, shift, mean, var], [b.unique(name)], name,
                 epsilon=float(layer.attrs["eps"]))
    if not affine:
        _group(b, layer, ins, out, start)
    return out


def lrn(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    a = layer.attrs
    return b.node("LRN", ins[:1], [b.unique(layer.name)], layer.name, size=int(a["size"]), alpha=float(a["alpha"]),
                  beta=float(a["beta"]), bias=float(a["k"]))


# -- merges and data movement ----------------------------------------------------------------


def add(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    op = "Add" if len(ins) == 2 else "Sum"
    return b.node(op, ins, [b.unique(layer.name)], layer.name)


def mul(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    if len(ins) == 2:
        return b.node("Mul", ins, [b.unique(layer.name)], layer.name)
    start = len(b.nodes)
    acc = ins[0]
    for i, other in enumerate(ins[1:-1], 1):
        (acc,) = b.node("Mul", [acc, other], 1, f"{layer.name}/mul{i}")
    out = b.node("Mul", [acc, ins[-1]], [b.unique(layer.name)], layer.name)
    _group(b, layer, ins, out, start)
    return out


_ELEMENTWISE = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow", "max": "Max", "min": "Min",
                "mean": "Mean", "mod": "Mod"}


def elementwise(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    a = layer.attrs
    op = _ELEMENTWISE.get(a["op"])
    if op is None:
        raise ExportError(f"elementwise {a['op']} is not exported")
    inputs = list(ins)
    if a["const_shape"] is not None:
        shape = (1, *a["const_shape"])
        if a["const_params"]:
            inputs.append(b.weight(f"{layer.name}.constant", shape, 1, scale=0.1))
        else:
            inputs.append(b.const(f"{layer.name}/constant", np.full(shape, 0.5), np.float32))
    return b.node(op, inputs, [b.unique(layer.name)], layer.name)


def concat(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    return b.node("Concat", ins, [b.unique(layer.name)], layer.name, axis=int(layer.attrs["axis"]) + 1)


def split(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    axis = int(layer.attrs["axis"])
    sizes = [o[axis] for o in outs]
    names = [b.unique(f"{layer.name}:{i}") for i in range(len(outs))]
    return b.node("Split", [ins[0], b.const(f"{layer.name}/sizes", sizes)], names, layer.name, axis=axis + 1)


def flatten(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    return b.node("Flatten", ins[:1], [b.unique(layer.name)], layer.name, axis=1)


def passthrough(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    if layer.kind == "dropout":
        ratio = b.const(f"{layer.name}/ratio", float(layer.attrs["rate"]), np.float32)
        return b.node("Dropout", [ins[0], ratio], [b.unique(layer.name)], layer.name)
    start = len(b.nodes)
    out = b.node("Identity", ins[:1], [b.unique(layer.name)], layer.name)
    _group(b, layer, ins, out, start)
    return out


def pad(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    spatial = in_shapes[0][1:]
    n = len(spatial)
    pads = resolve_padding(layer.attrs["padding"], n, spatial, (1,) * n, (1,) * n)
    flat = [0, 0, *(p[0] for p in pads), 0, 0, *(p[1] for p in pads)]
    inputs = [ins[0], b.const(f"{layer.name}/pads", flat)]
    if layer.attrs["mode"] == "constant":
        inputs.append(b.const(f"{layer.name}/value", float(layer.attrs["value"]), np.float32))
    return b.node("Pad", inputs, [b.unique(layer.name)], layer.name, mode=layer.attrs["mode"])


def upsample(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    mode = layer.attrs["mode"]
    onnx_mode = {"nearest": "nearest", "bilinear": "linear", "linear": "linear", "trilinear": "linear",
                 "cubic": "cubic"}[mode]
    attrs: dict[str, Any] = {"mode": onnx_mode}
    if onnx_mode == "nearest":
        attrs.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    else:
        attrs.update(coordinate_transformation_mode="half_pixel")
    sizes = b.shape_of(ins[0], layer.name, outs[0])
    empty = ""
    return b.node("Resize", [ins[0], empty, empty, sizes], [b.unique(layer.name)], layer.name, **attrs)


def reshape(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    target = b.const(f"{layer.name}/shape", [0, *outs[0]])
    return b.node("Reshape", [ins[0], target], [b.unique(layer.name)], layer.name)


def transpose(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    perm = [0, *(p + 1 for p in layer.attrs["perm"])]
    return b.node("Transpose", ins[:1], [b.unique(layer.name)], layer.name, perm=perm)


def slice_(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    a = layer.attrs
    axis = int(a["axis"])
    end = a["end"] if a["end"] is not None else in_shapes[0][axis]
    inputs = [ins[0], b.const(f"{layer.name}/starts", [a["start"]]), b.const(f"{layer.name}/ends", [end]),
              b.const(f"{layer.name}/axes", [axis + 1]), b.const(f"{layer.name}/steps", [a["step"]])]
    return b.node("Slice", inputs, [b.unique(layer.name)], layer.name)


_REDUCE = {"mean": "ReduceMean", "max": "ReduceMax", "min": "ReduceMin", "sum": "ReduceSum", "prod": "ReduceProd",
           "l1": "ReduceL1", "l2": "ReduceL2", "logsumexp": "ReduceLogSumExp", "sumsquare": "ReduceSumSquare"}


def reduce(b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape], outs: list[Shape]) -> list[str]:
    a = layer.attrs
    op = _REDUCE[a["op"]]
    axes = [ax + 1 for ax in a["axes"]]
    keep = int(bool(a["keepdims"]))
    if b.opset >= 18 or (op == "ReduceSum" and b.opset >= 13):
        return b.node(op, [ins[0], b.const(f"{layer.name}/axes", axes)], [b.unique(layer.name)], layer.name,
                      keepdims=keep)
    return b.node(op, ins[:1], [b.unique(layer.name)], layer.name, axes=axes, keepdims=keep)


EMITTERS: dict[str, Emitter] = {
    "conv": conv, "locally_connected": conv, "conv_transpose": conv_transpose,
    "maxpool": pool, "avgpool": pool, "global_avgpool": global_pool, "global_maxpool": global_pool,
    "adaptive_avgpool": adaptive_pool, "subsample": subsample, "fc": fc, "rbf": rbf, "matmul": matmul,
    "activation": activation, "batchnorm": batchnorm, "lrn": lrn, "add": add, "mul": mul,
    "elementwise": elementwise, "concat": concat, "split": split, "flatten": flatten, "dropout": passthrough,
    "identity": passthrough, "pad": pad, "upsample": upsample, "reshape": reshape, "transpose": transpose,
    "slice": slice_, "reduce": reduce,
}
