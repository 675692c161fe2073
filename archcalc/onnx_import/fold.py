"""Constant folding: shape arithmetic (Shape -> Gather -> Concat -> Reshape chains, Constant,
ConstantOfShape, Cast, Range, ...) evaluated with numpy on small tensors, so that it resolves to
exact shapes and never appears as layers.

Only what analysis needs is computed. Before a node is folded, the dims of its result are worked
out from its inputs' dims (``foldshape``, nothing allocated); the result is materialised only
when it has at most ``MAX_FOLD_ELEMENTS`` elements and the import's folded values together stay
under ``MAX_FOLD_TOTAL`` (a :class:`FoldBudget` per import). Anything else is a symbolic
constant: dims and data type, no value, and the reason (shown if a later node needs the value).
Tensors known only by their dims (stripped weights, external data, large results) go through the
ops that only move data (Transpose, Reshape, Cast, ...) and the ones whose result dims follow from
their inputs' dims (elementwise, Concat, Tile, Expand, Gather, Slice) as dims.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archcalc.onnx_import import pyfold
from archcalc.onnx_import.foldshape import DIMS_ONLY, ELEMENTWISE, FOLD_OPS, Attrs, elements, output_dims
from archcalc.onnx_import.tensors import as_numpy
from archcalc.onnx_import.values import MAX_FOLD_ELEMENTS, Const, ImportError_
from archcalc.ops._onnx import reshape_target, slice_range

__all__ = ["DIMS_ONLY", "FOLD_OPS", "MAX_FOLD_TOTAL", "FoldBudget", "fold", "reshape_target", "slice_range"]

#: the most elements of folded values one import materialises, all results together
MAX_FOLD_TOTAL = 1 << 22


class FoldBudget:
    """How many more elements of folded values this import may materialise."""

    def __init__(self, total: int = MAX_FOLD_TOTAL) -> None:
        self.left = total

    def take(self, n: int) -> bool:
        if n > self.left:
            return False
        self.left -= n
        return True


def fold(op_type: str, ins: Sequence[Const | None], attrs: Attrs, opset: int,
         budget: FoldBudget | None = None) -> list[Const]:
    """Outputs of a node whose inputs are all constants (see the module docstring). What
    ``pyfold`` knows is folded without numpy; numpy is imported the first time a model needs a
    constant computed that it does not."""
    if op_type not in FOLD_OPS:
        raise ImportError_(f"cannot fold {op_type} on constants")
    try:
        return _fold(op_type, ins, attrs, opset, budget or FoldBudget())
    except ImportError_:
        raise
    except (ValueError, IndexError, TypeError, KeyError, OverflowError, MemoryError) as exc:
        raise ImportError_(f"cannot fold {op_type}: {exc}") from None


def _numpy(op_type: str, ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    import numpy as np

    from archcalc.onnx_import.folders import FOLDERS

    with np.errstate(all="ignore"):
        return FOLDERS[op_type](ins, attrs, opset)


def _compute(op_type: str, ins: Sequence[Const | None], attrs: Attrs, opset: int) -> list[Const]:
    out = pyfold.fold(op_type, ins, attrs, opset)
    return out if out is not None else _numpy(op_type, ins, attrs, opset)


def _fold(op_type: str, ins: Sequence[Const | None], attrs: Attrs, opset: int, budget: FoldBudget) -> list[Const]:
    dims_only = next((c for c in ins if c is not None and not c.known), None)
    if op_type in DIMS_ONLY:  # moves data: the result is no larger than its input, dims go through
        return _spent(_compute(op_type, ins, attrs, opset), budget)
    if dims_only is None:  # strings are never computed with: analysis needs none (and b"1" * 10**9 is 1 GB)
        dims_only = next((Const(c.shape, c.dtype, None, c.origin, "a string tensor, which archcalc does not fold")
                          for c in ins if c is not None and c.known and c.kind in "OSU"),
                         None)
    shapes = output_dims(op_type, ins, attrs, opset)
    if shapes is None:  # no larger than its inputs, but needs their values
        if dims_only is not None:
            raise ImportError_(f"{op_type} needs the values of {dims_only.why or _what(dims_only)}")
        return _spent(_compute(op_type, ins, attrs, opset), budget)
    size = elements(shapes)
    why = None
    if dims_only is not None:
        why = dims_only.why or f"computed from {_what(dims_only)}"
    elif size > MAX_FOLD_ELEMENTS:
        why = f"{size:,} elements, more than archcalc folds ({MAX_FOLD_ELEMENTS:,})"
    elif not budget.take(size):
        why = f"the model's folded constants pass {MAX_FOLD_TOTAL:,} elements"
    if why is not None:
        dtype = _dtype(op_type, ins, attrs, opset)
        return [Const(tuple(s), dtype, None, None, why) for s in shapes]
    return _compute(op_type, ins, attrs, opset)


def _spent(outs: list[Const], budget: FoldBudget) -> list[Const]:
    budget.take(min(sum(c.size for c in outs if c.known), budget.left))
    return outs


def _what(c: Const) -> str:
    return f"'{c.origin}', which is read as dims only" if c.origin else "a tensor known only by its dims"


def _dtype(op_type: str, ins: Sequence[Const | None], attrs: Attrs, opset: int) -> Any:
    """The data type of a symbolic result, without computing it: elementwise ops are run on one
    element of each input's type."""
    import numpy as np

    if op_type == "ConstantOfShape":
        fill = attrs.get("value")
        return fill.dtype if fill is not None else np.dtype(np.float32)
    present = [c for c in ins if c is not None]
    if op_type in ELEMENTWISE:
        if any(c.dtype is None for c in present):
            return None
        proxies = [None if c is None else Const((), c.dtype, np.ones((), as_numpy(c.dtype))) for c in ins]
        try:
            return _numpy(op_type, proxies, attrs, opset)[0].dtype
        except (ArithmeticError, ValueError, TypeError, ImportError_):
            return None
    if op_type == "Concat" and all(c.dtype is not None for c in present):
        return np.result_type(*(as_numpy(c.dtype) for c in present))
    return present[0].dtype if present else None
