"""ONNX node -> archcalc layer, one small function per ONNX op family.

A translator reads the node (attributes, which inputs are activations and which constants) and
returns a ``LayerSpec``: the archcalc kind, its attributes in spec form (per sample: the batch
axis is never part of a layer), the activation inputs, and which constants are the layer's
parameters (so a shared initializer is counted once). Axes are translated from ONNX (batch
first) to per-sample (channels first); an op that would mix the batch axis is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from math import floor, prod
from typing import Any

import numpy as np

from archcalc.onnx_import.fold import reshape_target, slice_range
from archcalc.onnx_import.values import Act, Const, ImportError_


@dataclass
class LayerSpec:
    kind: str
    attrs: dict[str, Any]
    inputs: list[str]  # activation tensor names, in order
    #: role (weights, biases, affine, buffers) -> constant names holding those parameters
    params: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Node:
    """A view of a NodeProto with python attribute values and resolved inputs."""

    def __init__(self, op_type: str, name: str, inputs: list[str], outputs: list[str], attrs: dict[str, Any],
                 values: dict[str, Act | Const], opset: int) -> None:
        self.op_type = op_type
        self.name = name
        self.input_names = inputs
        self.outputs = outputs
        self.attrs = attrs
        self.values = values
        self.opset = opset

    def get(self, i: int) -> Act | Const | None:
        if i >= len(self.input_names) or not self.input_names[i]:
            return None
        name = self.input_names[i]
        if name not in self.values:
            raise ImportError_(f"{self.op_type}: input '{name}' is an output archcalc does not model "
                               f"(e.g. a Dropout mask or MaxPool indices)")
        return self.values[name]

    def act(self, i: int, what: str = "input") -> Act:
        v = self.get(i)
        if not isinstance(v, Act):
            raise ImportError_(f"{self.op_type}: {what} {i} must be an activation (a tensor computed from the input)")
        return v

    def const(self, i: int, what: str) -> Const:
        v = self.get(i)
        if not isinstance(v, Const):
            raise ImportError_(f"{self.op_type}: {what} (input {i}) must be a constant (an initializer or folded "
                               f"from constants); computed {what}s are not supported")
        return v

    def value(self, i: int, what: str) -> np.ndarray:
        c = self.const(i, what)
        if c.value is None:
            raise ImportError_(f"{self.op_type}: the value of {what} is not known")
        return c.value

    def ints(self, i: int, what: str) -> list[int]:
        return [int(v) for v in self.value(i, what).reshape(-1)]

    def optional_ints(self, i: int, what: str) -> list[int] | None:
        return None if self.get(i) is None else self.ints(i, what)

    def optional_floats(self, i: int, what: str) -> list[float] | None:
        if self.get(i) is None:
            return None
        c = self.const(i, what)
        if c.value is None or c.size == 0:
            return None
        return [float(v) for v in c.value.reshape(-1)]


def _sample_axis(axis: int, rank: int, op: str) -> int:
    a = axis % rank if rank else 0
    if a == 0:
        raise ImportError_(f"{op} works along the batch axis (axis {axis}), which archcalc keeps per sample")
    return a - 1


def _axes_attr(node: Node, key: str, n: int, default: int) -> list[int]:
    """A per-spatial-axis attribute (strides, dilations, kernel_shape, output_padding): n integers."""
    values = node.attrs.get(key)
    if values is None:
        return [default] * n
    out = [int(v) for v in values]
    if len(out) != n:
        raise ImportError_(f"{node.op_type} {key} has {len(out)} values for {n} spatial axes")
    return out


def _pads(node: Node, n: int) -> Any:
    auto = node.attrs.get("auto_pad", "NOTSET")
    if isinstance(auto, bytes):
        auto = auto.decode()
    if auto == "VALID":
        return "valid"
    if auto == "SAME_UPPER":
        return "same"
    if auto == "SAME_LOWER":
        return "same_lower"
    pads = node.attrs.get("pads")
    if not pads:
        return 0
    if len(pads) != 2 * n:
        raise ImportError_(f"{node.op_type} pads has {len(pads)} values for {n} spatial axes (2 per axis)")
    return [[int(pads[i]), int(pads[i + n])] for i in range(n)]


def _bias_param(node: Node, i: int) -> list[str]:
    c = node.get(i)
    return [node.input_names[i]] if isinstance(c, Const) else []


# -- convolution -----------------------------------------------------------------------------


def conv(node: Node) -> LayerSpec:
    x = node.act(0)
    w = node.const(1, "weight")
    n = len(x.sample) - 1
    if len(w.shape) != n + 2:
        raise ImportError_(f"Conv weight has shape {list(w.shape)}, expected {n + 2} dims for input {list(x.shape)}")
    groups = int(node.attrs.get("group", 1))
    if w.shape[1] * groups != x.sample[0]:
        raise ImportError_(
            f"Conv weight {list(w.shape)} with group={groups} does not match {x.sample[0]} input channels"
        )
    kernel = [int(k) for k in node.attrs.get("kernel_shape", w.shape[2:])]
    if kernel != list(w.shape[2:]):
        raise ImportError_(f"Conv kernel_shape {kernel} differs from the weight's {list(w.shape[2:])}")
    attrs: dict[str, Any] = {
        "filters": int(w.shape[0]), "kernel": kernel, "stride": _axes_attr(node, "strides", n, 1),
        "padding": _pads(node, n), "dilation": _axes_attr(node, "dilations", n, 1),
        "rounding": "floor", "bias": "per_map" if node.get(2) is not None else "none",
    }
    if groups > 1:
        attrs["groups"] = groups
    biases = _bias_param(node, 2)
    return LayerSpec("conv", attrs, [node.input_names[0]], {"weights": [node.input_names[1]], "biases": biases})


def conv_transpose(node: Node) -> LayerSpec:
    x = node.act(0)
    w = node.const(1, "weight")
    n = len(x.sample) - 1
    groups = int(node.attrs.get("group", 1))
    if w.shape[0] != x.sample[0]:
        raise ImportError_(f"ConvTranspose weight {list(w.shape)} does not match {x.sample[0]} input channels")
    kernel = [int(k) for k in w.shape[2:]]
    strides = _axes_attr(node, "strides", n, 1)
    dilations = _axes_attr(node, "dilations", n, 1)
    out_pad = _axes_attr(node, "output_padding", n, 0)
    if "kernel_shape" in node.attrs and _axes_attr(node, "kernel_shape", n, 1) != kernel:
        raise ImportError_(f"ConvTranspose kernel_shape {list(node.attrs['kernel_shape'])} differs from the "
                           f"weight's {kernel}")
    padding = _pads(node, n)
    if "output_shape" in node.attrs or padding in ("same", "same_lower"):
        # the output size is given (output_shape, or N*s for SAME_*): the pads follow from it
        if "output_shape" in node.attrs:
            target = [int(v) for v in node.attrs["output_shape"]][-n:]
            if len(node.attrs["output_shape"]) not in (n, n + 2):
                raise ImportError_(f"ConvTranspose output_shape {list(node.attrs['output_shape'])} does not fit "
                                   f"{n} spatial axes")
        else:
            target = [x.sample[i + 1] * strides[i] for i in range(n)]
        pads = []
        for i in range(n):
            total = strides[i] * (x.sample[i + 1] - 1) + out_pad[i] + ((kernel[i] - 1) * dilations[i] + 1) - target[i]
            if total < 0:
                if "output_shape" in node.attrs:  # a larger output_shape is honoured: output padding
                    out_pad[i] -= total
                total = 0  # SAME_* with a kernel shorter than the stride: no padding (as ONNX and ORT)
            # ONNX spec (and reference implementation): SAME_UPPER puts total/2 at the start, NOTSET
            # and SAME_LOWER put total - total/2 there (ONNX Runtime splits it the other way round)
            upper = padding == "same"
            pads.append([total // 2, total - total // 2] if upper else [total - total // 2, total // 2])
        padding = pads
    attrs: dict[str, Any] = {
        "filters": int(w.shape[1]) * groups, "kernel": kernel, "stride": strides, "padding": padding,
        "output_padding": out_pad, "dilation": dilations, "groups": groups,
        "bias": "per_map" if node.get(2) is not None else "none",
    }
    return LayerSpec("conv_transpose", attrs, [node.input_names[0]],
                     {"weights": [node.input_names[1]], "biases": _bias_param(node, 2)})


# -- pooling ---------------------------------------------------------------------------------


def pool(node: Node) -> LayerSpec:
    x = node.act(0)
    n = len(x.sample) - 1
    if len(node.outputs) > 1 and node.outputs[1]:
        raise ImportError_("MaxPool's Indices output is not supported")
    if "kernel_shape" not in node.attrs:
        raise ImportError_(f"{node.op_type} node lacks the attribute 'kernel_shape'")
    kernel = _axes_attr(node, "kernel_shape", n, 0)
    attrs: dict[str, Any] = {
        "kernel": kernel, "stride": _axes_attr(node, "strides", n, 1),
        "padding": _pads(node, n), "rounding": "ceil" if node.attrs.get("ceil_mode", 0) else "floor",
    }
    if node.op_type == "MaxPool":
        attrs["dilation"] = _axes_attr(node, "dilations", n, 1)
        return LayerSpec("maxpool", attrs, [node.input_names[0]])
    if node.op_type == "LpPool":
        return LayerSpec("avgpool", attrs, [node.input_names[0]], notes=["LpPool counted as average pooling"])
    if node.attrs.get("dilations"):
        attrs["dilation"] = _axes_attr(node, "dilations", n, 1)
    attrs["count_include_pad"] = bool(node.attrs.get("count_include_pad", 0))
    return LayerSpec("avgpool", attrs, [node.input_names[0]])


def global_pool(node: Node) -> LayerSpec:
    node.act(0)
    kind = "global_maxpool" if node.op_type == "GlobalMaxPool" else "global_avgpool"
    return LayerSpec(kind, {}, [node.input_names[0]])


def reduce(node: Node) -> LayerSpec:
    x = node.act(0)
    axes = node.attrs.get("axes")
    if axes is None and node.get(1) is not None:
        axes = node.ints(1, "axes")
    rank = len(x.shape)
    if axes is None or len(axes) == 0:
        if node.attrs.get("noop_with_empty_axes", 0):
            return LayerSpec("identity", {}, [node.input_names[0]])
        axes = list(range(rank))
    sample_axes = sorted({_sample_axis(int(a), rank, node.op_type) for a in axes})
    op = {"ReduceMean": "mean", "ReduceMax": "max", "ReduceMin": "min", "ReduceSum": "sum", "ReduceProd": "prod",
          "ReduceL1": "l1", "ReduceL2": "l2", "ReduceLogSumExp": "logsumexp", "ReduceSumSquare": "sumsquare"}
    keep = bool(node.attrs.get("keepdims", 1))
    return LayerSpec("reduce", {"op": op[node.op_type], "axes": sample_axes, "keepdims": keep},
                     [node.input_names[0]])


# -- dense -----------------------------------------------------------------------------------


def gemm(node: Node) -> LayerSpec:
    a = node.get(0)
    if not isinstance(a, Act):
        raise ImportError_("Gemm with a constant first operand is not supported")
    if len(a.shape) != 2:
        raise ImportError_(f"Gemm input must be 2-D, got {list(a.shape)}")
    if node.attrs.get("transA", 0):
        raise ImportError_("Gemm with transA=1 on an activation transposes the batch axis")
    b = node.get(1)
    if isinstance(b, Act):
        raise ImportError_("Gemm of two activations is not supported (use MatMul)")
    w = node.const(1, "weight")
    k, units = (w.shape[1], w.shape[0]) if node.attrs.get("transB", 0) else (w.shape[0], w.shape[1])
    if k != a.shape[1]:
        raise ImportError_(f"Gemm weight {list(w.shape)} does not match input {list(a.shape)}")
    c = node.get(2)
    notes = []
    bias = "none"
    biases: list[str] = []
    if isinstance(c, Const) and c.size > 0:
        if c.size == units:
            bias, biases = "per_unit", [node.input_names[2]]
        else:
            notes.append(f"Gemm bias of shape {list(c.shape)} (not one per unit) not counted as biases")
    elif isinstance(c, Act):
        raise ImportError_("Gemm with a computed bias is not supported")
    if float(node.attrs.get("alpha", 1.0)) != 1.0 or float(node.attrs.get("beta", 1.0)) != 1.0:
        notes.append("Gemm alpha/beta scale the result and cost no MACs")
    return LayerSpec("fc", {"units": int(units), "bias": bias}, [node.input_names[0]],
                     {"weights": [node.input_names[1]], "biases": biases}, notes)


def matmul(node: Node) -> LayerSpec:
    a, b = node.get(0), node.get(1)
    if isinstance(a, Act) and isinstance(b, Const):
        if len(b.shape) > 2 and all(d == 1 for d in b.shape[:-2]) and len(b.shape) <= len(a.shape):
            b = Const(b.shape[-2:], b.dtype, None, b.origin)  # broadcasts: one matrix for every sample
        if len(b.shape) != 2:
            raise ImportError_(f"MatMul with a {len(b.shape)}-D constant {list(b.shape)} is not supported "
                               f"(only a weight matrix, possibly with leading 1s)")
        if b.shape[0] != a.shape[-1]:
            raise ImportError_(f"MatMul weight {list(b.shape)} does not match input {list(a.shape)}")
        units = int(b.shape[1])
        if len(a.shape) == 2:
            return LayerSpec("fc", {"units": units, "bias": "none"}, [node.input_names[0]],
                             {"weights": [node.input_names[1]]})
        return LayerSpec("matmul", {"units": units}, [node.input_names[0]], {"weights": [node.input_names[1]]})
    if isinstance(a, Act) and isinstance(b, Act):
        if len(a.shape) < 3 or len(b.shape) < 3:
            raise ImportError_("MatMul of two activations needs at least 3-D operands (batch, n, k)")
        return LayerSpec("matmul", {}, [node.input_names[0], node.input_names[1]])
    raise ImportError_("MatMul with a constant first operand is not supported")


# -- normalisation ---------------------------------------------------------------------------


def batchnorm(node: Node) -> LayerSpec:
    x = node.act(0)
    for i, what in ((1, "scale"), (2, "bias"), (3, "mean"), (4, "var")):
        c = node.const(i, what)
        if c.size != x.sample[0]:
            raise ImportError_(f"BatchNormalization {what} has {c.size} values for {x.sample[0]} channels")
    return LayerSpec("batchnorm", {"affine": True}, [node.input_names[0]],
                     {"affine": node.input_names[1:3], "buffers": node.input_names[3:5]})


def lrn(node: Node) -> LayerSpec:
    node.act(0)
    return LayerSpec("lrn", {"size": int(node.attrs["size"]), "alpha": float(node.attrs.get("alpha", 1e-4)),
                             "beta": float(node.attrs.get("beta", 0.75)), "k": float(node.attrs.get("bias", 1.0))},
                     [node.input_names[0]])


# -- activations -----------------------------------------------------------------------------

UNARY = {
    "Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Elu": "elu", "Selu": "selu", "Softplus": "softplus",
    "Softsign": "softsign", "HardSigmoid": "hardsigmoid", "HardSwish": "hardswish", "LeakyRelu": "leaky_relu",
    "Gelu": "gelu", "Mish": "mish", "Erf": "erf", "Exp": "exp", "Log": "log", "Sqrt": "sqrt", "Abs": "abs",
    "Neg": "neg", "Reciprocal": "reciprocal", "Floor": "floor", "Ceil": "ceil", "Round": "round", "Sign": "sign",
    "Sin": "sin", "Cos": "cos", "Celu": "celu", "ThresholdedRelu": "thresholded_relu", "Shrink": "shrink",
    "Not": "not",
}


def unary(node: Node) -> LayerSpec:
    node.act(0)
    attrs: dict[str, Any] = {"fn": UNARY[node.op_type]}
    if "alpha" in node.attrs:
        attrs["alpha"] = float(node.attrs["alpha"])
    return LayerSpec("activation", attrs, [node.input_names[0]])


def softmax(node: Node) -> LayerSpec:
    x = node.act(0)
    default = 1 if node.opset < 13 else -1
    axis = _sample_axis(int(node.attrs.get("axis", default)), len(x.shape), node.op_type)
    notes = []
    if node.opset < 13 and len(x.shape) > 2:
        notes.append(f"{node.op_type} (opset < 13) normalises over all axes from {axis + 1}")
    elif axis != 0 and len(x.sample) > 1:
        notes.append(f"{node.op_type} over per-sample axis {axis}")
    fn = "softmax" if node.op_type == "Softmax" else "log_softmax"
    return LayerSpec("activation", {"fn": fn}, [node.input_names[0]], notes=notes)


def clip(node: Node) -> LayerSpec:
    node.act(0)
    if node.opset < 11:
        lo, hi = node.attrs.get("min"), node.attrs.get("max")
    else:
        lo_v, hi_v = node.optional_floats(1, "min"), node.optional_floats(2, "max")
        lo = lo_v[0] if lo_v else None
        hi = hi_v[0] if hi_v else None
    fn = "relu6" if (lo == 0 and hi == 6) else "relu" if (lo == 0 and hi is None) else "clip"
    return LayerSpec("activation", {"fn": fn}, [node.input_names[0]])


def prelu(node: Node) -> LayerSpec:
    x = node.act(0)
    slope = node.const(1, "slope")
    if slope.size not in (1, x.sample[0]):
        raise ImportError_(f"PRelu slope of shape {list(slope.shape)} is neither shared nor one per channel")
    return LayerSpec("activation", {"fn": "prelu", "shared": slope.size == 1}, [node.input_names[0]],
                     {"weights": [node.input_names[1]]})


# -- elementwise -----------------------------------------------------------------------------

BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow", "Max": "max", "Min": "min",
          "Sum": "add", "Mean": "mean", "Mod": "mod", "And": "and", "Or": "or", "Xor": "xor", "Equal": "equal",
          "Less": "less", "Greater": "greater", "Where": "where"}


def elementwise(node: Node) -> LayerSpec:
    values = [node.get(i) for i in range(len(node.input_names))]
    acts = [i for i, v in enumerate(values) if isinstance(v, Act)]
    consts = [i for i, v in enumerate(values) if isinstance(v, Const)]
    op = BINARY[node.op_type]
    names = [node.input_names[i] for i in acts]
    batch_rank = max(len(v.shape) for v in values if v is not None)
    if not consts:
        shapes = [values[i].shape for i in acts]  # type: ignore[union-attr]
        if len({len(sh) for sh in shapes}) > 1 and max(sh[0] for sh in shapes) > 1:
            raise ImportError_(f"{node.op_type} of activations of different ranks {[list(sh) for sh in shapes]} "
                               f"broadcasts the batch axis against another axis")
        if op == "add" and len(set(shapes)) == 1:
            return LayerSpec("add", {}, names)
        if op == "mul":
            return LayerSpec("mul", {}, names)
        return LayerSpec("elementwise", {"op": op}, names)
    # align each constant on the right with the full (batch-first) shape; drop its batch axis
    per_sample = []
    for i in consts:
        shape = values[i].shape  # type: ignore[union-attr]
        full = (1,) * (batch_rank - len(shape)) + shape
        if full[0] != 1:
            raise ImportError_(f"{node.op_type} constant of shape {list(shape)} varies along the batch axis")
        per_sample.append(full[1:])
    if len(consts) > 1:
        if op in ("add", "sub", "mul", "div"):
            raise ImportError_(f"{node.op_type} with several constant operands is not supported")
        # Where(mask, x, 0) as masked_fill exports it: the constants together act as one operand
        try:
            joint = [int(d) for d in np.broadcast_shapes(*per_sample)] or [1]
        except ValueError:
            raise ImportError_(f"{node.op_type} constants {[list(p) for p in per_sample]} do not broadcast") from None
        return LayerSpec("elementwise", {"op": op, "const_shape": joint, "const_params": False}, names,
                         notes=[f"constant operands of {node.op_type} are not parameters"])
    c = values[consts[0]]
    assert isinstance(c, Const)
    const_shape = list(per_sample[0]) or [1]
    # a learned tensor: a float initializer (or Constant) added, subtracted, multiplied or divided; a
    # Where condition, a comparison operand, an exponent or an integer mask is not a parameter
    floating = c.dtype is None or getattr(c.dtype, "kind", "f") == "f"
    learned = c.size > 1 and c.origin is not None and op in ("add", "sub", "mul", "div") and floating
    notes = [] if learned else [f"{'scalar ' if c.size == 1 else ''}constant operand of {node.op_type} is not a "
                                f"parameter"]
    role = "biases" if op in ("add", "sub") else "weights"
    params = {role: [node.input_names[consts[0]]]} if learned else {}
    return LayerSpec("elementwise", {"op": op, "const_shape": const_shape, "const_params": learned}, names,
                     params, notes)


# -- data movement ---------------------------------------------------------------------------


def flatten_axis(axis: int, rank: int) -> int:
    """ONNX Flatten's axis in [-r, r]; a negative one counts from the end."""
    if not -rank <= axis <= rank:
        raise ImportError_(f"Flatten axis {axis} is out of range for a {rank}-D input")
    return axis + rank if axis < 0 else axis


