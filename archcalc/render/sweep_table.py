"""A sweep as the table ``archcalc sweep`` prints (JSON and CSV come from the result itself)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archcalc.conventions import Conventions
    from archcalc.sweeps import SweepResult


def sweep_text(result: SweepResult, fmt: str, x: str, y: str, minimize: tuple[bool, bool],
               conventions: Conventions) -> str:
    """``fmt`` json or csv: the result's own forms; table or markdown: one row per variant, the
    Pareto front over (``x``, ``y``) marked ``*``, then the counts and the conventions."""
    if fmt == "json":
        return result.to_json()
    if fmt == "csv":
        return result.to_csv()
    from tabulate import tabulate

    front = {id(r) for r in result.pareto(x, y, minimize=minimize)}
    rows = [[*(r.get(c) if r.get(c) is not None else "" for c in result.columns),
             "*" if id(r) in front else ""] for r in result.rows]
    text = tabulate(rows, headers=[*result.columns, "pareto"],
                    tablefmt="github" if fmt == "markdown" else "simple", intfmt=",")
    text += (f"\n\n{len(result)} variants, {len(result.errors)} invalid; Pareto front ({x}, {y}): "
             f"{len(front)} rows (marked *)\nconventions: {conventions.describe()}\n")
    return text
