"""Elementwise arithmetic with broadcasting (sub, div, pow, max, min, ... and add/mul with a
constant), as exported models have them.

A constant operand of per-sample shape ``const_shape`` that is a learned tensor (not a scalar)
holds parameters: an added/subtracted one counts as biases, a multiplying/dividing one as
weights. Cost: (operands - 1) "elementwise" FLOPs per output element.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import Any

from archcalc.errors import ExportError, OnnxImportError
from archcalc.ir import Layer
from archcalc.ops._derive import Step, num
from archcalc.ops._emit import Builder, Shape, one
from archcalc.ops._onnx import Act, Const, LayerSpec, Node
from archcalc.ops.base import Applied, Attr, Cost, Op, boolean, choice, sizes
from archcalc.ops.facts import KernelClass
from archcalc.ops.merge import broadcast

OPS = ("add", "sub", "mul", "div", "pow", "max", "min", "mean", "mod", "and", "or", "xor",
       "equal", "less", "greater", "where")

#: ONNX op -> elementwise op
BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow", "Max": "max", "Min": "min",
          "Sum": "add", "Mean": "mean", "Mod": "mod", "And": "and", "Or": "or", "Xor": "xor", "Equal": "equal",
          "Less": "less", "Greater": "greater", "Where": "where"}
#: elementwise op -> the ONNX op it is exported as
_EXPORTED = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow", "max": "Max", "min": "Min",
             "mean": "Mean", "mod": "Mod"}


def _of_activations(node: Node, op: str, names: list[str], shapes: list[tuple[int, ...]]) -> LayerSpec:
    """Only activations: add (equal shapes), mul, or a broadcasting elementwise layer."""
    if len({len(sh) for sh in shapes}) > 1 and max(sh[0] for sh in shapes) > 1:
        raise OnnxImportError(f"{node.op_type} of activations of different ranks {[list(sh) for sh in shapes]} "
                              f"broadcasts the batch axis against another axis")
    if op == "add" and len(set(shapes)) == 1:
        return LayerSpec("add", {}, names)
    if op == "mul":
        return LayerSpec("mul", {}, names)
    return LayerSpec("elementwise", {"op": op}, names)


def _per_sample(node: Node, consts: list[Const], batch_rank: int) -> list[tuple[int, ...]]:
    """Each constant aligned on the right with the full (batch-first) shape, its batch axis dropped."""
    out = []
    for c in consts:
        full = (1,) * (batch_rank - len(c.shape)) + c.shape
        if full[0] != 1:
            raise OnnxImportError(f"{node.op_type} constant of shape {list(c.shape)} varies along the batch axis")
        out.append(full[1:])
    return out


def _joint_constants(node: Node, op: str, names: list[str], per_sample: list[tuple[int, ...]]) -> LayerSpec:
    """Where(mask, x, 0) as masked_fill exports it: the constants together act as one operand."""
    import numpy as np

    if op in ("add", "sub", "mul", "div"):
        raise OnnxImportError(f"{node.op_type} with several constant operands is not supported")
    try:
        joint = [int(d) for d in np.broadcast_shapes(*per_sample)] or [1]
    except ValueError:
        raise OnnxImportError(f"{node.op_type} constants {[list(p) for p in per_sample]} do not broadcast") from None
    return LayerSpec("elementwise", {"op": op, "const_shape": joint, "const_params": False}, names,
                     notes=[f"constant operands of {node.op_type} are not parameters"])


def elementwise_from_onnx(node: Node) -> LayerSpec:
    """Binary and n-ary ONNX arithmetic; a learned constant operand holds parameters."""
    values = [node.get(i) for i in range(len(node.input_names))]
    acts = [(name, v) for name, v in zip(node.input_names, values, strict=True) if isinstance(v, Act)]
    consts = [(name, v) for name, v in zip(node.input_names, values, strict=True) if isinstance(v, Const)]
    op = BINARY[node.op_type]
    names = [name for name, _ in acts]
    batch_rank = max(len(v.shape) for v in values if v is not None)
    if not consts:
        return _of_activations(node, op, names, [v.shape for _, v in acts])
    per_sample = _per_sample(node, [c for _, c in consts], batch_rank)
    if len(consts) > 1:
        return _joint_constants(node, op, names, per_sample)
    const_name, c = consts[0]
    const_shape = list(per_sample[0]) or [1]
    # a learned tensor: a float tensor of more than one element added, subtracted, multiplied or divided,
    # whatever produced it (an initializer, a Constant, ConstantOfShape -> Unsqueeze, Expand: a Caffe
    # Scale layer's per-channel constants are stored every way); a Where condition, a comparison operand,
    # an exponent, an integer mask or a scalar is not a parameter
    floating = c.dtype is None or getattr(c.dtype, "kind", "f") == "f"
    learned = c.size > 1 and op in ("add", "sub", "mul", "div") and floating
    notes = [] if learned else [f"{'scalar ' if c.size == 1 else ''}constant operand of {node.op_type} is not a "
                                f"parameter"]
    role = "biases" if op in ("add", "sub") else "weights"
    params = {role: [const_name]} if learned else {}
    return LayerSpec("elementwise", {"op": op, "const_shape": const_shape, "const_params": learned}, names,
                     params, notes)



class Elementwise(Op):
    kind = "elementwise"
    family = "elementwise"
    arity = (1, None)
    schema = {
        "op": Attr(choice(*OPS), required=True),
        "const_shape": Attr(sizes, doc="per-sample shape of a constant operand, if any"),
        "const_params": Attr(boolean, default=False, doc="the constant operand is a learned tensor"),
    }
    doc = "elementwise arithmetic with broadcasting (and an optional constant operand)"
    doc_notes = "learned constants count as params"
    kernel_class = KernelClass.ELEMENTWISE
    translators = dict.fromkeys(BINARY, elementwise_from_onnx)
    export_refusal = "logical ops, comparisons and where are not exported (no float arithmetic)"

    def kernel_class_of(self, attrs: Mapping[str, Any]) -> KernelClass:
        """A Mul of one activation by a constant of one value per leading axis (a layer scale, [C, 1, 1])
        or of one value is a scale (ORT folds one after a Conv into it); anything else is elementwise."""
        const = attrs.get("const_shape")
        if attrs.get("op") == "mul" and const is not None and all(d == 1 for d in list(const)[1:]):
            return KernelClass.SCALE
        return KernelClass.ELEMENTWISE

    def apply(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> Applied:
        shapes = ins if attrs["const_shape"] is None else (*ins, attrs["const_shape"])
        out = broadcast(shapes) if len(shapes) > 1 else ins[0]
        n = prod(out)
        params = prod(attrs["const_shape"]) if attrs["const_params"] and attrs["const_shape"] is not None else 0
        additive = attrs["op"] in ("add", "sub")
        cost = Cost(
            weights=0 if additive else params,
            biases=params if additive else 0,
            cheap=(("elementwise", max(len(shapes) - 1, 1) * n),),
        )
        return Applied(outs=(out,), cost=cost)

    def derive(self, attrs: Mapping[str, Any], ins: tuple[tuple[int, ...], ...]) -> dict[str, Step]:
        """The formulas of ``apply`` written out."""
        shapes = ins if attrs["const_shape"] is None else (*ins, attrs["const_shape"])
        out = broadcast(shapes) if len(shapes) > 1 else ins[0]
        n = prod(out)
        ops = max(len(shapes) - 1, 1)
        steps = {"cheap:elementwise": Step(ops * n, f"{ops} {attrs['op']} per element of the broadcast output",
                                           "elementwise FLOPs = max(operands - 1, 1) x output elements",
                                           f"{ops} x {num(n)} = {num(ops * n)}")}
        if attrs["const_params"] and attrs["const_shape"] is not None:
            params = prod(attrs["const_shape"])
            key = "biases" if attrs["op"] in ("add", "sub") else "weights"
            steps[key] = Step(params, f"the constant operand's elements are parameters ({key})",
                              f"{key} = constant elements",
                              f"{' x '.join(map(str, attrs['const_shape']))} = {num(params)}")
        return steps

    def emit(self, b: Builder, layer: Layer, ins: list[str], in_shapes: list[Shape],
             outs: list[Shape]) -> list[str]:
        a = layer.attrs
        op = _EXPORTED.get(a["op"])
        if op is None:
            raise ExportError(f"elementwise {a['op']} is not exported")
        inputs = list(ins)
        if a["const_shape"] is not None:
            shape = (1, *a["const_shape"])
            if a["const_params"]:
                inputs.append(b.weight(f"{layer.name}.constant", shape, 1, scale=0.1))
            else:
                inputs.append(b.const(f"{layer.name}/constant", _half(shape), "float32"))
        return one(b, op, layer, inputs)


def _half(shape: tuple[int, ...]) -> object:
    """A constant of ``shape`` filled with 0.5 (numpy: only the exporter calls this)."""
    import numpy as np

    return np.full(shape, 0.5)