def flatten(node: Node) -> LayerSpec:
    x = node.act(0)
    axis = flatten_axis(int(node.attrs.get("axis", 1)), len(x.shape))
    if axis == 0 and x.shape[0] != 1:
        raise ImportError_("Flatten with axis=0 merges the batch axis")
    if axis <= 1:
        return LayerSpec("flatten", {}, [node.input_names[0]])
    if prod(x.shape[1:axis]) != 1:
        raise ImportError_(f"Flatten with axis={axis} merges the batch axis with others")
    return LayerSpec("reshape", {"shape": [prod(x.sample)]}, [node.input_names[0]])


def reshape(node: Node) -> LayerSpec:
    x = node.act(0)
    target = node.attrs["shape"] if node.opset < 5 else node.ints(1, "shape")
    out = reshape_target(x.shape, target, bool(node.attrs.get("allowzero", 0)))
    return _reshape_to(node, x, out)


def _reshape_to(node: Node, x: Act, out: tuple[int, ...]) -> LayerSpec:
    if not out or out[0] != x.shape[0]:
        raise ImportError_(f"{node.op_type} from {list(x.shape)} to {list(out)} changes the batch axis")
    sample = list(out[1:]) or [1]
    if len(sample) == 1 and len(x.sample) > 1:
        return LayerSpec("flatten", {}, [node.input_names[0]])
    if tuple(sample) == x.sample:
        return LayerSpec("identity", {}, [node.input_names[0]])
    return LayerSpec("reshape", {"shape": sample}, [node.input_names[0]])


