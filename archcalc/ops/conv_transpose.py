"""Transposed convolution ("deconvolution").

Output length per axis: (N-1)*s - (p_before + p_after) + d*(k-1) + 1 + output_padding
(``padding: same`` gives N*s, the padding split as ONNX SAME_UPPER does).

Counting: every input position multiplies every kernel tap into the output, so
MACs = N_in_positions * M * T (as executed; products landing in cropped padding included).
``connections`` are the edges that reach an output unit: per axis, the (input, tap) pairs whose
target o = i*s - p_before + t*d lies inside the output, times M (counted in closed form, without
enumerating positions or taps).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from math import gcd, prod
from typing import Any

from archcalc.connectivity import Connectivity
from archcalc.errors import ExportError, OnnxImportError, ShapeError, SpecError
from archcalc.ir import Layer
from archcalc.ops._derive import Step, num, times
from archcalc.ops._emit import Builder, Shape, pads_flat
from archcalc.ops._formulas import Pads, axis_name, per_axis
from archcalc.ops._onnx import LayerSpec, Node, axes_attr, bias_param, onnx_pads
from archcalc.ops._window import spatial_of
from archcalc.ops.base import Applied, Attr, Cost, Op, Window, choice, nonneg_ints, padding, pos_int, pos_ints
from archcalc.ops.conv import BIAS, bias_counts
from archcalc.ops.facts import KernelClass


def _pads(value: Any, n: int, sizes: tuple[int, ...], k_eff: tuple[int, ...],
          stride: tuple[int, ...], out_pad: tuple[int, ...]) -> Pads:
    if value in (None, "valid"):
        return ((0, 0),) * n
    if value in ("same", "same_upper", "same_lower"):
        pads = []
        for i in range(n):
            total = stride[i] * (sizes[i] - 1) + out_pad[i] + k_eff[i] - sizes[i] * stride[i]
            if total < 0:
                raise ShapeError(
                    f"padding: same cannot give {sizes[i] * stride[i]} along {axis_name(i, n)}: "
                    f"kernel {k_eff[i]} with stride {stride[i]} is too small"
                )
            small, big = total // 2, total - total // 2
            pads.append((big, small) if value == "same_lower" else (small, big))
        return tuple(pads)
    if value == "full":
        raise SpecError("padding: full is not defined for a transposed convolution")
    if isinstance(value, int):
        return ((value, value),) * n
    assert isinstance(value, tuple)
    items = value * n if len(value) == 1 and n > 1 else value
    if len(items) != n:
        raise ShapeError(f"padding has {len(items)} entries but the input has {n} spatial axes")
    return tuple((p, p) if isinstance(p, int) else (p[0], p[1]) for p in items)


def _floor_sum(n: int, m: int, a: int, b: int) -> int:
    """sum_{j=0}^{n-1} floor((a*j + b)/m) for n >= 0, m >= 1, a >= 0, b >= 0, in O(log) steps."""
    total = 0
    while True:
        if a >= m:
            total += n * (n - 1) // 2 * (a // m)
            a %= m
        if b >= m:
            total += n * (b // m)
            b %= m
        top = a * n + b
        if top < m:
            return total
        n, b = divmod(top, m)
        m, a = a, m


def _pairs_at_most(n_in: int, k: int, s: int, d: int, limit: int) -> int:
    """#{(i, t) : 0 <= i < n_in, 0 <= t < k, i*s + t*d <= limit}, without enumerating them."""
    if limit < 0:
        return 0
    last_t = min(k - 1, limit // d)
    # taps t <= (limit - (n_in-1)*s)/d reach every input position
    room = limit - (n_in - 1) * s
    full = min(last_t, room // d) + 1 if room >= 0 else 0
    rest = last_t - full + 1
    if rest <= 0:
        return full * n_in
    # t = last_t - u for u = 0..rest-1: (limit - t*d)//s + 1 = (u*d + limit - last_t*d)//s + 1
    return full * n_in + rest + _floor_sum(rest, s, d, limit - last_t * d)


def _edges_along(n_in: int, n_out: int, k: int, s: int, d: int, pad_before: int) -> int:
    """Number of (input, tap) pairs along one axis that land inside the output, in closed form.

    o = i*s - p_before + t*d. Those with o < 0 have i*s + t*d <= p_before - 1; those with
    o >= n_out, counted from the other end (i' = N-1-i, t' = k-1-t), have
    i'*s + t'*d <= (N-1)*s + (k-1)*d - n_out - p_before. No pair is both (n_out >= 1).
    """
    below = _pairs_at_most(n_in, k, s, d, pad_before - 1)
    above = _pairs_at_most(n_in, k, s, d, (n_in - 1) * s + (k - 1) * d - n_out - pad_before)
    return n_in * k - below - above


def _rf_axis(k: int, s: int, d: int, pad_before: int) -> tuple[int, Fraction, Fraction]:
    """(inputs one output reads at most, stride in input units, offset2) of one axis."""
    g = gcd(d, s)
    reads = -(-k * g // s)  # taps that reach one output: every (s/g)-th tap
    k_eff = (reads - 1) * (d // g) + 1
    return k_eff, Fraction(1, s), Fraction(2 * pad_before - (k - 1) * d, s)


def _target_size(node: Node, x_sample: tuple[int, ...], strides: list[int], n: int) -> list[int]:
    """The output size ConvTranspose is asked for: output_shape, or N*s for SAME_*."""
    if "output_shape" not in node.attrs:
        return [x_sample[i + 1] * strides[i] for i in range(n)]
    target = [int(v) for v in node.attrs["output_shape"]][-n:]
    if len(node.attrs["output_shape"]) not in (n, n + 2):
        raise OnnxImportError(f"ConvTranspose output_shape {list(node.attrs['output_shape'])} does not fit "
                              f"{n} spatial axes")
    return target


def conv_transpose_from_onnx(node: Node) -> LayerSpec:
    """ONNX ConvTranspose; output_shape and SAME_* become explicit pads (and output padding)."""
    x = node.act(0)
    w = node.const(1, "weight")
    n = len(x.sample) - 1
    groups = int(node.attrs.get("group", 1))
    if w.shape[0] != x.sample[0]:
        raise OnnxImportError(f"ConvTranspose weight {list(w.shape)} does not match {x.sample[0]} input channels")
    kernel = [int(k) for k in w.shape[2:]]
    strides = axes_attr(node, "strides", n, 1)
    dilations = axes_attr(node, "dilations", n, 1)
    out_pad = axes_attr(node, "output_padding", n, 0)
    if "kernel_shape" in node.attrs and axes_attr(node, "kernel_shape", n, 1) != kernel:
        raise OnnxImportError(f"ConvTranspose kernel_shape {list(node.attrs['kernel_shape'])} differs from the "
                              f"weight's {kernel}")
    padding = onnx_pads(node, n)
    if "output_shape" in node.attrs or padding in ("same", "same_lower"):
        # the output size is given (output_shape, or N*s for SAME_*): the pads follow from it
        target = _target_size(node, x.sample, strides, n)
        pads = []
        for i in range(n):
            total = strides[i] * (x.sample[i + 1] - 1) + out_pad[i] + ((kernel[i] - 1) * dilations[i] + 1) - target[i]
            if total < 0:
                if "output_shape" in node.attrs:  # a larger output_shape is honoured: output padding
                    out_pad[i] -= total
                total = 0  # SAME_* with a kernel shorter than the stride: no padding (as ONNX and ORT)
            # ONNX spec (and reference implementation): SAME_UPPER puts total/2 at the start, NOTSET
            # and SAME_LOWER put total - total/2 there (ONNX Runtime splits it the other way round)
            upper = padding == "same"
            pads.append([total // 2, total - total // 2] if upper else [total - total // 2, total // 2])
        padding = pads
    attrs: dict[str, Any] = {
        "filters": int(w.shape[1]) * groups, "kernel": kernel, "stride": strides, "padding": padding,
        "output_padding": out_pad, "dilation": dilations, "groups": groups,
        "bias": "per_map" if node.get(2) is not None else "none",
    }
    return LayerSpec("conv_transpose", attrs, [node.input_names[0]],
                     {"weights": [node.input_names[1]], "biases": bias_param(node, 2)})


@dataclass(frozen=True, slots=True)
class _Plan:
    """What ``apply`` and ``derive`` both compute from the attributes and the input shape."""

    c_in: int
    c_out: int
    sizes: tuple[int, ...]
    out: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pads: Pads
    out_pad: tuple[int, ...]
    pairs: int
    #: per axis, the (input, tap) pairs whose target lies inside the output
    reach: tuple[int, ...]


class ConvTranspose(Op):
    kind = "conv_transpose"
    family = "conv"
    aliases = ("deconv", "transposed_conv", "conv_transpose2d", "deconvolution")
    schema = {
        "filters": Attr(pos_int, required=True, doc="number of output maps"),
        "kernel": Attr(pos_ints, required=True),
        "stride": Attr(pos_ints, default=1),
        "padding": Attr(padding, default=0),
        "output_padding": Attr(nonneg_ints, default=0),
        "dilation": Attr(pos_ints, default=1),
        "groups": Attr(pos_int, default=1),
        "bias": Attr(choice(*BIAS), default="per_map"),
    }
    doc = "transposed convolution"
    doc_notes = "`padding: same` gives N*s"
    kernel_class = KernelClass.CONV_OTHER
    translators = {"ConvTranspose": conv_transpose_from_onnx}
    export_refusal = "a transposed convolution with one bias per unit is not exported"

    def _plan(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> _Plan:
        shape = ins[0]
        sizes = spatial_of(shape, self.kind)
        n = len(sizes)
        c_in, c_out = shape[0], attrs["filters"]
        conn = Connectivity(groups=attrs["groups"])
        conn.check(c_in, c_out)
        k = per_axis(attrs["kernel"], n, "kernel")
        s = per_axis(attrs["stride"], n, "stride")
        d = per_axis(attrs["dilation"], n, "dilation")
        op = per_axis(attrs["output_padding"], n, "output_padding")
        k_eff = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d, strict=True))
        for i in range(n):
            if op[i] >= max(s[i], d[i]):
                raise ShapeError(
                    f"output_padding {op[i]} along {axis_name(i, n)} must be smaller than the stride "
                    f"or the dilation ({max(s[i], d[i])})"
                )
        pads = _pads(attrs["padding"], n, sizes, k_eff, s, op)
        out = []
        for i in range(n):
            length = (sizes[i] - 1) * s[i] - pads[i][0] - pads[i][1] + k_eff[i] + op[i]
            if length < 1:
                raise ShapeError(
                    f"output length along {axis_name(i, n)} is ({sizes[i]}-1)*{s[i]} - "
                    f"{pads[i][0] + pads[i][1]} + {k_eff[i]} + {op[i]} = {length}: padding too large"
                )
            out.append(length)
        reach = tuple(_edges_along(sizes[i], out[i], k[i], s[i], d[i], pads[i][0]) for i in range(n))
        return _Plan(c_in, c_out, sizes, tuple(out), k, s, d, pads, op, conn.pairs(c_in, c_out), reach)

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        p = self._plan(attrs, ins)
        taps = prod(p.kernel)
        biases, bias_units = bias_counts(attrs["bias"], p.c_out, prod(p.out))
        cost = Cost.weighted(p.pairs * taps, prod(p.reach) * p.pairs, biases, bias_units,
                             macs=prod(p.sizes) * p.pairs * taps)
        rf = Window(tuple(_rf_axis(p.kernel[i], p.stride[i], p.dilation[i], p.pads[i][0]) for i in range(len(p.out))))
        return Applied(outs=((p.c_out, *p.out),), cost=cost, rf=rf)

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        """The formulas of ``apply`` written out (the same plan)."""
        p = self._plan(attrs, ins)
        taps, n_in, positions = prod(p.kernel), prod(p.sizes), prod(p.out)
        biases, bias_units = bias_counts(attrs["bias"], p.c_out, positions)
        lengths = "; ".join(
            f"({p.sizes[i]} - 1) x {p.stride[i]} - {p.pads[i][0] + p.pads[i][1]} + "
            f"{p.dilation[i] * (p.kernel[i] - 1) + 1} + {p.out_pad[i]} = {p.out[i]}" for i in range(len(p.out)))
        out = "x".join(str(v) for v in (p.c_out, *p.out))
        macs = n_in * p.pairs * taps
        edges = prod(p.reach) * p.pairs
        steps = {
            "output": Step(out, f"{p.c_out} maps; each axis (N - 1) x S - P + K_eff + output_padding",
                           "out = (N - 1) x S - P + d(K - 1) + 1 + output_padding", lengths),
            "weights": Step(p.pairs * taps, f"{num(p.pairs)} (input map, output map) links, each a "
                            f"{'x'.join(map(str, p.kernel))} kernel", "weights = links x K_taps",
                            f"{times(p.pairs, taps)} = {num(p.pairs * taps)}"),
            "biases": Step(biases, {"none": "no biases", "per_map": "one bias per output map",
                                    "per_unit": "one bias per output unit"}[attrs["bias"]]
                           + f" (bias: {attrs['bias']})",
                           {"none": "biases = 0", "per_map": "biases = C_out",
                            "per_unit": "biases = C_out x positions"}[attrs["bias"]], num(biases)),
            "bias_units": Step(bias_units, "output units that have a bias", "C_out x positions", num(bias_units)),
            "connections": Step(edges, "the (input, tap) pairs whose target lies inside the output, per axis, "
                                "x links", "connections = prod(reach per axis) x links",
                                f"{' x '.join(map(str, p.reach))} x {num(p.pairs)} = {num(edges)}"),
            "macs": Step(macs, "every input position times every kernel tap, as executed (products that land "
                         "in cropped padding included)", "MACs = input positions x links x K_taps",
                         f"{times(n_in, p.pairs, taps)} = {num(macs)}"),
        }
        if bias_units:
            steps["cheap:bias"] = Step(bias_units, "one add per biased output unit", "bias FLOPs = C_out x positions",
                                       f"{times(p.c_out, positions)} = {num(bias_units)}")
        return steps

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        a = layer.attrs
        c_in, spatial = in_shapes[0][0], in_shapes[0][1:]
        n = len(spatial)
        k = per_axis(a["kernel"], n, "kernel")
        s = per_axis(a["stride"], n, "stride")
        d = per_axis(a["dilation"], n, "dilation")
        op = per_axis(a["output_padding"], n, "output_padding")
        k_eff = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d, strict=True))
        pads = _pads(a["padding"], n, spatial, k_eff, s, op)
        groups = a["groups"]
        fan_in = (c_in // groups) * prod(k)
        inputs = [ins[0], b.weight(f"{layer.name}.weight", (c_in, a["filters"] // groups, *k), fan_in)]
        if a["bias"] == "per_map":
            inputs.append(b.weight(f"{layer.name}.bias", (a["filters"],), fan_in, scale=0.1))
        elif a["bias"] == "per_unit":
            raise ExportError(self.export_refusal)
        attrs: dict[str, Any] = {"kernel_shape": list(k), "strides": list(s), "pads": pads_flat(pads),
                                 "dilations": list(d), "output_padding": list(op)}
        if groups > 1:
            attrs["group"] = groups
        return b.node("ConvTranspose", inputs, [b.unique(layer.name)], layer.name, **attrs)
