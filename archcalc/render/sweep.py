"""Sweep results as text: a table (or markdown) with the Pareto front marked, CSV or JSON."""

from __future__ import annotations

from archcalc.errors import OptionError, suggest
from archcalc.render.results import plural
from archcalc.sweeps.results import SweepResult, shown

FORMATS = ("table", "markdown", "json", "csv")

#: the front marked when no axes are asked for (when the sweep computed both)
DEFAULT_AXES = ("macs", "params")


def render_sweep(result: SweepResult, fmt: str = "table", *, x: str | None = None, y: str | None = None,
                 minimize: tuple[bool, bool] = (True, True), csv_context: bool = False) -> str:
    """``fmt`` json/csv: every row as data; table/markdown: the rows, a ``pareto`` column marking
    the front in (x, y), a summary line and the conventions used. Without ``x``/``y`` the front is
    the one in (macs, params), left out when the sweep did not compute both; a named axis the rows
    do not carry is an OptionError. CSV is a header row and one row per variant (``pandas.read_csv``
    reads it as it is); ``csv_context`` puts the conventions first as a ``#`` line."""
    if fmt == "json":
        return result.to_json()
    if fmt == "csv":
        return result.to_csv(context=csv_context)
    if fmt not in FORMATS:
        raise OptionError(f"unknown format '{fmt}'{suggest(fmt, FORMATS)}; formats: {', '.join(FORMATS)}")
    from tabulate import tabulate

    axes: tuple[str, str] | None = None
    if x is not None or y is not None:
        axes = (result.metric(x or DEFAULT_AXES[0]), result.metric(y or DEFAULT_AXES[1]))
    elif all(a in result.names for a in DEFAULT_AXES):
        axes = DEFAULT_AXES
    front = {id(r) for r in result.pareto(*axes, minimize=minimize)} if axes else set()
    headers = [*result.columns, *(["pareto"] if axes else [])]
    rows = [[*(shown(r.get(c)) if r.get(c) is not None else "" for c in result.columns),
             *(["*" if id(r) in front else ""] if axes else [])] for r in result.rows]
    text = tabulate(rows, headers=headers, tablefmt="github" if fmt == "markdown" else "simple", intfmt=",")
    summary = f"{plural(len(result), 'variant')}, {len(result.errors):,} invalid"
    if axes:
        summary += f"; Pareto front ({axes[0]}, {axes[1]}): {plural(len(front), 'row')} (marked *)"
    latency = f"latency_ms: {result.meta['latency_basis']}\n" if result.meta.get("latency_basis") else ""
    return text + f"\n\n{summary}\n{latency}conventions: {result.conventions.describe()}\n"
