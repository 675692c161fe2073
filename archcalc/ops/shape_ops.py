"""Layers that only move data: flatten, dropout, identity, explicit padding, split.

No parameters and no FLOPs. Padding shifts the receptive field (output o reads input
o - pad_before); split cuts the channels (or another axis) into parts, one output each.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import Any

from archcalc.errors import ShapeError, SpecError
from archcalc.ops._formulas import resolve_padding
from archcalc.ops._window import format_shape, spatial_of
from archcalc.ops.base import Applied, Attr, Cost, Op, Window, choice, number, padding, pos_int, sizes
from archcalc.ops.merge import _axis


class Flatten(Op):
    kind = "flatten"
    family = "shape"
    doc = "C x H x W -> C*H*W (a view: no copy)"

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        return Applied(outs=((prod(ins[0]),),), cost=Cost())


class Dropout(Op):
    kind = "dropout"
    family = "shape"
    schema = {"rate": Attr(number, default=0.5, doc="drop probability (training only)")}
    doc = "dropout (identity at inference)"

    def check(self, attrs: dict[str, Any]) -> None:
        if not 0.0 <= attrs["rate"] < 1.0:
            raise SpecError(f"rate must be in [0, 1), got {attrs['rate']}")

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        return Applied(outs=(ins[0],), cost=Cost())


class Identity(Op):
    kind = "identity"
    family = "shape"
    doc = "passes its input through"

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        return Applied(outs=(ins[0],), cost=Cost())


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



class Split(Op):
    kind = "split"
    family = "shape"
    schema = {
        "sizes": Attr(sizes, doc="size of each part; or give parts"),
        "parts": Attr(pos_int, doc="number of equal parts"),
        "axis": Attr(_axis, default=0, doc="'channels' (0) or an axis index"),
    }
    doc = "split into parts along an axis; refer to part i as NAME:i"

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
