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

from archcalc.errors import ShapeError
from archcalc.ops._window import format_shape
from archcalc.ops.base import PASS, Applied, Attr, Cost, Op, Permute, Window, integer, ints


class Reshape(Op):
    kind = "reshape"
    family = "shape"
    schema = {"shape": Attr(ints, required=True, doc="per-sample target shape; one entry may be -1")}
    doc = "reshape (per sample; -1 infers one size)"

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        total = prod(ins[0])
        target = list(attrs["shape"])
        if target.count(-1) > 1 or any(v < -1 or v == 0 for v in target):
            raise ShapeError(f"reshape target {target} must have positive sizes and at most one -1")
        if -1 in target:
            known = prod(v for v in target if v != -1)
            if total % known:
                raise ShapeError(f"cannot reshape {format_shape(ins[0])} ({total} elements) to {target}")
            target[target.index(-1)] = total // known
        if prod(target) != total:
            raise ShapeError(f"cannot reshape {format_shape(ins[0])} ({total} elements) to {target}")
        return Applied(outs=(tuple(target),), cost=Cost())


class Transpose(Op):
    kind = "transpose"
    family = "shape"
    schema = {"perm": Attr(ints, required=True, doc="per-sample axis permutation (0 = channels)")}
    doc = "permute the axes of each sample"

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        perm = attrs["perm"]
        if sorted(perm) != list(range(len(shape))):
            raise ShapeError(
                f"perm {list(perm)} is not a permutation of the {len(shape)} axes of {format_shape(shape)}"
            )
        out = tuple(shape[p] for p in perm)
        return Applied(outs=(out,), cost=Cost(), rf=Permute(tuple(perm)))


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
