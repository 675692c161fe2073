"""Multi-node forms exporters write for one layer, recognised in the graph (no metadata needed).

- LayerNorm as older exporters (and hand-written LayerNorm2d) decompose it: ``ReduceMean -> Sub ->
  Pow 2 -> ReduceMean -> Add eps -> Sqrt -> Div [-> Mul gamma -> Add beta]``, over the last axes
  (negative axes) or over the channels (axis 1);
- SiLU, HardSwish, Mish, GELU and tanh-GELU as their exporters' multi-node forms (``act_patterns.py``);
- LayerNorm over channels as ``Transpose -> LayerNormalization(axis=-1) -> Transpose`` (ConvNeXt's
  LayerNorm2d through permutes), or with the decomposed LayerNorm between the Transposes (before opset 17);
- GroupNorm as ``Reshape -> InstanceNormalization -> Reshape [-> Mul -> Add]`` (PyTorch's opset-17
  export of ``nn.GroupNorm``: the InstanceNormalization's scale and shift are ones and zeros per
  group, the Mul and Add hold the per-channel scale and shift);
- channel shuffle as ``Reshape(N, g, C/g, ...) -> Transpose(swap 1 and 2) -> Reshape(N, C, ...)``;
- pixel unshuffle as ``Reshape(N, C, H/r, r, W/r, r) -> Transpose -> Reshape(N, C r², H/r, W/r)``
  (PyTorch's ``nn.PixelUnshuffle``);
- a Linear with its bias as ``MatMul(x, W[K, N]) -> Add(b[N])`` (PyTorch's ``nn.Linear`` on an input
  of three or more axes, e.g. ConvNeXt's Linears on channels-last tensors): one layer with the
  bias as its parameter, counted as a spec's Linear (or 1x1 conv) with a bias is, under every preset.

Each match is a layer named after the node that writes its output, a record like the export
metadata's (kind, attributes, input and output tensors, node names); ``groups.read_groups`` uses
it the same way. Only a chain whose inner tensors are used by nothing else matches; anything else
imports node by node.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from archcalc.onnx_import.act_patterns import gated, gelu, gelu_tanh
from archcalc.onnx_import.pattern_graph import PatternGraph, Record, name_unnamed, other, scalar
from archcalc.ops import REGISTRY


def _layernorm2d(g: PatternGraph, t1: Any) -> Record | None:
    perm = list(g.attr(t1, "perm", []))
    r = len(perm)
    if r < 3 or perm != [0, *range(2, r), 1]:
        return None
    ln = g.only_user(t1.output[0], "LayerNormalization")
    if ln is None or int(g.attr(ln, "axis", -1)) % r != r - 1 or any(o for o in ln.output[1:]):
        return None
    t2 = g.only_user(ln.output[0], "Transpose")
    if t2 is None or list(g.attr(t2, "perm", [])) != [0, r - 1, *range(1, r - 1)]:
        return None
    params = [t for t in ln.input[1:] if t]
    if not all(g.is_const(t) for t in params):
        return None
    scale, shift = _flat(g, ln.input[1]), _flat(g, ln.input[2]) if len(ln.input) > 2 and ln.input[2] else None
    has_shift = len(ln.input) > 2 and bool(ln.input[2])
    identity = scale is not None and all(v == 1 for v in scale) and (
        not has_shift or (shift is not None and all(v == 0 for v in shift)))
    attrs = {"over": "channels", "affine": not identity, "bias": has_shift,
             "eps": float(g.attr(ln, "epsilon", 1e-5))}
    return (t2.name, "layernorm", attrs, (t1.input[0],), (t2.output[0],), frozenset({t1.name, ln.name, t2.name}))


def _layernorm2d_decomposed(g: PatternGraph, t1: Any) -> Record | None:
    """Transpose -> the decomposed LayerNorm over the last axis -> Transpose back: LayerNorm2d exported
    before opset 17 (LayerNormalization), one layer over the channels as from opset 17."""
    perm = list(g.attr(t1, "perm", []))
    r = len(perm)
    x = t1.output[0]
    r1 = next((n for n in g.users.get(x, []) if n.op_type == "ReduceMean"), None)
    if r < 3 or perm != [0, *range(2, r), 1] or r1 is None or x in g.outputs:
        return None
    inner = _decomposed_layernorm(g, r1)
    if inner is None or inner[2].get("over") != "last" or inner[2].get("axes") != 1 \
            or not {n.name for n in g.users.get(x, [])} <= inner[5]:
        return None
    t2 = g.only_user(inner[4][0], "Transpose")
    if t2 is None or list(g.attr(t2, "perm", [])) != [0, r - 1, *range(1, r - 1)]:
        return None
    attrs = {k: v for k, v in inner[2].items() if k != "axes"} | {"over": "channels"}
    return (t2.name, "layernorm", attrs, (t1.input[0],), (t2.output[0],), inner[5] | {t1.name, t2.name})


def _flat(g: PatternGraph, tensor: str) -> list[Any] | None:
    """A known constant's values as Python numbers (no numpy); None when not known."""
    c = g.value(tensor)
    return None if c is None else c.flat()


