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
    from archcalc.report import Report
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


def layer_bars(report: Report, columns: Sequence[str] = ("params", "macs", "activation_bytes"),
               log: bool = True) -> Any:
    """One bar chart per column, a bar per layer (layers with only zeros are left out)."""
    plt = _pyplot()
    layers = [r for r in report.layers if any(getattr(r, c) for c in columns)]
    fig, axes = plt.subplots(len(columns), 1, figsize=(max(8.0, 0.22 * len(layers) + 2), 2.6 * len(columns)),
                             sharex=True, squeeze=False)
    x = list(range(len(layers)))
    for ax, column in zip(axes[:, 0], columns, strict=True):
        values = [getattr(r, column) for r in layers]
        ax.bar(x, values, color="#4c72b0", label=column)
        ax.set_ylabel(column.replace("_", " "))
        if log and any(values):
            ax.set_yscale("symlog", linthresh=1)
        ax.set_title(f"{column.replace('_', ' ')} per layer (total {getattr(report.totals, column):,})", fontsize=9)
    bottom = axes[-1, 0]
    bottom.set_xticks(x)
    bottom.set_xticklabels([r.name for r in layers], rotation=90, fontsize=6 if len(layers) > 40 else 8)
    fig.suptitle(f"{report.name}: {report.conventions.describe()[:110]}...", fontsize=8)
    fig.tight_layout()
    return fig


def rf_growth(report: Report) -> Any:
    """Receptive-field size (largest axis) and jump against depth (layer index), spatial layers only."""
    plt = _pyplot()
    rows = [(i, r) for i, r in enumerate(report.layers) if r.rf.axes and not r.rf.is_global and not r.rf.is_unknown]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    xs = [i for i, _ in rows]
    ax.plot(xs, [float(max(r.rf.size)) for _, r in rows], marker="o", markersize=3, label="size (input pixels)")
    ax.plot(xs, [float(max(r.rf.jump)) for _, r in rows], marker="s", markersize=3, label="jump (input pixels)")
    ax.set_xlabel("layer index (execution order)")
    ax.set_ylabel("input pixels")
    ax.set_title(f"{report.name}: receptive field growth", fontsize=10)
    ax.legend()
    ax.grid(True, alpha=0.3)
    if rows:
        last_i, last = rows[-1]
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
    points = ax.scatter([r[x] for r in rows], [r[y] for r in rows], label=f"{len(rows)} variants", **kwargs)
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


def profile_comparison(results: Sequence[ProfileResult]) -> Any:
    """Estimate vs measured: per layer for every result that has per-layer times (the slowest
    ``TOP_LAYERS``, the rest summed as "other"), else total latency per model and batch."""
    plt = _pyplot()
    with_layers = [r for r in results if any(layer.measured_ms for layer in r.layers)]
    panels = len(with_layers) or 1
    height = panels * (1.5 + 0.3 * TOP_LAYERS) if with_layers else 5.0
    fig, axes = plt.subplots(panels, 1, figsize=(10, height), squeeze=False)
    if with_layers:
        for ax, r in zip(axes[:, 0], with_layers, strict=True):
            rows = sorted((layer for layer in r.layers if layer.measured_ms), key=lambda x: -(x.measured_ms or 0))
            shown = rows[:TOP_LAYERS]
            names = [layer.name for layer in shown]
            measured = [layer.measured_ms or 0.0 for layer in shown]
            estimated = [layer.estimate_ms or 0.0 for layer in shown]
            rest = rows[TOP_LAYERS:]
            if rest:
                names.append(f"other ({len(rest)})")
                measured.append(sum(layer.measured_ms or 0.0 for layer in rest))
                estimated.append(sum(layer.estimate_ms or 0.0 for layer in rest))
            y = range(len(names))
            ax.barh([v - 0.2 for v in y], measured, height=0.4, label="measured (ORT profiler)")
            ax.barh([v + 0.2 for v in y], estimated, height=0.4, label="estimate")
            ax.set_yticks(list(y))
            ax.set_yticklabels(names, fontsize=7)
            ax.invert_yaxis()
            ax.set_xlabel("ms per run")
            total = f"total {r.timing.median_ms:.3g} ms measured"
            if r.estimate_ms is not None:
                total += f", {r.estimate_ms:.3g} ms estimated (x{r.ratio:.2f})"
            ax.set_title(f"{r.name}, batch {r.batch}, {r.provider}: {total}", fontsize=9)
            ax.legend(fontsize=7)
    else:
        ax = axes[0, 0]
        labels = [f"{r.name} b{r.batch}" for r in results]
        x = range(len(results))
        ax.bar([v - 0.2 for v in x], [r.timing.median_ms for r in results], width=0.4, label="measured (median)")
        ax.bar([v + 0.2 for v in x], [r.estimate_ms or 0.0 for r in results], width=0.4, label="estimate")
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("ms per run")
        ax.set_title(f"latency on {results[0].device_name} ({results[0].provider})" if results else "latency",
                     fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def save(fig: Any, path: str | Path) -> None:
    from archcalc.fileio import write_atomic

    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ArchcalcError(f"plot file must end in {' or '.join(FORMATS)}, got {Path(path).name}")
    buf = io.BytesIO()
    fig.savefig(buf, format=suffix[1:], dpi=120)
    _pyplot().close(fig)
    write_atomic(path, buf.getvalue())
