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

from archcalc.errors import ExportError, OnnxImportError
from archcalc.ir import Layer
from archcalc.ops._derive import Step, num, times
from archcalc.ops._emit import Builder, Shape, one, pads_flat, record_group
from archcalc.ops._formulas import per_axis
from archcalc.ops._onnx import LayerSpec, Node, axes_attr, onnx_pads
from archcalc.ops._window import ROUNDING, geometry, spatial_of, window_output_step
from archcalc.ops.base import GLOBAL, MODULE_DOC, Applied, Attr, Cost, Op, Window, boolean, choice, padding, pos_ints
from archcalc.ops.facts import KernelClass


def _pool_cost(window_edges: int) -> Cost:
    return Cost(connections=window_edges, cheap=(("pool", window_edges),))


def pool_from_onnx(node: Node) -> LayerSpec:
    """MaxPool, AveragePool, LpPool (counted as average pooling)."""
    x = node.act(0)
    n = len(x.sample) - 1
    if len(node.outputs) > 1 and node.outputs[1]:
        raise OnnxImportError("MaxPool's Indices output is not supported")
    if "kernel_shape" not in node.attrs:
        raise OnnxImportError(f"{node.op_type} node lacks the attribute 'kernel_shape'")
    kernel = axes_attr(node, "kernel_shape", n, 0)
    attrs: dict[str, Any] = {
        "kernel": kernel, "stride": axes_attr(node, "strides", n, 1),
        "padding": onnx_pads(node, n), "rounding": "ceil" if node.attrs.get("ceil_mode", 0) else "floor",
    }
    if node.op_type == "MaxPool":
        attrs["dilation"] = axes_attr(node, "dilations", n, 1)
        return LayerSpec("maxpool", attrs, [node.input_names[0]])
    if node.op_type == "LpPool":
        return LayerSpec("avgpool", attrs, [node.input_names[0]], notes=["LpPool counted as average pooling"])
    if node.attrs.get("dilations"):
        attrs["dilation"] = axes_attr(node, "dilations", n, 1)
    attrs["count_include_pad"] = bool(node.attrs.get("count_include_pad", 0))
    return LayerSpec("avgpool", attrs, [node.input_names[0]])


def global_pool_from_onnx(node: Node) -> LayerSpec:
    node.act(0)
    kind = "global_maxpool" if node.op_type == "GlobalMaxPool" else "global_avgpool"
    return LayerSpec(kind, {}, [node.input_names[0]])


class MaxPool(Op):
    kind = "maxpool"
    family = "pool"
    aliases: ClassVar[tuple[str, ...]] = ("max_pool", "max_pooling", "maxpool2d")
    schema = {
        "kernel": Attr(pos_ints, required=True),
        "stride": Attr(pos_ints, doc="defaults to the kernel"),
        "padding": Attr(padding, default=0),
        "dilation": Attr(pos_ints, default=1),
        "rounding": Attr(choice(*ROUNDING), default="floor"),
        "module": Attr(boolean, default=True, doc=MODULE_DOC),
    }
    doc = "max pooling over a window"
    doc_notes = "stride defaults to the kernel"
    kernel_class = KernelClass.POOL
    translators = {"MaxPool": pool_from_onnx}

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        c = ins[0][0]
        geo = geometry(attrs, spatial_of(ins[0], self.kind))
        units = c * geo.positions
        return Applied(outs=((c, *geo.out),), cost=_pool_cost(units * geo.taps), rf=geo.rf(), notes=geo.notes)

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        """The formulas of ``apply`` written out."""
        c = ins[0][0]
        spatial = spatial_of(ins[0], self.kind)
        geo = geometry(attrs, spatial)
        units, taps = c * geo.positions, geo.taps
        edges = f"{times(c, geo.positions, taps)} = {num(units * taps)}"
        return {
            "output": window_output_step(attrs, c, spatial, geo),
            "connections": Step(units * taps, f"each of the {num(units)} units reads a window of {taps} inputs",
                                "connections = C x positions x K_taps", edges),
            "cheap:pool": Step(units * taps, "one operation per window element", "pool FLOPs = C x positions x K_taps",
                               edges),
        }

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        a = layer.attrs
        geo = geometry(a, in_shapes[0][1:])
        ceil = any(
            o > (n + p[0] + p[1] - k) // s + 1
            for o, n, p, k, s in zip(outs[0][1:], in_shapes[0][1:], geo.pads, geo.k_eff, geo.stride, strict=True)
        )
        attrs: dict[str, Any] = {"kernel_shape": list(geo.kernel), "strides": list(geo.stride),
                                 "pads": pads_flat(geo.pads), "ceil_mode": int(ceil)}
        dil = per_axis(a.get("dilation") or 1, len(geo.kernel), "dilation")
        if any(v != 1 for v in dil):
            if layer.kind != "maxpool" and b.opset < 19:
                raise ExportError(f"dilated average pooling needs opset 19 or newer (AveragePool has dilations "
                                  f"from opset 19), got opset {b.opset}")
            attrs["dilations"] = list(dil)
        if layer.kind == "maxpool":
            return one(b, "MaxPool", layer, ins[:1], **attrs)
        attrs["count_include_pad"] = int(bool(a.get("count_include_pad")))
        return one(b, "AveragePool", layer, ins[:1], **attrs)


