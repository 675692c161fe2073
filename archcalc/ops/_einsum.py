"""ONNX Einsum, for the equations CNN exporters emit: a (batched) matrix product, imported as a
``matmul`` layer (``fc`` for a 2-D input). Two forms:

- two activations ``L i k, L k j -> L i j`` (the same leading subscripts ``L``, batch first):
  ``bij,bjk->bik``, ``bhij,bhjk->bhik``;
- an activation times a constant matrix over its last axis ``A k, k j -> A j``: ``bhwc,cd->bhwd``
  (the constant may come first: ``cd,bhwc->bhwd``).

``...`` stands for the leading axes. Any other equation (a transposed operand, a contraction over
several axes, a trace, a diagonal, an implicit output, three operands) is refused by name, with
the equation in the message: archcalc never guesses the cost of an Einsum.
"""

from __future__ import annotations

from archcalc.errors import OnnxImportError
from archcalc.ops._onnx import Act, Const, LayerSpec, Node

_SPARE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _expand(term: str, rank: int, eq: str) -> str:
    if "..." not in term:
        return term
    explicit = len(term) - 3
    if rank < explicit:
        raise OnnxImportError(f"Einsum equation '{eq}': operand {term} has rank {rank}")
    return term.replace("...", _SPARE[26 - (rank - explicit):] if rank > explicit else "")


def _refuse(eq: str, why: str) -> OnnxImportError:
    return OnnxImportError(f"Einsum equation '{eq}' is not a batched matrix product archcalc models ({why}); "
                           f"supported: 'L i k, L k j -> L i j' of two activations and 'A k, k j -> A j' by a "
                           f"constant matrix")


def einsum_from_onnx(node: Node) -> LayerSpec:
    eq = node.text("equation", "").replace(" ", "")
    if "->" not in eq:
        raise _refuse(eq, "no explicit output")
    lhs, out = eq.split("->")
    terms = lhs.split(",")
    if len(terms) != 2 or len(node.input_names) != 2:
        raise _refuse(eq, f"{len(terms)} operands")
    values = [node.get(0), node.get(1)]
    ranks = [len(v.shape) if v is not None else 0 for v in values]
    a, b = (_expand(t, r, eq) for t, r in zip(terms, ranks, strict=True))
    ellipsis = max((r - (len(t) - 3) for t, r in zip(terms, ranks, strict=True) if "..." in t), default=0)
    o = _expand(out, len(out) - 3 + ellipsis, eq) if "..." in out else out
    if any(len(set(t)) != len(t) for t in (a, b, o)):
        raise _refuse(eq, "a repeated subscript (a diagonal or trace)")
    acts = [isinstance(v, Act) for v in values]
    if all(acts):
        lead = a[:-2]
        ok = (len(a) == len(b) >= 3 and b[:-2] == lead and o[:-2] == lead and a[-1] == b[-2]
              and a[-1] not in o and o[-2:] == a[-2] + b[-1])
        if not ok:
            raise _refuse(eq, "not of the form L i k, L k j -> L i j")
        return LayerSpec("matmul", {}, list(node.input_names))
    if acts == [False, True]:
        a, b = b, a
        values.reverse()
        names = [node.input_names[1], node.input_names[0]]
    elif acts == [True, False]:
        names = list(node.input_names)
    else:
        raise _refuse(eq, "no activation operand")
    x, w = values
    if not isinstance(w, Const) or not isinstance(x, Act) or len(b) != 2:
        raise _refuse(eq, "the constant is not a matrix")
    k, j = b[0], b[1]
    if a[-1] != k or k in o or o != a[:-1] + j:
        raise _refuse(eq, "not of the form A k, k j -> A j")
    units = int(w.shape[1])
    if len(x.shape) == 2:
        return LayerSpec("fc", {"units": units, "bias": "none"}, [names[0]], {"weights": [names[1]]})
    return LayerSpec("matmul", {"units": units}, [names[0]], {"weights": [names[1]]})
