"""Convolution (dense, grouped, depthwise, explicit connection table) and locally connected layers.

Per sample, with P output positions, T kernel taps and M (output map, input map) pairs:
weights = M*T (conv) or P*M*T (locally connected, unshared); connections = MACs = P*M*T;
biases = C_out (per_map) or C_out*P (per_unit).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from archcalc.connectivity import BUILTIN_TABLES, Connectivity, Table
from archcalc.errors import ExportError, OnnxImportError, ShapeError, SpecError, suggest
from archcalc.ir import Layer
from archcalc.ops._derive import Step, num, times
from archcalc.ops._emit import Builder, Shape, record_group
from archcalc.ops._formulas import per_axis
from archcalc.ops._onnx import LayerSpec, Node, all_positive, axes_attr, bias_param, normal_pads, onnx_pads
from archcalc.ops._window import ROUNDING, geometry, spatial_of, window_output_step
from archcalc.ops.base import (
    Applied,
    Attr,
    Cost,
    Op,
    boolean,
    choice,
    padding,
    pos_int,
    pos_ints,
)
from archcalc.ops.facts import KernelClass

BIAS = ("none", "per_map", "per_unit")


def connection_table(value: Any, key: str) -> Table:
    """A list (one row per output map) of the input maps each output map reads, or a name."""
    if isinstance(value, str):
        if value in BUILTIN_TABLES:
            return BUILTIN_TABLES[value]
        raise SpecError(
            f"unknown connection table '{value}'{suggest(value, BUILTIN_TABLES)}; define it under "
            f"'tables:' or use one of: {', '.join(BUILTIN_TABLES)}"
        )
    if not isinstance(value, list) or not value:
        raise SpecError(f"{key} must be a list of rows (input maps per output map) or a table name")
    rows: list[tuple[int, ...]] = []
    for i, row in enumerate(value):
        if (
            not isinstance(row, list)
            or not row
            or not all(isinstance(m, int) and not isinstance(m, bool) and m >= 0 for m in row)
        ):
            raise SpecError(f"{key} row {i} must be a non-empty list of map indices, got {row!r}")
        if len(set(row)) != len(row):
            raise SpecError(f"{key} row {i} names a map twice: {row!r}")
        rows.append(tuple(row))
    return tuple(rows)


def connectivity_of(attrs: Mapping[str, Any], c_in: int) -> Connectivity:
    if attrs.get("connections") is not None:
        return Connectivity(table=attrs["connections"])
    if attrs.get("depthwise"):
        return Connectivity(groups=c_in)
    return Connectivity(groups=attrs.get("groups") or 1)


def out_channels(attrs: Mapping[str, Any], c_in: int) -> int:
    if attrs.get("filters") is not None:
        return int(attrs["filters"])
    if attrs.get("connections") is not None:
        return len(attrs["connections"])
    if attrs.get("depthwise"):
        return c_in
    raise ShapeError("filters is required")  # normalize() prevents this


def bias_counts(mode: str, c_out: int, positions: int) -> tuple[int, int]:
    """(bias parameters, units that have a bias)."""
    if mode == "none":
        return 0, 0
    units = c_out * positions
    return (c_out if mode == "per_map" else units), units


_COMMON: dict[str, Attr] = {
    "filters": Attr(pos_int, doc="number of output maps"),
    "kernel": Attr(pos_ints, required=True, doc="kernel size, an int or one per axis"),
    "stride": Attr(pos_ints, default=1),
    "padding": Attr(padding, default=0),
    "dilation": Attr(pos_ints, default=1),
    "rounding": Attr(choice(*ROUNDING), default="floor"),
}


def conv_from_onnx(node: Node) -> LayerSpec:
    """ONNX Conv: weight (and bias) constants; kernel, strides, pads, dilations, group."""
    x = node.act(0)
    w = node.const(1, "weight")
    n = len(x.sample) - 1
    if len(w.shape) != n + 2:
        raise OnnxImportError(f"Conv weight has shape {list(w.shape)}, expected {n + 2} dims for input "
                              f"{list(x.shape)}")
    groups = int(node.attrs.get("group", 1))
    if w.shape[1] * groups != x.sample[0]:
        raise OnnxImportError(
            f"Conv weight {list(w.shape)} with group={groups} does not match {x.sample[0]} input channels"
        )
    kernel = [int(k) for k in node.attrs.get("kernel_shape", w.shape[2:])]
    if kernel != list(w.shape[2:]):
        raise OnnxImportError(f"Conv kernel_shape {kernel} differs from the weight's {list(w.shape[2:])}")
    filters, stride, dilation = int(w.shape[0]), axes_attr(node, "strides", n, 1), axes_attr(node, "dilations", n, 1)
    pads, bias = onnx_pads(node, n), "per_map" if node.get(2) is not None else "none"
    params = {"weights": [node.input_names[1]], "biases": bias_param(node, 2)}
    padding = normal_pads(pads)
    if filters >= 1 and groups >= 1 and padding is not None and all_positive(kernel, stride, dilation):
        kernel_t, stride_t = tuple(kernel), tuple(stride)
        stride_t = kernel_t if stride_t == kernel_t else stride_t  # equal tuples kept once (a layer holds fewer)
        dilation_t = stride_t if dilation == stride else tuple(dilation)
        normal = {"filters": filters, "kernel": kernel_t, "stride": stride_t, "padding": padding,
                  "dilation": dilation_t, "rounding": "floor", "bias": bias, "groups": groups,
                  "depthwise": False, "connections": None}
        return LayerSpec("conv", normal, [node.input_names[0]], params, normal=True)
    # a value normalize refuses (a zero stride, a negative pad...): in spec form, for its message
    attrs: dict[str, Any] = {"filters": filters, "kernel": kernel, "stride": stride, "padding": pads,
                             "dilation": dilation, "rounding": "floor", "bias": bias}
    if groups > 1:
        attrs["groups"] = groups
    return LayerSpec("conv", attrs, [node.input_names[0]], params)


def _conv_pads(outs: list[Shape], spatial: Shape, pads: list[list[int]], k_eff: Shape, stride: Shape) -> None:
    """ONNX convolution floors: ceil rounding becomes extra padding at the end (in place)."""
    for i, (n_out, n_in) in enumerate(zip(outs[0][1:], spatial, strict=True)):
        floor_out = (n_in + pads[i][0] + pads[i][1] - k_eff[i]) // stride[i] + 1
        if n_out > floor_out:
            pads[i][1] += (n_out - floor_out) * stride[i]


def _table_weight(b: Builder, layer: Layer, table: Any, c_in: int, c_out: int, kernel: Shape, fan_in: int) -> str:
    """A connection table as a dense kernel with the missing connections masked to zero."""
    import numpy as np

    mask = np.zeros((c_out, c_in, *kernel), dtype=np.float32)
    for m, maps in enumerate(table):
        mask[m, list(maps)] = 1.0
    dense = b.rng.standard_normal(mask.shape, dtype=np.float32) * np.float32((2.0 / max(fan_in, 1)) ** 0.5)
    weight = b.weight(f"{layer.name}.weight", mask.shape, fan_in, fill=dense * mask)
    b.notes.append(f"{layer.name}: connection table exported as a dense kernel with "
                   f"{int(mask.size - mask.sum()):,} weights masked to zero")
    return weight


class Conv(Op):
    kind = "conv"
    family = "conv"
    aliases: ClassVar[tuple[str, ...]] = ("convolution", "conv1d", "conv2d", "conv3d")
    schema = {
        **_COMMON,
        "groups": Attr(pos_int, default=1),
        "depthwise": Attr(boolean, default=False, doc="one group per input map"),
        "connections": Attr(connection_table, doc="explicit connection table or its name"),
        "bias": Attr(choice(*BIAS), default="per_map"),
    }
    shorthands = {"depthwise_conv": {"depthwise": True}, "depthwise": {"depthwise": True}}
    doc = "convolution with shared weights"
    doc_notes = ("`connections:` an inline table (one row per output map: the input maps it reads) or a name "
                 "from `tables:` or built in (`lenet5_c3`); `depthwise_conv` = conv with `depthwise: true` "
                 "(groups = input channels; filters defaults to the input channels)")
    kernel_class = KernelClass.CONV

    translators = {"Conv": conv_from_onnx}

    def check(self, attrs: dict[str, Any]) -> None:
        ways = [attrs["groups"] != 1, attrs["depthwise"], attrs["connections"] is not None]
        if sum(ways) > 1:
            raise SpecError("give only one of groups, depthwise and connections")
        if attrs["filters"] is None and attrs["connections"] is None and not attrs["depthwise"]:
            raise SpecError(f"layer type {self.kind} needs 'filters' (number of output maps)")
        if (
            attrs["connections"] is not None
            and attrs["filters"] is not None
            and attrs["filters"] != len(attrs["connections"])
        ):
            raise SpecError(
                f"filters is {attrs['filters']} but the connection table has {len(attrs['connections'])} rows"
            )

    def _weights(self, pairs: int, taps: int, positions: int) -> int:
        return pairs * taps

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shape = ins[0]
        spatial = spatial_of(shape, self.kind)
        c_in = shape[0]
        c_out = out_channels(attrs, c_in)
        conn = connectivity_of(attrs, c_in)
        conn.check(c_in, c_out)
        geo = geometry(attrs, spatial)
        pairs = conn.pairs(c_in, c_out)
        positions = geo.positions
        edges = positions * pairs * geo.taps
        biases, bias_units = bias_counts(attrs["bias"], c_out, positions)
        cost = Cost.weighted(self._weights(pairs, geo.taps, positions), edges, biases, bias_units)
        return Applied(outs=((c_out, *geo.out),), cost=cost, rf=geo.rf(), notes=geo.notes)

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        """The formulas of ``apply`` written out (same helpers, same numbers)."""
        spatial = spatial_of(ins[0], self.kind)
        c_in = ins[0][0]
        c_out = out_channels(attrs, c_in)
        conn = connectivity_of(attrs, c_in)
        geo = geometry(attrs, spatial)
        pairs, positions, taps = conn.pairs(c_in, c_out), geo.positions, geo.taps
        kernel = "x".join(str(k) for k in geo.kernel)
        steps = {"output": window_output_step(attrs, c_out, spatial, geo)}
        if conn.kind == "table":
            links = f"the connection table gives {num(pairs)} input-map links"
            pair_numbers = "+".join(str(len(r)) for r in conn.table or ()) + f" = {num(pairs)} links"
        elif conn.kind == "grouped":
            per = c_in // conn.groups
            links = (f"depthwise ({conn.groups} groups): each of the {c_out} maps reads one input map" if per == 1
                     else f"{conn.groups} groups: each of the {c_out} maps reads {per} input maps")
            pair_numbers = f"{c_out} x {c_in}/{conn.groups} = {num(pairs)} links"
        else:
            links = f"dense: each of the {c_out} maps reads all {c_in} input maps"
            pair_numbers = f"{c_out} x {c_in} = {num(pairs)} links"
        weights = self._weights(pairs, taps, positions)
        if weights == pairs * taps:
            steps["weights"] = Step(weights, f"{links}, each a {kernel} kernel (weights shared over positions)",
                                    "weights = links x K_taps",
                                    f"{pair_numbers}; {times(pairs, taps)} = {num(weights)}")
        else:
            steps["weights"] = Step(weights, f"{links}, a {kernel} kernel at each of the {num(positions)} "
                                    "positions (no weight sharing)", "weights = positions x links x K_taps",
                                    f"{pair_numbers}; {times(positions, pairs, taps)} = {num(weights)}")
        biases, bias_units = bias_counts(attrs["bias"], c_out, positions)
        bias_words = {"none": "no biases (bias: none)", "per_map": "one bias per output map (bias: per_map)",
                      "per_unit": "one bias per output unit (bias: per_unit)"}[attrs["bias"]]
        bias_symbols = {"none": "biases = 0", "per_map": "biases = C_out", "per_unit": "biases = C_out x positions"}
        bias_numbers = f"{times(c_out, positions)} = {num(biases)}" if attrs["bias"] == "per_unit" else num(biases)
        steps["biases"] = Step(biases, bias_words, bias_symbols[attrs["bias"]], bias_numbers)
        steps["bias_units"] = Step(bias_units, "output units that have a bias" if bias_units else "no unit has a bias",
                                   "C_out x positions" if bias_units else "0",
                                   f"{times(c_out, positions)} = {num(bias_units)}" if bias_units else "0")
        edges = positions * pairs * taps
        edge_words = (f"each of the {num(positions)} units of map j reads links_j x {taps} inputs, "
                      f"over the {c_out} maps")
        steps["connections"] = Step(edges, edge_words, "connections = positions x links x K_taps",
                                    f"{times(positions, pairs, taps)} = {num(edges)}")
        if bias_units:  # LeCun's count: the bias is one more connection of every unit
            with_bias = positions * (pairs * taps + c_out)
            steps["connections+bias"] = Step(
                with_bias, f"each of the {num(positions)} units of map j has links_j x {taps} + 1 connections "
                f"(+ 1: its bias), so over the {c_out} maps", "connections = positions x (links x K_taps + C_out)",
                f"{num(positions)} x ({num(pairs * taps)} + {c_out}) = {num(with_bias)}")
        steps["macs"] = Step(edges, "one multiply-accumulate per connection through a weight",
                             "MACs = positions x links x K_taps", f"{times(positions, pairs, taps)} = {num(edges)}")
        if bias_units:
            steps["cheap:bias"] = Step(bias_units, "one add per biased output unit", "bias FLOPs = C_out x positions",
                                       f"{times(c_out, positions)} = {num(bias_units)}")
        return steps

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        a = layer.attrs
        c_in, spatial = in_shapes[0][0], in_shapes[0][1:]
        c_out = outs[0][0]
        geo = geometry(a, spatial)
        pads = [list(p) for p in geo.pads]
        _conv_pads(outs, spatial, pads, geo.k_eff, geo.stride)
        start = len(b.nodes)
        table = a.get("connections")
        groups = c_in if a.get("depthwise") else (a.get("groups") or 1)
        fan_in = (c_in // groups) * geo.taps
        if table is not None:
            groups = 1
            weight = _table_weight(b, layer, table, c_in, c_out, geo.kernel, fan_in)
        else:
            weight = b.weight(f"{layer.name}.weight", (c_out, c_in // groups, *geo.kernel), fan_in)
        inputs = [ins[0], weight]
        per_unit = a["bias"] == "per_unit"
        if a["bias"] == "per_map":
            inputs.append(b.weight(f"{layer.name}.bias", (c_out,), fan_in, scale=0.1))
        conv_attrs: dict[str, Any] = {
            "kernel_shape": list(geo.kernel), "strides": list(geo.stride),
            "pads": [p[0] for p in pads] + [p[1] for p in pads],
            "dilations": list(per_axis(a.get("dilation") or 1, len(spatial), "dilation")),
        }
        if groups > 1:
            conv_attrs["group"] = groups
        if per_unit:
            (mid,) = b.node("Conv", inputs, 1, f"{layer.name}/conv", **conv_attrs)
            bias = b.weight(f"{layer.name}.bias", outs[0], fan_in, scale=0.1)
            out = b.node("Add", [mid, bias], [b.unique(layer.name)], layer.name)
        else:
            out = b.node("Conv", inputs, [b.unique(layer.name)], layer.name, **conv_attrs)
        if per_unit or table is not None:
            record_group(b, layer, ins, out, start)
        return out


class LocallyConnected(Conv):
    kind = "locally_connected"
    family = "conv"
    aliases: ClassVar[tuple[str, ...]] = ("local", "locally_connected2d")
    schema = {**Conv.schema, "bias": Attr(choice(*BIAS), default="per_unit")}
    shorthands = {}
    doc = "convolution geometry without weight sharing (one kernel per output position)"
    kernel_class = KernelClass.CONV_OTHER
    doc_notes = ""
    translators = {}
    import_note = "ONNX has no unshared convolution: no ONNX op imports as a locally connected layer"
    export_refusal = ("locally connected layers have no faithful ONNX form (ONNX has no unshared "
                      "convolution); archcalc does not approximate them")

    def _weights(self, pairs: int, taps: int, positions: int) -> int:
        return positions * pairs * taps

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        raise ExportError(self.export_refusal)
