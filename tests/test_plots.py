"""Plots a newcomer can read (issue 15, rough edges): every listed column either plots or is a
one-line refusal; a column of zeros says so; deep networks stay legible (horizontal bars, block
subtotals past MAX_BARS); the receptive field is drawn along the longest path with layer names;
SVG text stays text. Images are opened and their content checked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import archcalc
from archcalc.render.columns import ALL_COLUMNS
from tests.conftest import ROOT, SPECS
from tests.test_cli import run

pytest.importorskip("matplotlib")
import matplotlib.image as mpimg

from archcalc import plots

ONNX = str(ROOT / "tests" / "fixtures" / "onnx" / "resnet18_tv.onnx")


@pytest.mark.parametrize("column", list(ALL_COLUMNS))
def test_every_listed_column_plots_or_is_refused_in_one_line(column: str, tmp_path: Path) -> None:
    out = tmp_path / "layers.svg"
    code, _, err = run("plot", "layers", str(SPECS / "lenet5.yaml"), "--columns", column, "-o", str(out))
    if column in plots.PLOTTABLE:
        assert code == 0, err
        assert "<svg" in out.read_text()[:400]
    else:
        assert code == 2 and err.count("\n") == 1
        assert f"column '{column}' is not a per-layer number" in err and "plot layers takes:" in err
        assert not out.exists()


def test_zero_column_says_so() -> None:
    report = archcalc.analyze(archcalc.load(SPECS / "resnet18.yaml"))  # no conv biases, no fixed params
    fig = plots.layer_bars(report, ["fixed_params", "params"])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["fixed params is 0 in every layer"]
    assert len(fig.axes[1].texts) == 0


def test_deep_networks_are_grouped_and_legible(tmp_path: Path) -> None:
    report = archcalc.analyze(archcalc.load(SPECS / "resnet50.yaml"))
    assert len(report.layers) > plots.MAX_BARS
    fig = plots.layer_bars(report, ["macs", "activation_bytes"])
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "layer1.0" in labels and "layer4.2" in labels and "conv1" in labels
    assert sum(b.get_width() for b in fig.axes[0].patches) == report.totals.macs  # subtotals add up
    assert min(t.get_fontsize() for t in fig.axes[0].get_yticklabels()) >= 7
    path = tmp_path / "r50.png"
    path.write_bytes(plots.image_bytes(fig, path))
    height, width = mpimg.imread(path).shape[:2]
    assert width < 2000 and height < 2500


def test_svg_text_stays_text(tmp_path: Path) -> None:
    fig = plots.layer_bars(archcalc.analyze(archcalc.load(SPECS / "lenet5.yaml")), ["params"])
    svg = plots.image_bytes(fig, tmp_path / "x.svg").decode()
    assert re.search(r"<text[^>]*>C3</text>", svg)


def test_rf_follows_the_longest_path_of_a_dag() -> None:
    report = archcalc.analyze(archcalc.load(SPECS / "googlenet.yaml"))
    path = plots.longest_path(report)
    assert path[0] == "input" and path[-1] == report.layers[-1].name
    names = {r.name for r in report.layers}
    assert set(path) <= names
    fig = plots.rf_growth(report)
    sizes = list(fig.axes[0].lines[0].get_ydata())
    assert sizes == sorted(sizes)  # along one path the field never shrinks (execution order saw-tooths)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels[0] == "input" and "pool1" in labels
    assert "longest path" in fig.axes[0].get_xlabel()
    chain = archcalc.analyze(archcalc.load(SPECS / "vgg.yaml"))
    assert plots.longest_path(chain) == [r.name for r in chain.layers]  # a chain is its own longest path


def test_plots_of_an_onnx_model(tmp_path: Path) -> None:
    for what in ("layers", "rf"):
        out = tmp_path / f"{what}.png"
        code, _, err = run("plot", what, ONNX, "-o", str(out))
        assert code == 0, err
        image = mpimg.imread(out)
        assert (image[..., :3] < 0.9).any(axis=-1).mean() > 0.02  # not blank
