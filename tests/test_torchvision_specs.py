"""The bundled torchvision-layout specs (EfficientNet-B0, MobileNetV3-Large, ConvNeXt-T) against
the torchvision documentation and against the models themselves.

Published figures: tests/reference/torchvision_models.yaml (the torchvision model docs, one page per
model, URL in the file: num_params exact, GFLOPS = conv + Linear multiply-adds to 2 decimals, and
the 3-decimal meta figure the docs round). The models themselves: the ONNX fixtures in
tests/fixtures/onnx/torchvision, exported once from torchvision (weights=None) by
make_torchvision_fixtures.py, and its manifest.yaml, which records what torch itself counted
(every module's own parameters, every Conv2d/Linear's MACs from forward hooks, the stochastic
depth rates). torch is not imported here.

Layers are matched by order and structure, never by name: the layers that carry parameters or
multiply-adds, in execution order, with their family, parameters, MACs and output size.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
from collections import Counter
from math import prod
from pathlib import Path
from typing import Any

import pytest
import yaml

import archcalc
from archcalc.cli import main
from archcalc.errors import SpecError
from archcalc.ops.shape_ops import rate
from archcalc.receptive import format_field
from archcalc.report import Report

HERE = Path(__file__).resolve().parent
PUBLISHED = yaml.safe_load((HERE / "reference" / "torchvision_models.yaml").read_text())
FIXTURES = HERE / "fixtures" / "onnx" / "torchvision"
_MANIFEST = yaml.safe_load((FIXTURES / "manifest.yaml").read_text())
MANIFEST = _MANIFEST["fixtures"]
#: torch's own totals for the specs' variants (the builder of the same name, at its eval crop)
TORCH_ONLY = _MANIFEST["torch_only"]
#: spec -> fixture (the manifest's key)
FIXTURE_OF = {"efficientnet_b0": "efficientnet_b0_tv", "mobilenet_v3_large": "mobilenet_v3_large_tv",
              "convnext_tiny": "convnext_tiny_tv"}
NAMES = list(FIXTURE_OF)
#: a 1x1 conv over the channels and a Linear (ONNX MatMul) over a channels-last permute do the same
#: work: torchvision runs ConvNeXt's pointwise convs that way
ROLE = {"conv": "weights", "fc": "weights"}


@pytest.fixture(scope="module")
def specs() -> dict[str, Report]:
    return {name: archcalc.analyze(archcalc.load(name), preset="paper_macs") for name in NAMES}


@pytest.fixture(scope="module")
def imports() -> dict[str, Report]:
    return {name: archcalc.analyze(archcalc.load(FIXTURES / MANIFEST[fx]["file"]), preset="paper_macs")
            for name, fx in FIXTURE_OF.items()}


def weighted(report: Report) -> list[tuple[str, int, int, int, str]]:
    """(role, params, MACs, output elements, receptive field) of every layer with parameters or
    MACs, in order. An ONNX MatMul's bias is a separate Add of a constant of the output width: it
    joins its MatMul."""
    rows: list[tuple[str, int, int, int, str]] = []
    owner: dict[str, int] = {}
    for r in report.layers:
        if not (r.params or r.macs):
            continue
        source = report[r.inputs[0]] if len(r.inputs) == 1 and r.inputs[0] in owner else None
        if (r.kind == "elementwise" and source is not None and source.kind == "matmul"
                and r.params == source.shape[-1] and r.shape == source.shape):
            role, params, macs, size, field = rows[owner[source.name]]
            rows[owner[source.name]] = (role, params + r.params, macs + r.macs, size, field)
            continue
        owner[r.name] = len(rows)
        rows.append((ROLE.get(r.family, r.family), r.params, r.macs, prod(r.shape), format_field(r.rf)))
    return rows


def make_divisible(value: float, divisor: int = 8) -> int:
    """torchvision's models._utils._make_divisible (the general formula)."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


# --- published figures: the torchvision docs ---------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_totals_equal_the_torchvision_docs(name: str, specs: dict[str, Report]) -> None:
    """Source: torchvision model docs, PUBLISHED[name]["url"] (num_params; GFLOPS = multiply-adds)."""
    ref = PUBLISHED[name]
    assert ref["spec"] == name and ref["url"].startswith("https://pytorch.org/vision/")
    assert archcalc.analyze(archcalc.load(name)).totals.params == ref["num_params"]
    macs = specs[name].totals.macs
    assert round(macs / 1e9, 2) == ref["gflops"]
    assert round(macs / 1e9, 3) == ref["ops_meta"]


