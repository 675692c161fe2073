"""Broadcast spans: what a binary op of two shapes costs beyond its bytes.

ONNX Runtime's CPU broadcaster walks the output in spans, the innermost run of axes over which
both inputs are read alike (both full, or one of them one value); every span is a call of its
inner loop. A same-shape Add or a Mul by one value is one span; a squeeze-and-excitation Mul of
``N x C x H x W`` by ``N x C x 1 x 1`` is ``N x C`` spans of ``H x W`` elements; a bias over the
last axis of ``N x H x W x C`` is ``N x H x W`` spans of ``C``. Measured here (AVX-512, chains
of 40 Muls, wall time per op), a span costs about 5-6 ns whatever its length:

    C x H x W        per-channel Mul   same-shape Mul
    1152 x 2 x 2         7.7 us            0.8 us
    1152 x 7 x 7        12.3 us            6.6 us
    4096 x 2 x 2        26.8 us            2.3 us
     256 x 14 x 14       5.9 us            6.0 us

so the gates of an SE network at a small input, thousands of channels over maps of a few pixels,
cost several times their bytes, and the estimate priced them by their bytes alone (an
EfficientNet-B0 at 64 px: its 16 gate Muls profiled at 139 us against 61 us estimated).

Calibration times one Mul of ``SPAN_TENSOR`` by one value per channel (``span_nodes``, in
``ops_model``) and keeps its time less its fixed cost and its traffic, per span
(``unit_ns["span"]``); the estimator adds ``spans x unit`` to every binary kernel that
broadcasts (``spans_us``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from archcalc.ops.merge import broadcast

#: the cost key of a broadcast span (``DeviceProfile.unit_ns``)
SPAN_KEY = "span"
#: the tensor calibration broadcasts a per-channel value over (N, C, H, W): 4,096 spans of 4
SPAN_TENSOR = (1, 4096, 2, 2)
#: the bytes that Mul moves: its input and output, and the per-channel values
SPAN_TRAFFIC_BYTES = 4.0 * (2 * math.prod(SPAN_TENSOR) + SPAN_TENSOR[1])


def broadcast_spans(shapes: Sequence[Sequence[int]]) -> int:
    """The spans ORT's broadcaster walks for an elementwise op of these input shapes (numpy
    broadcasting, right-aligned): the output's elements over the length of its innermost run of
    axes read alike by every input (an axis of size 1 in the output is no axis). 1 when every
    input is full or a single value."""
    out = broadcast(tuple(tuple(int(d) for d in s) for s in shapes))  # the op's own shape rule
    rank = len(out)
    padded = [(1,) * (rank - len(s)) + tuple(int(d) for d in s) for s in shapes]
    elements = math.prod(out)
    span = 1
    pattern: tuple[bool, ...] | None = None
    for i in reversed(range(rank)):
        if out[i] == 1:
            continue
        read = tuple(s[i] == out[i] for s in padded)  # which inputs run along this axis
        if pattern is None:
            pattern = read
        elif read != pattern:
            break
        span *= out[i]
    return max(elements // max(span, 1), 1)


def layer_spans(attrs: Mapping[str, Any], samples: Sequence[Sequence[int]], batch: int) -> int:
    """The spans of a layer's broadcasting kernel: its inputs' per-sample shapes with the batch,
    and its constant operand (``const_shape``, per sample: right-aligned, it spans the batch)."""
    shapes: list[Sequence[int]] = [(batch, *s) for s in samples]
    const = attrs.get("const_shape")
    if const is not None:
        shapes.append(tuple(const))
    return broadcast_spans(shapes)


def spans_us(spans: int, unit_ns: Mapping[str, float]) -> float:
    """What the spans of a broadcasting kernel cost (microseconds); nothing for a single span,
    the plain loop whose cost the kernel's fixed cost and its traffic already are."""
    return spans * unit_ns.get(SPAN_KEY, 0.0) / 1e3 if spans > 1 else 0.0


def span_nodes() -> tuple[list[Any], list[tuple[str, list[int]]], list[str], dict[str, tuple[str, float]]]:
    """For ``ops_model``: one Mul of ``SPAN_TENSOR`` by a value per channel (nodes, inputs,
    outputs and its unit: kernel name -> (cost key, spans))."""
    from onnx import helper

    n, c = SPAN_TENSOR[0], SPAN_TENSOR[1]
    node = helper.make_node("Mul", ["span_x", "span_s"], ["span"], name="span")
    return ([node], [("span_x", list(SPAN_TENSOR)), ("span_s", [n, c, 1, 1])], ["span"],
            {"span": (SPAN_KEY, float(n * c))})
