"""Constant folding: shape arithmetic (Shape -> Gather -> Concat -> Reshape chains, Constant,
ConstantOfShape, Cast, Range, ...) evaluated with numpy on small tensors, so that it resolves to
exact shapes and never appears as layers. Tensors known only by their dims (stripped weights,
external data, huge ConstantOfShape outputs) go through the ops that only move data (Transpose,
Reshape, Cast, Identity, Squeeze/Unsqueeze, Flatten) as dims, never materialised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import prod
from typing import Any

import numpy as np

from archcalc.onnx_import.values import MAX_FOLD_ELEMENTS, Const, ImportError_
from archcalc.ops._onnx import flatten_axis, reshape_target, slice_range, squeeze_shape, unsqueeze_shape

__all__ = ["DIMS_ONLY", "FOLDERS", "fold", "reshape_target", "slice_range"]

Attrs = dict[str, Any]
Folder = Callable[[Sequence[Const | None], Attrs, int], list[Const]]


def _v(c: Const | None, what: str) -> np.ndarray:
    if c is None or c.value is None:
        raise ImportError_(f"{what} is not a constant with a known value")
    return c.value


def _const(value: Any, origin: str | None = None) -> Const:
    array = np.asarray(value)
    return Const(tuple(int(d) for d in array.shape), array.dtype, array, origin)


def _dims_only(shape: Sequence[int], dtype: Any, origin: str | None = None) -> Const:
    return Const(tuple(int(d) for d in shape), dtype, None, origin)


def _axes(attrs: Attrs, ins: Sequence[Const | None], index: int) -> list[int] | None:
    if "axes" in attrs:
        return [int(a) for a in attrs["axes"]]
    if len(ins) > index and ins[index] is not None:
        return [int(a) for a in _v(ins[index], "axes").reshape(-1)]
    return None


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
            return [_const(_checked_int(fn(a.astype(object), b.astype(object)), np.result_type(a, b)))]
        return [_const(fn(a, b))]

    return fold


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
    return [_const(np.take(data, idx.astype(np.int64), axis=int(attrs.get("axis", 0))))]


def _slice(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    data = _v(ins[0], "data")
    if opset < 10:
        starts, ends = attrs["starts"], attrs["ends"]
        axes = attrs.get("axes", list(range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts = [int(v) for v in _v(ins[1], "starts").reshape(-1)]
        ends = [int(v) for v in _v(ins[2], "ends").reshape(-1)]
        axes = ([int(v) for v in _v(ins[3], "axes").reshape(-1)] if len(ins) > 3 and ins[3] is not None
                else list(range(len(starts))))
        steps = ([int(v) for v in _v(ins[4], "steps").reshape(-1)] if len(ins) > 4 and ins[4] is not None
                 else [1] * len(starts))
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
    axes = _axes(attrs, ins, 1) or []
    shape = unsqueeze_shape(src.shape, axes)
    if src.value is None:
        return [_dims_only(shape, src.dtype, src.origin)]
    return [Const(shape, src.dtype, src.value.reshape(shape), src.origin)]


def _squeeze(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    src = _require(ins[0])
    shape = squeeze_shape(src.shape, _axes(attrs, ins, 1))
    if src.value is None:
        return [_dims_only(shape, src.dtype, src.origin)]
    return [Const(shape, src.dtype, src.value.reshape(shape), src.origin)]


def _reshape(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    src = _require(ins[0])
    target = attrs["shape"] if opset < 5 else [int(v) for v in _v(ins[1], "shape").reshape(-1)]
    shape = reshape_target(src.shape, target, bool(attrs.get("allowzero", 0)))
    if src.value is None:
        return [_dims_only(shape, src.dtype, src.origin)]
    return [Const(shape, src.dtype, src.value.reshape(shape), src.origin)]


def _flatten(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    src = _require(ins[0])
    axis = flatten_axis(int(attrs.get("axis", 1)), len(src.shape))
    shape = (prod(src.shape[:axis]), prod(src.shape[axis:]))
    if src.value is None:
        return [_dims_only(shape, src.dtype, src.origin)]
    return [Const(shape, src.dtype, src.value.reshape(shape), src.origin)]


def _transpose(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    src = _require(ins[0])
    perm = [int(p) for p in attrs.get("perm", list(range(len(src.shape)))[::-1])]
    shape = tuple(src.shape[p] for p in perm)
    if src.value is None:
        return [_dims_only(shape, src.dtype, src.origin)]
    return [Const(shape, src.dtype, np.transpose(src.value, perm), src.origin)]


def _cast(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    from onnx.helper import tensor_dtype_to_np_dtype

    src = _require(ins[0])
    dtype = tensor_dtype_to_np_dtype(int(attrs["to"]))
    if src.value is None:
        return [_dims_only(src.shape, dtype, src.origin)]
    return [Const(src.shape, dtype, src.value.astype(dtype), src.origin)]


def _identity(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    src = _require(ins[0])
    return [src]


def _constant_of_shape(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    shape = tuple(int(v) for v in _v(ins[0], "shape").reshape(-1))
    if any(d < 0 for d in shape):
        raise ImportError_(f"ConstantOfShape with a negative size {list(shape)}")
    fill = attrs.get("value")
    fill_array = np.asarray(fill).reshape(-1) if fill is not None else np.zeros(1, np.float32)
    if prod(shape) > MAX_FOLD_ELEMENTS:
        return [_dims_only(shape, fill_array.dtype)]
    return [_const(np.full(shape, fill_array[0], dtype=fill_array.dtype))]


def _range(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    start, limit, delta = (_v(c, "range input").reshape(()) for c in ins[:3])
    count = max(int(np.ceil((limit - start) / delta)), 0) if delta != 0 else 0
    if count > MAX_FOLD_ELEMENTS:
        raise ImportError_(f"Range of {count:,} elements is too large to fold")
    return [_const(start + delta * np.arange(count, dtype=start.dtype))]


def _expand(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    data = _v(ins[0], "input")
    shape = tuple(int(v) for v in _v(ins[1], "shape").reshape(-1))
    out_shape = np.broadcast_shapes(data.shape, shape)
    if prod(out_shape) > MAX_FOLD_ELEMENTS:
        return [_dims_only(out_shape, data.dtype)]
    return [_const(data * np.ones(shape, dtype=data.dtype))]


def _tile(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    return [_const(np.tile(_v(ins[0], "input"), [int(r) for r in _v(ins[1], "repeats").reshape(-1)]))]


def _where(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    return [_const(np.where(_v(ins[0], "cond"), _v(ins[1], "X"), _v(ins[2], "Y")))]


def _reduce(fn: Callable[..., np.ndarray]) -> Folder:
    def fold(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
        data = _v(ins[0], "data")
        axes = _axes(attrs, ins, 1)
        if not axes and attrs.get("noop_with_empty_axes", 0):
            return [_const(data)]
        keep = bool(attrs.get("keepdims", 1))
        if _is_int(data) and fn in (np.prod, np.sum):
            exact = fn(data.astype(object), axis=tuple(axes) if axes else None, keepdims=keep)
            return [_const(_checked_int(exact, data.dtype))]
        return [_const(fn(data, axis=tuple(axes) if axes else None, keepdims=keep))]

    return fold


def _split(ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    data = _v(ins[0], "input")
    axis = int(attrs.get("axis", 0))
    sizes = attrs.get("split")
    if sizes is None and len(ins) > 1 and ins[1] is not None:
        sizes = [int(v) for v in _v(ins[1], "split")]
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


#: ops whose output dims follow from input dims alone (work on dims-only constants)
DIMS_ONLY = frozenset({"Identity", "Cast", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Transpose", "Shape",
                       "Size"})


def fold(op_type: str, ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    """Outputs of a node whose inputs are all constants."""
    folder = FOLDERS.get(op_type)
    if folder is None:
        raise ImportError_(f"cannot fold {op_type} on constants")
    if op_type not in DIMS_ONLY and any(c is not None and c.value is None for c in ins):
        # a dims-only input (a stripped weight) reaches an op that needs values
        raise ImportError_(f"{op_type} needs the values of a weight that is read as dims only")
    try:
        with np.errstate(all="ignore"):
            return folder(ins, attrs, opset)
    except ImportError_:
        raise
    except (ValueError, IndexError, TypeError, KeyError, OverflowError, MemoryError) as exc:
        raise ImportError_(f"cannot fold {op_type}: {exc}") from None
