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
                  minimize: tuple[bool, bool] = (True, False)) -> Any:
    """Valid variants as points (x vs y), the Pareto front as a line (by default the least x for
    the most y: e.g. the fewest MACs for the most parameters)."""
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
    fig.savefig(buf, format=suffix[1:], dpi=120)
    _pyplot().close(fig)
    return buf.getvalue()


def save(fig: Any, path: str | Path) -> None:
    """Write the figure to ``path`` atomically."""
    from archcalc.fileio import write_atomic

    write_atomic(path, image_bytes(fig, path))
