"""The layer-family registry: one module per family, listed here explicitly.

``lookup(type_name)`` returns the op and the attributes the name implies (``relu`` is an
``activation`` with ``fn: relu``). Every pass asks the registry: ``REGISTRY[kind]`` holds the
schema, ``apply``, the facts (``view``, ``inplace``, ``kernel_class``), ``emit`` and the docs;
``TRANSLATORS`` maps each ONNX op_type to the translator of the op that owns it.

A new layer family is one module in ``ops/`` plus its entry in ``OPS`` below (and its import);
``tests/test_registry.py`` says what the module lacks, and ``ARCHCALC_UPDATE_DOCS=1`` rewrites
the layer table of docs/spec-language.md from it.
"""

from __future__ import annotations

from typing import Any

from archcalc.errors import SpecError, suggest
from archcalc.ops._onnx import Translator
from archcalc.ops.activation import Activation
from archcalc.ops.base import Op
from archcalc.ops.conv import Conv, LocallyConnected
from archcalc.ops.conv_transpose import ConvTranspose
from archcalc.ops.drop_path import DropPath
from archcalc.ops.elementwise import Elementwise
from archcalc.ops.fc import RBF, FullyConnected
from archcalc.ops.input import Input
from archcalc.ops.layer_scale import LayerScale
from archcalc.ops.matmul import MatMul
from archcalc.ops.merge import Add, Concat, Mul
from archcalc.ops.norm import LRN, BatchNorm
from archcalc.ops.normalization import GroupNorm, InstanceNorm, LayerNorm
from archcalc.ops.pool import AdaptiveAvgPool, AvgPool, GlobalAvgPool, GlobalMaxPool, MaxPool
from archcalc.ops.rearrange import ChannelShuffle, PixelShuffle, PixelUnshuffle
from archcalc.ops.reduce import Reduce
from archcalc.ops.resize import Upsample
from archcalc.ops.shape_ops import Dropout, Flatten, Identity, Pad, Split
from archcalc.ops.subsample import Subsample
from archcalc.ops.tensor_ops import Reshape, Slice, Transpose
from archcalc.ops.unknown import Unknown

OPS: tuple[Op, ...] = (
    Input(), Conv(), LocallyConnected(), ConvTranspose(), MaxPool(), AvgPool(),
    GlobalAvgPool(), GlobalMaxPool(), AdaptiveAvgPool(), Subsample(), FullyConnected(), RBF(),
    Activation(), BatchNorm(), LRN(), LayerNorm(), GroupNorm(), InstanceNorm(), Dropout(), Flatten(),
    Identity(), Pad(), Split(), PixelShuffle(), PixelUnshuffle(), ChannelShuffle(),
    Add(), Mul(), Concat(), Upsample(), Reshape(), Transpose(), Slice(), MatMul(), Reduce(),
    Elementwise(), LayerScale(), DropPath(), Unknown(),
)

#: canonical kind -> op
REGISTRY: dict[str, Op] = {op.kind: op for op in OPS}

#: every name a spec may use as ``type`` -> (canonical kind, implied attributes)
TYPE_NAMES: dict[str, tuple[str, dict[str, Any]]] = {}
for _op in OPS:
    TYPE_NAMES[_op.kind] = (_op.kind, {})
    for _alias in _op.aliases:
        TYPE_NAMES[_alias] = (_op.kind, {})
    for _name, _implied in _op.shorthands.items():
        TYPE_NAMES.setdefault(_name, (_op.kind, dict(_implied)))

#: types a spec may not use directly
INTERNAL = frozenset({"input", "unknown"})

#: ONNX op_type -> the translator of the op that owns it
TRANSLATORS: dict[str, Translator] = {t: fn for op in OPS for t, fn in op.translators.items()}


def other_names(op: Op) -> list[str]:
    """The names besides its kind that a spec may use for ``op`` (aliases and shorthands)."""
    return sorted(n for n, (k, _) in TYPE_NAMES.items() if k == op.kind and n != op.kind)


def lookup(type_name: str) -> tuple[Op, dict[str, Any]]:
    """The op for a spec ``type`` and the attributes the name implies; unknown names are errors."""
    entry = TYPE_NAMES.get(type_name)
    if entry is None or type_name in INTERNAL:
        public = sorted(n for n in TYPE_NAMES if n not in INTERNAL)
        raise SpecError(
            f"unknown layer type '{type_name}'{suggest(type_name, public)}; "
            "run 'archcalc types' for the list"
        )
    kind, implied = entry
    return REGISTRY[kind], implied