def _reduce_axes(g: PatternGraph, node: Any) -> list[int] | None:
    """ReduceMean's axes (attribute before opset 18, input from 18), when keepdims is 1."""
    if int(g.attr(node, "keepdims", 1)) != 1:
        return None
    axes = g.attr(node, "axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = _flat(g, node.input[1])
    return None if axes is None else [int(a) for a in axes]


def _decomposed_layernorm(g: PatternGraph, r1: Any) -> Record | None:
    """mean = ReduceMean(x); d = x - mean; var = ReduceMean(d^2); y = d / Sqrt(var + eps) [* gamma + beta]."""
    x = r1.input[0]
    axes = _reduce_axes(g, r1)
    if axes is None or g.is_const(x):
        return None
    if axes == [1]:
        attrs: dict[str, Any] = {"over": "channels"}
    elif axes and sorted(axes) == list(range(-len(axes), 0)):
        attrs = {"over": "last", "axes": len(axes)}
    else:
        return None
    sub = g.only_user(r1.output[0], "Sub")
    if sub is None or list(sub.input) != [x, r1.output[0]]:
        return None
    d = sub.output[0]
    users = g.users.get(d, [])
    pw = next((n for n in users if n.op_type == "Pow"), None)
    div = next((n for n in users if n.op_type == "Div"), None)
    if len(users) != 2 or pw is None or div is None or d in g.outputs or pw.input[0] != d:
        return None
    two = scalar(g, pw.input[1])
    r2 = g.only_user(pw.output[0], "ReduceMean")
    if two != 2.0 or r2 is None or _reduce_axes(g, r2) != axes:
        return None
    add = g.only_user(r2.output[0], "Add")
    eps = scalar(g, other(add, r2.output[0])) if add is not None else None
    sqrt = g.only_user(add.output[0], "Sqrt") if add is not None else None
    if add is None or eps is None or sqrt is None or list(div.input) != [d, sqrt.output[0]] \
            or len(g.users.get(sqrt.output[0], [])) != 1 or sqrt.output[0] in g.outputs:
        return None
    nodes = {r1.name, sub.name, pw.name, r2.name, add.name, sqrt.name, div.name}
    out = div.output[0]
    mul = g.only_user(out, "Mul")
    affine = mul is not None and g.is_const(other(mul, out))
    shift = None
    if mul is not None and affine:
        nodes.add(mul.name)
        out = mul.output[0]
        shift = g.only_user(out, "Add")
        if shift is not None and g.is_const(other(shift, out)):
            nodes.add(shift.name)
            out = shift.output[0]
        else:
            shift = None
    last = shift or (mul if mul is not None and affine else div)
    attrs.update(affine=affine, bias=shift is not None, eps=eps)
    return (last.name, "layernorm", attrs, (x,), (out,), frozenset(nodes))


def _groupnorm(g: PatternGraph, r1: Any) -> Record | None:
    inorm = g.only_user(r1.output[0], "InstanceNormalization")
    if inorm is None or len(inorm.input) < 3 or not all(g.is_const(t) for t in inorm.input[1:3]):
        return None
    target = g.values(r1.input[1]) if len(r1.input) > 1 else None
    scale, shift = _flat(g, inorm.input[1]), _flat(g, inorm.input[2])
    if target is None or len(target) != 3 or scale is None or shift is None:
        return None
    groups = len(scale)
    if int(target[1]) != groups:
        return None
    r2 = g.only_user(inorm.output[0], "Reshape")
    if r2 is None:
        return None
    identity = all(v == 1 for v in scale) and all(v == 0 for v in shift)
    nodes = {r1.name, inorm.name, r2.name}
    out = r2.output[0]
    mul = g.only_user(out, "Mul")
    add = g.only_user(mul.output[0], "Add") if mul is not None else None
    if mul is not None and add is not None:
        gamma = next((t for t in mul.input if t != out), "")
        beta = next((t for t in add.input if t != mul.output[0]), "")
        gv, bv = g.value(gamma), g.value(beta)
        per_channel = all(g.is_const(t) and (v is None or v.size > 1) for t, v in ((gamma, gv), (beta, bv)))
        if per_channel and identity:
            nodes |= {mul.name, add.name}
            return (add.name, "groupnorm", {"groups": groups, "affine": True,
                                           "eps": float(g.attr(inorm, "epsilon", 1e-5))},
                    (r1.input[0],), (add.output[0],), frozenset(nodes))
    affine = False if identity else "per_group"
    return (r2.name, "groupnorm", {"groups": groups, "affine": affine, "eps": float(g.attr(inorm, "epsilon", 1e-5))},
            (r1.input[0],), (out,), frozenset(nodes))


def _channel_shuffle(g: PatternGraph, r1: Any) -> Record | None:
    t = g.only_user(r1.output[0], "Transpose")
    target = g.values(r1.input[1]) if t is not None and len(r1.input) > 1 else None
    if target is None or len(target) < 3:
        return None
    r = len(target)
    if t is None or list(g.attr(t, "perm", [])) != [0, 2, 1, *range(3, r)]:
        return None
    r2 = g.only_user(t.output[0], "Reshape")
    back = g.values(r2.input[1]) if r2 is not None and len(r2.input) > 1 else None
    if r2 is None or back is None or len(back) != r - 1:
        return None
    groups = int(target[1])
    if groups < 1 or int(target[2]) < 1:
        return None
    return (r2.name, "channel_shuffle", {"groups": groups}, (r1.input[0],), (r2.output[0],),
            frozenset({r1.name, t.name, r2.name}))


def _pixel_unshuffle(g: PatternGraph, r1: Any) -> Record | None:
    """Reshape (N, C, H/r, r, W/r, r) -> Transpose -> Reshape (N, C r², H/r, W/r): PyTorch's
    ``nn.PixelUnshuffle`` (perm 0, 1, 3, 5, 2, 4: CRD), or ONNX SpaceToDepth's DCR order (0, 3, 5, 1, 2, 4)."""
    t = g.only_user(r1.output[0], "Transpose")
    target = g.values(r1.input[1]) if t is not None and len(r1.input) > 1 else None
    if target is None or len(target) != 6:
        return None
    _, c, h, r, w, r_w = (int(v) for v in target)
    if r != r_w or min(c, h, r, w) < 1 or t is None:
        return None
    mode = {(0, 1, 3, 5, 2, 4): "CRD", (0, 3, 5, 1, 2, 4): "DCR"}.get(tuple(g.attr(t, "perm", [])))
    r2 = g.only_user(t.output[0], "Reshape")
    back = g.values(r2.input[1]) if r2 is not None and len(r2.input) > 1 else None
    if mode is None or r2 is None or back is None or [int(v) for v in back[1:]] != [c * r * r, h, w]:
        return None
    return (r2.name, "pixel_unshuffle", {"factor": r, "mode": mode}, (r1.input[0],), (r2.output[0],),
            frozenset({r1.name, t.name, r2.name}))


def _linear(g: PatternGraph, mm: Any) -> Record | None:
    """MatMul of an activation and a weight matrix [K, N] (leading 1s allowed), whose only reader
    adds a constant of N elements: a matmul layer over the last axis with a bias per unit."""
    if len(mm.input) != 2 or g.is_const(mm.input[0]) or not g.is_const(mm.input[1]) or mm.output[0] in g.outputs:
        return None
    w = g.dims(mm.input[1])
    if w is None or len(w) < 2 or any(d != 1 for d in w[:-2]) or w[-1] < 1:
        return None
    add = g.only_user(mm.output[0], "Add")
    if add is None or len(add.input) != 2 or add.input[0] == add.input[1]:
        return None
    bias = other(add, mm.output[0])
    b = g.dims(bias) if g.is_const(bias) else None
    if b is None or not b or b[-1] != w[-1] or any(d != 1 for d in b[:-1]):
        return None
    return (add.name, "matmul", {"units": int(w[-1]), "bias": "per_unit"}, (mm.input[0],), (add.output[0],),
            frozenset({mm.name, add.name}), {"weights": [mm.input[1]], "biases": [bias]})


#: op_type of the first (or anchor) node -> matchers, in the order tried
MATCHERS = {"Mul": (gated,), "Div": (gelu,), "Tanh": (gelu_tanh,), "Transpose": (_layernorm2d, _layernorm2d_decomposed),
            "Reshape": (_groupnorm, _channel_shuffle, _pixel_unshuffle), "ReduceMean": (_decomposed_layernorm,),
            "MatMul": (_linear,)}


def find_patterns(model: Any, taken: set[str], in_place: bool = True) -> tuple[list[Record], list[str]]:
    """Every recognised multi-node layer whose nodes are not in ``taken``, and a note counting them
    (``in_place``: see PatternGraph)."""
    if not any(n.op_type in MATCHERS for n in model.graph.node):  # no node can start a form
        if in_place:
            name_unnamed(list(model.graph.node))
        return [], []
    g = PatternGraph(model, in_place)
    found: list[Record] = []
    used = set(taken)
    for n in g.nodes:
        if n.domain not in ("", "ai.onnx") or n.name in used or not n.output or not n.output[0]:
            continue
        for matcher in MATCHERS.get(n.op_type, ()):
            record = matcher(g, n)
            if record is not None and record[1] in REGISTRY and not record[5] & used:
                found.append(record)
                used |= record[5]
                break
    counts = Counter(f"{r[1]} {r[2]['fn']}" if r[1] == "activation" else r[1] for r in found)
    notes = [("recognised multi-node forms as one layer each: "
              + ", ".join(f"{k} x{v}" for k, v in counts.most_common()))] if found else []
    return found, notes
