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

from archcalc.errors import OnnxImportError
from archcalc.ir import Layer
from archcalc.ops._derive import Step, num
from archcalc.ops._emit import Builder, Shape, one, record_group
from archcalc.ops._onnx import LayerSpec, Node
from archcalc.ops.base import Applied, Attr, Cost, Op, boolean, number, pos_int
from archcalc.ops.facts import KernelClass


def batchnorm_from_onnx(node: Node) -> LayerSpec:
    """BatchNormalization: scale and bias are affine parameters, mean and var buffers."""
    x = node.act(0)
    for i, what in ((1, "scale"), (2, "bias"), (3, "mean"), (4, "var")):
        c = node.const(i, what)
        if c.size != x.sample[0]:
            raise OnnxImportError(f"BatchNormalization {what} has {c.size} values for {x.sample[0]} channels")
    return LayerSpec("batchnorm", {"affine": True, "eps": 1e-5, "momentum": 0.1}, [node.input_names[0]],
                     {"affine": node.input_names[1:3], "buffers": node.input_names[3:5]}, normal=True)


def lrn_from_onnx(node: Node) -> LayerSpec:
    node.act(0)
    return LayerSpec("lrn", {"size": int(node.attrs["size"]), "alpha": float(node.attrs.get("alpha", 1e-4)),
                             "beta": float(node.attrs.get("beta", 0.75)), "k": float(node.attrs.get("bias", 1.0))},
                     [node.input_names[0]])


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
    doc_notes = "scale and shift are parameters; running mean/var are buffers"
    inplace = True
    kernel_class = KernelClass.NORM
    translators = {"BatchNormalization": batchnorm_from_onnx}

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        c = shape[0]
        cost = Cost(
            affine=2 * c if attrs["affine"] else 0,
            buffers=2 * c,
            cheap=(("norm", 2 * prod(shape)),),
        )
        return Applied(outs=(shape,), cost=cost)

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        """The formulas of ``apply`` written out."""
        shape = ins[0]
        c, n = shape[0], prod(shape)
        affine = 2 * c if attrs["affine"] else 0
        return {
            "affine": Step(affine, "a scale and a shift per channel" if affine else "no scale/shift (affine: false)",
                           "affine = 2 x C" if affine else "affine = 0", f"2 x {c} = {num(affine)}" if affine else "0"),
            "buffers": Step(2 * c, "running mean and variance per channel", "buffers = 2 x C", f"2 x {c} = {2 * c}"),
            "cheap:norm": Step(2 * n, "a scale and a shift per element", "norm FLOPs = 2 x elements",
                               f"2 x {num(n)} = {num(2 * n)}"),
        }

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        import numpy as np

        c = in_shapes[0][0]
        name = layer.name
        start = len(b.nodes)
        affine = layer.attrs["affine"]
        scale = b.weight(f"{name}.scale", (c,), 1, fill=None if affine else np.ones(c, np.float32), scale=0.1)
        shift = b.weight(f"{name}.shift", (c,), 1, fill=None if affine else np.zeros(c, np.float32), scale=0.1)
        mean = b.weight(f"{name}.running_mean", (c,), 1, scale=0.1)
        var = b.positive(f"{name}.running_var", (c,))
        out = b.node("BatchNormalization", [ins[0], scale, shift, mean, var], [b.unique(name)], name,
                     epsilon=float(layer.attrs["eps"]))
        if not affine:
            record_group(b, layer, ins, out, start)
        return out


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
    doc_notes = "no parameters"
    kernel_class = KernelClass.LRN
    translators = {"LRN": lrn_from_onnx}

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        return Applied(outs=(shape,), cost=Cost(cheap=(("norm", (2 * attrs["size"] + 4) * prod(shape)),)))

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        """The formulas of ``apply`` written out."""
        n, size = prod(ins[0]), attrs["size"]
        flops = (2 * size + 4) * n
        return {"cheap:norm": Step(flops, f"a sum of squares over {size} channels and the scaling, per element",
                                   "norm FLOPs = (2 x size + 4) x elements",
                                   f"(2 x {size} + 4) x {num(n)} = {num(flops)}")}

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        a = layer.attrs
        return one(b, "LRN", layer, ins[:1], size=int(a["size"]), alpha=float(a["alpha"]), beta=float(a["beta"]),
                   bias=float(a["k"]))
