"""Upsampling (nearest or (bi/tri)linear), by an integer scale per axis or to a target size.

No parameters. Nearest costs nothing; linear interpolation costs 2 * 2^d "resize" FLOPs per
output element (2^d weights, each a multiply and an add) for d spatial axes; cubic 2 * 4^d. Receptive field
(half-pixel coordinates): output o is centred at (o + 1/2)/r - 1/2 in the input and reads 1
(nearest) or 2 (linear) input positions per axis.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from math import floor, prod
from typing import Any

from archcalc.errors import OnnxImportError, SpecError
from archcalc.ir import Layer
from archcalc.ops._derive import Step, num
from archcalc.ops._emit import Builder, Shape, one
from archcalc.ops._formulas import per_axis
from archcalc.ops._onnx import LayerSpec, Node
from archcalc.ops._window import spatial_of
from archcalc.ops.base import Applied, Attr, Cost, Op, Window, choice, pos_ints
from archcalc.ops.facts import KernelClass

#: ONNX mode -> spec mode (linear on a 3-D map is trilinear)
_MODES = {"nearest": "nearest", "linear": "bilinear", "bilinear": "bilinear", "cubic": "cubic"}
#: spec mode -> ONNX mode
_ONNX_MODES = {"nearest": "nearest", "bilinear": "linear", "linear": "linear", "trilinear": "linear",
               "cubic": "cubic"}


def _scales_and_sizes(node: Node) -> tuple[list[float] | None, list[int] | None]:
    """Upsample: scales attribute (opset < 9) or input 1; Resize: scales input 1 (opset < 11) or
    roi, scales, sizes inputs 1-3."""
    if node.op_type == "Upsample":
        return ([float(s) for s in node.attrs["scales"]] if node.opset < 9 else node.optional_floats(1, "scales")), None
    if node.opset < 11:
        return node.optional_floats(1, "scales"), None
    scales = node.optional_floats(2, "scales")
    sizes = None
    if len(node.input_names) > 3 and node.get(3) is not None and node.const(3, "sizes").size:
        sizes = node.ints(3, "sizes")
    return scales, sizes


def _sized(node: Node, shape: tuple[int, ...], sizes: list[int], axes: list[int] | None) -> list[int]:
    """The output for given sizes under keep_aspect_ratio_policy."""
    rank = len(shape)
    out = [int(s) for s in sizes]
    policy = node.attrs.get("keep_aspect_ratio_policy", "stretch")
    if policy in ("not_larger", "not_smaller"):
        # one scale for the given axes, the smallest (not_larger) or largest: round(scale * in)
        resized = [int(a) % rank for a in axes] if axes is not None else list(range(rank))
        ratios = [out[a] / shape[a] for a in resized]
        scale = min(ratios) if policy == "not_larger" else max(ratios)
        for a in resized:
            out[a] = floor(scale * shape[a] + 0.5)
    elif policy != "stretch":
        raise OnnxImportError(f"{node.op_type} keep_aspect_ratio_policy {policy!r} is not supported")
    return out


def resize_from_onnx(node: Node) -> LayerSpec:
    """Resize, Upsample: scales or sizes (on some axes) as a spatial target size."""
    x = node.act(0)
    rank = len(x.shape)
    mode = node.text("mode", "nearest")
    scales, sizes = _scales_and_sizes(node)
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
        out = _sized(node, x.shape, sizes, axes)
    elif scales:
        if len(scales) != rank:
            raise OnnxImportError(f"{node.op_type} has {len(scales)} scales for a {rank}-D input")
        out = [int(d * s) for d, s in zip(x.shape, scales, strict=True)]
    else:
        raise OnnxImportError(f"{node.op_type} gives neither scales nor sizes")
    if out[0] != x.shape[0] or out[1] != x.shape[1]:
        raise OnnxImportError(f"{node.op_type} resizes the batch or channel axis ({list(x.shape)} -> {out})")
    kind_mode = _MODES.get(mode)
    if kind_mode is None:
        raise OnnxImportError(f"{node.op_type} mode {mode!r} is not supported")
    if kind_mode == "bilinear" and rank == 5:
        kind_mode = "trilinear"
    return LayerSpec("upsample", {"mode": kind_mode, "size": out[2:]}, [node.input_names[0]])


class Upsample(Op):
    kind = "upsample"
    family = "resize"
    aliases = ("resize", "upsampling", "interpolate")
    schema = {
        "mode": Attr(choice("nearest", "bilinear", "linear", "trilinear", "cubic"), default="nearest"),
        "scale": Attr(pos_ints, doc="integer factor, one or per axis"),
        "size": Attr(pos_ints, doc="target spatial size, one or per axis"),
    }
    doc = "upsampling by an integer scale or to a target size"
    doc_notes = "mode nearest/bilinear/trilinear/cubic; scale or size"
    kernel_class = KernelClass.RESIZE
    translators = {"Resize": resize_from_onnx, "Upsample": resize_from_onnx}

    def check(self, attrs: dict[str, Any]) -> None:
        if (attrs["scale"] is None) == (attrs["size"] is None):
            raise SpecError("upsample needs exactly one of scale and size")

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        sizes = spatial_of(shape, self.kind)
        n = len(sizes)
        if attrs["scale"] is not None:
            out = tuple(s * r for s, r in zip(sizes, per_axis(attrs["scale"], n, "scale"), strict=True))
        else:
            out = per_axis(attrs["size"], n, "size")
        linear = attrs["mode"] != "nearest"
        reads = 4 if attrs["mode"] == "cubic" else 2 if linear else 1
        axes = []
        for n_in, n_out in zip(sizes, out, strict=True):
            step = Fraction(n_in, n_out)
            axes.append((reads if n_in > 1 else 1, step, step - 1))
        elements = shape[0] * prod(out)
        cheap = (("resize", 2 * reads**n * elements),) if linear else ()
        return Applied(outs=((shape[0], *out),), cost=Cost(cheap=cheap), rf=Window(tuple(axes)))

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        """The formulas of ``apply`` written out (the same applied output and cost)."""
        applied = self.apply(attrs, ins)
        out = applied.outs[0]
        how = (f"input x scale {attrs['scale']}" if attrs["scale"] is not None else f"size {attrs['size']}")
        steps = {"output": Step("x".join(map(str, out)), f"the maps, each spatial axis resized ({how})",
                                "out = N x scale per axis, or the size given", "x".join(map(str, out)))}
        if applied.cost.cheap:
            reads = 4 if attrs["mode"] == "cubic" else 2
            n, elements = len(out) - 1, prod(out)
            flops = 2 * reads**n * elements
            steps["cheap:resize"] = Step(flops, f"{attrs['mode']}: {reads} reads per axis, a multiply and an add "
                                         "each, per output element", "resize FLOPs = 2 x reads^axes x elements",
                                         f"2 x {reads}^{n} x {num(elements)} = {num(flops)}")
        return steps

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        onnx_mode = _ONNX_MODES[layer.attrs["mode"]]
        attrs: dict[str, Any] = {"mode": onnx_mode}
        if onnx_mode == "nearest":
            attrs.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        else:
            attrs.update(coordinate_transformation_mode="half_pixel")
        sizes = b.shape_of(ins[0], layer.name, outs[0])
        if b.opset < 13:  # roi and scales are required inputs in opset 11: empty tensors
            empty = b.const(f"{layer.name}/empty", [], "float32")
            return one(b, "Resize", layer, [ins[0], empty, empty, sizes], **attrs)
        return one(b, "Resize", layer, [ins[0], "", "", sizes], **attrs)
