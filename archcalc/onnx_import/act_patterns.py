"""Activations exporters write as several nodes, recognised as one layer each (see ``patterns.py``):

- SiLU as ``Mul(x, Sigmoid(x))``, HardSwish as ``Mul(x, HardSigmoid(x))`` (alpha 1/6, before opset 14),
  Mish as ``Mul(x, Tanh(Softplus(x)))`` (before opset 18);
- GELU as ``Div(x, sqrt 2) -> Erf -> Add 1 -> Mul x -> Mul 0.5`` (before opset 20; the dynamo exporter
  multiplies by 0.5 before x);
- GELU(approximate='tanh') as ``x^3 -> Mul 0.044715 -> Add x -> Mul sqrt(2/pi) -> Tanh -> Add 1 -> Mul x ->
  Mul 0.5`` (x^3 as ``Pow(x, 3)`` from the dynamo exporter, ``Mul(x, Mul(x, x))`` from the legacy one).
"""

from __future__ import annotations

from typing import Any

from archcalc.onnx_import.pattern_graph import PatternGraph, Record, alone, by_const, other, scalar


def gated(g: PatternGraph, mul: Any) -> Record | None:
    """Mul(x, Sigmoid(x)): SiLU; Mul(x, HardSigmoid(x, 1/6, 1/2)): HardSwish (before opset 14);
    Mul(x, Tanh(Softplus(x))): Mish (before opset 18)."""
    if len(mul.input) != 2:
        return None
    for x, s in (mul.input, reversed(mul.input)):
        gate = g.producer.get(s)
        if gate is None or not gate.input or g.is_const(x) or not alone(g, s):
            continue
        nodes = {gate.name, mul.name}
        if gate.op_type == "Tanh":
            soft = g.producer.get(gate.input[0])
            if soft is None or soft.op_type != "Softplus" or list(soft.input) != [x] or not alone(g, gate.input[0]):
                continue
            fn = "mish"
            nodes.add(soft.name)
        elif gate.input[0] != x:
            continue
        elif gate.op_type == "Sigmoid":
            fn = "silu"
        elif gate.op_type == "HardSigmoid" and abs(float(g.attr(gate, "alpha", 0.2)) - 1 / 6) < 1e-6 \
                and abs(float(g.attr(gate, "beta", 0.5)) - 0.5) < 1e-6:
            fn = "hardswish"
        else:
            continue
        return (mul.name, "activation", {"fn": fn}, (x,), (mul.output[0],), frozenset(nodes))
    return None


def _times_x_and_half(g: PatternGraph, tensor: str, x: str) -> tuple[Any, Any] | None:
    """Mul by x and Mul by 0.5 of ``tensor``, in either order (the legacy exporter writes x first, the
    dynamo one 0.5 first): the two Mul nodes."""
    first = g.only_user(tensor, "Mul")
    second = g.only_user(first.output[0], "Mul") if first is not None else None
    if first is None or second is None:
        return None
    a, b = other(first, tensor), other(second, first.output[0])
    if (a == x and scalar(g, b) == 0.5) or (b == x and scalar(g, a) == 0.5):
        return first, second
    return None


def gelu(g: PatternGraph, div: Any) -> Record | None:
    """x * 0.5 * (1 + Erf(x / sqrt 2)): GELU as exporters before opset 20 write it."""
    x = div.input[0]
    sqrt2 = scalar(g, div.input[1]) if len(div.input) > 1 else None
    if sqrt2 is None or abs(sqrt2 - 2**0.5) > 1e-4 or g.is_const(x):
        return None
    erf = g.only_user(div.output[0], "Erf")
    if erf is None:
        return None
    add = g.only_user(erf.output[0], "Add")
    if add is None or scalar(g, other(add, erf.output[0])) != 1.0:
        return None
    muls = _times_x_and_half(g, add.output[0], x)
    if muls is None:
        return None
    return (muls[1].name, "activation", {"fn": "gelu"}, (x,), (muls[1].output[0],),
            frozenset({div.name, erf.name, add.name, muls[0].name, muls[1].name}))


def _cube(g: PatternGraph, tensor: str, x: str) -> set[str] | None:
    """The nodes of x^3: Pow(x, 3) (dynamo exporter) or Mul(x, Mul(x, x)) (legacy exporter)."""
    p = g.producer.get(tensor)
    if p is None or not alone(g, tensor) or len(p.input) != 2:
        return None
    if p.op_type == "Pow" and p.input[0] == x and scalar(g, p.input[1]) == 3.0:
        return {p.name}
    if p.op_type == "Mul" and x in p.input:
        sq = g.producer.get(other(p, x))
        if sq is not None and sq.op_type == "Mul" and list(sq.input) == [x, x] and alone(g, sq.output[0]):
            return {p.name, sq.name}
    return None


def gelu_tanh(g: PatternGraph, tanh: Any) -> Record | None:
    """0.5 * x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 x^3))): GELU(approximate='tanh') before opset 20."""
    inner = tanh.input[0] if tanh.input else ""
    k = by_const(g, g.producer.get(inner), "Mul")
    if k is None or abs(k[0] - (2 / 3.141592653589793) ** 0.5) > 1e-4 or not alone(g, inner):
        return None
    add = g.producer.get(k[1])
    if add is None or add.op_type != "Add" or len(add.input) != 2 or not alone(g, k[1]):
        return None
    for x, c in (add.input, reversed(add.input)):
        cm = by_const(g, g.producer.get(c), "Mul")
        cube = _cube(g, cm[1], x) if cm is not None and abs(cm[0] - 0.044715) < 1e-5 and alone(g, c) else None
        if cube is None or g.is_const(x):
            continue
        one = g.only_user(tanh.output[0], "Add")
        if one is None or scalar(g, other(one, tanh.output[0])) != 1.0:
            return None
        muls = _times_x_and_half(g, one.output[0], x)
        if muls is None:
            return None
        nodes = cube | {g.producer[c].name, add.name, g.producer[inner].name, tanh.name, one.name,
                        muls[0].name, muls[1].name}
        return (muls[1].name, "activation", {"fn": "gelu_tanh"}, (x,), (muls[1].output[0],), frozenset(nodes))
    return None
