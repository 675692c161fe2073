"""Layer scale (CaiT, ConvNeXt): a learned per-channel multiplier, ``y = gamma[c] * x``.

Parameters: one weight per channel. Cost: one "elementwise" FLOP per element (the multiply), as
an elementwise Mul by a constant counts it. Kernel class ELEMENTWISE (a broadcasting Mul; ORT
does not fuse it into the conv before it). Receptive field: passes through.

ONNX has no op of its own: export writes ``Mul(x, gamma)`` with gamma of shape (C, 1, ...) and a
metadata record; a Mul by a per-channel constant in any other model imports as an elementwise
mul whose constant is counted as weights (the same count).
"""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import Any

from archcalc.ir import Layer
from archcalc.ops._derive import Step, num
from archcalc.ops._emit import Builder, Shape, record_group
from archcalc.ops.base import Applied, Attr, Cost, Op, number
from archcalc.ops.facts import KernelClass


class LayerScale(Op):
    kind = "layer_scale"
    family = "elementwise"
    aliases = ("layerscale",)
    schema = {"init": Attr(number, default=1e-6, doc="initial value of every scale (timm's init_values)")}
    doc = "learned per-channel scale (CaiT/ConvNeXt layer scale)"
    doc_notes = "parameters: one per channel; 1 FLOP per element"
    inplace = True
    kernel_class = KernelClass.SCALE
    import_note = "no ONNX op: a Mul by a per-channel constant imports as an elementwise mul (the same counts)"

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        return Applied(outs=(shape,), cost=Cost(weights=shape[0], cheap=(("elementwise", prod(shape)),)))

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        """The formulas of ``apply`` written out."""
        shape = ins[0]
        n = prod(shape)
        return {"weights": Step(shape[0], "one learned scale per channel", "weights = C", str(shape[0])),
                "cheap:elementwise": Step(n, "one multiply per element", "elementwise FLOPs = elements",
                                          f"{' x '.join(map(str, shape))} = {num(n)}")}

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        import numpy as np

        shape = in_shapes[0]
        side = (shape[0],) + (1,) * (len(shape) - 1)
        start = len(b.nodes)
        gamma = b.weight(f"{layer.name}.gamma", side, 1, fill=np.full(side, float(layer.attrs["init"]), np.float32))
        out = b.node("Mul", [ins[0], gamma], [b.unique(layer.name)], layer.name)
        record_group(b, layer, ins, out, start)
        return out
