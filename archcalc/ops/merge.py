"""Layers that merge branches: add (residual), elementwise multiply, concatenation.

add: every input has the same shape. mul: shapes broadcast (numpy rules, aligned on the right),
so squeeze-and-excitation's C x 1 x 1 gates multiply a C x H x W map. concat: joins along an
axis (channels by default); all other sizes must match. Cost: (inputs - 1) "elementwise" FLOPs
per output element for add and mul; concat is free.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import Any

from archcalc.errors import OnnxImportError, ShapeError
from archcalc.ir import Layer
from archcalc.ops._derive import Step, num
from archcalc.ops._emit import Builder, Shape, one, record_group
from archcalc.ops._onnx import Act, Const, LayerSpec, Node, sample_axis
from archcalc.ops._window import format_shape
from archcalc.ops.base import Applied, Attr, Cost, Op, SpecError
from archcalc.ops.facts import KernelClass

#: how an ONNX Add/Sum or Mul of activations becomes an add or mul layer
_FROM_ELEMENTWISE = "from ONNX {} of activations (the elementwise translators in ops/elementwise.py)"


def _axis(value: Any, key: str) -> int:
    if value in ("channels", "channel", "c"):
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise SpecError(f"{key} must be 'channels' or an axis index (0 = channels), got {value!r}")


def _describe(ins: tuple[tuple[int, ...], ...]) -> str:
    return ", ".join(format_shape(s) for s in ins)


class Add(Op):
    kind = "add"
    family = "elementwise"
    aliases = ("residual", "sum")
    arity = (2, None)
    doc = "elementwise sum of equal shapes (residual connections)"
    kernel_class = KernelClass.ADD
    import_note = _FROM_ELEMENTWISE.format("Add or Sum of equal shapes")

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        first = ins[0]
        for other in ins[1:]:
            if other != first:
                what = "channel mismatch" if other[1:] == first[1:] else "shape mismatch"
                raise ShapeError(f"{what} at an add: input shapes {_describe(ins)} must be equal")
        n = prod(first)
        return Applied(outs=(first,), cost=Cost(cheap=(("elementwise", (len(ins) - 1) * n),)))

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        """The formulas of ``apply`` written out."""
        n = prod(ins[0])
        flops = (len(ins) - 1) * n
        return {"cheap:elementwise": Step(flops, f"{len(ins) - 1} add(s) per element of the {len(ins)} inputs",
                                          "elementwise FLOPs = (inputs - 1) x elements",
                                          f"({len(ins)} - 1) x {num(n)} = {num(flops)}")}

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        return one(b, "Add" if len(ins) == 2 else "Sum", layer, ins)


def broadcast(ins: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
    rank = max(len(s) for s in ins)
    out = []
    for i in range(rank):
        sizes = {s[i - rank + len(s)] for s in ins if i - rank + len(s) >= 0}
        sizes.discard(1)
        if len(sizes) > 1:
            raise ShapeError(f"shapes {_describe(ins)} do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


class Mul(Op):
    kind = "mul"
    family = "elementwise"
    aliases = ("multiply", "scale", "elementwise_mul")
    arity = (2, None)
    doc = "elementwise product with broadcasting (squeeze-and-excitation gates)"
    kernel_class = KernelClass.MUL
    import_note = _FROM_ELEMENTWISE.format("Mul")

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        out = broadcast(ins)
        return Applied(outs=(out,), cost=Cost(cheap=(("elementwise", (len(ins) - 1) * prod(out)),)))

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        """The formulas of ``apply`` written out."""
        n = prod(broadcast(ins))
        flops = (len(ins) - 1) * n
        return {"cheap:elementwise": Step(flops, f"{len(ins) - 1} multiplication(s) per element of the broadcast "
                                          "output", "elementwise FLOPs = (inputs - 1) x output elements",
                                          f"({len(ins)} - 1) x {num(n)} = {num(flops)}")}

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        if len(ins) == 2:
            return one(b, "Mul", layer, ins)
        start = len(b.nodes)
        acc = ins[0]
        for i, other in enumerate(ins[1:-1], 1):
            (acc,) = b.node("Mul", [acc, other], 1, f"{layer.name}/mul{i}")
        out = one(b, "Mul", layer, [acc, ins[-1]])
        record_group(b, layer, ins, out, start)
        return out


def concat_from_onnx(node: Node) -> LayerSpec:
    """Concat of activations (a single one is a pass-through); constants are refused."""
    values = [node.get(i) for i in range(len(node.input_names))]
    if any(isinstance(v, Const) and v.size > 0 for v in values):
        raise OnnxImportError("Concat of an activation with a constant is not supported")
    x = node.act(0)
    axis = sample_axis(int(node.attrs["axis"]), len(x.shape), "Concat")
    names = [n for n, v in zip(node.input_names, values, strict=True) if isinstance(v, Act)]
    if len(names) == 1:
        return LayerSpec("identity", {}, names)
    return LayerSpec("concat", {"axis": axis}, names, normal=True)  # sample_axis gives an index >= 0


class Concat(Op):
    kind = "concat"
    family = "shape"
    aliases = ("concatenate",)
    arity = (1, None)
    schema = {"axis": Attr(_axis, default=0, doc="'channels' (0) or an axis index")}
    doc = "concatenation along an axis (channels by default)"
    doc_notes = "other sizes must match"
    kernel_class = KernelClass.CONCAT
    translators = {"Concat": concat_from_onnx}

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        axis = attrs["axis"]
        rank = len(ins[0])
        if axis >= rank:
            raise ShapeError(f"concat axis {axis} does not exist in shape {format_shape(ins[0])}")
        for other in ins[1:]:
            differs = len(other) != rank or any(
                a != b for i, (a, b) in enumerate(zip(ins[0], other, strict=True)) if i != axis
            )
            if differs:
                what = "different spatial sizes" if axis == 0 and len(other) == rank else "different shapes"
                raise ShapeError(f"concat of {what}: input shapes {_describe(ins)} must agree except on axis {axis}")
        out = list(ins[0])
        out[axis] = sum(s[axis] for s in ins)
        notes = ("concat along a spatial axis: the receptive field shown is the union of the inputs' "
                 "(positions of different segments see different inputs)",) if axis > 0 else ()
        return Applied(outs=(tuple(out),), cost=Cost(), notes=notes)

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        """The output shape of ``apply`` written out."""
        axis = attrs["axis"]
        out = list(ins[0])
        out[axis] = sum(s[axis] for s in ins)
        what = "channels" if axis == 0 else f"axis {axis}"
        return {"output": Step("x".join(map(str, out)), f"the inputs joined along {what}: their sizes there add up",
                               f"out[{axis}] = sum of the inputs' sizes on axis {axis}",
                               f"{' + '.join(str(s[axis]) for s in ins)} = {out[axis]}")}

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        return one(b, "Concat", layer, ins, axis=int(layer.attrs["axis"]) + 1)
