"""Upsampling (nearest or (bi/tri)linear), by an integer scale per axis or to a target size.

No parameters. Nearest costs nothing; linear interpolation costs 2 * 2^d "resize" FLOPs per
output element (2^d weights, each a multiply and an add) for d spatial axes; cubic 2 * 4^d. Receptive field
(half-pixel coordinates): output o is centred at (o + 1/2)/r - 1/2 in the input and reads 1
(nearest) or 2 (linear) input positions per axis.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from math import prod
from typing import Any

from archcalc.errors import SpecError
from archcalc.ops._formulas import per_axis
from archcalc.ops._window import spatial_of
from archcalc.ops.base import Applied, Attr, Cost, Op, Window, choice, pos_ints


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
