"""Issue 14, report columns as torchinfo/Keras users expect: kernel, stride, padding and groups
(named in --columns; ``all`` keeps meaning the figure columns, so the goldens stand), a % share of
each summed column, ``--units human|both`` (K/M/G beside the exact integers) and ``--hide-zero``."""

from __future__ import annotations

import csv
import io

import pytest

import archcalc
from archcalc.choices import Units
from archcalc.render import render
from archcalc.render.cells import human, number, share
from tests.test_cli import run


def _table_rows(text: str) -> dict[str, list[str]]:
    """markdown table -> layer name -> cells."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| layer"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_kernel_stride_padding_groups_are_the_layers_attributes() -> None:
    report = archcalc.analyze(archcalc.load("lenet5"))
    rows = _table_rows(render(report, "markdown", ("name", "kernel", "stride", "padding", "groups")))
    # LeCun et al. 1998, Sec. II-B: C1 5x5 convolutions; S2 2x2 subsampling, non-overlapping
    assert rows["C1"] == ["5x5", "1x1", "0x0", "1"]
    assert rows["S2"] == ["2x2", "2x2", "0x0", ""]
    assert rows["C3"][3] == "table"
    assert rows["F6"] == ["", "", "", ""]
    mobile = archcalc.analyze(archcalc.load("mobilenet_v2"))
    graph = archcalc.load("mobilenet_v2")
    rows = _table_rows(render(mobile, "markdown", ("name", "groups")))
    depthwise = [name for name, layer in graph.layers.items() if layer.attrs.get("depthwise")]
    assert depthwise
    for name in depthwise:  # a depthwise conv has one group per input channel
        ref = graph.layers[name].inputs[0]
        assert rows[name] == [str(mobile[ref[0]].shapes[ref[1]][0])]


def test_onnx_pads_show_per_axis_and_pairs_only_when_uneven() -> None:
    from tests.test_explain import FIXTURES

    report = archcalc.analyze(archcalc.load(str(FIXTURES / "resnet18_tv.onnx")))
    rows = _table_rows(render(report, "markdown", ("name", "kernel", "stride", "padding")))
    assert rows["/conv1/Conv"] == ["7x7", "2x2", "3x3"]  # torchvision resnet18: conv1 7x7, stride 2, pad 3


def test_share_is_the_layers_part_of_the_total() -> None:
    report = archcalc.analyze(archcalc.load("lenet5"))
    text = render(report, "csv", ("name", "macs", "macs_share", "params_share"), csv_totals=True)
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(text))}
    total_macs = sum(r.macs for r in report)
    assert rows["C3"]["macs_share"] == f"{100 * report['C3'].macs / total_macs:.1f}"
    assert rows["total"]["macs_share"] == "100.0"
    assert rows["input"]["params_share"] == "0.0"
    assert share(0, 0) == ""


def test_human_units_beside_exact_integers() -> None:
    assert human(1516, "params") == "1.52K" and human(151600, "connections") == "152K"
    assert human(11_689_512, "params") == "11.7M" and human(1_814_073_344, "macs") == "1.81G"
    assert human(999, "macs") == "999" and human(6400, "activation_bytes") == "6.25 KiB"
    # rounding to three digits carries into the next prefix, never "1e+03K" or "1000K"
    assert human(999_999, "macs") == "1M" and human(999_500_000, "macs") == "1G"
    assert human(4_089_184_256_123, "macs") == "4.09T" and human(2**20 - 1, "param_bytes") == "1 MiB"
    assert number(1516, "params", Units.BOTH, True) == "1,516 (1.52K)"
    assert number(1516, "params", Units.EXACT, True) == "1,516"
    assert number(1516, "params", Units.HUMAN, False) == 1516  # csv/json cells stay exact
    report = archcalc.analyze(archcalc.load("lenet5"))
    rows = _table_rows(render(report, "markdown", ("name", "params", "activation_bytes"), units="human"))
    assert rows["C5"] == [human(report["C5"].params, "params"), human(report["C5"].activation_bytes, "activation_bytes")]
    assert rows["total"][0] == human(report.totals.params, "params")


def test_hide_zero_leaves_out_layers_with_nothing_to_count() -> None:
    report = archcalc.analyze(archcalc.load("lenet5"))
    cols = ("name", "params", "macs", "activation_bytes")
    rows = _table_rows(render(report, "markdown", cols, hide_zero=True))
    zero = {r.name for r in report if r.params == 0 and r.macs == 0}
    assert zero == {"input", "F6_act", "Output"} - {"Output"}  # Output (rbf) has 840 MACs
    assert set(rows) == {r.name for r in report} - zero | {"total"}
    assert rows["total"][2] == f"{report.totals.activation_bytes:,}"  # totals include hidden layers
    text = render(report, "table", cols, hide_zero=True)
    assert "hidden (--hide-zero): 2 layers with 0 in every shown count column (input, F6_act)" in text


def test_defaults_unchanged_and_bad_options_are_one_line() -> None:
    report = archcalc.analyze(archcalc.load("lenet5"))
    assert render(report, "table") == render(report, "table", units="exact", hide_zero=False)
    code, out, err = run("report", "lenet5", "-f", "csv", "--units", "human")
    assert code == 2 and out == "" and "--units human is for table and markdown; csv keeps exact integers" in err
    code, _, err = run("report", "lenet5", "-f", "json", "--hide-zero")
    assert code == 2 and "json keeps every layer" in err
    code, _, err = run("report", "lenet5", "--columns", "kernal")
    assert code == 2 and "unknown column 'kernal' (did you mean 'kernel'?)" in err and err.count("\n") == 1
    code, _, err = run("report", "lenet5", "--units", "humn")
    assert code == 2 and "unknown units 'humn' (did you mean 'human'?); units: exact, human, both" in err
    code, out, _ = run("report", "lenet5", "--columns", "kernel,macs_share", "--units", "both", "--hide-zero")
    assert code == 0 and "% macs" in out


@pytest.mark.parametrize("column", ["kernel", "stride", "padding", "groups", "macs_share"])
def test_extra_columns_are_listed(column: str) -> None:
    code, out, _ = run("columns")
    assert code == 0 and column in out


def test_hide_zero_with_block_subtotals_keeps_the_sums() -> None:
    """``--by stage --hide-zero --units both``: BN rows (0 MACs) are hidden, the stage subtotals
    still sum every layer of the stage, and CSV's group column stays aligned with its layers."""
    from archcalc.comparison.grouping import group_layers

    graph = archcalc.load("resnet18")
    rep = archcalc.analyze(graph)
    groups = dict(group_layers(graph, rep, "stage").of)
    cols = ("name", "macs")
    text = render(rep, "table", cols, groups=groups, by="stage", units=Units.BOTH, hide_zero=True)
    lines = text.splitlines()
    assert not any(line.startswith("layer1.0.bn1 ") for line in lines)
    stage = next(line for line in lines if line.startswith("stage layer1 "))
    expected = sum(r.macs for r in rep.layers if groups[r.name] == "layer1")
    assert f"{expected:,} ({human(expected, 'macs')})" in stage
    rows = list(csv.reader(io.StringIO(render(rep, "csv", cols, groups=groups, by="stage", hide_zero=True))))
    assert rows[0] == ["name", "macs", "stage"]
    for name, _macs, group in rows[1:]:
        assert groups[name] == group
        assert not name.endswith(("bn1", "bn2"))
