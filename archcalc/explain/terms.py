"""Each figure's explanation from the op's derivation and the counted terms (builders by figure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from archcalc.conventions import Conventions, resolve
from archcalc.counting import Counted
from archcalc.explain.model import FigureExplanation
from archcalc.ops import REGISTRY
from archcalc.ops._derive import Step, num
from archcalc.ops.base import GLOBAL, PASS, UNKNOWN, Applied, Permute, Window
from archcalc.receptive import Field, format_field, format_number, input_field, step

if TYPE_CHECKING:
    from archcalc.ir import Graph, Layer
    from archcalc.report import Report


@dataclass(frozen=True, slots=True)
class Context:
    layer: Layer
    ins: tuple[tuple[int, ...], ...]
    applied: Applied
    steps: Mapping[str, Step]
    counted: Counted
    conv: Conventions
    report: Report
    graph: Graph


def _conv_note(conv: Conventions, key: str) -> str:
    value = getattr(conv, key)
    if isinstance(value, frozenset):
        value = ",".join(sorted(str(v) for v in value)) or "none"
    elif isinstance(value, bool):
        value = str(value).lower()
    preset_value = getattr(resolve(str(conv.preset)), key)
    source = f"preset {conv.preset}" if preset_value == getattr(conv, key) else "set by the spec or --set"
    return f"{key}: {value} ({source})"


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(v) for v in shape) if shape else "scalar"


def _op_step(ctx: Context, field: str) -> Step:
    """The op's derivation of a Cost field, or its value as the op counts it."""
    value = getattr(ctx.counted.cost, field)
    found = ctx.steps.get(field)
    if found is not None and found.value == value:
        return found
    if found is not None and field in (ctx.layer.attrs.get("shared_params") or ()):
        return Step(value, f"{found.words}; shared with an earlier layer, so counted there", found.symbols,
                    f"{found.numbers}, counted once elsewhere: 0")
    if found is not None:
        raise AssertionError(f"{ctx.layer.kind}.derive gives {field} {found.value}, its apply {value}")
    if value == 0:
        return Step(0, f"{_a(ctx.layer.kind)} layer has no {field.replace('_', ' ')}", f"{field} = 0", "0")
    return Step(value, f"as the {ctx.layer.kind} layer's rule counts it ({REGISTRY[ctx.layer.kind].doc})",
                f"{field} = {field}({ctx.layer.kind})", num(value))


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _output(ctx: Context) -> FigureExplanation:
    value = " | ".join(_shape(s) for s in ctx.applied.outs)
    found = ctx.steps.get("output")
    given = ", ".join(_shape(s) for s in ctx.ins) or "none"
    if found is not None:
        return FigureExplanation("output", value, found.words, found.symbols, f"input {given}; {found.numbers}")
    if len(ctx.applied.outs) == 1 and ctx.ins and ctx.applied.outs[0] == ctx.ins[0]:
        return FigureExplanation("output", value, "the same shape as its input", "output = input shape",
                                 f"input {given} -> {value}")
    return FigureExplanation("output", value, f"the {ctx.layer.kind} layer's shape rule",
                             f"output = shape({ctx.layer.kind}, input)", f"input {given} -> {value}")


_UNIT_WORDS = {
    "input": "the network input counts as units",
    "input_excluded": "the network input does not count as units",
    "family_excluded": "layers of family {family} do not count as units",
    "output_excluded": "the network's last unit-counting layer does not count as units",
    "family": "layers of family {family} count their output elements as units",
}


def _units(ctx: Context) -> FigureExplanation:
    c = ctx.counted
    family = REGISTRY[ctx.layer.kind].family
    words = _UNIT_WORDS[c.units_rule].format(family=family)
    keys = {"input": ("units_include_input",), "input_excluded": ("units_include_input",),
            "output_excluded": ("unit_families", "units_include_output")}.get(c.units_rule, ("unit_families",))
    shapes = " + ".join(" x ".join(str(v) for v in s) for s in ctx.applied.outs)
    numbers = f"{shapes} = {num(c.units)}" if c.units else f"{shapes} elements, counted: 0"
    symbols = "units = output elements" if c.units else "units = 0"
    return FigureExplanation("units", c.units, words, symbols, numbers, tuple(_conv_note(ctx.conv, k) for k in keys))


def _cost_figure(field: str) -> Any:
    def build(ctx: Context) -> FigureExplanation:
        s = _op_step(ctx, field)
        return FigureExplanation(field, s.value, s.words, s.symbols, s.numbers)
    return build


