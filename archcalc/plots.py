"""Plots (matplotlib, an optional extra): per-layer bars, receptive-field growth, sweep scatter
with its Pareto front. Each function returns the matplotlib Figure; ``save`` writes PNG or SVG
(by extension) atomically."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archcalc.errors import ArchcalcError

if TYPE_CHECKING:
    from archcalc.report import LayerRecord, Report
    from archcalc.runtime import ProfileResult
    from archcalc.sweeps import SweepResult

FORMATS = (".png", ".svg")
#: layers shown per profile panel (the slowest ones; the rest are summed into "other")
TOP_LAYERS = 25


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ArchcalcError("plots need matplotlib: pip install 'archcalc[plot]'") from None
    return plt


#: numeric per-layer columns a bar chart can show
PLOTTABLE = ("units", "weights", "biases", "params", "fixed_params", "buffers", "connections", "macs", "flops",
             "param_bytes", "activation_bytes", "live_bytes")
#: above this many layers, bars are grouped by block (the name up to its last '.')
MAX_BARS = 120
_ROW_INCHES = 0.17


def _check_columns(columns: Sequence[str]) -> None:
    from archcalc.errors import OptionError, suggest

    if not columns:
        raise OptionError("plot layers needs at least one column")
    for column in columns:
        if column not in PLOTTABLE:
            raise OptionError(f"column '{column}' is not a per-layer number{suggest(column, PLOTTABLE)}; "
                              f"plot layers takes: {', '.join(PLOTTABLE)}")


def _bar_rows(report: Report, columns: Sequence[str]) -> tuple[list[str], list[list[int]], str]:
    """Row labels and one value list per column; grouped by block when there are many layers."""
    layers = [r for r in report.layers if any(getattr(r, c) for c in columns)] or list(report.layers)
    if len(layers) <= MAX_BARS:
        return [r.name for r in layers], [[getattr(r, c) for r in layers] for c in columns], "layer"
    groups: dict[str, list[int]] = {}
    for r in layers:
        key = r.name.rsplit(".", 1)[0] if "." in r.name else r.name
        sums = groups.setdefault(key, [0] * len(columns))
        for k, c in enumerate(columns):
            sums[k] += getattr(r, c)
    names = list(groups)
    return names, [[groups[n][k] for n in names] for k in range(len(columns))], "block"


def layer_bars(report: Report, columns: Sequence[str] = ("params", "macs", "activation_bytes"),
               log: bool = True) -> Any:
    """One panel per column, a horizontal bar per layer (labels stay legible at any depth; past
    :data:`MAX_BARS` layers the bars are block subtotals). Layers with only zeros are left out;
    a column that is zero everywhere says so in its panel."""
    _check_columns(columns)
    plt = _pyplot()
    names, values, unit = _bar_rows(report, columns)
    height = max(3.0, _ROW_INCHES * len(names) + 1.6)
    width = max(7.0, 2.9 * len(columns) + 0.055 * max(len(n) for n in names))
    fig, axes = plt.subplots(1, len(columns), figsize=(width, height), sharey=True, squeeze=False)
    y = list(range(len(names)))
    for ax, column, col_values in zip(axes[0], columns, values, strict=True):
        ax.barh(y, col_values, color="#4c72b0", label=column)
        if log and any(col_values):
            ax.set_xscale("symlog", linthresh=1)
        if not any(col_values):
            ax.text(0.5, 0.5, f"{column.replace('_', ' ')} is 0 in every {unit}", transform=ax.transAxes,
                    ha="center", va="center", fontsize=9)
        total = getattr(report.totals, column, None) if column != "live_bytes" else None
        ax.set_title(column.replace("_", " ") + (f" (total {total:,})" if isinstance(total, int) else ""),
                     fontsize=9)
        ax.grid(True, axis="x", alpha=0.3)
    first = axes[0, 0]
    first.set_yticks(y)
    first.set_yticklabels(names, fontsize=7)
    first.invert_yaxis()
    per = "per block (layers summed)" if unit == "block" else "per layer"
    fig.suptitle(f"{report.name}: {per}; {report.conventions.describe()[:100]}...", fontsize=8)
    fig.tight_layout()
    return fig


def longest_path(report: Report) -> list[str]:
    """The names on the longest input-to-output path (most layers) ending at the last layer with
    the deepest such path; ties go to the earlier input (execution order)."""
    depth: dict[str, int] = {}
    parent: dict[str, str | None] = {}
    for r in report.layers:
        best: str | None = None
        for ref in r.inputs:
            name = ref.rsplit(":", 1)[0] if ref.rsplit(":", 1)[-1].isdigit() and ":" in ref else ref
            if name in depth and (best is None or depth[name] > depth[best]):
                best = name
        depth[r.name] = depth[best] + 1 if best is not None else 0
        parent[r.name] = best
    if not depth:
        return []
    end = max(depth, key=lambda n: depth[n])
    path: list[str] = []
    node: str | None = end
    while node is not None:
        path.append(node)
        node = parent[node]
    return path[::-1]


def rf_growth(report: Report) -> Any:
    """Receptive-field size (largest axis) and jump along the longest path of the graph (a chain
    is its execution order; on a DAG, branches that join are not mixed in), layer names on the axis."""
    plt = _pyplot()
    by_name = {r.name: r for r in report.layers}
    path = longest_path(report)
    rows: list[LayerRecord] = []
    for name in path:  # layers that leave the field as it was (BN, ReLU, adds) are not points
        record = by_name[name]
        if not rows or record.rf != rows[-1].rf:
            rows.append(record)
    spatial = [(i, r) for i, r in enumerate(rows) if r.rf.axes and not r.rf.is_global and not r.rf.is_unknown]
    fig, ax = plt.subplots(figsize=(max(8.0, 0.16 * len(rows) + 2.5), 5.0))
    xs = [i for i, _ in spatial]
    ax.plot(xs, [float(max(r.rf.size)) for _, r in spatial], marker="o", markersize=3, label="size (input pixels)")
    ax.plot(xs, [float(max(r.rf.jump)) for _, r in spatial], marker="s", markersize=3, label="jump (input pixels)")
    ax.set_xticks(list(range(len(rows))))
    ax.set_xticklabels([r.name for r in rows], rotation=90, fontsize=7)
    ax.set_xlabel(f"layers that change the field, along the longest path ({len(path)} layers, {path[0]} -> "
                  f"{path[-1]})" if path else "depth")
    ax.set_ylabel("input pixels")
    ax.set_yscale("log")
    ax.set_title(f"{report.name}: receptive field growth", fontsize=10)
    ax.legend()
    ax.grid(True, alpha=0.3)
    if spatial:
        last_i, last = spatial[-1]
        ax.annotate(f"{last.name}: {max(last.rf.size)}", (last_i, float(max(last.rf.size))), fontsize=8,
                    textcoords="offset points", xytext=(-110, -14))
    fig.tight_layout()
    return fig


def sweep_scatter(result: SweepResult, x: str, y: str, color: str | None = None,
                  minimize: tuple[bool, bool] = (True, True)) -> Any:
    """Valid variants as points (x vs y), the Pareto front as a line (by default the least x for
    the least y: both are costs, e.g. the fewest MACs for the fewest parameters)."""
    for name in (x, y) if color is None else (x, y, color):
        result.metric(name)
    plt = _pyplot()
    rows = [r for r in result.ok if r.get(x) is not None and r.get(y) is not None]
    if not rows:
        raise ArchcalcError(f"no valid rows with both {x} and {y} to plot")
    fig, ax = plt.subplots(figsize=(8, 5.5))
    kwargs: dict[str, Any] = {"s": 10, "alpha": 0.6}
    if color is not None:
        kwargs["c"] = [r.get(color) for r in rows]
        kwargs["cmap"] = "viridis"
    label = f"{len(rows)} variant{'s' if len(rows) != 1 else ''}"
    points = ax.scatter([r[x] for r in rows], [r[y] for r in rows], label=label, **kwargs)
    if color is not None:
        fig.colorbar(points, ax=ax, label=color)
    front = result.pareto(x, y, minimize=minimize)
    ax.plot([r[x] for r in front], [r[y] for r in front], color="#d62728", marker="o", markersize=4,
            label=f"Pareto front ({len(front)}: {'min' if minimize[0] else 'max'} {x}, "
                  f"{'min' if minimize[1] else 'max'} {y})")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(True, alpha=0.3, which="both")
    ax.set_title(f"sweep of {Path(result.spec).name if result.spec else 'spec'}: {y} vs {x}", fontsize=10)
    fig.tight_layout()
    return fig


def layer_panel(r: ProfileResult) -> dict[str, Any]:
    """What one per-layer panel shows, computed once so that its title and its bars agree:
    the rows (the slowest ``TOP_LAYERS`` by measured or estimated time, the rest summed as
    "other"), the sums of both bar series and their ratio, and the title, which names both the
    per-layer comparison (profiled kernels against the as-profiled estimate: the bars) and the
    whole run (median wall time against the run's estimate), and says when the measurement was
    unstable or the rows do not add up to the profiled kernels."""
    rows = sorted((layer for layer in r.layers if layer.measured_ms or layer.estimate_ms),
                  key=lambda x: -max(x.measured_ms or 0.0, x.estimate_ms or 0.0))
    shown = rows[:TOP_LAYERS]
    names = [layer.name for layer in shown]
    measured = [layer.measured_ms or 0.0 for layer in shown]
    estimated = [layer.estimate_ms or 0.0 for layer in shown]
    rest = rows[TOP_LAYERS:]
    if rest:
        names.append(f"other ({len(rest)})")
        measured.append(sum(layer.measured_ms or 0.0 for layer in rest))
        estimated.append(sum(layer.estimate_ms or 0.0 for layer in rest))
    m_sum, e_sum = sum(measured), sum(estimated)
    ratio = e_sum / m_sum if m_sum > 0 else None
    layers = f"layers: {m_sum:.3g} ms profiled kernels"
    if any(layer.estimate_ms is not None for layer in r.layers):
        layers += f", {e_sum:.3g} ms estimated" + (f" (x{ratio:.2f})" if ratio is not None else "")
    run = f"run: {r.timing.median_ms:.3g} ms median"
    if r.estimate_ms is not None and r.ratio is not None:
        run += f", {r.estimate_ms:.3g} ms estimated (x{r.ratio:.2f})"
    lines = [f"{r.name}, batch {r.batch}, {r.provider}", f"{layers}; {run}"]
    kernels = r.profiled_kernels_ms
    if kernels and abs(m_sum - kernels) > 0.05 * kernels:
        lines.append(f"the layer rows sum to {m_sum:.3g} ms of {kernels:.3g} ms of profiled kernels")
    unstable = not r.timing.stable
    if unstable:
        lines.insert(0, f"UNSTABLE measurement (spread {r.timing.spread:.0%}): compare with care")
    return {"names": names, "measured": measured, "estimated": estimated, "measured_ms": m_sum,
            "estimated_ms": e_sum, "ratio": ratio, "unstable": unstable, "title": "\n".join(lines)}


def profile_comparison(results: Sequence[ProfileResult]) -> Any:
    """Estimate vs measured: per layer for every result that has per-layer times (see
    :func:`layer_panel`), else total latency per model and batch. An unstable measurement is
    drawn hatched and said so, in the title and in its label."""
    plt = _pyplot()
    with_layers = [r for r in results if any(layer.measured_ms for layer in r.layers)]
    panels = len(with_layers) or 1
    height = panels * (2.0 + 0.3 * TOP_LAYERS) if with_layers else 5.0
    fig, axes = plt.subplots(panels, 1, figsize=(10, height), squeeze=False)
    if with_layers:
        for ax, r in zip(axes[:, 0], with_layers, strict=True):
            panel = layer_panel(r)
            y = range(len(panel["names"]))
            hatch = "//" if panel["unstable"] else None
            ax.barh([v - 0.2 for v in y], panel["measured"], height=0.4, hatch=hatch,
                    label="measured (ORT profiler)" + (", UNSTABLE" if panel["unstable"] else ""))
            ax.barh([v + 0.2 for v in y], panel["estimated"], height=0.4, label="estimate (as profiled)")
            ax.set_yticks(list(y))
            ax.set_yticklabels(panel["names"], fontsize=7)
            ax.invert_yaxis()
            ax.set_xlabel("ms per run")
            ax.set_title(panel["title"], fontsize=8, color="#b22222" if panel["unstable"] else "black")
            ax.legend(fontsize=7)
    else:
        ax = axes[0, 0]
        labels = [f"{r.name} b{r.batch}" + ("\nUNSTABLE" if not r.timing.stable else "") for r in results]
        x = range(len(results))
        bars = ax.bar([v - 0.2 for v in x], [r.timing.median_ms for r in results], width=0.4,
                      label="measured (median; hatched: unstable)")
        for bar, r in zip(bars, results, strict=True):
            if not r.timing.stable:
                bar.set_hatch("//")
        ax.bar([v + 0.2 for v in x], [r.estimate_ms or 0.0 for r in results], width=0.4, label="estimate")
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("ms per run")
        title = f"latency on {results[0].device_name} ({results[0].provider})" if results else "latency"
        unstable = sum(1 for r in results if not r.timing.stable)
        if unstable:
            title += f": {unstable} of {len(results)} measurements UNSTABLE (hatched)"
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def image_bytes(fig: Any, path: str | Path) -> bytes:
    """The figure as the image ``path`` names (.png or .svg); the figure is closed."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ArchcalcError(f"plot file must end in {' or '.join(FORMATS)}, got {Path(path).name}")
    buf = io.BytesIO()
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none"}):  # SVG text stays text (searchable, selectable)
        fig.savefig(buf, format=suffix[1:], dpi=120)
    _pyplot().close(fig)
    return buf.getvalue()


def save(fig: Any, path: str | Path) -> None:
    """Write the figure to ``path`` atomically."""
    from archcalc.fileio import write_atomic

    write_atomic(path, image_bytes(fig, path))
