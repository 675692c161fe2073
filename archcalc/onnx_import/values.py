"""What the importer knows about each ONNX tensor: a constant (value or only dims) or an
activation produced by a layer (its full shape, batch axis included)."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING, Any

from archcalc.errors import OnnxImportError
from archcalc.ir import TensorRef

if TYPE_CHECKING:
    import numpy as np

#: constants with more elements than this keep only their dims (never materialised)
MAX_FOLD_ELEMENTS = 1 << 20


#: the old name, kept importable for one release
ImportError_ = OnnxImportError


@dataclass(frozen=True)
class Const:
    shape: tuple[int, ...]
    dtype: Any  # numpy dtype
    value: np.ndarray | None  # None: dims only (stripped, external data, or too large)
    #: the graph initializer (or Constant node output) it comes from: parameter candidate
    origin: str | None = None

    @property
    def size(self) -> int:
        return prod(self.shape)


@dataclass(frozen=True)
class Act:
    ref: TensorRef
    shape: tuple[int, ...]  # full ONNX shape, batch axis first

    @property
    def sample(self) -> tuple[int, ...]:
        return self.shape[1:]


Value = Const | Act