class AvgPool(MaxPool):
    kind = "avgpool"
    family = "pool"
    aliases: ClassVar[tuple[str, ...]] = ("avg_pool", "average_pooling", "avgpool2d", "average_pool")
    schema = {
        **MaxPool.schema,
        "count_include_pad": Attr(boolean, default=False, doc="padding counted in the divisor"),
    }
    doc = "average pooling over a window"
    doc_notes = "stride defaults to the kernel; `count_include_pad` counts padding in the divisor"
    translators = {"AveragePool": pool_from_onnx, "LpPool": pool_from_onnx}


class GlobalAvgPool(Op):
    kind = "global_avgpool"
    family = "pool"
    aliases: ClassVar[tuple[str, ...]] = ("global_average_pooling", "gap", "global_avg_pool")
    schema = {"module": Attr(boolean, default=True, doc=MODULE_DOC)}
    doc = "average over all spatial positions; output C x 1 x 1"
    kernel_class = KernelClass.POOL
    translators = {"GlobalAveragePool": global_pool_from_onnx}

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        spatial = spatial_of(shape, self.kind)
        n_in = prod(shape)
        return Applied(outs=((shape[0],) + (1,) * len(spatial),), cost=_pool_cost(n_in), rf=GLOBAL)

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        """The formulas of ``apply`` written out."""
        shape = ins[0]
        n_in = prod(shape)
        flat = f"{' x '.join(str(v) for v in shape)} = {num(n_in)}"
        out = "x".join(str(v) for v in (shape[0],) + (1,) * (len(shape) - 1))
        return {
            "output": Step(out, "one value per map", "output = C x 1 x ...", out),
            "connections": Step(n_in, "each map's unit reads all its positions", "connections = C x positions", flat),
            "cheap:pool": Step(n_in, "one operation per input element", "pool FLOPs = C x positions", flat),
        }

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        return one(b, "GlobalMaxPool" if layer.kind == "global_maxpool" else "GlobalAveragePool", layer, ins[:1])


class GlobalMaxPool(GlobalAvgPool):
    kind = "global_maxpool"
    aliases: ClassVar[tuple[str, ...]] = ("global_max_pooling", "global_max_pool")
    doc = "maximum over all spatial positions; output C x 1 x 1"
    translators = {"GlobalMaxPool": global_pool_from_onnx}


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
    schema = {"size": Attr(pos_ints, required=True, doc="output size, an int or one per axis"),
              "module": Attr(boolean, default=True, doc=MODULE_DOC)}
    doc = "average pooling to a fixed output size (windows of varying length when not divisible)"
    doc_notes = "windows floor(iN/n)..ceil((i+1)N/n)"
    kernel_class = KernelClass.POOL
    import_note = ("ONNX has no adaptive pooling: export writes an AveragePool with a metadata record, which "
                   "import restores")
    export_refusal = "windows of unequal length: no single ONNX pooling op computes them"

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

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        """The formulas of ``apply`` written out: windows of floor(iN/n) to ceil((i+1)N/n)."""
        shape = ins[0]
        sizes = spatial_of(shape, self.kind)
        out = per_axis(attrs["size"], len(sizes), "size")
        totals = [adaptive_total(n_in, n_out) for n_in, n_out in zip(sizes, out, strict=True)]
        edges = shape[0] * prod(totals)
        per_axis_text = "; ".join(f"{n_in} + {n_out} - gcd({n_in}, {n_out}) = {t}"
                                  for n_in, n_out, t in zip(sizes, out, totals, strict=True))
        numbers = f"{per_axis_text}; {shape[0]} x {' x '.join(map(str, totals))} = {num(edges)}"
        words = ("each map's outputs read windows floor(iN/n) to ceil((i+1)N/n); per axis their lengths sum "
                 "to N + n - gcd(N, n)")
        shape_out = "x".join(str(v) for v in (shape[0], *out))
        return {
            "output": Step(shape_out, "the maps at the size asked for", "output = C x size", shape_out),
            "connections": Step(edges, words, "connections = C x prod(N + n - gcd(N, n))", numbers),
            "cheap:pool": Step(edges, "one operation per window element", "pool FLOPs = connections", numbers),
        }

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        spatial, target = in_shapes[0][1:], outs[0][1:]
        if any(n % t for n, t in zip(spatial, target, strict=True)):
            raise ExportError(f"adaptive average pooling {list(spatial)} -> {list(target)} has windows of unequal "
                              f"length: no single ONNX pooling op computes it")
        start = len(b.nodes)
        k = [n // t for n, t in zip(spatial, target, strict=True)]
        out = one(b, "AveragePool", layer, ins[:1], kernel_shape=k, strides=k)
        record_group(b, layer, ins, out, start)
        return out
