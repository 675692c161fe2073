"""The dims of a folded node's outputs, from its inputs' dims and small values only: nothing is
computed or allocated here.

:func:`archcalc.onnx_import.fold.fold` asks first, so that a node whose result would be large
(Tile of one element by 9e8, a float broadcast [30000,1]+[1,30000], Concat of 900 copies of 2^20
elements, ConstantOfShape [10^9]) keeps only its dims and data type (a symbolic constant) instead
of being computed, and an input known only by its dims (a weight read without its data) goes
through such a node as dims too. An op with no rule here never makes a result larger than its
inputs (Split, the reductions, NonZero) and needs their values.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import ceil, prod
from typing import Any

from archcalc.errors import ShapeError
from archcalc.onnx_import.values import Const, ImportError_
from archcalc.ops._onnx import const_ints, slice_range
from archcalc.ops.merge import broadcast as merge_broadcast

Attrs = dict[str, Any]
Shape = tuple[int, ...]

#: ops that broadcast their inputs elementwise (the result has the broadcast shape of all inputs)
ELEMENTWISE = frozenset({
    "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Min", "Max", "Equal", "Less", "LessOrEqual", "Greater",
    "GreaterOrEqual", "And", "Or", "Not", "Neg", "Abs", "Floor", "Ceil", "Round", "Sqrt", "Reciprocal", "Exp",
    "Log", "Sign", "Where", "Clip", "Sum", "CastLike",
})


def broadcast(shapes: Sequence[Shape]) -> Shape:
    """Numpy (multidirectional) broadcasting of dims, in exact integers (the rule the ``add`` and
    ``mul`` layers use, as an import error)."""
    if not shapes:
        return ()
    try:
        return merge_broadcast(tuple(tuple(s) for s in shapes))
    except ShapeError:
        raise ImportError_(f"shapes {' and '.join(str(list(s)) for s in shapes)} do not broadcast") from None


def _need(c: Const | None, what: str) -> Const:
    if c is None:
        raise ImportError_(f"the required {what} input is missing (its name is empty)")
    return c


def ints(c: Const | None, what: str) -> list[int]:
    """A small integer input's values (repeats, a shape, axes, starts)."""
    c = _need(c, what)
    if not c.known:
        raise ImportError_(f"{what} is not a constant with a known value" + (f" ({c.why})" if c.why else ""))
    return const_ints(c, what)


def axes_of(attrs: Attrs, ins: Sequence[Const | None], index: int) -> list[int] | None:
    """``axes`` as an attribute (older opsets) or as input ``index``; None when absent."""
    if "axes" in attrs:
        return [int(a) for a in attrs["axes"]]
    if len(ins) > index and ins[index] is not None:
        return ints(ins[index], "axes")
    return None


def _axis(axis: int, rank: int, op: str) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ImportError_(f"{op} axis {axis} is out of range for a {rank}-D input")
    return axis % rank if rank else 0


def _elementwise(ins: Sequence[Const | None], attrs: Attrs, opset: int, op: str) -> list[Shape]:
    if op == "Clip" and opset < 11:
        ins = ins[:1]
    return [broadcast([c.shape for c in ins if c is not None])]


def _tile(ins: Sequence[Const | None], attrs: Attrs, opset: int, op: str) -> list[Shape]:
    data = _need(ins[0], "input")
    repeats = ints(ins[1] if len(ins) > 1 else None, "repeats")
    if len(repeats) != len(data.shape) or any(r < 0 for r in repeats):
        raise ImportError_(f"Tile repeats {repeats} do not fit a {len(data.shape)}-D input")
    return [tuple(d * r for d, r in zip(data.shape, repeats, strict=True))]


def _concat(ins: Sequence[Const | None], attrs: Attrs, opset: int, op: str) -> list[Shape]:
    shapes = [c.shape for c in ins if c is not None]
    if not shapes:
        raise ImportError_("Concat has no inputs")
    rank = len(shapes[0])
    axis = _axis(int(attrs["axis"]), rank, op)
    for s in shapes:
        if len(s) != rank or any(a != b for i, (a, b) in enumerate(zip(s, shapes[0], strict=True)) if i != axis):
            raise ImportError_(f"Concat of shapes {' and '.join(str(list(t)) for t in shapes)} along axis {axis}")
    return [(*shapes[0][:axis], sum(s[axis] for s in shapes), *shapes[0][axis + 1:])]


def _expand(ins: Sequence[Const | None], attrs: Attrs, opset: int, op: str) -> list[Shape]:
    shape = ints(ins[1] if len(ins) > 1 else None, "shape")
    if any(d < 0 for d in shape):
        raise ImportError_(f"Expand to a negative size {shape}")
    return [broadcast([_need(ins[0], "input").shape, tuple(shape)])]


