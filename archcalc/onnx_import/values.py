"""What the importer knows about each ONNX tensor: a constant (value or only dims) or an
activation produced by a layer (its full shape, batch axis included).

The classes live in ``archcalc/ops/_onnx.py`` (translators in ``ops`` read them); this module
keeps their old import path."""

from __future__ import annotations

from archcalc.errors import OnnxImportError
from archcalc.ops._onnx import MAX_FOLD_ELEMENTS, Act, Const

__all__ = ["MAX_FOLD_ELEMENTS", "Act", "Const", "ImportError_", "Value"]

#: the old name, kept importable for one release
ImportError_ = OnnxImportError

Value = Const | Act