@pytest.mark.parametrize("name", NAMES)
def test_expected_blocks_state_the_docs_figures(name: str) -> None:
    """`archcalc check` and `archcalc tables` show the same docs figures, reproduced."""
    ref = PUBLISHED[name]
    checks = archcalc.check(archcalc.load(name))
    assert checks and all(c.ok for c in checks), [c.describe() for c in checks if not c.ok]
    mine = [c for c in checks if ref["url"] in c.source]
    assert {(c.key, c.expected) for c in mine} == {("params", ref["num_params"]),
                                                  ("macs", round(ref["gflops"] * 10**9))}
    assert next(c for c in mine if c.key == "params").status == "exact"


def test_tables_show_the_three() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["tables", *NAMES, "-f", "csv"])
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert {r["network"] for r in rows} == set(NAMES)
    assert {r["status"] for r in rows} <= {"exact", "close"}
    for name in NAMES:
        assert any(PUBLISHED[name]["url"] in r["source"] and r["network"] == name for r in rows)


# --- the models themselves: the ONNX fixtures and what torch counted ----------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_fixture_totals_equal_torch(name: str, imports: dict[str, Report]) -> None:
    """The imported export has torch's parameters and BN running statistics (the exporter folded
    nothing: training=PRESERVE keeps every BatchNormalization) and torch's conv + Linear MACs."""
    entry, r = MANIFEST[FIXTURE_OF[name]], imports[name]
    assert r.totals.params == entry["torch"]["params"] == PUBLISHED[name]["num_params"]
    assert r.totals.buffers == entry["torch"]["bn_running_stat_elements"]
    assert entry["torch"]["bn_layers"] == entry["op_types"].get("BatchNormalization", 0)
    assert not any("folded" in note and "BN" in note for note in r.notes)
    assert r.totals.macs == entry["torch"]["conv_linear_macs_total"]
    assert sum(m["params"] for m in entry["modules_with_params"]) == entry["torch"]["params"]


@pytest.mark.parametrize("name", NAMES)
def test_spec_layers_equal_the_fixture_layers(name: str, specs: dict[str, Report],
                                              imports: dict[str, Report]) -> None:
    mine, theirs = weighted(specs[name]), weighted(imports[name])
    assert len(mine) == len(theirs), (len(mine), len(theirs))
    for i, (a, b) in enumerate(zip(mine, theirs, strict=True)):
        assert a == b, f"weighted layer {i}: spec {a}, ONNX {b}"
    assert sum(row[1] for row in mine) == specs[name].totals.params


@pytest.mark.parametrize("name", NAMES)
def test_spec_and_fixture_agree_on_every_cost_under_the_default_conventions(name: str) -> None:
    """FLOPs with every cheap op (activations, SE gates, norms, biases, adds, pooling), units and
    connections too: the exporter's forms (SiLU as Sigmoid * x, LayerNorm2d as Transpose +
    LayerNormalization + Transpose, a Linear as MatMul + Add) cost what the spec's layers cost."""
    spec = archcalc.analyze(archcalc.load(name)).totals
    onnx_model = archcalc.analyze(archcalc.load(FIXTURES / MANIFEST[FIXTURE_OF[name]]["file"])).totals
    for key in ("params", "buffers", "units", "connections", "macs", "flops"):
        assert getattr(spec, key) == getattr(onnx_model, key), key


@pytest.mark.parametrize("name", NAMES)
def test_spec_and_fixture_agree_under_every_preset(name: str) -> None:
    """Under each peer tool's conventions too: torchinfo and ptflops count a Linear's bias per output, so
    a Linear exported as MatMul + Add must import as one layer with its bias (it differed by 10,725,120
    MACs on ConvNeXt-Tiny when the bias add was an elementwise layer)."""
    from archcalc.conventions import PRESETS

    spec_graph, onnx_graph = archcalc.load(name), archcalc.load(FIXTURES / MANIFEST[FIXTURE_OF[name]]["file"])
    for preset in PRESETS:
        spec, onnx_model = archcalc.analyze(spec_graph, preset=preset).totals, archcalc.analyze(
            onnx_graph, preset=preset).totals
        for key in ("params", "connections", "macs", "flops"):
            assert getattr(spec, key) == getattr(onnx_model, key), (preset, key)


