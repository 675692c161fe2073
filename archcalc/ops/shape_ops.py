"""Layers that only move data: flatten, dropout, identity, explicit padding, split.

No parameters and no FLOPs. Padding shifts the receptive field (output o reads input
o - pad_before); split cuts the channels (or another axis) into parts, one output each.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction
from math import prod
from typing import Any

from archcalc.errors import OnnxImportError, ShapeError, SpecError
from archcalc.ir import Layer
from archcalc.ops._emit import Builder, Shape, one, record_group
from archcalc.ops._formulas import resolve_padding
from archcalc.ops._onnx import LayerSpec, Node, flatten_axis, sample_axis
from archcalc.ops._window import format_shape, spatial_of
from archcalc.ops.base import Applied, Attr, Cost, Op, Window, choice, number, padding, pos_int, sizes
from archcalc.ops.facts import KernelClass
from archcalc.ops.merge import _axis

_RATIO = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def rate(value: Any, key: str) -> float:
    """A number, or the ratio ``"p/q"`` of two integers: stochastic depth's linear schedules
    (``rate: "${sd * block_id}/${100 * (blocks - 1)}"``) and rates in percent (``"${drop}/100"``)
    come out of integer expressions that way."""
    if isinstance(value, str):
        match = _RATIO.fullmatch(value)
        if match is None:
            raise SpecError(f"{key} must be a number or a ratio of integers such as 3/170, got {value!r}")
        p, q = int(match[1]), int(match[2])
        if q == 0:
            raise SpecError(f"{key} {value!r} divides by zero")
        return float(Fraction(p, q))
    return number(value, key)


def flatten_from_onnx(node: Node) -> LayerSpec:
    """Flatten at axis 1 (or 0 with batch 1); a later axis that only merges 1s is a reshape."""
    x = node.act(0)
    axis = flatten_axis(int(node.attrs.get("axis", 1)), len(x.shape))
    if axis == 0 and x.shape[0] != 1:
        raise OnnxImportError("Flatten with axis=0 merges the batch axis")
    if axis <= 1:
        return LayerSpec("flatten", {}, [node.input_names[0]])
    if prod(x.shape[1:axis]) != 1:
        raise OnnxImportError(f"Flatten with axis={axis} merges the batch axis with others")
    return LayerSpec("reshape", {"shape": [prod(x.sample)]}, [node.input_names[0]])


def dropout_from_onnx(node: Node) -> LayerSpec:
    """Dropout: the ratio as an attribute (opset < 12) or an input."""
    node.act(0)
    ratio = node.attrs.get("ratio")
    if ratio is None and node.get(1) is not None:
        values = node.optional_floats(1, "ratio")
        ratio = values[0] if values else 0.5
    return LayerSpec("dropout", {"rate": float(ratio if ratio is not None else 0.5)}, [node.input_names[0]])


def alias_from_onnx(node: Node) -> LayerSpec:
    """Identity, Cast, CastLike on an activation: no layer, the output is the input."""
    return LayerSpec("identity", {}, [node.input_names[0]])


def pad_from_onnx(node: Node) -> LayerSpec:
    """Pad of the spatial axes: pads (and value) as attributes (opset < 11) or inputs, optional axes."""
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
        raise OnnxImportError(f"Pad has {len(pads)} pads for a {rank}-D input")
    if pads[0] or pads[rank] or pads[1] or pads[rank + 1]:
        raise OnnxImportError("Pad along the batch or channel axis is not supported")
    if any(p < 0 for p in pads):
        raise OnnxImportError("Pad with negative pads (cropping) is not supported")
    mode = {"constant": "constant", "reflect": "reflect", "edge": "edge", "wrap": "edge"}.get(
        node.text("mode", "constant"), "constant")
    per_axis = [[pads[i], pads[i + rank]] for i in range(2, rank)]
    return LayerSpec("pad", {"padding": per_axis, "mode": mode, "value": value}, [node.input_names[0]])


def split_from_onnx(node: Node) -> LayerSpec:
    """Split: sizes as an attribute, an input, or equal parts (opset 18 num_outputs: the last smaller)."""
    x = node.act(0)
    axis = sample_axis(int(node.attrs.get("axis", 0)), len(x.shape), "Split")
    sizes = node.attrs.get("split")
    if sizes is None and node.get(1) is not None:
        sizes = node.ints(1, "split")
    if sizes is None:
        parts = int(node.attrs.get("num_outputs", len(node.outputs)))
        length = x.sample[axis]
        if parts < 1:
            raise OnnxImportError("Split into no parts")
        chunk = -(-length // parts)
        sizes = [min(chunk, length - i * chunk) for i in range(parts)]
    return LayerSpec("split", {"sizes": [int(s) for s in sizes], "axis": axis}, [node.input_names[0]])


class Flatten(Op):
    kind = "flatten"
    family = "shape"
    doc = "C x H x W -> C*H*W (a view: no copy)"
    view = True
    kernel_class = KernelClass.VIEW
    translators = {"Flatten": flatten_from_onnx}

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        return Applied(outs=((prod(ins[0]),),), cost=Cost())

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        return one(b, "Flatten", layer, ins[:1], axis=1)


class Dropout(Op):
    kind = "dropout"
    family = "shape"
    schema = {"rate": Attr(rate, default=0.5, doc="drop probability (training only); a number or a ratio p/q")}
    doc = "dropout (identity at inference)"
    doc_notes = "`rate` a number or a ratio of integers (`\"${drop}/100\"`)"
    view = True
    inplace = True
    kernel_class = KernelClass.ELIMINATED
    translators = {"Dropout": dropout_from_onnx}

    def check(self, attrs: dict[str, Any]) -> None:
        if not 0.0 <= attrs["rate"] < 1.0:
            raise SpecError(f"rate must be in [0, 1), got {attrs['rate']}")

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        return Applied(outs=(ins[0],), cost=Cost())

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        if b.opset < 12:  # the ratio became an input in opset 12
            return one(b, "Dropout", layer, ins[:1], ratio=float(layer.attrs["rate"]))
        ratio = b.const(f"{layer.name}/ratio", float(layer.attrs["rate"]), "float32")
        return one(b, "Dropout", layer, [ins[0], ratio])


class Identity(Op):
    kind = "identity"
    family = "shape"
    doc = "passes its input through"
    doc_notes = "a view (no copy)"
    view = True
    kernel_class = KernelClass.ELIMINATED
    #: on an activation these pass it through (no layer); on constants they are folded
    translators = {"Identity": alias_from_onnx, "Cast": alias_from_onnx, "CastLike": alias_from_onnx}

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        return Applied(outs=(ins[0],), cost=Cost())

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        start = len(b.nodes)
        out = one(b, "Identity", layer, ins[:1])
        record_group(b, layer, ins, out, start)
        return out


class Pad(Op):
    kind = "pad"
    family = "shape"
    aliases = ("padding", "zero_pad", "zeropad")
    schema = {
        "padding": Attr(padding, required=True, doc="int, one per axis, or [[before, after], ...]"),
        "mode": Attr(choice("constant", "reflect", "edge"), default="constant"),
        "value": Attr(number, default=0.0),
    }
    doc = "explicit spatial padding"
    doc_notes = "mode constant/reflect/edge"
    kernel_class = KernelClass.DATA_MOVEMENT
    translators = {"Pad": pad_from_onnx}

    def check(self, attrs: dict[str, Any]) -> None:
        if isinstance(attrs["padding"], str):
            raise SpecError("a pad layer needs explicit sizes (an int, one per axis, or [[before, after], ...])")

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        sizes = spatial_of(shape, self.kind)
        n = len(sizes)
        pads = resolve_padding(attrs["padding"], n, sizes, (1,) * n, (1,) * n)
        if attrs["mode"] == "reflect":
            for i, (b, a) in enumerate(pads):
                if max(b, a) >= sizes[i]:
                    raise ShapeError(f"reflect padding {max(b, a)} must be smaller than the input size {sizes[i]}")
        out = tuple(s + b + a for s, (b, a) in zip(sizes, pads, strict=True))
        rf = Window(tuple((1, 1, -2 * b) for b, _ in pads))
        return Applied(outs=((shape[0], *out),), cost=Cost(), rf=rf)

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        spatial = in_shapes[0][1:]
        n = len(spatial)
        pads = resolve_padding(layer.attrs["padding"], n, spatial, (1,) * n, (1,) * n)
        flat = [0, 0, *(p[0] for p in pads), 0, 0, *(p[1] for p in pads)]
        inputs = [ins[0], b.const(f"{layer.name}/pads", flat)]
        if layer.attrs["mode"] == "constant":
            inputs.append(b.const(f"{layer.name}/value", float(layer.attrs["value"]), "float32"))
        return one(b, "Pad", layer, inputs, mode=layer.attrs["mode"])



class Split(Op):
    kind = "split"
    family = "shape"
    schema = {
        "sizes": Attr(sizes, doc="size of each part; or give parts"),
        "parts": Attr(pos_int, doc="number of equal parts"),
        "axis": Attr(_axis, default=0, doc="'channels' (0) or an axis index"),
    }
    doc = "split into parts along an axis; refer to part i as NAME:i"
    doc_notes = "give `sizes` or `parts`"
    kernel_class = KernelClass.SPLIT
    translators = {"Split": split_from_onnx}

    def check(self, attrs: dict[str, Any]) -> None:
        if (attrs["sizes"] is None) == (attrs["parts"] is None):
            raise SpecError("split needs exactly one of sizes and parts")

    def n_outputs(self, attrs: Mapping[str, Any]) -> int:
        return len(attrs["sizes"]) if attrs["sizes"] is not None else int(attrs["parts"])

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        axis = attrs["axis"]
        if axis >= len(shape):
            raise ShapeError(f"split axis {axis} does not exist in shape {format_shape(shape)}")
        total = shape[axis]
        if attrs["sizes"] is not None:
            sizes = attrs["sizes"]
            if sum(sizes) != total:
                raise ShapeError(f"split sizes {list(sizes)} add up to {sum(sizes)}, but axis {axis} has {total}")
        else:
            parts = attrs["parts"]
            if total % parts:
                raise ShapeError(f"cannot split {total} into {parts} equal parts")
            sizes = (total // parts,) * parts
        outs = tuple(tuple(s if i == axis else d for i, d in enumerate(shape)) for s in sizes)
        if axis == 0:
            return Applied(outs=outs, cost=Cost())
        # along a spatial axis, part i starts sum(sizes[:i]) positions in: its field is shifted
        rules = []
        start = 0
        for size in sizes:
            axes = [(1, 1, 0)] * (len(shape) - 1)
            axes[axis - 1] = (1, 1, 2 * start)
            rules.append(Window(tuple(axes)))
            start += size
        return Applied(outs=outs, cost=Cost(), rf=rules[0], out_rfs=tuple(rules))

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        axis = int(layer.attrs["axis"])
        sizes = [o[axis] for o in outs]
        names = [b.unique(f"{layer.name}:{i}") for i in range(len(outs))]
        if b.opset < 13:  # the sizes became an input in opset 13
            return b.node("Split", ins[:1], names, layer.name, axis=axis + 1, split=sizes)
        return b.node("Split", [ins[0], b.const(f"{layer.name}/sizes", sizes)], names, layer.name, axis=axis + 1)
