"""LeCun's trainable subsampling (LeNet-1989/LeNet-5 S-layers).

Each output is (sum of its window) x one trainable coefficient per map + one trainable bias per
map, i.e. a depthwise convolution whose kernel taps are tied. weights = C, biases = C;
connections = MACs = units x window (the tied depthwise convolution); a bias per unit (one more
connection each under LeCun's convention).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archcalc.ir import Layer
from archcalc.ops._derive import Step, num, times
from archcalc.ops._emit import Builder, Shape, pads_flat, record_group
from archcalc.ops._window import ROUNDING, geometry, spatial_of, window_output_step
from archcalc.ops.base import Applied, Attr, Cost, Op, choice, padding, pos_ints
from archcalc.ops.conv import bias_counts
from archcalc.ops.facts import KernelClass


class Subsample(Op):
    kind = "subsample"
    family = "subsample"
    aliases = ("subsampling", "lecun_subsample")
    schema = {
        "kernel": Attr(pos_ints, default=2),
        "stride": Attr(pos_ints, doc="defaults to the kernel"),
        "padding": Attr(padding, default=0),
        "rounding": Attr(choice(*ROUNDING), default="floor"),
        "bias": Attr(choice("none", "per_map"), default="per_map"),
    }
    doc = "window sum x one trainable coefficient + one trainable bias per map"
    doc_notes = "LeCun's trainable subsampling; stride defaults to the kernel"
    kernel_class = KernelClass.SUBSAMPLE
    import_note = ("no ONNX op: export writes a depthwise Conv with tied taps and a metadata record, which "
                   "import restores")

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        c = ins[0][0]
        geo = geometry(attrs, spatial_of(ins[0], self.kind))
        units = c * geo.positions
        edges = units * geo.taps
        biases, bias_units = bias_counts(attrs["bias"], c, geo.positions)
        cost = Cost.weighted(c, edges, biases, bias_units)
        return Applied(outs=((c, *geo.out),), cost=cost, rf=geo.rf(), notes=geo.notes)

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        """The formulas of ``apply`` written out."""
        c = ins[0][0]
        spatial = spatial_of(ins[0], self.kind)
        geo = geometry(attrs, spatial)
        units, taps = c * geo.positions, geo.taps
        biases, bias_units = bias_counts(attrs["bias"], c, geo.positions)
        steps = {
            "output": window_output_step(attrs, c, spatial, geo),
            "weights": Step(c, "one trainable coefficient per map", "weights = C", num(c)),
            "biases": Step(biases, "one trainable bias per map" if biases else "no biases (bias: none)",
                           "biases = C" if biases else "biases = 0", num(biases)),
            "bias_units": Step(bias_units, "output units that have a bias", "C x positions",
                               f"{times(c, geo.positions)} = {num(bias_units)}"),
            "connections": Step(units * taps, f"each of the {num(units)} units sums a window of {taps} inputs",
                                "connections = C x positions x K_taps", f"{times(c, geo.positions, taps)} = "
                                f"{num(units * taps)}"),
            "macs": Step(units * taps, "one multiply-accumulate per window input (the tied coefficient)",
                         "MACs = C x positions x K_taps", f"{times(c, geo.positions, taps)} = {num(units * taps)}"),
        }
        if bias_units:
            steps["cheap:bias"] = Step(bias_units, "one add per biased unit", "bias FLOPs = C x positions",
                                       f"{times(c, geo.positions)} = {num(bias_units)}")
        return steps

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        """Window sum x one coefficient + one bias per map = a depthwise conv with tied kernel taps."""
        import numpy as np

        a = layer.attrs
        c, spatial = in_shapes[0][0], in_shapes[0][1:]
        geo = geometry(a, spatial)
        start = len(b.nodes)
        coef = b.rng.standard_normal(c, dtype=np.float32) * np.float32(1.0 / geo.taps)
        tied = np.broadcast_to(coef.reshape((c, 1) + (1,) * len(spatial)), (c, 1, *geo.kernel)).copy()
        inputs = [ins[0], b.weight(f"{layer.name}.coefficient", tied.shape, geo.taps, fill=tied)]
        if a["bias"] != "none":
            inputs.append(b.weight(f"{layer.name}.bias", (c,), geo.taps, scale=0.1))
        out = b.node("Conv", inputs, [b.unique(layer.name)], layer.name, kernel_shape=list(geo.kernel),
                     strides=list(geo.stride), pads=pads_flat(geo.pads), group=c)
        record_group(b, layer, ins, out, start)
        b.notes.append(f"{layer.name}: trainable subsampling exported as a depthwise convolution with tied taps")
        return out