def _params(ctx: Context) -> FigureExplanation:
    c, conv = ctx.counted, ctx.conv
    w = _op_step(ctx, "weights")
    terms = [("weights", c.cost.weights)]
    words = ["weights"]
    notes = []
    if c.cost.biases:
        notes.append(_conv_note(conv, "biases_as_params"))
        if conv.biases_as_params:
            terms.append(("biases", c.counted_biases))
            words.append("biases")
        else:
            words.append("(biases not counted)")
    if c.cost.affine:
        notes.append(_conv_note(conv, "bn_affine_params"))
        if conv.bn_affine_params:
            terms.append(("scale/shift", c.counted_affine))
            words.append("BN scale and shift")
        else:
            words.append("(BN scale/shift not counted)")
    symbols = "params = " + " + ".join(t[0] for t in terms)
    numbers = " + ".join(num(t[1]) for t in terms) + f" = {num(c.params)}" if len(terms) > 1 else num(c.params)
    if c.cost.fixed:
        numbers += f" ({num(c.cost.fixed)} fixed parameters are not trained, not counted)"
    if len(words) == 1:
        text = f"the weights: {w.words}" if w.value else w.words
    else:
        text = " + ".join(words) + (f"; weights: {w.words}" if w.value else f" ({w.words})")
    return FigureExplanation("params", c.params, text, symbols, numbers, tuple(notes))


def _connections(ctx: Context) -> FigureExplanation:
    c, conv = ctx.counted, ctx.conv
    edges = _op_step(ctx, "connections")
    family = REGISTRY[ctx.layer.kind].family
    notes = []
    words = edges.words
    terms = [num(c.op_connections)]
    if family == "pool":
        notes.append(_conv_note(conv, "pooling_connections"))
        if c.op_connections == 0 and c.cost.connections:
            words = f"pooling layers have no connections ({num(c.cost.connections)} window edges not counted)"
    if c.cost.bias_units:
        notes.append(_conv_note(conv, "bias_is_connection"))
        if conv.bias_is_connection:
            words += f"; plus one connection per biased unit ({num(c.bias_connections)})"
            terms.append(num(c.bias_connections))
    lecun = ctx.steps.get("connections+bias")
    if c.bias_connections and lecun is not None and lecun.value == c.connections and family != "pool":
        return FigureExplanation("connections", c.connections, lecun.words, lecun.symbols, lecun.numbers, tuple(notes))
    symbols = edges.symbols + (" + biased units" if c.bias_connections else "")
    numbers = edges.numbers + (f"; {' + '.join(terms)} = {num(c.connections)}" if len(terms) > 1 else "")
    return FigureExplanation("connections", c.connections, words, symbols, numbers, tuple(notes))


def _macs(ctx: Context) -> FigureExplanation:
    c, conv = ctx.counted, ctx.conv
    op = _op_step(ctx, "macs")
    notes, terms, words, symbols = [], [num(c.cost.macs)], [op.words], ["op MACs"]
    if c.cost.biases or c.cost.bias_units:
        notes.append(_conv_note(conv, "bias_macs"))
        if c.bias_macs:
            terms.append(num(c.bias_macs))
            words.append(f"bias adds as MACs ({conv.bias_macs})")
            symbols.append("bias MACs")
    if c.cost.affine:
        notes.append(_conv_note(conv, "affine_macs"))
        if c.affine_macs:
            terms.append(num(c.affine_macs))
            words.append("BN scale/shift as MACs")
            symbols.append("affine MACs")
    total = c.macs * c.batch
    numbers = op.numbers
    if len(terms) > 1 or c.batch != 1:
        numbers += f"; ({' + '.join(terms)}) x batch {c.batch} = {num(total)}"
    notes.append(_conv_note(conv, "batch"))
    return FigureExplanation("macs", total, "; ".join(words), f"MACs = ({' + '.join(symbols)}) x batch",
                             numbers, tuple(notes))


_STATUS = {"not_counted": "not counted (not in cheap_ops)", "bias_macs": "counted as MACs (bias_macs)"}


