"""ONNX node -> archcalc layer: the dispatch.

The translators live with their layer families (``archcalc/ops/<family>.py``, each op's
``translators``); ``archcalc.ops.TRANSLATORS`` maps every ONNX op_type to its own. What a
translator sees and returns (``Node``, ``LayerSpec``) is in ``archcalc/ops/_onnx.py``.
"""

from __future__ import annotations

from archcalc.errors import ArchcalcError, OnnxImportError
from archcalc.ops import TRANSLATORS
from archcalc.ops._onnx import LayerSpec, Node, Translator

__all__ = ["TRANSLATORS", "LayerSpec", "Node", "Translator", "translate"]


def translate(translator: Translator, node: Node) -> LayerSpec:
    """The translator's layer; a node it cannot read (a required attribute missing, an attribute of the
    wrong type or length: a malformed or hand-edited file) is a one-line error, not a crash."""
    try:
        return translator(node)
    except ArchcalcError:
        raise
    except KeyError as exc:
        raise OnnxImportError(f"{node.op_type} node lacks the attribute or input {exc}") from None
    except (TypeError, ValueError, IndexError, AttributeError, ZeroDivisionError, OverflowError) as exc:
        raise OnnxImportError(f"{node.op_type} node is malformed ({type(exc).__name__}: {exc})") from None
