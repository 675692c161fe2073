"""The layer types as text, from the registry: ``archcalc types`` and the layer table of
docs/spec-language.md (kept current by ``tests/test_registry.py``)."""

from __future__ import annotations

from archcalc.ops import INTERNAL, OPS, other_names
from archcalc.ops.base import Op

#: the markers around the generated table in docs/spec-language.md
TABLE_BEGIN = "<!-- BEGIN layer types (generated from archcalc.ops: ARCHCALC_UPDATE_DOCS=1 python -m pytest) -->"
TABLE_END = "<!-- END layer types -->"


def public_ops() -> list[Op]:
    """The ops a spec may name (not the internal input and unknown)."""
    return [op for op in OPS if op.kind not in INTERNAL]


def onnx_ops(op: Op) -> str:
    """The ONNX op types that import as ``op``, or how it comes from ONNX."""
    return ", ".join(op.translators) if op.translators else op.import_note


def describe(op: Op) -> list[str]:
    """The lines ``archcalc types`` prints for one op."""
    lines = [f"{op.kind} ({op.family}): {op.doc}", f"    keys: {', '.join(op.schema) or '-'}"]
    names = other_names(op)
    if names:
        lines.append(f"    also: {', '.join(names)}")
    lines.append(f"    onnx: {onnx_ops(op)}")
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table() -> str:
    """The layer-type table of docs/spec-language.md, markers included."""
    lines = [TABLE_BEGIN, "| type (also) | keys | description |", "|---|---|---|"]
    for op in public_ops():
        names = other_names(op) if len(op.shorthands) <= 3 else sorted(op.aliases)  # activation: see its notes
        also = f" ({', '.join(names)})" if names else ""
        text = op.doc + (f"; {op.doc_notes}" if op.doc_notes else "")
        lines.append(f"| `{op.kind}`{also} | {', '.join(op.schema) or '-'} | {_cell(text)} |")
    lines.append(TABLE_END)
    return "\n".join(lines) + "\n"