def _constant_of_shape(ins: Sequence[Const | None], attrs: Attrs, opset: int, op: str) -> list[Shape]:
    shape = ints(ins[0] if ins else None, "shape")
    if any(d < 0 for d in shape):
        raise ImportError_(f"ConstantOfShape with a negative size {shape}")
    return [tuple(shape)]


def _range(ins: Sequence[Const | None], attrs: Attrs, opset: int, op: str) -> list[Shape]:
    start, limit, delta = (_scalar(c) for c in (*ins, None, None, None)[:3])
    if delta == 0:
        return [(0,)]
    if isinstance(start, int) and isinstance(limit, int) and isinstance(delta, int):
        return [(max(-((start - limit) // delta), 0),)]  # ceil((limit - start) / delta), exactly
    return [(max(ceil((limit - start) / delta), 0),)]


def _scalar(c: Const | None) -> int | float:
    c = _need(c, "range")
    if c.value is None or c.size != 1:
        raise ImportError_("Range inputs must be scalar constants with known values")
    kind = c.value.dtype.kind
    if kind not in "iuf":
        raise ImportError_(f"Range inputs must be numbers, got a {c.value.dtype} tensor")
    return int(c.value.reshape(-1)[0]) if kind in "iu" else float(c.value.reshape(-1)[0])


def _gather(ins: Sequence[Const | None], attrs: Attrs, opset: int, op: str) -> list[Shape]:
    data, idx = _need(ins[0], "data"), _need(ins[1] if len(ins) > 1 else None, "indices")
    if not data.shape:
        raise ImportError_("Gather of a scalar")
    axis = _axis(int(attrs.get("axis", 0)), len(data.shape), op)
    return [(*data.shape[:axis], *idx.shape, *data.shape[axis + 1:])]


def _slice(ins: Sequence[Const | None], attrs: Attrs, opset: int, op: str) -> list[Shape]:
    shape = list(_need(ins[0], "data").shape)
    if opset < 10:
        starts, ends = [int(v) for v in attrs["starts"]], [int(v) for v in attrs["ends"]]
        axes = [int(a) for a in attrs.get("axes", range(len(starts)))]
        steps = [1] * len(starts)
    else:
        starts, ends = ints(ins[1], "starts"), ints(ins[2], "ends")
        axes = ints(ins[3], "axes") if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
        steps = ints(ins[4], "steps") if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ImportError_("Slice starts, ends, axes and steps differ in length")
    for s, e, a, st in zip(starts, ends, axes, steps, strict=True):
        axis = _axis(a, len(shape), op)
        picked = slice_range(s, e, st, shape[axis])
        shape[axis] = _length(picked)
    return [tuple(shape)]


def _length(r: range) -> int:
    """len(r), also past sys.maxsize (a declared dim may be any integer)."""
    if r.step > 0:
        return max(0, (r.stop - r.start + r.step - 1) // r.step)
    return max(0, (r.start - r.stop - r.step - 1) // -r.step)


_RULES = {"Tile": _tile, "Concat": _concat, "Expand": _expand, "ConstantOfShape": _constant_of_shape,
          "Range": _range, "Gather": _gather, "Slice": _slice}


def output_dims(op_type: str, ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Shape] | None:
    """The dims of each output of ``op_type`` on ``ins``, or None when the op has no rule here."""
    rule = _elementwise if op_type in ELEMENTWISE else _RULES.get(op_type)
    return None if rule is None else rule(ins, attrs, opset, op_type)


def elements(shapes: Sequence[Shape]) -> int:
    return sum(prod(s) for s in shapes)



#: the ops constant folding evaluates (``folders.FOLDERS`` has one function for each; tests check the two agree)
FOLD_OPS = frozenset({"Identity", "Cast", "CastLike", "Gather", "Slice", "Concat", "Unsqueeze", "Squeeze", "Reshape",
                       "Flatten", "Transpose", "ConstantOfShape", "Range", "Expand", "Tile", "Where", "Split", "Sum",
                       "Clip", "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Min", "Max", "Equal", "Less",
                       "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Not", "Neg", "Abs", "Floor", "Ceil",
                       "Round", "Sqrt", "Reciprocal", "Exp", "Log", "Sign", "ReduceProd", "ReduceSum", "ReduceMax",
                       "ReduceMin", "ReduceMean", "NonZero", "Size", "Shape"})

#: ops whose output dims follow from input dims alone (work on dims-only constants)
DIMS_ONLY = frozenset({"Identity", "Cast", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Transpose", "Shape",
                       "Size"})
