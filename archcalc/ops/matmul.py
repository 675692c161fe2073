"""Matrix products: an activation times a weight matrix over its last axis, or two activations.

``matmul`` with ``units`` (a weight of K x units): weights = K*units, MACs = connections =
(elements / K) * K * units (every leading position). Without ``units`` the layer multiplies two
activations ([..., n, k] @ [..., k, m], broadcasting the leading axes): no weights,
MACs = leading positions x n x k x m. The receptive field of either form is global along the
axes it mixes; for activations laid out C x H x W it is taken as global, except that a weight
over the channels (the last axis after a channels-last transpose, as torchvision's ConvNeXt runs
its Linears) leaves the field as it is.

ONNX Einsum imports as a matmul for the batched-matrix-product equations exporters write (see
``_einsum.py``); other equations are refused by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import Any

from archcalc.errors import OnnxImportError, ShapeError
from archcalc.ir import Layer
from archcalc.ops._derive import Step, num, times
from archcalc.ops._einsum import einsum_from_onnx
from archcalc.ops._emit import Builder, Shape, record_group
from archcalc.ops._onnx import Act, Const, LayerSpec, Node
from archcalc.ops._window import format_shape
from archcalc.ops.base import GLOBAL, MIX_LAST, Applied, Attr, Cost, Op, choice, pos_int
from archcalc.ops.facts import KernelClass
from archcalc.ops.merge import broadcast


def matmul_from_onnx(node: Node) -> LayerSpec:
    """ONNX MatMul: by a weight matrix (fc when the input is 2-D), or of two activations."""
    a, b = node.get(0), node.get(1)
    if isinstance(a, Act) and isinstance(b, Const):
        if len(b.shape) > 2 and all(d == 1 for d in b.shape[:-2]) and len(b.shape) <= len(a.shape):
            b = Const(b.shape[-2:], b.dtype, None, b.origin)  # broadcasts: one matrix for every sample
        if len(b.shape) != 2:
            raise OnnxImportError(f"MatMul with a {len(b.shape)}-D constant {list(b.shape)} is not supported "
                                  f"(only a weight matrix, possibly with leading 1s)")
        if b.shape[0] != a.shape[-1]:
            raise OnnxImportError(f"MatMul weight {list(b.shape)} does not match input {list(a.shape)}")
        units = int(b.shape[1])
        if len(a.shape) == 2:
            return LayerSpec("fc", {"units": units, "bias": "none"}, [node.input_names[0]],
                             {"weights": [node.input_names[1]]})
        return LayerSpec("matmul", {"units": units}, [node.input_names[0]], {"weights": [node.input_names[1]]})
    if isinstance(a, Act) and isinstance(b, Act):
        if len(a.shape) < 3 or len(b.shape) < 3:
            raise OnnxImportError("MatMul of two activations needs at least 3-D operands (batch, n, k)")
        return LayerSpec("matmul", {}, [node.input_names[0], node.input_names[1]])
    raise OnnxImportError("MatMul with a constant first operand is not supported")


class MatMul(Op):
    kind = "matmul"
    family = "fc"
    arity = (1, 2)
    schema = {
        "units": Attr(pos_int, doc="output size of a weight matrix over the last axis (one input)"),
        "bias": Attr(choice("none", "per_unit"), default="none"),
    }
    doc = "matrix product over the last axis (with a weight matrix, or of two activations)"
    kernel_class = KernelClass.MATMUL
    translators = {"MatMul": matmul_from_onnx, "Einsum": einsum_from_onnx}

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        a = ins[0]
        if len(ins) == 1:
            if attrs["units"] is None:
                raise ShapeError("matmul with one input needs units (the weight matrix's output size)")
            k, units = a[-1], attrs["units"]
            edges = prod(a[:-1]) * k * units
            bias = units if attrs["bias"] != "none" else 0
            bias_units = prod(a[:-1]) * units if bias else 0
            cost = Cost.weighted(k * units, edges, bias, bias_units)
            return Applied(outs=((*a[:-1], units),), cost=cost, rf=MIX_LAST)
        b = ins[1]
        if len(a) < 2 or len(b) < 2 or a[-1] != b[-2]:
            raise ShapeError(f"matmul of {format_shape(a)} and {format_shape(b)}: inner sizes differ")
        lead = broadcast((a[:-2], b[:-2])) if a[:-2] or b[:-2] else ()
        n, k, m = a[-2], a[-1], b[-1]
        macs = prod(lead) * n * k * m
        return Applied(outs=((*lead, n, m),), cost=Cost(connections=macs, macs=macs), rf=GLOBAL)

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        """The formulas of ``apply`` written out (shapes checked by ``apply``)."""
        a = ins[0]
        out = self.apply(attrs, ins).outs[0]
        if len(ins) == 1:
            k, units, rows = a[-1], attrs["units"], prod(a[:-1])
            edges = rows * k * units
            bias = units if attrs["bias"] != "none" else 0
            steps = {
                "weights": Step(k * units, f"a {k} x {units} weight matrix", "weights = K x units",
                                f"{times(k, units)} = {num(k * units)}"),
                "biases": Step(bias, "one bias per output feature" if bias else "no biases (bias: none)",
                               "biases = units" if bias else "biases = 0", num(bias)),
                "connections": Step(edges, f"each of the {num(rows)} rows meets every weight",
                                    "connections = rows x K x units", f"{times(rows, k, units)} = {num(edges)}"),
                "macs": Step(edges, "one multiply-accumulate per row per weight", "MACs = rows x K x units",
                             f"{times(rows, k, units)} = {num(edges)}"),
            }
            if bias:
                steps["cheap:bias"] = Step(rows * units, "one add per output element", "bias FLOPs = rows x units",
                                           f"{times(rows, units)} = {num(rows * units)}")
            return steps
        lead, (n, m), k = out[:-2], out[-2:], a[-1]
        macs = prod(lead) * n * k * m
        text = f"{' x '.join(map(str, (*lead, n, k, m)))} = {num(macs)}"
        return {"connections": Step(macs, "every output element reads a row and a column of K", "connections = "
                                    "batch dims x N x K x M", text),
                "macs": Step(macs, "K multiply-accumulates per output element", "MACs = batch dims x N x K x M", text)}

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
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
        record_group(b, layer, ins, out, start)
        return out
