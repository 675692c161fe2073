"""Pooling: max/average windows, global pooling, adaptive average pooling.

No parameters. Connections (and "pool" FLOPs): one per window element per output unit, padding
included (units x window). Global pooling: one per input element. Adaptive pooling: the sum of
its window lengths, in closed form (N + n - gcd(N, n) per axis), never enumerated; to a single
position it is global pooling (global receptive field).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from math import gcd, prod
from typing import Any, ClassVar

from archcalc.ops._formulas import per_axis
from archcalc.ops._window import ROUNDING, geometry, spatial_of
from archcalc.ops.base import GLOBAL, Applied, Attr, Cost, Op, Window, boolean, choice, padding, pos_ints


def _pool_cost(window_edges: int) -> Cost:
    return Cost(connections=window_edges, cheap=(("pool", window_edges),))


class MaxPool(Op):
    kind = "maxpool"
    family = "pool"
    aliases: ClassVar[tuple[str, ...]] = ("max_pool", "max_pooling", "maxpool2d")
    schema = {
        "kernel": Attr(pos_ints, required=True),
        "stride": Attr(pos_ints, doc="defaults to the kernel"),
        "padding": Attr(padding, default=0),
        "dilation": Attr(pos_ints, default=1),
        "rounding": Attr(choice(*ROUNDING), default="exact"),
    }
    doc = "max pooling over a window"

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        c = ins[0][0]
        geo = geometry(attrs, spatial_of(ins[0], self.kind))
        units = c * geo.positions
        return Applied(outs=((c, *geo.out),), cost=_pool_cost(units * geo.taps), rf=geo.rf())


class AvgPool(MaxPool):
    kind = "avgpool"
    family = "pool"
    aliases: ClassVar[tuple[str, ...]] = ("avg_pool", "average_pooling", "avgpool2d", "average_pool")
    schema = {
        **MaxPool.schema,
        "count_include_pad": Attr(boolean, default=False, doc="padding counted in the divisor"),
    }
    doc = "average pooling over a window"


class GlobalAvgPool(Op):
    kind = "global_avgpool"
    family = "pool"
    aliases: ClassVar[tuple[str, ...]] = ("global_average_pooling", "gap", "global_avg_pool")
    doc = "average over all spatial positions; output C x 1 x 1"

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        spatial = spatial_of(shape, self.kind)
        n_in = prod(shape)
        return Applied(outs=((shape[0],) + (1,) * len(spatial),), cost=_pool_cost(n_in), rf=GLOBAL)


class GlobalMaxPool(GlobalAvgPool):
    kind = "global_maxpool"
    aliases: ClassVar[tuple[str, ...]] = ("global_max_pooling", "global_max_pool")
    doc = "maximum over all spatial positions; output C x 1 x 1"


def adaptive_windows(n_in: int, n_out: int) -> list[tuple[int, int]]:
    """[start, end) of each output's window: floor(i*N/n), ceil((i+1)*N/n) (as PyTorch/ONNX).

    A list of ``n_out`` pairs: for inspection of small sizes only; the counts use the closed
    forms below.
    """
    return [((i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)) for i in range(n_out)]


def adaptive_total(n_in: int, n_out: int) -> int:
    """Sum of the window lengths along one axis: N + n - gcd(N, n).

    sum_i ceil((i+1)N/n) - floor(iN/n) = N + #{j in 1..n : n does not divide jN}, and n divides
    jN exactly for the gcd(N, n) multiples j of n/gcd(N, n).
    """
    return n_in + n_out - gcd(n_in, n_out)


def adaptive_longest(n_in: int, n_out: int) -> int:
    """The longest window along one axis, in closed form.

    With g = gcd(N, n), N' = N/g, n' = n/g: window i has length ceil((r + N')/n') where
    r = i*N' mod n' takes every value 0..n'-1, so the longest is ceil((N' + n' - 1)/n').
    """
    g = gcd(n_in, n_out)
    big, small = n_in // g, n_out // g
    return (big + 2 * small - 2) // small


class AdaptiveAvgPool(Op):
    kind = "adaptive_avgpool"
    family = "pool"
    aliases: ClassVar[tuple[str, ...]] = ("adaptive_avg_pool", "adaptive_average_pooling")
    schema = {"size": Attr(pos_ints, required=True, doc="output size, an int or one per axis")}
    doc = "average pooling to a fixed output size (windows of varying length when not divisible)"

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        sizes = spatial_of(shape, self.kind)
        out = per_axis(attrs["size"], len(sizes), "size")
        axes: list[tuple[int, int | Fraction, int | Fraction]] = []
        edges = shape[0]
        notes: list[str] = []
        for n_in, n_out in zip(sizes, out, strict=True):
            edges *= adaptive_total(n_in, n_out)
            if n_in % n_out == 0:
                k = n_in // n_out
                axes.append((k, k, k - 1))
            else:
                longest = adaptive_longest(n_in, n_out)
                step = Fraction(n_in, n_out)
                # continuous coordinates, as resize: output o covers [o*N/n, (o+1)*N/n) and is
                # centred at (o + 1/2)*N/n - 1/2 (doubled: offset2 = N/n - 1)
                axes.append((longest, step, step - 1))
                notes.append(
                    f"adaptive pooling {n_in}->{n_out} has windows of unequal length: receptive "
                    f"field uses the longest ({longest}) and the mean step {step}"
                )
        if all(n == 1 for n in out):
            # to a single position it is global pooling (torchvision's AdaptiveAvgPool2d(1)): every
            # input position reaches the output, and a gate built on it (squeeze-and-excitation)
            # merges with any branch
            return Applied(outs=((shape[0], *out),), cost=_pool_cost(edges), rf=GLOBAL)
        return Applied(
            outs=((shape[0], *out),), cost=_pool_cost(edges), rf=Window(tuple(axes)), notes=tuple(notes)
        )