def squeeze(node: Node) -> LayerSpec:
    from archcalc.onnx_import.fold import _squeeze_shape, _unsqueeze_shape

    x = node.act(0)
    axes = node.attrs.get("axes")
    if axes is None and node.get(1) is not None:
        axes = node.ints(1, "axes")
    if node.op_type == "Unsqueeze":
        out = _unsqueeze_shape(x.shape, [int(a) for a in axes or []])
    else:
        out = _squeeze_shape(x.shape, None if axes is None else [int(a) for a in axes])
    return _reshape_to(node, x, out)


def transpose(node: Node) -> LayerSpec:
    x = node.act(0)
    perm = [int(p) for p in node.attrs.get("perm", list(range(len(x.shape)))[::-1])]
    if perm[0] != 0:
        raise ImportError_(f"Transpose perm {perm} moves the batch axis")
    sample_perm = [p - 1 for p in perm[1:]]
    if sample_perm == list(range(len(sample_perm))):
        return LayerSpec("identity", {}, [node.input_names[0]])
    return LayerSpec("transpose", {"perm": sample_perm}, [node.input_names[0]])


def concat(node: Node) -> LayerSpec:
    values = [node.get(i) for i in range(len(node.input_names))]
    if any(isinstance(v, Const) and v.size > 0 for v in values):
        raise ImportError_("Concat of an activation with a constant is not supported")
    x = node.act(0)
    axis = _sample_axis(int(node.attrs["axis"]), len(x.shape), "Concat")
    names = [n for n, v in zip(node.input_names, values, strict=True) if isinstance(v, Act)]
    if len(names) == 1:
        return LayerSpec("identity", {}, names)
    return LayerSpec("concat", {"axis": axis}, names)


