"""``expected:`` blocks: published figures a spec must reproduce, each with its source and the
conventions that make it come out. ``check(graph)`` compares them with a fresh analysis.

::

    expected:
      - source: "LeCun et al. 1998, Proc. IEEE, Sec. II-B"
        conventions: {preset: lecun1998}
        tolerance: 0             # relative; 0 means exact
        layers:
          C3: {units: 1600, params: 1516, connections: 151600}
        totals: {params: 60000, connections: 340908}
      - source: "Krizhevsky et al. 2012, Sec. 3.5"
        erratum: "253,440 does not follow from 55 x 55 x 96 = 290,400"
        layers: {conv1: {units: 253440}}

An entry with ``erratum:`` lists published figures known NOT to follow from the architecture:
they are reported as errata (with the explanation), never "fixed", and the check holds when the
computed value differs from the published one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from archcalc.errors import ExpectationError, suggest
from archcalc.language.expectations import BLOCK_KEYS, LAYER_KEYS, TOTAL_KEYS, parse_expected
from archcalc.report import COLUMNS, Report

__all__ = ["BLOCK_KEYS", "LAYER_KEYS", "TOTAL_KEYS", "Check", "check", "describe_conventions", "parse_expected"]



@dataclass(frozen=True, slots=True)
class Check:
    source: str
    where: str  # a layer name or "totals"
    key: str
    expected: Any
    computed: Any
    tolerance: float
    #: "exact", "close" (within tolerance), "erratum" (a documented published error), "mismatch"
    status: str
    conventions: str = ""
    erratum: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "mismatch"

    @property
    def difference(self) -> Any:
        if _numeric(self.expected) and _numeric(self.computed):
            return self.computed - self.expected
        return None

    def describe(self) -> str:
        mark = {"exact": "ok", "close": "ok", "erratum": "erratum", "mismatch": "MISMATCH"}[self.status]
        tol = f" (tolerance {self.tolerance:g})" if self.tolerance and self.status != "erratum" else ""
        why = f": {self.erratum}" if self.status == "erratum" and self.erratum else ""
        return (f"{mark}: {self.where}.{self.key} published {self.expected} computed {self.computed}{tol}{why} "
                f"[{self.source}]")


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float, Fraction)) and not isinstance(value, bool)


def _status(expected: Any, computed: Any, tolerance: float, erratum: str | None) -> str:
    if expected == computed:
        return "exact" if erratum is None else "mismatch"  # an "erratum" that holds is not one
    if erratum is not None:
        return "erratum"
    if tolerance and _numeric(expected) and _numeric(computed):
        return "close" if abs(computed - expected) <= tolerance * abs(expected) else "mismatch"
    return "mismatch"


def describe_conventions(raw: Mapping[str, Any]) -> str:
    """``preset paper_macs, batch=8`` for an expected block's conventions."""
    items = dict(raw)
    preset = items.pop("preset", None)
    parts = [f"preset {preset}"] if preset else []
    parts += [f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in items.items()]
    return ", ".join(parts) or "the spec's conventions"


def _layer_value(report: Report, name: str, key: str) -> Any:
    """A layer's value; for the name of a block use (``inception_4a``), the sum over its layers."""
    try:
        record = report[name]
    except KeyError:
        members = [r for r in report.layers if r.name.startswith(name + ".")]
        if not members or key not in COLUMNS or key == "live_bytes":
            raise
        return sum(getattr(r, key) for r in members)
    if key == "shape":
        return list(record.shape)
    if key == "receptive_field":
        if record.rf.is_global:
            return "global"
        sizes = list(record.rf.size)
        return sizes[0] if len(set(sizes)) == 1 else sizes
    return getattr(record, key)


def check(graph: Any, overrides: Mapping[str, Any] | None = None) -> list[Check]:
    """Analyse ``graph`` under each expected block's conventions and compare every figure."""
    from archcalc.analysis import analyze, conventions_for

    results: list[Check] = []
    for block in graph.expected:
        conv_raw = dict(block["conventions"])
        preset = conv_raw.pop("preset", None)
        variant = graph
        if block["variables"]:
            from archcalc.language.loader import build_from_document

            variant = build_from_document(graph.meta["document"], variables=block["variables"], file=graph.file)
        conv = conventions_for(variant, preset, {**conv_raw, **(overrides or {})})
        report = analyze(variant, conv)
        tol = block["tolerance"]
        conv_text = describe_conventions(block["conventions"])
        if block["variables"]:
            named = f"variant {block['variant']}: " if block.get("variant") else "variables "
            conv_text += "; " + named + ", ".join(f"{k}={v}" for k, v in block["variables"].items())
        erratum = block["erratum"]
        for name, values in block["layers"].items():
            for key, want in values.items():
                try:
                    got = _layer_value(report, name, key)
                except KeyError:
                    raise ExpectationError(
                        f"expected: layer '{name}' is not in the network"
                        f"{suggest(name, [r.name for r in report.layers])}",
                        file=graph.file,
                    ) from None
                if isinstance(want, list) and key != "shape" and key != "receptive_field":
                    want = list(want)
                results.append(Check(block["source"], name, key, want, got, tol,
                                     _status(want, got, tol, erratum), conv_text, erratum))
        for key, want in block["totals"].items():
            got = getattr(report.totals, key)
            results.append(Check(block["source"], "totals", key, want, got, tol,
                                 _status(want, got, tol, erratum), conv_text, erratum))
    return results
