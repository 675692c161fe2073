"""Activations: elementwise functions (and softmax over channels).

No parameters except PReLU (one slope per channel, or one shared). Cost: one "activation"
FLOP per element whatever the function (transcendental cost is not modelled; say so).
Each function is also a layer type of its own: ``type: relu`` = ``type: activation, fn: relu``.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import Any

from archcalc.ops.base import Applied, Attr, Cost, Op, boolean, choice, number

FUNCTIONS = (
    "relu", "relu6", "leaky_relu", "prelu", "elu", "selu", "gelu", "silu", "swish",
    "mish", "hardswish", "hardsigmoid", "sigmoid", "tanh", "lecun_tanh", "softplus",
    "softsign", "softmax", "log_softmax", "hardtanh", "identity", "clip", "celu",
    "thresholded_relu", "shrink", "erf", "exp", "log", "sqrt", "abs", "neg", "reciprocal",
    "floor", "ceil", "round", "sign", "sin", "cos", "not",
)


class Activation(Op):
    kind = "activation"
    family = "activation"
    schema = {
        "fn": Attr(choice(*FUNCTIONS), required=True, doc="the function"),
        "alpha": Attr(number, doc="slope or scale where the function has one"),
        "shared": Attr(boolean, default=False, doc="prelu: one slope for all channels"),
    }
    shorthands = {fn: {"fn": fn} for fn in FUNCTIONS if fn != "identity"}
    doc = "elementwise activation (softmax over channels)"

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        n = prod(shape)
        slopes = (1 if attrs["shared"] else shape[0]) if attrs["fn"] == "prelu" else 0
        return Applied(outs=(shape,), cost=Cost(weights=slopes, cheap=(("activation", n),)))