def _flops(ctx: Context) -> FigureExplanation:
    c, conv = ctx.counted, ctx.conv
    words = [f"{c.flops_per_mac} FLOPs per MAC"]
    symbols = [f"{c.flops_per_mac} x MACs"]
    terms = [f"{c.flops_per_mac} x {num(c.macs)}"]
    notes = [_conv_note(conv, "flops_per_mac")]
    for item in c.cheap:
        own = ctx.steps.get(f"cheap:{item.category}")
        how = f" ({own.numbers})" if own is not None and own.value == item.own else ""
        if item.status == "counted":
            differs = f", {num(item.own)} by archcalc's own rule" if item.flops != item.own else ""
            words.append(f"{item.category} {num(item.flops)}{how}{differs}")
            symbols.append(f"{item.category} FLOPs")
            terms.append(num(item.flops))
        else:
            words.append(f"{item.category} {num(item.own)} {_STATUS[item.status]}")
    if c.cheap:
        notes.append(_conv_note(conv, "cheap_ops"))
        for key, category in (("activation_flops", "activation"), ("pool_flops", "pool"), ("bn_flops", "norm")):
            if any(i.category == category and i.status == "counted" for i in c.cheap):
                notes.append(_conv_note(conv, key))
    notes.append(_conv_note(conv, "batch"))
    numbers = f"({' + '.join(terms)}) x {c.batch} = {num(c.flops)}"
    return FigureExplanation("flops", c.flops, "; ".join(words), f"FLOPs = ({' + '.join(symbols)}) x batch",
                             numbers, tuple(notes))


def _half(value: int | Fraction) -> int | Fraction:
    return value // 2 if isinstance(value, int) and value % 2 == 0 else Fraction(value) / 2


def _receptive_field(ctx: Context) -> FigureExplanation:
    a = ctx.applied
    if ctx.layer.kind == "input":
        field = input_field(len(a.outs[0]) - 1)
        return FigureExplanation("receptive_field", format_field(field), "the input: each pixel sees itself",
                                 "size 1, jump 1, start 0 per axis", format_field(field))
    in_fields = tuple(_field_of(ctx, ref) for ref in ctx.layer.inputs)
    rule = a.rf if a.out_rfs is None else a.out_rfs[0]
    field, _ = step(rule, in_fields, ctx.layer.inputs)
    value = format_field(field)
    given = ", ".join(format_field(f) for f in in_fields)
    if rule == GLOBAL:
        return FigureExplanation("receptive_field", value, "each output reads every input position",
                                 "field = global", f"input {given} -> global")
    if rule == UNKNOWN:
        return FigureExplanation("receptive_field", value, "not known (an op archcalc does not model)",
                                 "field = unknown", "unknown")
    if rule == PASS or isinstance(rule, Permute) or not isinstance(rule, Window) or field == in_fields[0]:
        words = ("each output reads the same position of its input(s)" if rule == PASS
                 else "the spatial axes are permuted" if isinstance(rule, Permute) else "the field passes through")
        return FigureExplanation("receptive_field", value, words, "field = input field", f"input {given} -> {value}")
    parts = []
    for (size, jump, start2), (k, s, offset2), (size2, jump2, start22) in zip(
            in_fields[0].axes, rule.axes, field.axes, strict=True):
        f = format_number
        parts.append(f"size {f(size)} + ({f(k)} - 1) x {f(-jump if jump < 0 else jump)} = {f(size2)}, "
                     f"jump {f(jump)} x {f(s)} = {f(jump2)}, "
                     f"start {f(_half(start2))} + {f(_half(offset2))} x {f(jump)} = {f(_half(start22))}")
    unique = list(dict.fromkeys(parts))
    numbers = "; ".join(unique) if len(unique) > 1 else f"every axis: {unique[0]}"
    return FigureExplanation(
        "receptive_field", value,
        "through a window of K_eff positions, stride S, centre offset (K_eff-1)/2 - pad_before",
        "size += (K_eff - 1) x |jump|; jump *= S; start += ((K_eff - 1)/2 - pad_before) x jump",
        f"input {given}; {numbers}")


def _field_of(ctx: Context, ref: tuple[str, int]) -> Field:
    return ctx.report[ref[0]].rf


def _activation_bytes(ctx: Context) -> FigureExplanation:
    c = ctx.counted
    return FigureExplanation(
        "activation_bytes", c.activation_bytes, "output elements x batch x bytes per element",
        "activation bytes = elements x batch x dtype bytes",
        f"{num(c.elements)} x {c.batch} x {c.dtype_bytes} = {num(c.activation_bytes)}",
        (_conv_note(ctx.conv, "dtype"), _conv_note(ctx.conv, "batch")))


BUILDERS = {
    "output": _output,
    "units": _units,
    "weights": _cost_figure("weights"),
    "biases": _cost_figure("biases"),
    "params": _params,
    "connections": _connections,
    "macs": _macs,
    "flops": _flops,
    "receptive_field": _receptive_field,
    "activation_bytes": _activation_bytes,
}
