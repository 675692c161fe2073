"""Fully connected layers and LeNet-5's RBF output layer.

Fully connected: the input is flattened (N = C*H*W); weights = connections = MACs = N*units;
one bias per unit. RBF: each output is the squared Euclidean distance between the input vector
and a fixed (not trainable) parameter vector: fixed params = connections = MACs = N*units, and
N*units subtractions ("rbf" FLOPs).
"""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import Any

from archcalc.ops.base import GLOBAL, Applied, Attr, Cost, Op, choice, pos_int


class FullyConnected(Op):
    kind = "fc"
    family = "fc"
    aliases = ("dense", "linear", "fully_connected", "gemm")
    schema = {
        "units": Attr(pos_int, required=True, doc="number of output units"),
        "bias": Attr(choice("none", "per_unit", "per_map"), default="per_unit"),
    }
    doc = "fully connected layer (flattens its input)"

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        n_in = prod(ins[0])
        units = attrs["units"]
        edges = n_in * units
        bias = units if attrs["bias"] != "none" else 0
        cost = Cost.weighted(edges, edges, bias, bias)
        return Applied(outs=((units,),), cost=cost, rf=GLOBAL)


class RBF(Op):
    kind = "rbf"
    family = "rbf"
    aliases = ("euclidean_rbf",)
    schema = {"units": Attr(pos_int, required=True, doc="number of output units")}
    doc = "Euclidean RBF units with fixed parameters (LeNet-5 output)"

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        edges = prod(ins[0]) * attrs["units"]
        cost = Cost(fixed=edges, connections=edges, macs=edges, cheap=(("rbf", edges),))
        return Applied(outs=((attrs["units"],),), cost=cost, rf=GLOBAL)
