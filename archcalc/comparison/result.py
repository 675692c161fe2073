"""A comparison of two networks as data: totals, rows per stage/block/layer with deltas and
ratios, how the layers were matched, the differences and why. ``to_dict()`` is JSON-ready (exact
integers; a ratio is a float, ``None`` where A's figure is 0)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archcalc.choices import GroupBy
from archcalc.comparison.differences import Difference, Differences, shape_text
from archcalc.comparison.matching import BY_NAME, BY_STRUCTURE, Matching
from archcalc.receptive import Field, format_field
from archcalc.report import Report

SCHEMA_VERSION = 1

#: the figures every row and the totals compare, in order
ROW_FIGURES = ("params", "macs", "activation_bytes")
#: the figures the totals compare
TOTAL_FIGURES = ("params", "macs", "flops", "activation_bytes", "peak_activation_bytes", "param_bytes")


def delta(a: int, b: int) -> int:
    return b - a


def ratio(a: int, b: int) -> float | None:
    """B / A, or None where A is 0 (nothing to scale)."""
    return b / a if a else None


@dataclass(frozen=True, slots=True)
class Side:
    """One network's part of a row."""

    groups: tuple[str, ...]
    layers: tuple[str, ...]
    params: int
    macs: int
    flops: int
    activation_bytes: int
    #: receptive field and output shape of the row's last layer on this side (None: no layer)
    rf: Field | None
    shape: tuple[tuple[int, ...], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "groups": list(self.groups),
            "layers": len(self.layers),
            "params": self.params,
            "macs": self.macs,
            "flops": self.flops,
            "activation_bytes": self.activation_bytes,
            "receptive_field": self.rf.to_dict() if self.rf is not None else None,
            "receptive_field_text": format_field(self.rf) if self.rf is not None else "",
            "output": shape_text(self.shape) if self.shape else "",
        }


@dataclass(frozen=True, slots=True)
class Row:
    group: str
    a: Side
    b: Side

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "delta": {k: delta(getattr(self.a, k), getattr(self.b, k)) for k in ROW_FIGURES},
            "ratio": {k: ratio(getattr(self.a, k), getattr(self.b, k)) for k in ROW_FIGURES},
        }


@dataclass(frozen=True)
class Comparison:
    a: Report
    b: Report
    by: GroupBy
    #: which network's grouping makes the rows ("a" or "b"), and how each grouping was found
    rows_from: str
    grouped_a: str
    grouped_b: str
    rows: tuple[Row, ...]
    matching: Matching
    differences: Differences
    notes: tuple[str, ...] = ()

    @property
    def first_difference(self) -> Difference | None:
        return self.differences.first

    def total(self, side: str, figure: str) -> int:
        report = self.a if side == "a" else self.b
        return int(getattr(report.totals, figure))

    def matched(self, how: str) -> int:
        return sum(1 for p in self.matching.pairs if p.how == how)

    def to_dict(self) -> dict[str, Any]:
        def network(report: Report, grouped: str) -> dict[str, Any]:
            return {"name": report.name, "file": report.file, "conventions": report.conventions.describe(),
                    "grouped_by": grouped, "layers": len(report.layers),
                    "totals": {k: int(getattr(report.totals, k)) for k in TOTAL_FIGURES},
                    "receptive_field": {k: format_field(v) for k, v in report.receptive_field.items()}}

        totals = {k: (self.total("a", k), self.total("b", k)) for k in TOTAL_FIGURES}
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "comparison",
            "by": self.by.value,
            "rows_from": self.rows_from,
            "a": network(self.a, self.grouped_a),
            "b": network(self.b, self.grouped_b),
            "totals": {
                "delta": {k: delta(a, b) for k, (a, b) in totals.items()},
                "ratio": {k: ratio(a, b) for k, (a, b) in totals.items()},
            },
            "rows": [r.to_dict() for r in self.rows],
            "matching": {
                "by_name": self.matched(BY_NAME),
                "by_structure": self.matched(BY_STRUCTURE),
                "only_a": list(self.matching.only_a),
                "only_b": list(self.matching.only_b),
                "pairs": [{"a": p.a, "b": p.b, "how": p.how} for p in self.matching.pairs],
            },
            "first_difference": _difference(self.first_difference) if self.first_difference else None,
            "differences": [_difference(d) for d in self.differences.found],
            "neutral_differences": [_difference(d) for d in self.differences.neutral],
            "reshaped_layers": self.differences.reshaped,
            "notes": list(self.notes),
        }


def _difference(d: Difference) -> dict[str, Any]:
    from archcalc.comparison.differences import value_text

    return {
        "what": d.what,
        "a": d.a,
        "b": d.b,
        "changes": [{"key": c.key, "a": value_text(c.a), "b": value_text(c.b)} for c in d.changes],
        "input_a": shape_text(d.in_a) if d.in_a else "",
        "input_b": shape_text(d.in_b) if d.in_b else "",
        "output_a": shape_text(d.out_a) if d.out_a else "",
        "output_b": shape_text(d.out_b) if d.out_b else "",
        "reason": d.reason,
    }
