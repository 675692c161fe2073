"""The spec language: blocks expanded structurally, scopes, variables, defaults, tables, wiring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import archcalc
from tests.conftest import SPECS


def load(layers: list[Any], **top: Any) -> archcalc.Graph:
    return archcalc.load({"input": top.pop("input", [4, 16, 16]), "layers": layers, **top})


def inputs_of(graph: archcalc.Graph, name: str) -> list[str]:
    return [ref[0] for ref in graph[name].inputs]


RESIDUAL = {
    "basic": {
        "params": {"filters": "required", "stride": 1, "project": False},
        "layers": [
            {"name": "conv1", "type": "conv", "filters": "${filters}", "kernel": 3, "stride": "${stride}",
             "padding": 1},
            {"name": "relu1", "type": "relu"},
            {"name": "conv2", "type": "conv", "filters": "${filters}", "kernel": 3, "padding": 1},
            {"name": "proj", "type": "conv", "inputs": "input", "filters": "${filters}", "kernel": 1,
             "stride": "${stride}", "when": "${project}"},
            {"name": "add", "type": "add", "inputs": ["conv2", "proj"]},
        ],
    }
}


def test_block_names_and_identity_shortcut() -> None:
    g = load([
        {"name": "stem", "type": "conv", "filters": 8, "kernel": 3, "padding": 1},
        {"name": "s1", "block": "basic", "repeat": 2, "with": {"filters": 8}},
        {"name": "s2", "block": "basic", "repeat": 2, "with": {"filters": 16}, "first": {"stride": 2, "project": True}},
        {"name": "head", "type": "global_avgpool"},
    ], blocks=RESIDUAL, defaults={"conv": {"rounding": "floor"}})
    names = list(g.layers)
    assert names[:2] == ["input", "stem"]
    assert "s1.0.conv1" in names and "s1.1.add" in names and "s2.1.conv2" in names
    assert "s1.0.proj" not in names  # skipped: project false
    # the skipped projection passes the block input through: identity shortcut
    assert inputs_of(g, "s1.0.add") == ["s1.0.conv2", "stem"]
    assert inputs_of(g, "s1.1.conv1") == ["s1.0.add"]
    assert inputs_of(g, "s2.0.add") == ["s2.0.conv2", "s2.0.proj"]
    assert inputs_of(g, "s2.0.proj") == ["s1.1.add"]
    assert inputs_of(g, "s2.1.add") == ["s2.1.conv2", "s2.0.add"]  # first: applies to repetition 0 only
    assert g["s2.0.conv1"].attrs["stride"] == 2 and g["s2.1.conv1"].attrs["stride"] == 1
    assert inputs_of(g, "head") == ["s2.1.add"]
    report = archcalc.analyze(g)
    assert report["s2.1.add"].shape == (16, 8, 8)


def test_use_without_repeat_and_references_to_uses() -> None:
    g = load([
        {"name": "a", "block": "basic", "with": {"filters": 4}},
        {"name": "b", "block": "basic", "repeat": 3, "with": {"filters": 4}},
        {"name": "tap", "type": "add", "inputs": ["a", "b.1"]},
        {"name": "all", "type": "add", "inputs": ["b", "tap"]},
    ], blocks=RESIDUAL)
    assert "a.conv1" in g.layers
    assert inputs_of(g, "tap") == ["a.add", "b.1.add"]
    assert inputs_of(g, "all") == ["b.2.add", "tap"]


def test_each_and_index_variables() -> None:
    blocks = {"grow": {"params": {"f": 1}, "layers": [
        {"name": "conv", "type": "conv", "filters": "${f * (index + 1)}", "kernel": 1},
    ]}}
    g = load([{"name": "g", "block": "grow", "repeat": 3, "with": {"f": 4}}], blocks=blocks)
    assert [g[f"g.{i}.conv"].attrs["filters"] for i in range(3)] == [4, 8, 12]
    g = load([{"name": "g", "block": "grow", "repeat": 2, "each": [{"f": 3}, {"f": 5}]}], blocks=blocks)
    assert [g[f"g.{i}.conv"].attrs["filters"] for i in range(2)] == [3, 10]


def test_nested_blocks_and_output() -> None:
    blocks = {
        "branchy": {"params": {"f": 4}, "output": "cat", "layers": [
            {"name": "b1", "type": "conv", "inputs": "input", "filters": "${f}", "kernel": 1},
            {"name": "b3", "type": "conv", "inputs": "input", "filters": "${f}", "kernel": 3, "padding": 1},
            {"name": "cat", "type": "concat", "inputs": ["b1", "b3"]},
            {"name": "unused_tail", "type": "relu", "inputs": "b1"},
        ]},
        "stage": {"params": {"f": 4}, "layers": [
            {"name": "m", "block": "branchy", "repeat": 2, "with": {"f": "${f}"}},
        ]},
    }
    g = load([{"name": "st", "block": "stage", "with": {"f": 6}}, {"name": "after", "type": "relu"}], blocks=blocks)
    assert inputs_of(g, "st.m.1.b1") == ["st.m.0.cat"]
    assert inputs_of(g, "after") == ["st.m.1.cat"]
    assert archcalc.analyze(g)["st.m.1.cat"].shape == (12, 16, 16)


def test_forward_references_and_execution_order() -> None:
    g = load([
        {"name": "join", "type": "add", "inputs": ["left", "right"]},
        {"name": "left", "type": "conv", "inputs": "input", "filters": 4, "kernel": 1},
        {"name": "right", "type": "conv", "inputs": "input", "filters": 4, "kernel": 1},
    ])
    assert list(g.layers) == ["input", "left", "right", "join"]


def test_split_outputs_and_auto_names() -> None:
    g = load([
        {"name": "sp", "type": "split", "parts": 2},
        "relu",
        {"type": "relu", "inputs": "sp:1"},
        {"name": "cat", "type": "concat", "inputs": ["relu1", "relu2"]},
    ])
    assert g["relu1"].inputs == (("sp", 0),) and g["relu2"].inputs == (("sp", 1),)
    r = archcalc.analyze(g)
    assert r["sp"].shapes == ((2, 16, 16), (2, 16, 16))
    assert r["cat"].shape == (4, 16, 16)
    assert r["relu2"].inputs == ("sp:1",)


def test_defaults_by_type_and_all() -> None:
    g = load(
        [{"name": "c", "type": "conv", "filters": 4, "kernel": 3}, {"name": "p", "type": "maxpool", "kernel": 3},
         {"name": "d", "type": "conv", "filters": 4, "kernel": 1, "bias": "per_map"}],
        input=[4, 17, 17],
        defaults={"conv": {"bias": "none", "padding": 1}, "all": {"rounding": "floor"}},
    )
    assert g["c"].attrs["bias"] == "none" and g["c"].attrs["padding"] == 1
    assert g["d"].attrs["bias"] == "per_map"  # the layer's own value wins
    assert g["p"].attrs["rounding"] == "floor"
    assert archcalc.analyze(g)["p"].shape == (4, 5, 5)  # (17 - 3)/3 + 1 = 5.67 -> floor 5


def test_named_and_inline_tables() -> None:
    table = [[0, 1], [1, 2], [0, 2]]
    g = load([{"name": "t", "type": "conv", "kernel": 1, "connections": "mine"}], input=[3, 4, 4],
             tables={"mine": table})
    r = archcalc.analyze(g)
    assert r["t"].shape == (3, 4, 4) and r["t"].weights == 6
    g = load([{"name": "t", "type": "conv", "kernel": 1, "connections": table}], input=[3, 4, 4])
    assert archcalc.analyze(g)["t"].weights == 6
    g = load([{"name": "t", "type": "conv", "kernel": 5, "connections": "lenet5_c3"}], input=[6, 14, 14])
    assert archcalc.analyze(g)["t"].weights == 60 * 25


def test_variables_arithmetic_interpolation_and_overrides() -> None:
    spec = {
        "input": {"channels": 3, "size": "${res}"},
        "variables": {"w": 8, "res": 32, "double": "${w * 2}", "tag": "x${w}"},
        "layers": [
            {"name": "c${w}", "type": "conv", "filters": "${double}", "kernel": 3, "padding": "${(3 - 1) / 2}"},
            {"name": "d", "type": "conv", "filters": "${w // 3 + 1}", "kernel": 1},
        ],
    }
    g = archcalc.load(spec)
    assert g.variables["tag"] == "x8"
    assert g["c8"].attrs["filters"] == 16 and g["c8"].attrs["padding"] == 1
    assert g["d"].attrs["filters"] == 3
    assert archcalc.analyze(g)["c8"].shape == (16, 32, 32)
    g = archcalc.load(spec, variables={"w": 4, "res": 20})
    assert g["c4"].attrs["filters"] == 8  # 'double' follows the override of w (issue 11, bug 1)
    assert archcalc.analyze(g)["c4"].shape == (8, 20, 20)
    with pytest.raises(archcalc.SpecError, match="variable 'wdth' is not declared"):
        archcalc.load(spec, variables={"wdth": 4})


@pytest.mark.parametrize(("expr", "words"), [
    ("${w / 3}", "is not an integer"),
    ("${w +}", "ends too soon"),
    ("${w ** 2}", "unexpected"),
    ("${__import__('os')}", "cannot read"),
    ("${tag * 2}", "needs integers"),
    ("${w / 0}", "division by zero"),
])
def test_bad_expressions(expr: str, words: str) -> None:
    spec = {"input": [1, 8, 8], "variables": {"w": 8, "tag": "x"},
            "layers": [{"name": "c", "type": "conv", "filters": expr, "kernel": 1}]}
    with pytest.raises(archcalc.VariableError, match=words):
        archcalc.load(spec)


def test_origins_keep_file_and_line(tmp_path: Path) -> None:
    g = archcalc.load(SPECS / "resnet18.yaml")
    conv = g["layer2.0.conv1"]
    assert conv.origin.file and conv.origin.file.endswith("resnet18.yaml")
    text = (SPECS / "resnet18.yaml").read_text().splitlines()
    assert "name: conv1" in text[conv.origin.line - 1] and "${filters}" in text[conv.origin.line - 1]
    assert any("layer2" in t for t in conv.origin.trace)


def test_input_forms() -> None:
    for form in ([3, 10, 12], {"shape": [3, 10, 12]}, {"channels": 3, "size": [10, 12]}):
        g = archcalc.load({"input": form, "layers": ["relu"]})
        assert g["input"].attrs["shape"] == (3, 10, 12)
    g = archcalc.load({"input": {"channels": 2, "size": 9, "name": "image"}, "layers": [
        {"name": "c", "type": "conv", "inputs": "image", "filters": 1, "kernel": 1}]})
    assert g["image"].attrs["shape"] == (2, 9, 9)


def test_one_and_three_spatial_axes() -> None:
    r = archcalc.analyze(archcalc.load({"input": [2, 100], "layers": [
        {"name": "c", "type": "conv1d", "filters": 4, "kernel": 5, "stride": 5}]}))
    assert r["c"].shape == (4, 20) and r["c"].macs == 4 * 20 * 2 * 5
    r = archcalc.analyze(archcalc.load({"input": [1, 8, 8, 8], "layers": [
        {"name": "c", "type": "conv3d", "filters": 2, "kernel": [3, 3, 1], "padding": [1, 1, 0]}]}))
    assert r["c"].shape == (2, 8, 8, 8) and r["c"].weights == 2 * 9


def test_type_shorthand_conflict() -> None:
    with pytest.raises(archcalc.SpecError, match="type relu means fn: relu"):
        load([{"name": "a", "type": "relu", "fn": "tanh"}])