@pytest.mark.parametrize("name", NAMES)
def test_spec_layers_equal_torch_modules(name: str, specs: dict[str, Report]) -> None:
    """Per Conv2d/Linear in forward order: params and MACs as torch's hooks measured them; per
    module that owns parameters: the same multiset of parameter counts as the spec's layers."""
    entry, r = MANIFEST[FIXTURE_OF[name]], specs[name]
    heavy = [(x.params, x.macs, prod(x.shape)) for x in r.layers if x.family in ("conv", "fc")]
    torch_heavy = [(m["params"], m["macs"], prod(m["output_shape"])) for m in entry["layers"]]
    assert heavy == torch_heavy
    assert Counter(x.params for x in r.layers if x.params) == Counter(m["params"] for m in entry["modules_with_params"])


def test_convnext_receptive_field_by_hand(specs: dict[str, Report], imports: dict[str, Report]) -> None:
    """Per axis, size += (k - 1) * jump, start += ((k - 1)/2 - pad) * jump, jump *= stride:
      stem 4 s4 p0:            size 4,                    jump 4,  start 1.5
      stage1, 3 x 7x7 p3:      size 4 + 3*6*4 = 76
      down1 2 s2 p0:           size 76 + 4 = 80,          jump 8,  start 1.5 + 0.5*4 = 3.5
      stage2, 3 blocks:        size 80 + 3*6*8 = 224
      down2:                   size 224 + 8 = 232,        jump 16, start 3.5 + 0.5*8 = 7.5
      stage3, 9 blocks:        size 232 + 9*6*16 = 1096
      down3:                   size 1096 + 16 = 1112,     jump 32, start 7.5 + 0.5*16 = 15.5
      stage4, 3 blocks:        size 1112 + 3*6*32 = 1688
    The 1x1 convs, LayerNorms and layer scale leave it; in the export, so do the channels-last
    permutes and Linears (MatMul over the channels)."""
    spec, export = specs["convnext_tiny"], imports["convnext_tiny"]
    last = [r for r in spec.layers if not r.rf.is_global][-1]
    assert last.name == "stage4.2.add" and format_field(last.rf) == "1688 j32 s15.5"
    assert format_field([r for r in export.layers if not r.rf.is_global][-1].rf) == "1688 j32 s15.5"
    assert format_field(spec["stage1.2.add"].rf) == "76 j4 s1.5" and format_field(spec["down1.conv"].rf) == "80 j8 s3.5"


@pytest.mark.parametrize("name", NAMES)
def test_stochastic_depth_rates_equal_torch(name: str) -> None:
    """torchvision's linear schedules (EfficientNet: 0.2 x id / 16, applied only where the block has
    its residual; ConvNeXt: 0.1 x id / 17; MobileNetV3: none), from integer expressions."""
    entry = MANIFEST[FIXTURE_OF[name]]
    graph = archcalc.load(name)
    rates = [layer.attrs["rate"] for layer in graph.layers.values() if layer.kind == "drop_path"]
    want = [m["p"] for m in entry["stochastic_depth"] if m["applied"]]
    assert rates == pytest.approx(want, rel=1e-12, abs=1e-15)
    assert len(rates) == {"efficientnet_b0": 9, "mobilenet_v3_large": 0, "convnext_tiny": 18}[name]


@pytest.mark.parametrize("variant", list(TORCH_ONLY))
def test_variants_equal_torch(variant: str) -> None:
    """EfficientNet-B1..B7 (widths _make_divisible(c x width, 8), repeats ceil(L x depth), at the
    weights' eval crop) and ConvNeXt-S/B/L: parameters, BN statistics, conv + Linear MACs and the
    stochastic depth schedule equal what torch counted on the torchvision builder of that name."""
    want = TORCH_ONLY[variant]
    graph = archcalc.load(variant)
    r = archcalc.analyze(graph, preset="paper_macs")
    assert list(r["input"].shape) == want["input_shape"]
    assert (r.totals.params, r.totals.buffers, r.totals.macs) == (
        want["params"], want["bn_running_stat_elements"], want["conv_linear_macs_total"])
    rates = [layer.attrs["rate"] for layer in graph.layers.values() if layer.kind == "drop_path"]
    assert rates == pytest.approx(want["stochastic_depth_applied"], rel=1e-12, abs=1e-15)


#: EfficientNet's variants: width and depth multipliers (torchvision efficientnet.py) and Table 1
EFFICIENTNET = {"efficientnet_b0": (1.0, 1.0), "efficientnet_b1": (1.0, 1.1), "efficientnet_b2": (1.1, 1.2),
                "efficientnet_b3": (1.2, 1.4), "efficientnet_b4": (1.4, 1.8), "efficientnet_b5": (1.6, 2.2),
                "efficientnet_b6": (1.8, 2.6), "efficientnet_b7": (2.0, 3.1)}
