"""LeCun's trainable subsampling (LeNet-1989/LeNet-5 S-layers).

Each output is (sum of its window) x one trainable coefficient per map + one trainable bias per
map, i.e. a depthwise convolution whose kernel taps are tied. weights = C, biases = C;
connections = MACs = units x window (the tied depthwise convolution); a bias per unit (one more
connection each under LeCun's convention).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archcalc.ops._window import ROUNDING, geometry, spatial_of
from archcalc.ops.base import Applied, Attr, Cost, Op, choice, padding, pos_ints
from archcalc.ops.conv import bias_counts


class Subsample(Op):
    kind = "subsample"
    family = "subsample"
    aliases = ("subsampling", "lecun_subsample")
    schema = {
        "kernel": Attr(pos_ints, default=2),
        "stride": Attr(pos_ints, doc="defaults to the kernel"),
        "padding": Attr(padding, default=0),
        "rounding": Attr(choice(*ROUNDING), default="exact"),
        "bias": Attr(choice("none", "per_map"), default="per_map"),
    }
    doc = "window sum x one trainable coefficient + one trainable bias per map"

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        c = ins[0][0]
        geo = geometry(attrs, spatial_of(ins[0], self.kind))
        units = c * geo.positions
        edges = units * geo.taps
        biases, bias_units = bias_counts(attrs["bias"], c, geo.positions)
        cost = Cost.weighted(c, edges, biases, bias_units)
        return Applied(outs=((c, *geo.out),), cost=cost, rf=geo.rf())
