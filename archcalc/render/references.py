"""``archcalc tables`` as text: published figures against computed ones, per reference network."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from archcalc.render.results import tally

if TYPE_CHECKING:
    from archcalc.expected import Check
    from archcalc.references import Reference


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,}"
    return f"{int(value):,}"


def _difference(c: Check) -> str:
    diff = c.difference
    if diff is None:
        return "" if c.expected == c.computed else "differs"
    if diff == 0:
        return "0"
    rel = f" ({diff / c.expected:+.2%})" if c.expected else ""
    return f"{diff:+,}{rel}"


def _status(c: Check) -> str:
    if c.status == "exact":
        return "exact"
    if c.status == "close":
        return f"within the source's rounding ({c.tolerance:g})"
    if c.status == "erratum":
        return f"ERRATUM: {c.erratum}"
    return "MISMATCH"


def _groups(ref: Reference) -> list[tuple[str, str, list[Check]]]:
    groups: dict[tuple[str, str], list[Check]] = {}
    for c in ref.checks:
        groups.setdefault((c.source, c.conventions), []).append(c)
    return [(source, conv, checks) for (source, conv), checks in groups.items()]


def render_tables(refs: Sequence[Reference], fmt: str = "table") -> str:
    if fmt == "json":
        data = [
            {
                "name": r.name, "title": r.title, "file": r.file, "receptive_field": r.receptive_field,
                "rows": [
                    {"source": c.source, "conventions": c.conventions, "figure": f"{c.where}.{c.key}",
                     "published": c.expected, "computed": c.computed, "difference": c.difference,
                     "status": c.status, "erratum": c.erratum, "tolerance": c.tolerance}
                    for c in r.checks
                ],
            }
            for r in refs
        ]
        return json.dumps({"schema_version": 1, "references": data}, indent=2, default=str) + "\n"
    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["network", "source", "conventions", "figure", "published", "computed", "difference",
                         "status", "erratum"])
        for r in refs:
            for c in r.checks:
                writer.writerow([r.name, c.source, c.conventions, f"{c.where}.{c.key}", c.expected, c.computed,
                                 c.difference if c.difference is not None else "", c.status, c.erratum or ""])
        return buf.getvalue()
    from tabulate import tabulate

    md = fmt == "markdown"
    lines: list[str] = []
    for r in refs:
        lines.append(f"## {r.title}" if md else f"{r.title}  [{r.file}]")
        lines.append("")
        for source, conv, checks in _groups(r):
            lines.append(f"**{source}** - counted with {conv}" if md else f"{source}  (counted with {conv})")
            lines.append("")
            rows = [[f"{c.where} {c.key}".replace("totals ", "total "), _number(c.expected), _number(c.computed),
                     _difference(c), _status(c)] for c in checks]
            lines.append(tabulate(rows, headers=["figure", "published", "computed", "difference", ""],
                                  tablefmt="github" if md else "simple", disable_numparse=True,
                                  colalign=("left", "right", "right", "right", "left")))
            lines.append("")
        lines.append(("receptive field: " if not md else "Receptive field: ") + r.receptive_field)
        lines.append("")
    lines.append(tally([c for r in refs for c in r.checks]))
    return "\n".join(lines) + "\n"