TABLE1 = [(16, 1), (24, 2), (40, 2), (80, 3), (112, 3), (192, 4), (320, 1)]  # channels, layers per stage


@pytest.mark.parametrize("variant", list(EFFICIENTNET))
def test_efficientnet_widths_and_depths_are_torchvision_scaling(variant: str) -> None:
    """stem _make_divisible(32 w); stage i: _make_divisible(c_i w) channels, ceil(L_i d) blocks; head 4x."""
    w, d = EFFICIENTNET[variant]
    r = archcalc.analyze(archcalc.load(variant))
    assert r["stem.conv"].shape[0] == make_divisible(32 * w)
    for i, (c, n) in enumerate(TABLE1, 1):
        blocks = {x.name.split(".")[1] for x in r.layers if x.name.startswith(f"stage{i}.")}
        assert len(blocks) == math.ceil(n * d), (i, blocks)
        assert r[f"stage{i}.{len(blocks) - 1}.project"].shape[0] == make_divisible(c * w)
    assert r["head.conv"].shape[0] == 4 * make_divisible(320 * w)


def test_mobilenet_v3_se_widths_are_make_divisible() -> None:
    """SE squeeze = make_divisible(expanded // 4, 8) (torchvision mobilenetv3.py), written as an
    expression in the spec; 72 // 4 = 18 -> 16 is below 0.9 x 18, so 24. torch's fc1 widths agree."""
    r = archcalc.analyze(archcalc.load("mobilenet_v3_large"))
    se = [(r[x.name.replace(".fc1", ".avgpool")].shape[0], x.shape[0]) for x in r.layers
          if x.name.endswith(".se.fc1")]
    assert se and all(sq == make_divisible(exp // 4) for exp, sq in se)
    assert (72, 24) in se and (120, 32) in se
    torch_fc1 = [m["output_shape"][0] for m in MANIFEST["mobilenet_v3_large_tv"]["layers"] if m["name"].endswith("fc1")]
    assert [sq for _, sq in se] == torch_fc1


def test_efficientnet_se_squeeze_is_a_quarter_of_the_block_input() -> None:
    """torchvision efficientnet.py: squeeze_channels = max(1, input_channels // 4) of the MBConv
    block's input (not of the expanded width the SE sees)."""
    r = archcalc.analyze(archcalc.load("efficientnet_b0"))
    for x in r.layers:
        if x.name.endswith(".se.fc1"):
            block = x.name.removesuffix(".se.fc1")
            first = next(y for y in r.layers if y.name.startswith(block + "."))
            block_input = r[first.inputs[0]].shape[0]
            assert x.shape[0] == max(1, block_input // 4), x.name


def test_fixtures_are_small_and_stripped() -> None:
    for entry in MANIFEST.values():
        path = FIXTURES / entry["file"]
        assert path.stat().st_size == entry["bytes"] < 1_000_000
        assert entry["exporter"]["ir_version"] == 8 and entry["exporter"]["opset"] == 17
        assert not (FIXTURES / entry["initializers"]["weights_file_not_shipped"]).exists()


# --- drop_path's rate as a ratio of integers -------------------------------------------------------


def test_drop_path_rate_takes_a_ratio() -> None:
    assert rate("3/170", "rate") == 3 / 170
    assert rate(" 0 / 17 ", "rate") == 0.0
    assert rate(0.25, "rate") == 0.25
    with pytest.raises(SpecError, match="divides by zero"):
        rate("3/0", "rate")
    with pytest.raises(SpecError, match="a number or a ratio of integers"):
        rate("0.1/2", "rate")


def test_drop_path_rate_ratio_in_a_spec(tmp_path: Any) -> None:
    spec = {"input": [4, 8, 8], "variables": {"n": 4},
            "layers": [{"name": "c", "type": "conv", "filters": 4, "kernel": 3, "padding": 1},
                       {"name": "dp", "type": "drop_path", "rate": "${n - 1}/${10 * n}"},
                       {"name": "bad", "type": "drop_path", "rate": "${n}/${n}", "inputs": "c"}]}
    with pytest.raises(SpecError, match=r"rate must be in \[0, 1\), got 1.0"):
        archcalc.analyze(archcalc.load(spec))
    spec["layers"].pop()
    graph = archcalc.load(spec)
    assert graph.layers["dp"].attrs["rate"] == 3 / 40
    assert archcalc.analyze(graph)["dp"].params == 0
