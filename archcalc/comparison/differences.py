"""Where two matched networks differ, and why, in words.

A difference starts where a matched pair's own attributes differ with an effect (the attributes
of A's layer, applied to B's input shapes, give other output shapes or costs than B's layer), or
where a layer has no counterpart. Layers that differ only because their inputs do are not
differences of their own: they are counted (``reshaped``). An attribute that differs without an
effect (``rounding`` of a window that fits either way, float32 round trips of LRN's alpha) is
listed apart (``neutral``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from archcalc.comparison.grouping import scope_path
from archcalc.comparison.matching import Matching
from archcalc.errors import ArchcalcError
from archcalc.ir import Graph
from archcalc.report import LayerRecord, Report

ATTRIBUTES = "attributes"
ONLY_A = "only_a"
ONLY_B = "only_b"

Shape = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Change:
    key: str
    a: Any
    b: Any


@dataclass(frozen=True, slots=True)
class Difference:
    what: str
    a: str | None
    b: str | None
    changes: tuple[Change, ...]
    in_a: tuple[Shape, ...]
    in_b: tuple[Shape, ...]
    out_a: tuple[Shape, ...]
    out_b: tuple[Shape, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Differences:
    #: differences with an effect, in execution order (A's; B-only layers where B has them)
    found: tuple[Difference, ...]
    #: attributes that differ without an effect
    neutral: tuple[Difference, ...]
    #: matched layers whose output shapes differ
    reshaped: int

    @property
    def first(self) -> Difference | None:
        return self.found[0] if self.found else None


def same(x: Any, y: Any) -> bool:
    """Equal attribute values: a scalar equals a tuple of it per axis (``7`` and ``(7, 7)``,
    ``3`` and ``((3, 3), (3, 3))``), floats within float32 precision."""
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return len(x) == len(y) and all(same(u, v) for u, v in zip(x, y, strict=True))
    if isinstance(x, (list, tuple)):
        return all(same(u, y) for u in x)
    if isinstance(y, (list, tuple)):
        return all(same(x, v) for v in y)
    if isinstance(x, bool) or isinstance(y, bool) or not isinstance(x, (int, float)) or not isinstance(y, (int, float)):
        return bool(x == y)
    return math.isclose(x, y, rel_tol=1e-6, abs_tol=0.0)


def value_text(value: Any) -> str:
    """``(7, 7)`` -> ``7``; ``((0, 1), (0, 1))`` -> ``[[0, 1], [0, 1]]``; floats to 6 digits."""
    if isinstance(value, (list, tuple)):
        if value and all(same(v, value[0]) for v in value) and not isinstance(value[0], (list, tuple)):
            return value_text(value[0])
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def shape_text(shapes: Sequence[Shape]) -> str:
    return " | ".join("x".join(str(v) for v in s) for s in shapes) or "-"


def _in_shapes(graph: Graph, records: Mapping[str, LayerRecord], name: str) -> tuple[Shape, ...]:
    return tuple(records[ref].shapes[i] for ref, i in graph.layers[name].inputs)


def _effective(graph_a: Graph, graph_b: Graph, a: str, b: str, ins_b: tuple[Shape, ...]) -> bool:
    from archcalc.analysis import apply_layer

    kind = graph_b.layers[b].kind
    try:
        with_a = apply_layer(kind, graph_a.layers[a].attrs, ins_b)
        with_b = apply_layer(kind, graph_b.layers[b].attrs, ins_b)
    except (ArchcalcError, ValueError, TypeError, KeyError):  # A's attributes do not fit B's inputs at all
        return True
    return with_a.outs != with_b.outs or with_a.cost != with_b.cost


def find_differences(graph_a: Graph, report_a: Report, graph_b: Graph, report_b: Report,
                     matching: Matching) -> Differences:
    rec_a = {r.name: r for r in report_a.layers}
    rec_b = {r.name: r for r in report_b.layers}
    b_of = matching.b_of()
    a_of = matching.a_of()
    found: list[tuple[float, Difference]] = []
    neutral: list[Difference] = []
    reshaped = 0
    position = {n: float(i) for i, n in enumerate(rec_a)}
    for a, ra in rec_a.items():
        ins_a = _in_shapes(graph_a, rec_a, a)
        if a not in b_of:
            found.append((position[a], Difference(ONLY_A, a, None, (), ins_a, (), ra.shapes, (),
                                                  _only_text("A", ra))))
            continue
        b = b_of[a]
        rb = rec_b[b]
        ins_b = _in_shapes(graph_b, rec_b, b)
        la, lb = graph_a.layers[a].attrs, graph_b.layers[b].attrs
        changes = tuple(Change(k, la.get(k), lb.get(k)) for k in dict.fromkeys([*la, *lb])
                        if not same(la.get(k), lb.get(k)))
        reshaped += ra.shapes != rb.shapes
        if not changes:
            continue
        diff = Difference(ATTRIBUTES, a, b, changes, ins_a, ins_b, ra.shapes, rb.shapes,
                          _change_text(changes, la, ins_a, ins_b, ra, rb))
        if _effective(graph_a, graph_b, a, b, ins_b):
            found.append((position[a], diff))
        else:
            neutral.append(diff)
    last = -1.0
    for b, rb in rec_b.items():
        if b in a_of:
            last = position[a_of[b]]
        elif b in matching.only_b:
            found.append((last + 0.5, Difference(ONLY_B, None, b, (), (), _in_shapes(graph_b, rec_b, b), (),
                                                 rb.shapes, _only_text("B", rb))))
    ordered = [d for _, d in sorted(found, key=lambda item: item[0])]
    return Differences(tuple(_with_moves(ordered)), tuple(neutral), reshaped)


def _only_text(side: str, record: LayerRecord) -> str:
    return (f"only in {side}: {record.kind} {record.name} -> {shape_text(record.shapes)} "
            f"(params {record.params:,}, MACs {record.macs:,})")


def _change_text(changes: Sequence[Change], attrs_a: Mapping[str, Any], ins_a: tuple[Shape, ...],
                 ins_b: tuple[Shape, ...], ra: LayerRecord, rb: LayerRecord) -> str:
    what = "; ".join(f"{c.key} {value_text(c.a)} vs {value_text(c.b)}" for c in changes)
    if ra.shapes == rb.shapes:
        out = f"output {shape_text(ra.shapes)} in both"
    else:
        out = f"output {shape_text(ra.shapes)} vs {shape_text(rb.shapes)}"
    inputs = ("" if not ins_a and not ins_b else f" (input {shape_text(ins_a)} in both)" if ins_a == ins_b
              else f" (input {shape_text(ins_a)} vs {shape_text(ins_b)})")
    macs = f"; MACs {ra.macs:,} vs {rb.macs:,}" if ra.macs != rb.macs else ""
    return f"{what}{_rounding_text(changes, attrs_a, ins_a)}: {out}{inputs}{macs}"


def _first(value: Any) -> Any:
    while isinstance(value, (list, tuple)) and value:
        value = value[0]
    return value


def _rounding_text(changes: Sequence[Change], attrs: Mapping[str, Any], ins_a: tuple[Shape, ...]) -> str:
    """For a window whose rounding differs: the division that rounds, along the first spatial axis
    (``(112 + 0 - 3)/2 + 1 = 55.5: ceil gives 56, floor 55``)."""
    change = next((c for c in changes if c.key == "rounding"), None)
    if change is None or not ins_a or len(ins_a[0]) < 2 or "kernel" not in attrs:
        return ""
    n = ins_a[0][1]
    k, s, d = _first(attrs["kernel"]), _first(attrs.get("stride", 1)), _first(attrs.get("dilation", 1)) or 1
    pad = attrs.get("padding", 0)
    pads = sum(pad[0]) if isinstance(pad, (list, tuple)) and pad and isinstance(pad[0], (list, tuple)) \
        else 2 * int(_first(pad) or 0)
    if not all(isinstance(v, int) for v in (n, k, s, d)) or s < 1:
        return ""
    k_eff = d * (k - 1) + 1
    exact = Fraction(n + pads - k_eff, s) + 1
    if exact.denominator == 1:
        return ""
    rounded = {"floor": math.floor(exact), "ceil": math.ceil(exact)}
    said = [f"{r} gives {rounded[r]}" for r in (str(change.a), str(change.b)) if r in rounded]
    return f" (({n} + {pads} - {k_eff})/{s} + 1 = {float(exact):g}: {', '.join(said)})" if said else ""


def _with_moves(found: list[Difference]) -> list[Difference]:
    """Say so where one attribute's values swap between two layers of one block (the stride
    moved from the 3x3 to the 1x1)."""
    out = list(found)
    for i, d in enumerate(found):
        for c in d.changes:
            for e in found:
                if e is d or e.a is None or d.a is None or scope_path(e.a) != scope_path(d.a):
                    continue
                if any(f.key == c.key and same(f.a, c.b) and same(f.b, c.a) for f in e.changes):
                    moved = (f"{c.key} moved: A has {c.key} {value_text(c.a)} on {d.a} and {value_text(c.b)} "
                             f"on {e.a}; B the other way round")
                    out[i] = Difference(d.what, d.a, d.b, d.changes, d.in_a, d.in_b, d.out_a, d.out_b,
                                        f"{out[i].reason}; {moved}")
                    break
            else:
                continue
            break
    return out

