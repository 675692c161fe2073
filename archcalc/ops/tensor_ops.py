"""Layers that rearrange a tensor: reshape, transpose, slice. No parameters, no FLOPs.

Shapes are per sample (the batch axis is never part of a layer's shape). A reshape keeps the
receptive field of its input (element order is unchanged); a transpose permutes the spatial axes
of the field (axis 0 stays the channel axis); a slice along a spatial axis shifts the field by its
start and scales the jump by its step.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import Any

from archcalc.errors import OnnxImportError, ShapeError
from archcalc.ir import Layer
from archcalc.ops._emit import Builder, Shape, one
from archcalc.ops._onnx import (
    Act,
    LayerSpec,
    Node,
    optional_axes,
    reshape_target,
    sample_axis,
    slice_range,
    squeeze_shape,
    unsqueeze_shape,
)
from archcalc.ops._window import format_shape
from archcalc.ops.base import PASS, Applied, Attr, Cost, Op, Permute, Window, integer, ints
from archcalc.ops.facts import KernelClass


def _reshape_to(node: Node, x: Act, out: tuple[int, ...]) -> LayerSpec:
    """A reshape to ``out`` (batch first) as flatten, identity or reshape; the batch axis must stay."""
    if not out or out[0] != x.shape[0]:
        raise OnnxImportError(f"{node.op_type} from {list(x.shape)} to {list(out)} changes the batch axis")
    sample = list(out[1:]) or [1]
    if len(sample) == 1 and len(x.sample) > 1:
        return LayerSpec("flatten", {}, [node.input_names[0]])
    if tuple(sample) == x.sample:
        return LayerSpec("identity", {}, [node.input_names[0]])
    return LayerSpec("reshape", {"shape": sample}, [node.input_names[0]])


def reshape_from_onnx(node: Node) -> LayerSpec:
    """Reshape: the target as an attribute (opset < 5) or a constant input."""
    x = node.act(0)
    target = node.attrs["shape"] if node.opset < 5 else node.ints(1, "shape")
    out = reshape_target(x.shape, target, bool(node.attrs.get("allowzero", 0)))
    return _reshape_to(node, x, out)


def squeeze_from_onnx(node: Node) -> LayerSpec:
    """Squeeze, Unsqueeze: axes as an attribute (opset < 13) or an input."""
    x = node.act(0)
    axes = optional_axes(node, 1)
    out = unsqueeze_shape(x.shape, axes or []) if node.op_type == "Unsqueeze" else squeeze_shape(x.shape, axes)
    return _reshape_to(node, x, out)


def transpose_from_onnx(node: Node) -> LayerSpec:
    x = node.act(0)
    perm = [int(p) for p in node.attrs.get("perm", list(range(len(x.shape)))[::-1])]
    if perm[0] != 0:
        raise OnnxImportError(f"Transpose perm {perm} moves the batch axis")
    sample_perm = [p - 1 for p in perm[1:]]
    if sample_perm == list(range(len(sample_perm))):
        return LayerSpec("identity", {}, [node.input_names[0]])
    return LayerSpec("transpose", {"perm": sample_perm}, [node.input_names[0]])


def _slice_inputs(node: Node) -> tuple[list[int], list[int], list[int], list[int]]:
    """(starts, ends, axes, steps): attributes before opset 10, inputs from then on."""
    if node.opset < 10:
        starts, ends = list(node.attrs["starts"]), list(node.attrs["ends"])
        axes = list(node.attrs.get("axes", range(len(starts))))
        return starts, ends, axes, [1] * len(starts)
    starts, ends = node.ints(1, "starts"), node.ints(2, "ends")
    axes = node.optional_ints(3, "axes") or list(range(len(starts)))
    steps = node.optional_ints(4, "steps") or [1] * len(starts)
    return starts, ends, axes, steps


def slice_from_onnx(node: Node) -> LayerSpec:
    """Slice along one per-sample axis (no-op axes dropped; several axes at once are refused)."""
    x = node.act(0)
    moved = []
    for s, e, a, st in zip(*_slice_inputs(node), strict=False):
        full_axis = int(a) % len(x.shape)
        length = x.shape[full_axis]
        picked = slice_range(int(s), int(e), int(st), length)
        if len(picked) == length and picked.step == 1:
            continue  # a no-op along this axis
        moved.append((sample_axis(full_axis, len(x.shape), "Slice"), picked))
    if not moved:
        return LayerSpec("identity", {}, [node.input_names[0]])
    if len(moved) > 1:
        raise OnnxImportError("Slice along several axes at once is not supported")
    axis, picked = moved[0]
    if len(picked) == 0:
        raise OnnxImportError(f"Slice selects nothing along axis {axis + 1} of {list(x.shape)}")
    # a negative step down to index 0 stops at -1, which Python reads from the end: -(n+1) is before 0
    end = picked.stop if picked.stop >= 0 else -(x.shape[axis + 1] + 1)
    return LayerSpec("slice", {"axis": axis, "start": picked.start, "end": end, "step": picked.step},
                     [node.input_names[0]])


class Reshape(Op):
    kind = "reshape"
    family = "shape"
    schema = {"shape": Attr(ints, required=True,
                            doc="per-sample target shape; 0 keeps that axis of the input, one entry may be -1")}
    doc = "reshape (per sample; 0 keeps the input's size on that axis, as ONNX; -1 infers one size)"
    kernel_class = KernelClass.VIEW
    translators = {"Reshape": reshape_from_onnx, "Squeeze": squeeze_from_onnx, "Unsqueeze": squeeze_from_onnx}

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        total = prod(ins[0])
        given = list(attrs["shape"])
        if given.count(-1) > 1 or any(v < -1 for v in given):
            raise ShapeError(f"reshape target {given} must have sizes >= 0 (0 keeps the input's) and at most one -1")
        for i, v in enumerate(given):
            if v == 0 and i >= len(ins[0]):
                raise ShapeError(f"reshape target {given}: 0 at axis {i} has no input axis to keep "
                                 f"(the input is {format_shape(ins[0])})")
        target = [ins[0][i] if v == 0 else v for i, v in enumerate(given)]
        if -1 in target:
            known = prod(v for v in target if v != -1)
            if total % known:
                raise ShapeError(f"cannot reshape {format_shape(ins[0])} ({total} elements) to {target}")
            target[target.index(-1)] = total // known
        if prod(target) != total:
            raise ShapeError(f"cannot reshape {format_shape(ins[0])} ({total} elements) to {target}")
        return Applied(outs=(tuple(target),), cost=Cost())

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        target = b.const(f"{layer.name}/shape", [0, *outs[0]])
        return one(b, "Reshape", layer, [ins[0], target])


class Transpose(Op):
    kind = "transpose"
    family = "shape"
    schema = {"perm": Attr(ints, required=True, doc="per-sample axis permutation (0 = channels)")}
    doc = "permute the axes of each sample"
    doc_notes = "`perm` per sample (0 = channels)"
    kernel_class = KernelClass.DATA_MOVEMENT
    translators = {"Transpose": transpose_from_onnx}

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        perm = attrs["perm"]
        if sorted(perm) != list(range(len(shape))):
            raise ShapeError(
                f"perm {list(perm)} is not a permutation of the {len(shape)} axes of {format_shape(shape)}"
            )
        out = tuple(shape[p] for p in perm)
        return Applied(outs=(out,), cost=Cost(), rf=Permute(tuple(perm)))

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        return one(b, "Transpose", layer, ins[:1], perm=[0, *(p + 1 for p in layer.attrs["perm"])])


class Slice(Op):
    kind = "slice"
    family = "shape"
    schema = {
        "axis": Attr(integer, required=True, doc="per-sample axis (0 = channels)"),
        "start": Attr(integer, default=0),
        "end": Attr(integer, doc="exclusive; default: the end"),
        "step": Attr(integer, default=1),
    }
    doc = "take a range along one axis"
    doc_notes = "end is exclusive; default: to the end"
    kernel_class = KernelClass.DATA_MOVEMENT
    translators = {"Slice": slice_from_onnx}

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        axis = attrs["axis"]
        if not 0 <= axis < len(shape):
            raise ShapeError(f"slice axis {axis} does not exist in shape {format_shape(shape)}")
        if attrs["step"] == 0:
            raise ShapeError("slice step must not be 0")
        end = attrs["end"] if attrs["end"] is not None else shape[axis]
        picked = range(*slice(attrs["start"], end, attrs["step"]).indices(shape[axis]))
        if len(picked) == 0:
            raise ShapeError(
                f"slice {attrs['start']}:{end}:{attrs['step']} of axis {axis} (size {shape[axis]}) is empty"
            )
        out = tuple(len(picked) if i == axis else d for i, d in enumerate(shape))
        if axis == 0:
            return Applied(outs=(out,), cost=Cost(), rf=PASS)
        axes = [(1, 1, 0)] * (len(shape) - 1)
        axes[axis - 1] = (1, picked.step, 2 * picked.start)
        return Applied(outs=(out,), cost=Cost(), rf=Window(tuple(axes)))

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        a = layer.attrs
        axis = int(a["axis"])
        end = a["end"] if a["end"] is not None else in_shapes[0][axis]
        inputs = [ins[0], b.const(f"{layer.name}/starts", [a["start"]]), b.const(f"{layer.name}/ends", [end]),
                  b.const(f"{layer.name}/axes", [axis + 1]), b.const(f"{layer.name}/steps", [a["step"]])]
        return one(b, "Slice", layer, inputs)
