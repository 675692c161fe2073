"""The counter presets reproduce what torchinfo, fvcore, ptflops (both backends), thop and
torch's FlopCounterMode report for eight torchvision-layout networks, exactly.

The figures are the tools' own totals, measured (tests/reference/peer_counts.yaml, a copy of
../shared/reference/peer_counts.yaml). Each is checked twice: the preset's total equals the
tool's figure, and the file's formula for that tool, evaluated from archcalc's per-layer
element counts, gives the same figure (so a preset cannot match by accident).
"""

from __future__ import annotations

from math import prod
from pathlib import Path
from typing import Any

import pytest
import yaml

import archcalc
from tests.conftest import ROOT, SPECS

HERE = Path(__file__).resolve().parent
PEER = HERE / "reference" / "peer_counts.yaml"
SHARED = ROOT.parent / "shared" / "reference" / "peer_counts.yaml"
TEST_SPECS = HERE / "specs"

#: network -> (spec, variables). Bundled specs where their layout is torchvision's; the others
#: (average pooling + tanh LeNet, VGG with torchvision's adaptive pool, MobileNetV2, GoogLeNet
#: with BN and a 3x3 "5x5" branch) are written for this test under tests/specs/.
NETWORKS: dict[str, tuple[Path, dict[str, Any] | None]] = {
    "lenet5_modern": (TEST_SPECS / "lenet5_tanh_avgpool.yaml", None),
    "alexnet": (SPECS / "alexnet_torchvision.yaml", None),
    "vgg11": (TEST_SPECS / "vgg_torchvision.yaml", {"n1": 1, "n2": 1, "n3": 2, "n4": 2, "n5": 2}),
    "vgg16": (TEST_SPECS / "vgg_torchvision.yaml", None),
    "resnet18": (SPECS / "resnet18.yaml", None),
    "resnet50": (SPECS / "resnet50.yaml", None),
    "mobilenet_v2": (TEST_SPECS / "mobilenet_v2.yaml", None),
    "googlenet": (TEST_SPECS / "googlenet_torchvision.yaml", None),
}

#: tool (a column of peer_counts.yaml) -> (preset, the total it reports)
TOOLS = {
    "ref": ("paper_macs", "macs"),
    "torchinfo": ("torchinfo", "macs"),
    "fvcore": ("fvcore", "flops"),
    "ptflops_pytorch": ("ptflops", "flops"),
    "ptflops_aten": ("ptflops_aten", "flops"),
    "thop": ("thop", "flops"),
    "flopcounter": ("flopcounter", "flops"),
}

PEER_DATA = yaml.safe_load(PEER.read_text())


def _elements(shapes: tuple[tuple[int, ...], ...]) -> int:
    return sum(prod(s) for s in shapes)


def terms(report: archcalc.Report, graph: archcalc.Graph) -> dict[str, int]:
    """The quantities the formulas name, summed from the per-layer records of the default report."""
    t = dict.fromkeys(("conv_macs", "linear_macs", "conv_bias_out", "linear_bias", "bn_channels", "bn_elements",
                       "relu_module", "relu6_module", "pool_module_in", "pool_function_in", "avgpool_out",
                       "adaptive_module_in_out", "adaptive_in"), 0)
    shapes = {r.name: r.shapes for r in report.layers}
    for r in report.layers:
        layer = graph.layers[r.name]
        a = layer.attrs
        out = _elements(r.shapes)
        n_in = _elements(shapes[layer.inputs[0][0]]) if layer.inputs else 0
        module = a.get("module", True)
        if r.kind == "conv":
            t["conv_macs"] += r.macs
            t["conv_bias_out"] += out if r.biases else 0
        elif r.kind == "fc":
            t["linear_macs"] += r.macs
            t["linear_bias"] += r.biases
        elif r.kind == "batchnorm":
            t["bn_channels"] += r.shapes[0][0]
            t["bn_elements"] += out
        elif r.kind == "activation" and module:
            t["relu_module"] += out if a["fn"] == "relu" else 0
            t["relu6_module"] += out if a["fn"] == "relu6" else 0
        elif r.kind in ("maxpool", "avgpool", "adaptive_avgpool", "global_avgpool"):
            t["pool_module_in" if module else "pool_function_in"] += n_in
            if r.kind == "avgpool":
                t["avgpool_out"] += out
            if r.kind in ("adaptive_avgpool", "global_avgpool"):
                t["adaptive_in"] += n_in
                t["adaptive_module_in_out"] += (n_in + out) if module else 0
    return t


