"""Real PyTorch exports (tests/fixtures/onnx/torch_export: torch 2.14.1 torch.onnx.export, legacy exporter at
opsets 17 and 18, dynamo exporter at 18 and 21, plus legacy 14 and 13 where nn.LayerNorm and nn.Hardswish
decompose) of a ConvNeXt stage, an EfficientNet MBConv, a GroupNorm + InstanceNorm + PixelShuffle net, a
MobileNetV3 block and two torch.einsum forms, weight-stripped. The oracle is torch itself (manifest.json, made
by make_torch_fixtures.py from the modules, never from archcalc) and the hand counts written below.

Each fixture must import with torch's parameter count (minus the BatchNorm scale/shift the exporter folded into
the conv before it, which the notes say), MACs equal to the hand count, and the layer kinds of the families the
exporters decompose (one ``layernorm`` layer, not nine elementwise ops)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import archcalc
from archcalc.ir import Graph
from archcalc.report import Report

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "onnx" / "torch_export"
MANIFEST: dict[str, Any] = json.loads((FIXTURES / "manifest.json").read_text())
ENTRIES: dict[str, dict[str, Any]] = MANIFEST["fixtures"]
HEAVY = ("conv", "fc", "matmul")

# Hand MAC counts (batch 1): conv = output elements x in/groups x kh x kw; Linear on an NHWC tensor =
# positions x in x out; einsum = product of its subscripts' sizes. Nothing else has MACs.
HAND_MACS = {
    # 16x32x32 input; downsample 2x2/2 conv 16->32 to 32x16x16; per block: depthwise 7x7, Linear 32->128->32
    "convnext_stage": 32 * 16 * 16 * 16 * 2 * 2 + 2 * (32 * 16 * 16 * 49 + 2 * 16 * 16 * 32 * 128),
    # 16x32x32, expand 1x1 to 64, depthwise 3x3, SE 64->4->64 on 1x1, project 1x1 to 16
    "mbconv_se": 64 * 32 * 32 * 16 + 64 * 32 * 32 * 9 + 4 * 64 + 64 * 4 + 16 * 32 * 32 * 64,
    # 3x32x32: conv 3x3 3->16; PixelUnshuffle(2) -> 64x16x16; conv 3x3 64->32; PixelShuffle(2) -> 8x32x32; 1x1 8->3
    "norm_shuffle": 16 * 32 * 32 * 3 * 9 + 32 * 16 * 16 * 64 * 9 + 3 * 32 * 32 * 8,
    # 16x32x32, expand 1x1 to 64, depthwise 5x5, SE 64->16->64, project 1x1 to 16
    "mobilenetv3_block": 64 * 32 * 32 * 16 + 64 * 32 * 32 * 25 + 16 * 64 + 64 * 16 + 16 * 32 * 32 * 64,
    # 3x16x16: conv 3x3 3->8; einsum bhwc,cd->bhwd (h w c d = 16 16 8 16); bij,bjk->bik (16 x 256 x 16)
    "einsum_mix": 8 * 16 * 16 * 3 * 9 + 16 * 16 * 8 * 16 + 16 * 256 * 16,
}
# Hand parameter counts of the torch modules (before any folding), and the BatchNorm channels folded.
HAND_PARAMS = {
    "convnext_stage": 2 * 16 + (16 * 32 * 4 + 32) + 2 * ((32 * 49 + 32) + 2 * 32 + (32 * 128 + 128)
                                                       + (128 * 32 + 32) + 32) + 2 * 32,
    "mbconv_se": 16 * 64 + 2 * 64 + 64 * 9 + 2 * 64 + (64 * 4 + 4) + (4 * 64 + 64) + 64 * 16 + 2 * 16,
    "norm_shuffle": (3 * 9 * 16 + 16) + 2 * 16 + (64 * 9 * 32 + 32) + 2 * 32 + (8 * 3 + 3),
    "mobilenetv3_block": 16 * 64 + 2 * 64 + 64 * 25 + 2 * 64 + (64 * 16 + 16) + (16 * 64 + 64) + 64 * 16 + 2 * 16,
    "einsum_mix": (3 * 9 * 8 + 8) + 8 * 16,
}
BN_CHANNELS = {"mbconv_se": 64 + 64 + 16, "mobilenetv3_block": 64 + 64 + 16}

# The layers each model must import as ('activation:fn' for activations, 'elementwise:op' for elementwise ops)
KINDS = {
    "convnext_stage": {"input": 1, "conv": 3, "layernorm": 4, "transpose": 4, "matmul": 4, "activation:gelu": 2,
                       "elementwise:mul": 2, "add": 2},  # Linears with their biases (MatMul -> Add), layer scales
    "mbconv_se": {"input": 1, "conv": 5, "activation:silu": 3, "global_avgpool": 1, "activation:sigmoid": 1,
                  "mul": 1, "add": 1},
    "norm_shuffle": {"input": 1, "conv": 3, "groupnorm": 1, "activation:mish": 1, "pixel_unshuffle": 1,
                     "instancenorm": 1, "activation:gelu_tanh": 1, "pixel_shuffle": 1},
    "mobilenetv3_block": {"input": 1, "conv": 5, "activation:hardswish": 2, "global_avgpool": 1,
                          "activation:relu": 1, "activation:hardsigmoid": 1, "mul": 1, "add": 1},
    "einsum_mix": {"input": 1, "conv": 1, "transpose": 2, "matmul": 2, "reshape": 1},
}
# torch module types whose parameters are those of the archcalc layers of a kind
NORM_TYPES = {"layernorm": ("LayerNorm", "LayerNorm2d", "ChannelsFirstLayerNorm"), "groupnorm": ("GroupNorm",),
              "instancenorm": ("InstanceNorm2d",), "elementwise:mul": ("CNBlock",)}  # CNBlock: its layer scale


def _key(layer: Any) -> str:
    if layer.kind == "activation":
        return f"activation:{layer.attrs['fn']}"
    return f"elementwise:{layer.attrs['op']}" if layer.kind == "elementwise" else str(layer.kind)


def _kinds(graph: Graph) -> Counter[str]:
    return Counter(_key(x) for x in graph.layers.values())


def _expected_kinds(name: str) -> Counter[str]:
    entry = ENTRIES[name]
    kinds = Counter(KINDS[entry["model"]])
    return +kinds


def test_the_same_model_counts_the_same_whatever_the_exporter(imported: dict[str, tuple[Graph, Report]]) -> None:
    """Under these presets every export of a model gives the same parameters, MACs, FLOPs, connections, units
    and peak activation memory: fvcore and
    ptflops cost global pooling, which the dynamo exporter writes as ReduceMean over H and W and the legacy one
    as GlobalAveragePool; the activations and norms decomposed at older opsets count as one layer each."""
    for preset in ("default", "fvcore", "ptflops", "torchinfo", "paper_macs", "course"):
        by_model: dict[str, set[tuple[int, ...]]] = {}
        for name, (graph, _) in imported.items():
            t = archcalc.analyze(graph, preset=preset).totals
            by_model.setdefault(ENTRIES[name]["model"], set()).add(
                (t.params, t.macs, t.flops, t.connections, t.units, t.peak_activation_bytes))
        for model, totals in by_model.items():
            assert len(totals) == 1, (preset, model, totals)


@pytest.fixture(scope="module")
def imported() -> dict[str, tuple[Graph, Report]]:
    out = {}
    for name, entry in ENTRIES.items():
        graph = archcalc.load(FIXTURES / entry["file"])
        out[name] = graph, archcalc.analyze(graph)
    return out


def test_every_combination_exported() -> None:
    assert not MANIFEST["refused"]
    models = Counter(e["model"] for e in ENTRIES.values())
    assert set(models) == set(HAND_MACS)
    for name, entry in ENTRIES.items():
        ex = entry["exporter"]
        assert ex["opset_import"]["ai.onnx"] == ex["opset_requested"], name
        assert entry["onnxruntime_unstripped"]["ok"] and entry["onnxruntime_restored"]["ok"], name
    combos = {(e["model"], e["exporter"]["dynamo"], e["exporter"]["opset_requested"]) for e in ENTRIES.values()}
    for model in HAND_MACS:
        assert {(model, False, 17), (model, False, 18), (model, True, 18), (model, True, 21)} <= combos


def test_manifest_oracle_equals_the_hand_counts() -> None:
    for name, entry in ENTRIES.items():
        torch = entry["torch"]
        model = entry["model"]
        assert torch["macs"] == HAND_MACS[model] == sum(h["macs"] for h in torch["heavy"]), name
        assert torch["params"] == HAND_PARAMS[model] == sum(torch["params_by_module"].values()), name
        assert torch["bn_channels"] == BN_CHANNELS.get(model, 0), name


@pytest.mark.parametrize("name", list(ENTRIES))
def test_params_and_macs_equal_torch(name: str, imported: dict[str, tuple[Graph, Report]]) -> None:
    entry = ENTRIES[name]
    model = entry["model"]
    _, r = imported[name]
    folded = BN_CHANNELS.get(model, 0)
    assert entry["bn_folded"] == bool(folded)
    assert r.totals.params == HAND_PARAMS[model] - folded == entry["expected_params"]
    assert r.totals.buffers == 0
    assert r.totals.macs == HAND_MACS[model]
    assert not r.uncounted
    bn_note = [n for n in r.notes if "folded it into conv" in n]
    if folded:  # the notes say what was folded: a computed bias on each of the 3 BN'd convs
        assert len(bn_note) == 1 and bn_note[0].startswith("3 of 5 convolutions have biases the exporter computed")
    else:
        assert not bn_note
    out = [x for x in r if x.name in r.outputs]
    assert [x.shape for x in out] == [tuple(entry["torch"]["output_shape"])]


@pytest.mark.parametrize("name", list(ENTRIES))
def test_layers_are_the_recognised_families(name: str, imported: dict[str, tuple[Graph, Report]]) -> None:
    graph, r = imported[name]
    assert _kinds(graph) == _expected_kinds(name)
    by_type = ENTRIES[name]["torch"]["params_by_type"]
    for kind, types in NORM_TYPES.items():
        layers = [x for x in r if _key(graph.layers[x.name]) == kind]
        want = sum(by_type.get(t, 0) for t in types)
        assert sum(x.params for x in layers) == want, (kind, [(x.name, x.params) for x in layers])
    attrs = [dict(x.attrs) for x in graph.layers.values()]
    model = ENTRIES[name]["model"]
    if model == "convnext_stage":
        ln = [a for x, a in zip(graph.layers.values(), attrs, strict=True) if x.kind == "layernorm"]
        over = Counter(a["over"] for a in ln)
        # LayerNorm2d (permutes; at opset 14 a decomposed layer_norm between the Transposes) and the written-out
        # channels_first norm are over the channels; nn.LayerNorm on NHWC over the last axis
        assert over == {"channels": 2, "last": 2}
        assert all(a["affine"] and a["bias"] and abs(a["eps"] - 1e-6) < 1e-9 for a in ln)
    if model == "norm_shuffle":
        gn = next(a for x, a in zip(graph.layers.values(), attrs, strict=True) if x.kind == "groupnorm")
        assert gn["groups"] == 4 and gn["affine"] is True
        for kind in ("pixel_shuffle", "pixel_unshuffle"):
            a = next(a for x, a in zip(graph.layers.values(), attrs, strict=True) if x.kind == kind)
            assert a == {"factor": 2, "mode": "CRD"}, kind


@pytest.mark.parametrize("name", list(ENTRIES))
def test_every_conv_linear_and_einsum_equals_torch(name: str, imported: dict[str, tuple[Graph, Report]]) -> None:
    """In forward order (these nets are chains): each Conv2d/Linear/einsum's MACs, weights, output shape, and
    for a conv its parameters (plus the folded BN's channels as biases)."""
    entry = ENTRIES[name]
    _, r = imported[name]
    heavy = [x for x in r if x.kind in HEAVY]
    torch = entry["torch"]["heavy"]
    assert len(heavy) == len(torch)
    for x, t in zip(heavy, torch, strict=True):
        where = f"{name}: {t['module']} ({x.name})"
        assert x.macs == t["macs"], where
        assert x.weights == t["weights"], where
        assert x.shape == tuple(t["output_shape"]), where
        if t["type"] == "Conv2d":
            assert x.params == t["params"] + (t["bn_after"] if entry["bn_folded"] else 0), where
        elif t["type"] == "Linear":  # MatMul -> Add: one layer with its bias
            assert x.params == t["params"] and x.biases == t["params"] - t["weights"], where


def _with_zero_weights(path: Path) -> Any:
    """The stripped model with every external initializer filled with zeros of its length (shapes only)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for t in model.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            length = int(next(e.value for e in t.external_data if e.key == "length"))
            del t.external_data[:]
            t.data_location = onnx.TensorProto.DEFAULT
            t.raw_data = bytes(length)
    return model


@pytest.mark.parametrize("name", list(ENTRIES))
def test_onnxruntime_shapes_equal_archcalc(name: str, imported: dict[str, tuple[Graph, Report]]) -> None:
    """onnxruntime runs every fixture (zero weights in place of the stripped ones): each layer's output shape is
    the tensor archcalc names it after."""
    from tests.onnx_builders import ort_shapes

    model = _with_zero_weights(FIXTURES / ENTRIES[name]["file"])
    real = ort_shapes(model)
    _, r = imported[name]
    names = {x.name for x in r}
    checked = 0
    for node in model.graph.node:
        if node.name in names:
            assert r[node.name].shape == real[node.output[0]][1:], node.name
            checked += 1
    assert checked == len(names) - 1  # every layer but the input


FOLDED = ("Constant", "Shape", "Slice", "Concat", "Gather", "Unsqueeze")


@pytest.mark.parametrize("name", [n for n, e in ENTRIES.items() if not e["exporter"]["dynamo"]])
def test_profile_places_every_node_in_the_layer_of_its_module(name: str,
                                                              imported: dict[str, tuple[Graph, Report]]) -> None:
    """``archcalc profile --per-layer`` charges each ORT kernel to a layer through node_layers: every node of
    a recognised multi-node form (a GroupNorm's Reshape/InstanceNormalization/Reshape/Mul/Add, a GELU's nine
    nodes) belongs to that layer. The legacy exporter names nodes /<module scope>/<Op>: each node's layer is
    in its own module's scope."""
    import onnx

    from archcalc.runtime.kernelmap import node_layers

    model = onnx.load(str(FIXTURES / ENTRIES[name]["file"]), load_external_data=False)
    graph, _ = imported[name]
    mapping = node_layers(model, graph.layers)
    checked = 0
    for n in model.graph.node:
        if n.op_type in FOLDED:
            continue
        layer = mapping.get(n.name)
        assert layer is not None and layer.rsplit("/", 1)[0] == n.name.rsplit("/", 1)[0], (n.name, layer)
        checked += 1
    assert checked == sum(1 for n in model.graph.node if n.op_type not in FOLDED)
    assert {n.name for n in model.graph.node} == {n.name for n in onnx.load(
        str(FIXTURES / ENTRIES[name]["file"]), load_external_data=False).graph.node}  # names untouched


def test_the_fixtures_hold_every_onnx_form_of_the_families() -> None:
    """Which op each exporter wrote (manifest op_types): the forms the importer is tested on here."""
    def ops(**where: Any) -> set[str]:
        return {op for e in ENTRIES.values() if all(e["exporter"].get(k, e.get(k)) == v for k, v in where.items())
                for op in e["op_types"]}

    everything = ops()
    for op in ("LayerNormalization", "GroupNormalization", "InstanceNormalization", "DepthToSpace", "HardSwish",
               "HardSigmoid", "Mish", "Gelu", "Einsum", "Erf", "Softplus", "Tanh", "Pow", "ReduceMean", "Sqrt"):
        assert op in everything, op
    assert "GroupNormalization" in ops(opset_requested=21)  # only the dynamo exporter at 21 writes it
    assert "GroupNormalization" not in ops(opset_requested=18)  # at 18 both write Reshape/InstanceNorm/Reshape
    assert "LayerNormalization" not in ops(opset_requested=14) and "Mish" not in ops(opset_requested=17)
    assert "HardSwish" not in ops(opset_requested=13) and "Gelu" not in ops(opset_requested=18)
