"""Fully connected layers and LeNet-5's RBF output layer.

Fully connected: the input is flattened (N = C*H*W); weights = connections = MACs = N*units;
one bias per unit. RBF: each output is the squared Euclidean distance between the input vector
and a fixed (not trainable) parameter vector: fixed params = connections = MACs = N*units, and
N*units subtractions ("rbf" FLOPs).
"""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import Any

from archcalc.errors import OnnxImportError
from archcalc.ir import Layer
from archcalc.ops._derive import Step, num, times
from archcalc.ops._emit import Builder, Shape, record_group
from archcalc.ops._onnx import Act, Const, LayerSpec, Node
from archcalc.ops.base import GLOBAL, Applied, Attr, Cost, Op, choice, pos_int
from archcalc.ops.facts import KernelClass


def gemm_from_onnx(node: Node) -> LayerSpec:
    """ONNX Gemm of an activation (2-D, not transposed) and a weight constant."""
    a = node.get(0)
    if not isinstance(a, Act):
        raise OnnxImportError("Gemm with a constant first operand is not supported")
    if len(a.shape) != 2:
        raise OnnxImportError(f"Gemm input must be 2-D, got {list(a.shape)}")
    if node.attrs.get("transA", 0):
        raise OnnxImportError("Gemm with transA=1 on an activation transposes the batch axis")
    if isinstance(node.get(1), Act):
        raise OnnxImportError("Gemm of two activations is not supported (use MatMul)")
    w = node.const(1, "weight")
    k, units = (w.shape[1], w.shape[0]) if node.attrs.get("transB", 0) else (w.shape[0], w.shape[1])
    if k != a.shape[1]:
        raise OnnxImportError(f"Gemm weight {list(w.shape)} does not match input {list(a.shape)}")
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
        raise OnnxImportError("Gemm with a computed bias is not supported")
    if float(node.attrs.get("alpha", 1.0)) != 1.0 or float(node.attrs.get("beta", 1.0)) != 1.0:
        notes.append("Gemm alpha/beta scale the result and cost no MACs")
    # normal form (LayerSpec.normal) unless units is not positive: normalize refuses that, with its message
    return LayerSpec("fc", {"units": int(units), "bias": bias}, [node.input_names[0]],
                     {"weights": [node.input_names[1]], "biases": biases}, notes, normal=int(units) >= 1)


def flat_input(b: Builder, layer: Layer, tensor: str, shape: Shape) -> tuple[str, int]:
    """The input as (batch, features): a Flatten node when it has more than one axis."""
    if len(shape) == 1:
        return tensor, shape[0]
    (flat,) = b.node("Flatten", [tensor], 1, f"{layer.name}/flatten", axis=1)
    return flat, prod(shape)


class FullyConnected(Op):
    kind = "fc"
    family = "fc"
    aliases = ("dense", "linear", "fully_connected", "gemm")
    schema = {
        "units": Attr(pos_int, required=True, doc="number of output units"),
        "bias": Attr(choice("none", "per_unit", "per_map"), default="per_unit"),
    }
    doc = "fully connected layer (flattens its input)"
    kernel_class = KernelClass.GEMM
    translators = {"Gemm": gemm_from_onnx}

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        n_in = prod(ins[0])
        units = attrs["units"]
        edges = n_in * units
        bias = units if attrs["bias"] != "none" else 0
        cost = Cost.weighted(edges, edges, bias, bias)
        return Applied(outs=((units,),), cost=cost, rf=GLOBAL)

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        """The formulas of ``apply`` written out."""
        n_in, units = prod(ins[0]), attrs["units"]
        flat = " x ".join(str(v) for v in ins[0])
        edges = n_in * units
        bias = units if attrs["bias"] != "none" else 0
        inputs = f"N = {flat} = {num(n_in)} inputs" if len(ins[0]) > 1 else f"N = {num(n_in)} inputs"
        steps = {
            "output": Step(str(units), f"{units} units (the input is flattened)", "output = units", str(units)),
            "weights": Step(edges, "one weight from every input to every unit", "weights = N x units",
                            f"{inputs}; {times(n_in, units)} = {num(edges)}"),
            "biases": Step(bias, "one bias per unit" if bias else "no biases (bias: none)",
                           "biases = units" if bias else "biases = 0", num(bias)),
            "bias_units": Step(bias, "units that have a bias", "units", num(bias)),
            "connections": Step(edges, f"each of the {units} units reads all {num(n_in)} inputs",
                                "connections = N x units", f"{times(n_in, units)} = {num(edges)}"),
            "macs": Step(edges, "one multiply-accumulate per weight", "MACs = N x units",
                         f"{times(n_in, units)} = {num(edges)}"),
        }
        if bias:
            steps["cheap:bias"] = Step(bias, "one add per unit", "bias FLOPs = units", num(bias))
        return steps

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        start = len(b.nodes)
        x, k = flat_input(b, layer, ins[0], in_shapes[0])
        units = layer.attrs["units"]
        inputs = [x, b.weight(f"{layer.name}.weight", (units, k), k)]
        if layer.attrs["bias"] != "none":
            inputs.append(b.weight(f"{layer.name}.bias", (units,), k, scale=0.1))
        out = b.node("Gemm", inputs, [b.unique(layer.name)], layer.name, transB=1)
        if len(b.nodes) - start > 1:
            record_group(b, layer, ins, out, start)
        return out


