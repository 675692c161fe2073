"""The estimate-vs-measured plot (issue 13 item 5): its title states the same sums and ratio its
bars show (per-layer kernels against the as-profiled estimate) next to the whole run's, says when
the rows do not add up to the profiled kernels, and marks an unstable measurement."""

from __future__ import annotations

import pytest

from archcalc.runtime.results import LayerProfile, ProfileResult
from archcalc.runtime.timing import timing_of

pytest.importorskip("matplotlib")

from archcalc import plots


def _result(samples_ms: list[float], layers: list[LayerProfile], estimate_ms: float | None,
            kernels_ms: float | None) -> ProfileResult:
    return ProfileResult(
        name="net", source="net.yaml", batch=8, device="cpu", provider="CPUExecutionProvider",
        providers=("CPUExecutionProvider",), device_name="cpu", cpu="cpu", gpu=None, ort_version="1",
        threads=None, intra_op_threads=2, io_binding=True, timing=timing_of([s / 1e3 for s in samples_ms], 0),
        estimate_ms=estimate_ms, layers=tuple(layers), profiled_kernels_ms=kernels_ms, profile_runs=20)


LAYERS = [LayerProfile("conv1", "conv", 10.0, 12.0), LayerProfile("conv2", "conv", 6.0, 9.0),
          LayerProfile("relu", "relu", 0.0, 0.0, "conv2"), LayerProfile("fc", "fc", 2.0, 3.0),
          LayerProfile("[layout]", "runtime", 0.0, 1.0)]


def test_title_and_bars_agree() -> None:
    r = _result([37.0] * 30, LAYERS, 18.5, 18.0)
    panel = plots.layer_panel(r)
    # bars: measured 10 + 6 + 2 + 0 = 18 ms, estimated 12 + 9 + 3 + 1 = 25 ms (the layout row, with no
    # measured time, is kept: dropping it would make the title's sum disagree with the estimate)
    assert panel["names"] == ["conv1", "conv2", "fc", "[layout]"]
    assert sum(panel["measured"]) == panel["measured_ms"] == 18.0
    assert sum(panel["estimated"]) == panel["estimated_ms"] == 25.0
    assert panel["ratio"] == pytest.approx(25 / 18)
    assert "layers: 18 ms profiled kernels, 25 ms estimated (x1.39)" in panel["title"]
    assert "run: 37 ms median, 18.5 ms estimated (x0.50)" in panel["title"]
    assert not panel["unstable"] and "UNSTABLE" not in panel["title"]
    assert "sum to" not in panel["title"]


def test_rows_that_do_not_add_up_are_said() -> None:
    r = _result([37.0] * 30, LAYERS, 18.5, 37.8)
    assert "the layer rows sum to 18 ms of 37.8 ms of profiled kernels" in plots.layer_panel(r)["title"]


def test_unstable_measurements_are_marked() -> None:
    noisy = [10.0] * 10 + [30.0] * 20  # spread (p90 - min) / median = (30 - 10) / 30 = 67%
    r = _result(noisy, LAYERS, 18.5, 18.0)
    assert not r.timing.stable
    panel = plots.layer_panel(r)
    assert panel["unstable"] and panel["title"].startswith("UNSTABLE measurement (spread 67%)")
    fig = plots.profile_comparison([r])
    ax = fig.axes[0]
    assert ax.get_title().startswith("UNSTABLE")
    assert any(p.get_hatch() == "//" for p in ax.patches)
    assert "UNSTABLE" in ax.get_legend().get_texts()[0].get_text()
    plots.image_bytes(fig, "x.svg")


def test_totals_plot_marks_unstable_results() -> None:
    stable = _result([5.0] * 30, [], 6.0, None)
    noisy = _result([10.0] * 10 + [30.0] * 20, [], 6.0, None)
    fig = plots.profile_comparison([stable, noisy])
    ax = fig.axes[0]
    assert "1 of 2 measurements UNSTABLE" in ax.get_title()
    hatched = [p for p in ax.patches if p.get_hatch() == "//"]
    assert len(hatched) == 1 and hatched[0].get_height() == pytest.approx(noisy.timing.median_ms)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["net b8", "net b8\nUNSTABLE"]
    plots.image_bytes(fig, "x.png")
