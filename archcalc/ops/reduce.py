"""Reductions over axes (ReduceMean, ReduceMax, ...): no parameters; one "pool" FLOP per input
element. Reducing every spatial axis makes the receptive field global."""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import Any

from archcalc.errors import ShapeError, SpecError
from archcalc.ops._window import format_shape
from archcalc.ops.base import GLOBAL, PASS, Applied, Attr, Cost, Op, boolean, choice


def _axes(value: Any, key: str) -> tuple[int, ...]:
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                                 for v in value):
        return tuple(sorted(set(value)))
    raise SpecError(f"{key} must be a list of per-sample axes (0 = channels), got {value!r}")


class Reduce(Op):
    kind = "reduce"
    family = "pool"
    schema = {
        "op": Attr(choice("mean", "max", "min", "sum", "prod", "l1", "l2", "logsumexp", "sumsquare"),
                   default="mean"),
        "axes": Attr(_axes, required=True, doc="per-sample axes (0 = channels)"),
        "keepdims": Attr(boolean, default=True),
    }
    doc = "reduction over axes (mean over all spatial axes = global average pooling)"

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        axes = attrs["axes"]
        if axes[-1] >= len(shape):
            raise ShapeError(f"reduce axes {list(axes)} do not exist in shape {format_shape(shape)}")
        if attrs["keepdims"]:
            out = tuple(1 if i in axes else d for i, d in enumerate(shape))
        else:
            out = tuple(d for i, d in enumerate(shape) if i not in axes)
        n = prod(shape)
        spatial = set(range(1, len(shape)))
        rule = GLOBAL if spatial and spatial <= set(axes) else PASS
        if rule == PASS and set(axes) & spatial:
            rule = GLOBAL  # a partial spatial reduction mixes positions along those axes
        return Applied(outs=(out or (1,),), cost=Cost(connections=n, cheap=(("pool", n),)), rf=rule)