class RBF(Op):
    kind = "rbf"
    family = "rbf"
    aliases = ("euclidean_rbf",)
    schema = {"units": Attr(pos_int, required=True, doc="number of output units")}
    doc = "Euclidean RBF units with fixed parameters (LeNet-5 output)"
    kernel_class = KernelClass.RBF
    import_note = ("no ONNX op: export writes Unsqueeze, Sub, Mul, ReduceSum with a metadata record, which "
                   "import restores")

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        edges = prod(ins[0]) * attrs["units"]
        cost = Cost(fixed=edges, connections=edges, macs=edges, cheap=(("rbf", edges),))
        return Applied(outs=((attrs["units"],),), cost=cost, rf=GLOBAL)

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        """The formulas of ``apply`` written out."""
        n_in, units = prod(ins[0]), attrs["units"]
        edges = n_in * units
        both = f"{times(n_in, units)} = {num(edges)}"
        return {
            "output": Step(str(units), f"{units} RBF units", "output = units", str(units)),
            "fixed": Step(edges, "one fixed (not trained) centre coordinate per input per unit",
                          "fixed = N x units", both),
            "connections": Step(edges, f"each of the {units} units reads all {num(n_in)} inputs",
                                "connections = N x units", both),
            "macs": Step(edges, "one squared difference accumulated per input per unit", "MACs = N x units", both),
            "cheap:rbf": Step(edges, "one subtraction per input per unit", "rbf FLOPs = N x units", both),
        }

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        """out_j = sum_i (x_i - w_ji)^2 with fixed w: Unsqueeze, Sub, Mul, ReduceSum."""
        start = len(b.nodes)
        x, k = flat_input(b, layer, ins[0], in_shapes[0])
        units = layer.attrs["units"]
        centres = b.weight(f"{layer.name}.centres", (units, k), k, scale=1.0)
        if b.opset >= 13:  # axes became inputs in opset 13
            (x3,) = b.node("Unsqueeze", [x, b.const(f"{layer.name}/axes", [1])], 1, f"{layer.name}/unsqueeze")
        else:
            (x3,) = b.node("Unsqueeze", [x], 1, f"{layer.name}/unsqueeze", axes=[1])
        (diff,) = b.node("Sub", [x3, centres], 1, f"{layer.name}/sub")
        (sq,) = b.node("Mul", [diff, diff], 1, f"{layer.name}/square")
        if b.opset >= 13:
            out = b.node("ReduceSum", [sq, b.const(f"{layer.name}/sum_axes", [2])], [b.unique(layer.name)],
                         layer.name, keepdims=0)
        else:
            out = b.node("ReduceSum", [sq], [b.unique(layer.name)], layer.name, axes=[2], keepdims=0)
        record_group(b, layer, ins, out, start)
        return out