def split(node: Node) -> LayerSpec:
    x = node.act(0)
    axis_full = int(node.attrs.get("axis", 0))
    axis = _sample_axis(axis_full, len(x.shape), "Split")
    sizes = node.attrs.get("split")
    if sizes is None and node.get(1) is not None:
        sizes = node.ints(1, "split")
    if sizes is None:
        parts = int(node.attrs.get("num_outputs", len(node.outputs)))
        length = x.sample[axis]
        if parts < 1:
            raise ImportError_("Split into no parts")
        chunk = -(-length // parts)
        sizes = [min(chunk, length - i * chunk) for i in range(parts)]
    return LayerSpec("split", {"sizes": [int(s) for s in sizes], "axis": axis}, [node.input_names[0]])


def slice_(node: Node) -> LayerSpec:
    x = node.act(0)
    if node.opset < 10:
        starts, ends = list(node.attrs["starts"]), list(node.attrs["ends"])
        axes = list(node.attrs.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = node.ints(1, "starts"), node.ints(2, "ends")
        axes = node.optional_ints(3, "axes") or list(range(len(starts)))
        steps = node.optional_ints(4, "steps") or [1] * len(starts)
    moved = []
    for s, e, a, st in zip(starts, ends, axes, steps, strict=False):
        full_axis = int(a) % len(x.shape)
        length = x.shape[full_axis]
        picked = slice_range(int(s), int(e), int(st), length)
        if len(picked) == length and picked.step == 1:
            continue  # a no-op along this axis
        moved.append((_sample_axis(full_axis, len(x.shape), "Slice"), picked))
    if not moved:
        return LayerSpec("identity", {}, [node.input_names[0]])
    if len(moved) > 1:
        raise ImportError_("Slice along several axes at once is not supported")
    axis, picked = moved[0]
    if len(picked) == 0:
        raise ImportError_(f"Slice selects nothing along axis {axis + 1} of {list(x.shape)}")
    # a negative step down to index 0 stops at -1, which Python reads from the end: -(n+1) is before 0
    end = picked.stop if picked.stop >= 0 else -(x.shape[axis + 1] + 1)
    return LayerSpec("slice", {"axis": axis, "start": picked.start, "end": end, "step": picked.step},
                     [node.input_names[0]])


def pad(node: Node) -> LayerSpec:
    x = node.act(0)
    rank = len(x.shape)
    if node.opset < 11:
        pads = [int(p) for p in node.attrs["pads"]]
        value = float(node.attrs.get("value", 0.0))
    else:
        pads = node.ints(1, "pads")
        value_v = node.optional_floats(2, "constant_value")
        value = value_v[0] if value_v else 0.0
        axes = node.optional_ints(3, "axes")
        if axes is not None:
            full = [0] * (2 * rank)
            for j, a in enumerate(axes):
                full[a % rank] = pads[j]
                full[a % rank + rank] = pads[j + len(axes)]
            pads = full
    if len(pads) != 2 * rank:
        raise ImportError_(f"Pad has {len(pads)} pads for a {rank}-D input")
    if pads[0] or pads[rank] or pads[1] or pads[rank + 1]:
        raise ImportError_("Pad along the batch or channel axis is not supported")
    if any(p < 0 for p in pads):
        raise ImportError_("Pad with negative pads (cropping) is not supported")
    mode = node.attrs.get("mode", "constant")
    if isinstance(mode, bytes):
        mode = mode.decode()
    mode = {"constant": "constant", "reflect": "reflect", "edge": "edge", "wrap": "edge"}.get(mode, "constant")
    per_axis = [[pads[i], pads[i + rank]] for i in range(2, rank)]
    return LayerSpec("pad", {"padding": per_axis, "mode": mode, "value": value}, [node.input_names[0]])


def resize(node: Node) -> LayerSpec:
    x = node.act(0)
    rank = len(x.shape)
    mode = node.attrs.get("mode", "nearest")
    if isinstance(mode, bytes):
        mode = mode.decode()
    scales: list[float] | None = None
    sizes: list[int] | None = None
    if node.op_type == "Upsample":
        scales = [float(s) for s in node.attrs["scales"]] if node.opset < 9 else node.optional_floats(1, "scales")
    elif node.opset < 11:
        scales = node.optional_floats(1, "scales")
    else:
        scales = node.optional_floats(2, "scales")
        if len(node.input_names) > 3 and node.get(3) is not None and node.const(3, "sizes").size:
            sizes = node.ints(3, "sizes")
    axes = node.attrs.get("axes")
    if axes is not None:
        full_scales = [1.0] * rank
        full_sizes = list(x.shape)
        for j, a in enumerate(axes):
            if scales:
                full_scales[int(a) % rank] = scales[j]
            if sizes:
                full_sizes[int(a) % rank] = sizes[j]
        scales = full_scales if scales else None
        sizes = full_sizes if sizes else None
    if sizes:
        out = [int(s) for s in sizes]
        policy = node.attrs.get("keep_aspect_ratio_policy", "stretch")
        if policy in ("not_larger", "not_smaller"):
            # one scale for the given axes, the smallest (not_larger) or largest: round(scale * in)
            resized = [int(a) % rank for a in axes] if axes is not None else list(range(rank))
            ratios = [out[a] / x.shape[a] for a in resized]
            scale = min(ratios) if policy == "not_larger" else max(ratios)
            for a in resized:
                out[a] = floor(scale * x.shape[a] + 0.5)
        elif policy != "stretch":
            raise ImportError_(f"{node.op_type} keep_aspect_ratio_policy {policy!r} is not supported")
    elif scales:
        if len(scales) != rank:
            raise ImportError_(f"{node.op_type} has {len(scales)} scales for a {rank}-D input")
        out = [int(d * s) for d, s in zip(x.shape, scales, strict=True)]
    else:
        raise ImportError_(f"{node.op_type} gives neither scales nor sizes")
    if out[0] != x.shape[0] or out[1] != x.shape[1]:
        raise ImportError_(f"{node.op_type} resizes the batch or channel axis ({list(x.shape)} -> {out})")
    kind_mode = {"nearest": "nearest", "linear": "bilinear", "bilinear": "bilinear", "cubic": "cubic"}.get(mode)
    if kind_mode is None:
        raise ImportError_(f"{node.op_type} mode {mode!r} is not supported")
    if kind_mode == "bilinear" and rank == 5:
        kind_mode = "trilinear"
    return LayerSpec("upsample", {"mode": kind_mode, "size": out[2:]}, [node.input_names[0]])


def dropout(node: Node) -> LayerSpec:
    node.act(0)
    ratio = node.attrs.get("ratio")
    if ratio is None and node.get(1) is not None:
        values = node.optional_floats(1, "ratio")
        ratio = values[0] if values else 0.5
    return LayerSpec("dropout", {"rate": float(ratio if ratio is not None else 0.5)}, [node.input_names[0]])


Translator = Callable[[Node], LayerSpec]

TRANSLATORS: dict[str, Translator] = {
    "Conv": conv, "ConvTranspose": conv_transpose,
    "MaxPool": pool, "AveragePool": pool, "LpPool": pool,
    "GlobalAveragePool": global_pool, "GlobalMaxPool": global_pool,
    **dict.fromkeys(("ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL1", "ReduceL2",
                     "ReduceLogSumExp", "ReduceSumSquare"), reduce),
    "Gemm": gemm, "MatMul": matmul,
    "BatchNormalization": batchnorm, "LRN": lrn,
    **dict.fromkeys(UNARY, unary),
    "Softmax": softmax, "LogSoftmax": softmax, "Clip": clip, "PRelu": prelu,
    **dict.fromkeys(BINARY, elementwise),
    "Flatten": flatten, "Reshape": reshape, "Squeeze": squeeze, "Unsqueeze": squeeze, "Transpose": transpose,
    "Concat": concat, "Split": split, "Slice": slice_, "Pad": pad,
    "Resize": resize, "Upsample": resize, "Dropout": dropout,
}

#: ops on activations that pass them through unchanged (no layer)
ALIASES = frozenset({"Identity", "Cast", "CastLike"})