def formula(tool: str, t: dict[str, int]) -> int:
    """peer_counts.yaml's `formulas`, term by term."""
    ref = t["conv_macs"] + t["linear_macs"]
    bias = t["conv_bias_out"] + t["linear_bias"]
    return {
        "ref": ref,
        "torchinfo": ref + bias + 2 * t["bn_channels"],
        "fvcore": ref + 2 * t["bn_elements"] + t["adaptive_in"],
        "ptflops_pytorch": ref + bias + 2 * t["bn_elements"] + 2 * t["relu_module"] + t["relu6_module"]
        + 2 * t["pool_module_in"] + t["pool_function_in"],
        "ptflops_aten": ref + bias,
        "thop": ref + 4 * t["bn_elements"] + t["avgpool_out"] + t["adaptive_module_in_out"],
        "flopcounter": 2 * ref,
    }[tool]


@pytest.fixture(scope="module")
def graphs() -> dict[str, archcalc.Graph]:
    return {net: archcalc.load(path, variables=variables) for net, (path, variables) in NETWORKS.items()}


@pytest.mark.skipif(not SHARED.exists(), reason="../shared is not beside this checkout (a fresh clone)")
def test_copy_equals_shared() -> None:
    assert yaml.safe_load(SHARED.read_text()) == PEER_DATA


def test_the_file_covers_every_network_and_tool() -> None:
    assert set(PEER_DATA["totals"]) == set(NETWORKS) == set(PEER_DATA["params"])
    for row in PEER_DATA["totals"].values():
        assert set(row) == set(TOOLS)
    assert set(PEER_DATA["formulas"]) | {"ref", "ptflops_pytorch"} >= set(TOOLS) - {"ref"}


@pytest.mark.parametrize("net", NETWORKS)
def test_layout_matches_params(graphs: dict[str, archcalc.Graph], net: str) -> None:
    """Same parameter count as every tool reports (all tools agree on params)."""
    assert archcalc.analyze(graphs[net]).totals.params == PEER_DATA["params"][net]


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("net", NETWORKS)
def test_preset_reproduces_the_tool(graphs: dict[str, archcalc.Graph], net: str, tool: str) -> None:
    preset, total = TOOLS[tool]
    graph = graphs[net]
    reported = PEER_DATA["totals"][net][tool]
    assert formula(tool, terms(archcalc.analyze(graph), graph)) == reported, "the formula"
    got = getattr(archcalc.analyze(graph, preset=preset).totals, total)
    assert got == reported, f"preset {preset}: {got:,} vs {tool} {reported:,} ({reported - got:+,})"


def test_torchinfo_counts_a_conv_bias_per_output_element(graphs: dict[str, archcalc.Graph]) -> None:
    """The fixed error: per bias parameter left VGG-16 13,543,296 short."""
    vgg = graphs["vgg16"]
    per_param = archcalc.analyze(vgg, preset="torchinfo", overrides={"bias_macs": "per_param"}).totals.macs
    assert PEER_DATA["totals"]["vgg16"]["torchinfo"] - per_param == 13_543_296


def test_module_false_changes_only_module_hooking_counts(graphs: dict[str, archcalc.Graph], tmp_path: Path) -> None:
    mobilenet = graphs["mobilenet_v2"]
    pool = next(layer for layer in mobilenet.layers.values() if layer.kind == "adaptive_avgpool")
    assert pool.attrs["module"] is False
    text = NETWORKS["mobilenet_v2"][0].read_text()
    assert text.count("size: 1, module: false") == 1
    (tmp_path / "m.yaml").write_text(text.replace("size: 1, module: false", "size: 1"))
    as_module = archcalc.load(tmp_path / "m.yaml")
    for preset in ("default", "paper_macs", "torchinfo", "fvcore", "flopcounter"):
        assert (archcalc.analyze(as_module, preset=preset).totals
                == archcalc.analyze(mobilenet, preset=preset).totals), preset
    n_in = 1280 * 7 * 7
    assert (archcalc.analyze(as_module, preset="thop").totals.flops
            - archcalc.analyze(mobilenet, preset="thop").totals.flops) == n_in + 1280
    assert (archcalc.analyze(as_module, preset="ptflops").totals.flops
            - archcalc.analyze(mobilenet, preset="ptflops").totals.flops) == n_in
