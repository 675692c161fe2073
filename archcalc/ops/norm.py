"""Normalisation: batch normalisation and local response normalisation.

BatchNorm: scale and shift per channel (trainable, "affine"), running mean and variance per
channel (buffers, never parameters); 2 "norm" FLOPs per element at inference (folded scale and
shift). LRN (Krizhevsky et al. 2012, across channels): no parameters; per element a sum of
``size`` squares and a scale, power and divide: 2*size + 4 "norm" FLOPs.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import Any

from archcalc.ops.base import Applied, Attr, Cost, Op, boolean, number, pos_int


class BatchNorm(Op):
    kind = "batchnorm"
    family = "norm"
    aliases = ("bn", "batch_norm", "batchnorm2d", "batch_normalization")
    schema = {
        "affine": Attr(boolean, default=True, doc="trainable scale and shift"),
        "eps": Attr(number, default=1e-5),
        "momentum": Attr(number, default=0.1),
    }
    doc = "batch normalisation (inference: per-channel scale and shift)"

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        c = shape[0]
        cost = Cost(
            affine=2 * c if attrs["affine"] else 0,
            buffers=2 * c,
            cheap=(("norm", 2 * prod(shape)),),
        )
        return Applied(outs=(shape,), cost=cost)


class LRN(Op):
    kind = "lrn"
    family = "norm"
    aliases = ("local_response_norm", "local_response_normalization")
    schema = {
        "size": Attr(pos_int, default=5, doc="channels in the window"),
        "alpha": Attr(number, default=1e-4),
        "beta": Attr(number, default=0.75),
        "k": Attr(number, default=2.0),
    }
    doc = "local response normalisation across channels"

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        return Applied(outs=(shape,), cost=Cost(cheap=(("norm", (2 * attrs["size"] + 4) * prod(shape)),)))
