"""Elementwise arithmetic with broadcasting (sub, div, pow, max, min, ... and add/mul with a
constant), as exported models have them.

A constant operand of per-sample shape ``const_shape`` that is a learned tensor (not a scalar)
holds parameters: an added/subtracted one counts as biases, a multiplying/dividing one as
weights. Cost: (operands - 1) "elementwise" FLOPs per output element.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import Any

from archcalc.ops.base import Applied, Attr, Cost, Op, boolean, choice, sizes
from archcalc.ops.merge import broadcast

OPS = ("add", "sub", "mul", "div", "pow", "max", "min", "mean", "mod", "and", "or", "xor",
       "equal", "less", "greater", "where")



class Elementwise(Op):
    kind = "elementwise"
    family = "elementwise"
    arity = (1, None)
    schema = {
        "op": Attr(choice(*OPS), required=True),
        "const_shape": Attr(sizes, doc="per-sample shape of a constant operand, if any"),
        "const_params": Attr(boolean, default=False, doc="the constant operand is a learned tensor"),
    }
    doc = "elementwise arithmetic with broadcasting (and an optional constant operand)"

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shapes = ins if attrs["const_shape"] is None else (*ins, attrs["const_shape"])
        out = broadcast(shapes) if len(shapes) > 1 else ins[0]
        n = prod(out)
        params = prod(attrs["const_shape"]) if attrs["const_params"] and attrs["const_shape"] is not None else 0
        additive = attrs["op"] in ("add", "sub")
        cost = Cost(
            weights=0 if additive else params,
            biases=params if additive else 0,
            cheap=(("elementwise", max(len(shapes) - 1, 1) * n),),
        )
        return Applied(outs=(out,), cost=cost)
