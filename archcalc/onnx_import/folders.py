"""The numpy side of constant folding: one function per ONNX op, from constant inputs to constant
outputs. Called by :func:`archcalc.onnx_import.fold.fold` only when the result is small (its dims
are checked first); the ops in ``DIMS_ONLY`` also take inputs known only by their dims and give
dims. Integer arithmetic is exact (Python integers) and bounded: Pow and ReduceProd refuse results
that cannot fit 64 bits before computing them (Pow(3, 1e9) would take hours).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import prod
from typing import Any

import numpy as np

from archcalc.onnx_import.foldshape import DIMS_ONLY, axes_of, ints, output_dims
from archcalc.onnx_import.tensors import as_numpy
from archcalc.onnx_import.values import Const, ImportError_
from archcalc.ops._onnx import flatten_axis, reshape_target, slice_range, squeeze_shape, unsqueeze_shape

__all__ = ["DIMS_ONLY", "FOLDERS", "Folder"]

Attrs = dict[str, Any]
Folder = Callable[[Sequence[Const | None], Attrs, int], list[Const]]


def _v(c: Const | None, what: str) -> np.ndarray:
    if c is None or c.value is None:
        why = f" ({c.why})" if c is not None and c.why else ""
        raise ImportError_(f"{what} is not a constant with a known value{why}")
    return c.value


def _const(value: Any, origin: str | None = None) -> Const:
    array = np.asarray(value)
    return Const(tuple(int(d) for d in array.shape), array.dtype, array, origin)


def _dims_only(shape: Sequence[int], dtype: Any, src: Const) -> Const:
    return Const(tuple(int(d) for d in shape), dtype, None, src.origin, src.why)


def _numpy_unary(fn: Callable[[np.ndarray], np.ndarray]) -> Folder:
    return lambda ins, attrs, opset: [_const(fn(_v(ins[0], "input")))]


def _is_int(a: np.ndarray) -> bool:
    return a.dtype.kind in "iu"


def _checked_int(exact: Any, dtype: Any) -> np.ndarray:
    """Python-integer results back to ``dtype``; a value that does not fit is an error, never a wrap."""
    array = np.asarray(exact, dtype=object)
    info = np.iinfo(dtype)
    if array.size and any(not info.min <= int(v) <= info.max for v in array.flat):
        raise ImportError_(f"folded integer arithmetic overflows {np.dtype(dtype).name} (a shape computed from "
                           f"dims this large cannot be represented in the model)")
    return array.astype(dtype)


def _numpy_binary(fn: Callable[[np.ndarray, np.ndarray], Any], exact_ints: bool = False) -> Folder:
    """``exact_ints``: integer inputs are computed with Python integers (shape arithmetic on huge dims
    never wraps around silently)."""

    def fold(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
        a, b = _v(ins[0], "input A"), _v(ins[1], "input B")
        if exact_ints and _is_int(a) and _is_int(b):
            if fn is np.power:
                _check_power(a, b)
            return [_const(_checked_int(fn(a.astype(object), b.astype(object)), np.result_type(a, b)))]
        return [_const(fn(a, b))]

    return fold


def _check_power(base: np.ndarray, exponent: np.ndarray) -> None:
    """Integer Pow whose result cannot fit 64 bits is refused before it is computed (an exponent
    of 10^9 makes a Python integer of a billion digits)."""
    b, e = np.broadcast_arrays(base.astype(np.float64), exponent.astype(np.float64))
    if np.any((np.abs(b) >= 2) & (e > 64)):
        raise ImportError_(f"folded integer Pow overflows {np.result_type(base, exponent).name} "
                           f"(exponent up to {int(exponent.max()):,})")
    if np.any((e < 0) & (np.abs(b) != 1)):
        raise ImportError_("folded integer Pow with a negative exponent")


def _int_div(x: int, y: int) -> int:
    """Integer division truncating toward zero (as ONNX Div on integers)."""
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y > 0) else -q


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype == object or b.dtype == object:
        if any(int(v) == 0 for v in np.asarray(b).flat):
            raise ImportError_("folded integer division by zero")
        return np.asarray(np.frompyfunc(_int_div, 2, 1)(a, b))
    if np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
        return np.asarray(np.trunc(a / b)).astype(np.result_type(a, b))
    return a / b


def _gather(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    data, idx = _v(ins[0], "data"), _v(ins[1], "indices")
    if not _is_int(idx):
        raise ImportError_(f"Gather indices must be an integer tensor, got {idx.dtype}")
    return [_const(np.take(data, idx.astype(np.int64), axis=int(attrs.get("axis", 0))))]


def _slice(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    data = _v(ins[0], "data")
    if opset < 10:
        starts, ends = attrs["starts"], attrs["ends"]
        axes = attrs.get("axes", list(range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = ints(ins[1], "starts"), ints(ins[2], "ends")
        axes = ints(ins[3], "axes") if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
        steps = ints(ins[4], "steps") if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    index = [slice(None)] * data.ndim
    for s, e, a, st in zip(starts, ends, axes, steps, strict=False):
        axis = int(a) % data.ndim
        picked = slice_range(int(s), int(e), int(st), data.shape[axis])
        index[axis] = slice(picked.start, picked.stop if picked.stop >= 0 else None, picked.step)
    return [_const(data[tuple(index)])]


def _concat(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    arrays = [_v(c, "input") for c in ins if c is not None]
    return [_const(np.concatenate(arrays, axis=int(attrs["axis"])))]


def _unsqueeze(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    src = _require(ins[0])
    axes = axes_of(attrs, ins, 1) or []
    shape = unsqueeze_shape(src.shape, axes)
    if src.value is None:
        return [_dims_only(shape, src.dtype, src)]
    return [Const(shape, src.dtype, src.value.reshape(shape), src.origin)]


def _squeeze(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    src = _require(ins[0])
    shape = squeeze_shape(src.shape, axes_of(attrs, ins, 1))
    if src.value is None:
        return [_dims_only(shape, src.dtype, src)]
    return [Const(shape, src.dtype, src.value.reshape(shape), src.origin)]


def _reshape(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    src = _require(ins[0])
    target = attrs["shape"] if opset < 5 else ints(ins[1] if len(ins) > 1 else None, "Reshape shape")
    shape = reshape_target(src.shape, target, bool(attrs.get("allowzero", 0)))
    if src.value is None:
        return [_dims_only(shape, src.dtype, src)]
    return [Const(shape, src.dtype, src.value.reshape(shape), src.origin)]


def _flatten(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    src = _require(ins[0])
    axis = flatten_axis(int(attrs.get("axis", 1)), len(src.shape))
    shape = (prod(src.shape[:axis]), prod(src.shape[axis:]))
    if src.value is None:
        return [_dims_only(shape, src.dtype, src)]
    return [Const(shape, src.dtype, src.value.reshape(shape), src.origin)]


def _transpose(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    src = _require(ins[0])
    perm = [int(p) for p in attrs.get("perm", list(range(len(src.shape)))[::-1])]
    shape = tuple(src.shape[p] for p in perm)
    if src.value is None:
        return [_dims_only(shape, src.dtype, src)]
    return [Const(shape, src.dtype, np.transpose(src.value, perm), src.origin)]


def _cast(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    from archcalc.onnx_import.tensors import NO_NUMPY, numpy_dtype

    src = _require(ins[0])
    to = int(attrs["to"])
    dtype = numpy_dtype(to)
    if dtype is None and to not in NO_NUMPY:
        raise ImportError_(f"Cast to an unknown data type ({to})")
    if src.value is None or dtype is None:  # bfloat16, float8, 4-bit: numpy cannot hold them, dims only
        return [_dims_only(src.shape, dtype, src)]
    return [Const(src.shape, dtype, src.value.astype(dtype), src.origin)]


def _identity(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    src = _require(ins[0])
    return [src]


def _fill_dtype(attrs: Attrs) -> Any:
    fill = attrs.get("value")
    return as_numpy(fill.dtype) if fill is not None else np.dtype(np.float32)


def _constant_of_shape(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    """A shape and a value: called only when the result is small (``fold`` checks the dims first)."""
    (shape,) = output_dims("ConstantOfShape", ins, attrs, opset) or [()]
    fill = attrs.get("value")
    first = _v(fill, "ConstantOfShape value").reshape(-1)[0] if isinstance(fill, Const) else (
        np.asarray(fill).reshape(-1)[0] if fill is not None else 0)
    return [_const(np.full(shape, first, dtype=_fill_dtype(attrs)))]


def _range(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    (shape,) = output_dims("Range", ins, attrs, opset) or [()]
    start, _, delta = (_v(c, "range input").reshape(()) for c in ins[:3])
    return [_const(start + delta * np.arange(shape[0], dtype=start.dtype))]


def _expand(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    (shape,) = output_dims("Expand", ins, attrs, opset) or [()]
    return [_const(np.array(np.broadcast_to(_v(ins[0], "input"), shape)))]


def _tile(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    return [_const(np.tile(_v(ins[0], "input"), ints(ins[1], "repeats")))]


def _where(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    return [_const(np.where(_v(ins[0], "cond"), _v(ins[1], "X"), _v(ins[2], "Y")))]


def _reduce(fn: Callable[..., np.ndarray]) -> Folder:
    def fold(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
        data = _v(ins[0], "data")
        axes = axes_of(attrs, ins, 1)
        if not axes and attrs.get("noop_with_empty_axes", 0):
            return [_const(data)]
        keep = bool(attrs.get("keepdims", 1))
        if _is_int(data) and fn in (np.prod, np.sum):
            if fn is np.prod:
                _check_product(data, tuple(axes) if axes else None)
            exact = fn(data.astype(object), axis=tuple(axes) if axes else None, keepdims=keep)
            return [_const(_checked_int(exact, data.dtype))]
        return [_const(fn(data, axis=tuple(axes) if axes else None, keepdims=keep))]

    return fold


def _check_product(data: np.ndarray, axes: tuple[int, ...] | None) -> None:
    """An integer product that cannot fit 64 bits is refused before the exact (Python integer)
    product is computed: a product of a million large factors is a number of millions of digits."""
    magnitude = np.where(data == 0, 0.0, np.log2(np.abs(data.astype(np.float64)) + (data == 0)))
    has_zero = np.any(data == 0, axis=axes)
    if np.any(~has_zero & (np.sum(magnitude, axis=axes) > 64)):
        raise ImportError_(f"folded integer ReduceProd overflows {data.dtype.name}")


def _split(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    data = _v(ins[0], "input")
    axis = int(attrs.get("axis", 0))
    sizes = attrs.get("split")
    if sizes is None and len(ins) > 1 and ins[1] is not None:
        sizes = ints(ins[1], "split")
    if sizes is None:
        # equal parts; opset 18 num_outputs: ceil(n/parts) each, the last one smaller
        parts = int(attrs.get("num_outputs", 0)) or 1  # the importer sets it from the node's outputs
        length = data.shape[axis]
        chunk = -(-length // parts)
        sizes = [max(min(chunk, length - i * chunk), 0) for i in range(parts)]
    return [_const(a) for a in np.split(data, np.cumsum(sizes)[:-1], axis=axis)]


def _sum(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    total = _const(_v(ins[0], "input"))
    for c in ins[1:]:
        total = _numpy_binary(np.add, exact_ints=True)([total, c], attrs, opset)[0]
    return [total]


def _clip(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    data = _v(ins[0], "input")
    lo = attrs.get("min") if opset < 11 else (_v(ins[1], "min") if len(ins) > 1 and ins[1] is not None else None)
    hi = attrs.get("max") if opset < 11 else (_v(ins[2], "max") if len(ins) > 2 and ins[2] is not None else None)
    return [_const(np.clip(data, lo, hi))]


FOLDERS: dict[str, Folder] = {
    "Identity": _identity,
    "Cast": _cast,
    "CastLike": lambda ins, attrs, opset: [_const(_v(ins[0], "input").astype(_v(ins[1], "target").dtype))],
    "Gather": _gather,
    "Slice": _slice,
    "Concat": _concat,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Reshape": _reshape,
    "Flatten": _flatten,
    "Transpose": _transpose,
    "ConstantOfShape": _constant_of_shape,
    "Range": _range,
    "Expand": _expand,
    "Tile": _tile,
    "Where": _where,
    "Split": _split,
    "Sum": _sum,
    "Clip": _clip,
    "Add": _numpy_binary(np.add, exact_ints=True),
    "Sub": _numpy_binary(np.subtract, exact_ints=True),
    "Mul": _numpy_binary(np.multiply, exact_ints=True),
    "Div": _numpy_binary(_div, exact_ints=True),
    "Pow": _numpy_binary(np.power, exact_ints=True),
    "Mod": _numpy_binary(np.mod),
    "Min": _numpy_binary(np.minimum),
    "Max": _numpy_binary(np.maximum),
    "Equal": _numpy_binary(np.equal),
    "Less": _numpy_binary(np.less),
    "LessOrEqual": _numpy_binary(np.less_equal),
    "Greater": _numpy_binary(np.greater),
    "GreaterOrEqual": _numpy_binary(np.greater_equal),
    "And": _numpy_binary(np.logical_and),
    "Or": _numpy_binary(np.logical_or),
    "Not": _numpy_unary(np.logical_not),
    "Neg": _numpy_unary(np.negative),
    "Abs": _numpy_unary(np.abs),
    "Floor": _numpy_unary(np.floor),
    "Ceil": _numpy_unary(np.ceil),
    "Round": _numpy_unary(np.round),
    "Sqrt": _numpy_unary(np.sqrt),
    "Reciprocal": _numpy_unary(np.reciprocal),
    "Exp": _numpy_unary(np.exp),
    "Log": _numpy_unary(np.log),
    "Sign": _numpy_unary(np.sign),
    "ReduceProd": _reduce(np.prod),
    "ReduceSum": _reduce(np.sum),
    "ReduceMax": _reduce(np.max),
    "ReduceMin": _reduce(np.min),
    "ReduceMean": _reduce(np.mean),
    "NonZero": lambda ins, attrs, opset: [_const(np.array(np.nonzero(_v(ins[0], "input")), dtype=np.int64))],
    "Size": lambda ins, attrs, opset: [_const(np.array(_require(ins[0]).size, dtype=np.int64))],
    "Shape": lambda ins, attrs, opset: [_const(_shape_slice(_require(ins[0]).shape, attrs))],
}


def _require(c: Const | None, what: str = "data") -> Const:
    """A required input; an empty name in its place (a malformed file) is a one-line error."""
    if c is None:
        raise ImportError_(f"the required {what} input is missing (its name is empty)")
    return c


def _shape_slice(shape: tuple[int, ...], attrs: Attrs) -> np.ndarray:
    start = int(attrs.get("start", 0))
    end = attrs.get("end")
    return np.array(shape[start:end if end is None else int(end)], dtype=np.int64)
