"""Constant folding without numpy, for what exported graphs fold most: shape arithmetic on a few
numbers (Shape -> Gather -> Unsqueeze -> Concat -> Reshape, Slice of any rank, Add/Sub/Mul/Div of
integers exactly and of float32/float64 as IEEE arithmetic, Cast), ConstantOfShape fills (a shape
and a value, never an array) and the ops that only move data (Reshape, Unsqueeze, Squeeze, Flatten,
Identity, Transpose, Expand), whose results keep their input's values: read in order, or computed
by numpy only if something asks. Such a result is never derived from another derived one (a
hostile file may stack thousands of Reshapes): the second is computed then.

:func:`fold` answers for the cases it knows and returns None for every other one; the caller then
folds with numpy (``folders``), so results and errors are those of the numpy folders
(tests/test_pyfold.py compares the two on every case here). ``fold`` (``archcalc.onnx_import.fold``)
has checked the result's dims and the import's budget before it asks.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from math import prod
from typing import Any

from archcalc.onnx_import.foldshape import axes_of, broadcast, ints, output_dims
from archcalc.onnx_import.tensors import DType, ListValues, data_type
from archcalc.onnx_import.values import Const, ImportError_
from archcalc.ops._onnx import flatten_axis, reshape_target, slice_range, squeeze_shape, unsqueeze_shape

__all__ = ["fold"]

Attrs = dict[str, Any]
INT64 = data_type(7)
#: (bits, signed) of the integer element types folded here
_INT_TYPES = {"int8": (8, True), "int16": (16, True), "int32": (32, True), "int64": (64, True),
              "uint8": (8, False), "uint16": (16, False), "uint32": (32, False), "uint64": (64, False)}
_ARITHMETIC = {"Add", "Sub", "Mul", "Div"}
#: struct formats of the float types folded here
_FLOAT_FORMATS = {"float16": "e", "float32": "f", "float64": "d"}


class _Derived:
    """The values of ``src`` reshaped, transposed or broadcast: in order (a reshape) or only through
    numpy (``flat`` None: ``Const.flat`` then asks numpy's array)."""

    __slots__ = ("how", "shape", "src")

    def __init__(self, src: Const, shape: tuple[int, ...], how: tuple[Any, ...]) -> None:
        self.src, self.shape, self.how = src, shape, how

    def array(self) -> Any:
        import numpy as np

        value = self.src.value
        assert value is not None
        if self.how[0] == "transpose":
            return np.transpose(value, self.how[1])
        if self.how[0] == "expand":
            return np.array(np.broadcast_to(value, self.shape))
        return value.reshape(self.shape)

    def flat(self) -> list[Any] | None:
        if self.how[0] == "reshape":
            return self.src.flat()
        if self.how[0] == "transpose":
            values = self.src.flat()
            if values is None:
                return None
            strides = _strides(self.src.shape)
            return [values[o] for o in _offsets([(range(self.src.shape[p]), strides[p]) for p in self.how[1]])]
        if self.how[0] == "expand" and self.src.size == 1:
            one = self.src.flat()
            return None if one is None else one * prod(self.shape)
        return None


def _values(values: list[Any], dtype: Any, shape: tuple[int, ...], origin: str | None = None) -> Const:
    assert dtype is not None
    return Const(shape, dtype, None, origin, None, ListValues(values, dtype.name, shape))


def _derived(src: Const, shape: tuple[int, ...], *how: Any) -> Const:
    if not src.known:  # dims only: they go through
        return Const(shape, src.dtype, None, src.origin, src.why)
    derived = _Derived(src, shape, how)
    if isinstance(src.source, _Derived):  # never a chain of derived values: computed now
        values = derived.flat()
        if values is not None:
            return _values(values, src.dtype, shape, src.origin)
        return Const(shape, src.dtype, derived.array(), src.origin)
    return Const(shape, src.dtype, None, src.origin, None, derived)


def _name(c: Const) -> str:
    return str(getattr(c.dtype, "name", c.dtype))


def _int_flat(c: Const | None, rank: int | None = None) -> list[int] | None:
    """A known integer constant's values (of rank <= 1, or ``rank``), or None."""
    if c is None or not c.known or c.kind not in "iu" or len(c.shape) > 1:
        return None
    if rank is not None and len(c.shape) != rank:
        return None
    return c.flat()


def _wrap(v: int, dtype_name: str) -> int:
    bits, signed = _INT_TYPES[dtype_name]
    v &= (1 << bits) - 1
    return v - (1 << bits) if signed and v >> (bits - 1) else v


def _view(op: str, ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const] | None:
    src = ins[0]
    if src is None:
        return None
    if op == "Identity":
        return [src]
    if op == "Reshape":
        target = attrs["shape"] if opset < 5 else ints(ins[1] if len(ins) > 1 else None, "Reshape shape")
        shape = reshape_target(src.shape, target, bool(attrs.get("allowzero", 0)))
    elif op == "Flatten":
        axis = flatten_axis(int(attrs.get("axis", 1)), len(src.shape))
        shape = (prod(src.shape[:axis]), prod(src.shape[axis:]))
    elif op == "Unsqueeze":
        shape = unsqueeze_shape(src.shape, axes_of(attrs, ins, 1) or [])
    elif op == "Squeeze":
        shape = squeeze_shape(src.shape, axes_of(attrs, ins, 1))
    else:  # Transpose
        perm = [int(p) for p in attrs.get("perm", list(range(len(src.shape)))[::-1])]
        if sorted(perm) != list(range(len(src.shape))):
            return None  # numpy's error
        return [_derived(src, tuple(src.shape[p] for p in perm), "transpose", tuple(perm))]
    return [_derived(src, tuple(shape), "reshape")]


def _shape(ins: Sequence[Const | None], attrs: Attrs, op: str) -> list[Const] | None:
    src = ins[0]
    if src is None:
        return None
    if op == "Size":
        return [_values([prod(src.shape)], INT64, ())]
    start = int(attrs.get("start", 0))
    end = attrs.get("end")
    picked = list(src.shape[start:end if end is None else int(end)])
    return [_values(picked, INT64, (len(picked),))]


def _gather(ins: Sequence[Const | None], attrs: Attrs) -> list[Const] | None:
    data, idx = ins[0], ins[1] if len(ins) > 1 else None
    values, where = _int_flat(data, 1), _int_flat(idx)
    if values is None or where is None or idx is None or data is None or int(attrs.get("axis", 0)) not in (0, -1):
        return None
    n = len(values)
    if any(not -n <= i < n for i in where):
        return None  # numpy's IndexError
    return [_values([values[i] for i in where], data.dtype, idx.shape)]


def _concat(ins: Sequence[Const | None], attrs: Attrs) -> list[Const] | None:
    parts = [c for c in ins if c is not None]
    if not parts or int(attrs["axis"]) not in (0, -1) or len({_name(c) for c in parts}) != 1:
        return None
    out: list[Any] = []
    for c in parts:
        values = c.flat() if c.known and c.kind in "iubf" and len(c.shape) == 1 else None
        if values is None:
            return None
        out.extend(values)
    return [_values(out, parts[0].dtype, (len(out),))]


def _slice(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const] | None:
    data = ins[0]
    values = data.flat() if data is not None and data.known and data.shape else None
    if values is None or data is None:
        return None
    if opset < 10:
        starts, ends = list(attrs["starts"]), list(attrs["ends"])
        axes, steps = list(attrs.get("axes", range(len(starts)))), [1] * len(starts)
    else:
        starts, ends = ints(ins[1], "starts"), ints(ins[2], "ends")
        axes = ints(ins[3], "axes") if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
        steps = ints(ins[4], "steps") if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    rank = len(data.shape)
    index: list[Sequence[int]] = [range(d) for d in data.shape]
    for s, e, a, st in zip(starts, ends, axes, steps, strict=False):  # as the numpy folder: a repeated axis, the last
        axis = int(a) % rank
        picked = slice_range(int(s), int(e), int(st), data.shape[axis])
        index[axis] = range(data.shape[axis])[slice(picked.start, picked.stop if picked.stop >= 0 else None,
                                                    picked.step)]
    strides = _strides(data.shape)
    out = [values[o] for o in _offsets([(index[i], strides[i]) for i in range(rank)])]
    return [_values(out, data.dtype, tuple(len(ix) for ix in index))]


def _strides(shape: tuple[int, ...]) -> list[int]:
    out, step = [0] * len(shape), 1
    for i in range(len(shape) - 1, -1, -1):
        out[i], step = step, step * shape[i]
    return out


def _offsets(axes: Sequence[tuple[Sequence[int], int]]) -> list[int]:
    """The flat offsets of every element, in order, picking ``indices`` along each axis of ``stride``."""
    offsets = [0]
    for indices, stride in axes:
        offsets = [o + i * stride for o in offsets for i in indices]
    return offsets


def _cast(ins: Sequence[Const | None], attrs: Attrs) -> list[Const] | None:
    src, to = ins[0], data_type(int(attrs["to"]))
    if src is None or to is None:
        return None
    if not src.known:
        return [Const(src.shape, to, None, src.origin, src.why)]
    values = src.flat() if src.kind in "iubf" else None
    if values is None:
        return None
    if to.name in _INT_TYPES:
        if src.kind == "f":  # numpy truncates toward zero; NaN, infinity and out-of-range are numpy's
            bits, signed = _INT_TYPES[to.name]
            lo, hi = (-(2.0 ** (bits - 1)), 2.0 ** (bits - 1)) if signed else (0.0, 2.0 ** bits)
            if any(not (lo < v < hi) for v in values):
                return None
        return [_values([_wrap(int(v), to.name) for v in values], to, src.shape, src.origin)]
    if to.name not in _FLOAT_FORMATS or any(type(v) is int and abs(v) > 2**53 for v in values):
        return None  # one rounding only: integers beyond 2^53 would be rounded twice
    rounded = _rounded([float(v) for v in values], to.name)
    return None if rounded is None else [_values(rounded, to, src.shape, src.origin)]


def _constant_of_shape(ins: Sequence[Const | None], attrs: Attrs) -> list[Const] | None:
    shape = tuple(ints(ins[0] if ins else None, "shape"))
    fill = attrs.get("value")
    if fill is None:
        return [_values([0.0] * prod(shape), data_type(1), shape)]
    if not isinstance(fill, Const) or not fill.known or fill.kind not in "iubf" or not isinstance(fill.dtype, DType):
        return None
    first = fill.flat()
    if not first:
        return None
    return [_values([first[0]] * prod(shape), fill.dtype, shape)]


def _expand(ins: Sequence[Const | None], attrs: Attrs) -> list[Const] | None:
    src = ins[0]
    if src is None or not src.known:
        return None
    (shape,) = output_dims("Expand", ins, attrs, 13) or [()]
    return [_derived(src, tuple(shape), "expand")]


def _rounded(values: list[float], dtype_name: str) -> list[float] | None:
    """Doubles rounded to ``dtype_name`` as numpy rounds (to nearest, ties to even); None where a
    finite value overflows it (numpy's infinity is left to numpy)."""
    letter = _FLOAT_FORMATS[dtype_name]
    if letter == "d":
        return values
    try:
        return list(struct.unpack(f"<{len(values)}{letter}", struct.pack(f"<{len(values)}{letter}", *values)))
    except OverflowError:
        return None


def _float_arithmetic(op: str, a: Const, b: Const) -> list[Const] | None:
    """Add/Sub/Mul/Div of two float32 or float64 constants of rank <= 1: computed in double precision and
    rounded once, which is exactly IEEE single-precision arithmetic for these four operations. A zero
    divisor (numpy's infinity or NaN) is left to numpy."""
    name = _name(a)
    x, y = a.flat(), b.flat()
    if name not in ("float32", "float64") or x is None or y is None or len(a.shape) > 1 or len(b.shape) > 1 \
            or (len(x) != len(y) and 1 not in (len(x), len(y))):
        return None
    shape = broadcast([a.shape, b.shape])
    n = prod(shape)
    x, y = x * n if len(x) == 1 else x, y * n if len(y) == 1 else y
    if op == "Div" and any(v == 0 for v in y):
        return None
    out = _rounded([_exact_float(op, p, q) for p, q in zip(x, y, strict=True)], name)
    return None if out is None else [_values(out, a.dtype, tuple(shape))]


def _exact_float(op: str, p: float, q: float) -> float:
    return p + q if op == "Add" else p - q if op == "Sub" else p * q if op == "Mul" else p / q


def _arithmetic(op: str, ins: Sequence[Const | None]) -> list[Const] | None:
    """Integer Add/Sub/Mul/Div of two same-typed constants of rank <= 1 (one may broadcast), exactly;
    float ones as IEEE arithmetic does (``_float_arithmetic``)."""
    if len(ins) != 2 or ins[0] is None or ins[1] is None:
        return None
    a, b = ins[0], ins[1]
    name = _name(a)
    if name != _name(b) or not a.known or not b.known:
        return None
    if a.kind == "f" and b.kind == "f":
        return _float_arithmetic(op, a, b)
    x, y = _int_flat(a), _int_flat(b)
    if x is None or y is None or name not in _INT_TYPES:
        return None
    if len(x) != len(y) and 1 not in (len(x), len(y)):
        return None
    shape = broadcast([a.shape, b.shape])
    n = prod(shape)
    x, y = x * n if len(x) == 1 else x, y * n if len(y) == 1 else y
    if op == "Div" and any(v == 0 for v in y):
        raise ImportError_("folded integer division by zero")
    out = [_exact(op, p, q) for p, q in zip(x, y, strict=True)]
    bits, signed = _INT_TYPES[name]
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if any(not lo <= v <= hi for v in out):
        raise ImportError_(f"folded integer arithmetic overflows {name} (a shape computed from dims this large "
                           f"cannot be represented in the model)")
    return [_values(out, a.dtype, tuple(shape))]


def _exact(op: str, p: int, q: int) -> int:
    if op == "Add":
        return p + q
    if op == "Sub":
        return p - q
    if op == "Mul":
        return p * q
    quotient = abs(p) // abs(q)  # ONNX Div on integers truncates toward zero
    return quotient if (p >= 0) == (q > 0) else -quotient


def fold(op: str, ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const] | None:
    """The outputs of ``op`` on constant inputs when this module folds that case; None otherwise."""
    if op in ("Identity", "Reshape", "Flatten", "Unsqueeze", "Squeeze", "Transpose"):
        return _view(op, ins, attrs, opset)
    if op in ("Shape", "Size"):
        return _shape(ins, attrs, op)
    if op == "Gather":
        return _gather(ins, attrs)
    if op == "Concat":
        return _concat(ins, attrs)
    if op == "Slice":
        return _slice(ins, attrs, opset)
    if op == "Cast":
        return _cast(ins, attrs)
    if op == "ConstantOfShape":
        return _constant_of_shape(ins, attrs)
    if op == "Expand":
        return _expand(ins, attrs)
    if op in _ARITHMETIC:
        return _arithmetic(op, ins)
    return None
