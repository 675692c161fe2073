"""Matrix products: an activation times a weight matrix over its last axis, or two activations.

``matmul`` with ``units`` (a weight of K x units): weights = K*units, MACs = connections =
(elements / K) * K * units (every leading position). Without ``units`` the layer multiplies two
activations ([..., n, k] @ [..., k, m], broadcasting the leading axes): no weights,
MACs = leading positions x n x k x m. The receptive field of either form is global along the
axes it mixes; for activations laid out C x H x W it is taken as global.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import Any

from archcalc.errors import ShapeError
from archcalc.ops._window import format_shape
from archcalc.ops.base import GLOBAL, Applied, Attr, Cost, Op, choice, pos_int
from archcalc.ops.merge import broadcast


class MatMul(Op):
    kind = "matmul"
    family = "fc"
    arity = (1, 2)
    schema = {
        "units": Attr(pos_int, doc="output size of a weight matrix over the last axis (one input)"),
        "bias": Attr(choice("none", "per_unit"), default="none"),
    }
    doc = "matrix product over the last axis (with a weight matrix, or of two activations)"

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
            return Applied(outs=((*a[:-1], units),), cost=cost, rf=GLOBAL)
        b = ins[1]
        if len(a) < 2 or len(b) < 2 or a[-1] != b[-2]:
            raise ShapeError(f"matmul of {format_shape(a)} and {format_shape(b)}: inner sizes differ")
        lead = broadcast((a[:-2], b[:-2])) if a[:-2] or b[:-2] else ()
        n, k, m = a[-2], a[-1], b[-1]
        macs = prod(lead) * n * k * m
        return Applied(outs=((*lead, n, m),), cost=Cost(connections=macs, macs=macs), rf=GLOBAL)
