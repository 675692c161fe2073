"""ONNX import of whole networks, built with onnx.helper (no torch).

1. Real-architecture graphs (ResNet-style, Inception-style, MobileNet-style depthwise-separable
   with squeeze-excitation, an FCN with a transposed convolution and Resize) against the same
   network written as an archcalc spec: every layer's shapes, params, MACs, connections, FLOPs,
   bytes and receptive field must be equal (ONNX nodes carry the spec's layer names).
2. Messy real-export patterns: weights from Constant and ConstantOfShape nodes (a VGG-sized one is
   never materialised), shape chains, Clip limits as inputs, Resize by scales and sizes, opset-7
   Upsample, pads from a constant subgraph, initializers listed as graph inputs, a shared weight,
   BN folded into convolutions, a MatMul weight that is a transposed initializer.
3. A model whose external weight file is missing is analysed from its dims.
"""

from __future__ import annotations

import time
import tracemalloc
from fractions import Fraction
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import archcalc
from archcalc.report import Report
from tests.onnx_builders import analyze, make, node, save, tensor, tmp_file, verify, weight

COMPARED = ("kind", "shapes", "units", "weights", "biases", "params", "buffers", "connections", "macs", "flops",
            "param_bytes", "activation_bytes", "live_bytes", "rf")


def assert_same_layers(onnx_report: Report, spec_report: Report) -> None:
    """Layer by layer (same names, same order), every column and the receptive field."""
    mine = [r for r in onnx_report if r.kind != "input"]
    theirs = [r for r in spec_report if r.kind != "input"]
    assert [r.name for r in mine] == [r.name for r in theirs]
    for a, b in zip(mine, theirs, strict=True):
        for column in COMPARED:
            assert getattr(a, column) == getattr(b, column), f"{a.name}.{column}: {getattr(a, column)} (ONNX) != " \
                                                              f"{getattr(b, column)} (spec)"
    assert onnx_report.totals == spec_report.totals


class Net:
    """An ONNX graph written layer by layer; every node is named after its output (the layer name)."""

    def __init__(self, opset: int = 13) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.opset = opset

    def conv(self, name: str, x: str, c_in: int, c_out: int, k: int, s: int = 1, p: int = 0, bias: bool = False,
             groups: int = 1) -> str:
        self.inits.append(weight(f"{name}.weight", [c_out, c_in // groups, k, k]))
        ins = [x, f"{name}.weight"]
        if bias:
            self.inits.append(weight(f"{name}.bias", [c_out]))
            ins.append(f"{name}.bias")
        self.nodes.append(node("Conv", ins, name, kernel_shape=[k, k], strides=[s, s], pads=[p] * 4, group=groups))
        return name

    def bn(self, name: str, x: str, c: int) -> str:
        names = [f"{name}.{p}" for p in ("weight", "bias", "running_mean", "running_var")]
        self.inits += [weight(names[0], [c]), weight(names[1], [c]), weight(names[2], [c]),
                       tensor(names[3], np.ones(c), np.float32)]
        self.nodes.append(node("BatchNormalization", [x, *names], name))
        return name

    def op(self, op: str, name: str, *inputs: str, **attrs: Any) -> str:
        self.nodes.append(node(op, list(inputs), name, **attrs))
        return name

    def fc(self, name: str, x: str, n_in: int, units: int) -> str:
        self.inits += [weight(f"{name}.weight", [units, n_in]), weight(f"{name}.bias", [units])]
        return self.op("Gemm", name, x, f"{name}.weight", f"{name}.bias", transB=1)

    def model(self, shape: list[int]) -> onnx.ModelProto:
        return make(self.nodes, {"input": shape}, inits=self.inits, opset=self.opset)


def spec_report(spec: dict[str, Any]) -> Report:
    return archcalc.analyze(archcalc.load(spec))


# -- ResNet-style ---------------------------------------------------------------------------------


def test_resnet_style_residual_net_equals_its_spec() -> None:
    n = Net()
    n.conv("conv1", "input", 3, 16, 7, 2, 3)
    n.bn("bn1", "conv1", 16)
    n.op("Relu", "relu", "bn1")
    n.op("MaxPool", "maxpool", "relu", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    # identity block
    n.conv("b1.conv1", "maxpool", 16, 16, 3, 1, 1)
    n.bn("b1.bn1", "b1.conv1", 16)
    n.op("Relu", "b1.relu1", "b1.bn1")
    n.conv("b1.conv2", "b1.relu1", 16, 16, 3, 1, 1)
    n.bn("b1.bn2", "b1.conv2", 16)
    n.op("Add", "b1.add", "b1.bn2", "maxpool")
    n.op("Relu", "b1.relu2", "b1.add")
    # projection block
    n.conv("b2.conv1", "b1.relu2", 16, 32, 3, 2, 1)
    n.bn("b2.bn1", "b2.conv1", 32)
    n.op("Relu", "b2.relu1", "b2.bn1")
    n.conv("b2.conv2", "b2.relu1", 32, 32, 3, 1, 1)
    n.bn("b2.bn2", "b2.conv2", 32)
    n.conv("b2.proj", "b1.relu2", 16, 32, 1, 2, 0)
    n.bn("b2.proj_bn", "b2.proj", 32)
    n.op("Add", "b2.add", "b2.bn2", "b2.proj_bn")
    n.op("Relu", "b2.relu2", "b2.add")
    n.op("GlobalAveragePool", "avgpool", "b2.relu2")
    n.op("Flatten", "flatten", "avgpool")
    n.fc("fc", "flatten", 32, 10)
    onnx_report = verify(n.model([1, 3, 64, 64]))

    conv = {"type": "conv", "bias": "none", "rounding": "floor"}
    spec = {
        "name": "resnet_style", "input": [3, 64, 64],
        "layers": [
            {"name": "conv1", **conv, "filters": 16, "kernel": 7, "stride": 2, "padding": 3},
            {"name": "bn1", "type": "bn"}, {"name": "relu", "type": "relu"},
            {"name": "maxpool", "type": "maxpool", "kernel": 3, "stride": 2, "padding": 1, "rounding": "floor"},
            {"name": "b1.conv1", **conv, "filters": 16, "kernel": 3, "padding": 1},
            {"name": "b1.bn1", "type": "bn"}, {"name": "b1.relu1", "type": "relu"},
            {"name": "b1.conv2", **conv, "filters": 16, "kernel": 3, "padding": 1},
            {"name": "b1.bn2", "type": "bn"},
            {"name": "b1.add", "type": "add", "inputs": ["b1.bn2", "maxpool"]},
            {"name": "b1.relu2", "type": "relu"},
            {"name": "b2.conv1", **conv, "filters": 32, "kernel": 3, "stride": 2, "padding": 1},
            {"name": "b2.bn1", "type": "bn"}, {"name": "b2.relu1", "type": "relu"},
            {"name": "b2.conv2", **conv, "filters": 32, "kernel": 3, "padding": 1},
            {"name": "b2.bn2", "type": "bn"},
            {"name": "b2.proj", **conv, "inputs": "b1.relu2", "filters": 32, "kernel": 1, "stride": 2},
            {"name": "b2.proj_bn", "type": "bn"},
            {"name": "b2.add", "type": "add", "inputs": ["b2.bn2", "b2.proj_bn"]},
            {"name": "b2.relu2", "type": "relu"},
            {"name": "avgpool", "type": "global_avgpool"}, {"name": "flatten", "type": "flatten"},
            {"name": "fc", "type": "fc", "units": 10},
        ],
    }
    assert_same_layers(onnx_report, spec_report(spec))
    # and by hand: convolution weights, BN scale/shift, fc
    conv_w = 16 * 3 * 49 + 2 * 16 * 16 * 9 + 16 * 32 * 9 + 32 * 32 * 9 + 16 * 32
    bn = 2 * (16 + 16 + 16 + 32 + 32 + 32)
    assert onnx_report.totals.params == conv_w + bn + 32 * 10 + 10
    assert onnx_report.totals.buffers == bn


# -- Inception-style --------------------------------------------------------------------------------


def test_inception_style_concat_net_equals_its_spec() -> None:
    n = Net(opset=11)
    n.conv("stem", "input", 3, 16, 3, 2, 1, bias=True)
    n.op("Relu", "stem_relu", "stem")
    spec_layers: list[dict[str, Any]] = [
        {"name": "stem", "type": "conv", "filters": 16, "kernel": 3, "stride": 2, "padding": 1, "rounding": "floor"},
        {"name": "stem_relu", "type": "relu"},
    ]
    x, c = "stem_relu", 16
    for m, (b1, b2r, b2, b3r, b3, b4) in enumerate([(8, 6, 12, 2, 4, 4), (12, 8, 16, 4, 8, 8)]):
        p = f"m{m}"
        n.conv(f"{p}.b1", x, c, b1, 1, bias=True)
        n.op("Relu", f"{p}.b1r", f"{p}.b1")
        n.conv(f"{p}.b2a", x, c, b2r, 1, bias=True)
        n.op("Relu", f"{p}.b2ar", f"{p}.b2a")
        n.conv(f"{p}.b2b", f"{p}.b2ar", b2r, b2, 3, 1, 1, bias=True)
        n.op("Relu", f"{p}.b2br", f"{p}.b2b")
        n.conv(f"{p}.b3a", x, c, b3r, 1, bias=True)
        n.op("Relu", f"{p}.b3ar", f"{p}.b3a")
        n.conv(f"{p}.b3b", f"{p}.b3ar", b3r, b3, 5, 1, 2, bias=True)
        n.op("Relu", f"{p}.b3br", f"{p}.b3b")
        n.op("MaxPool", f"{p}.pool", x, kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])
        n.conv(f"{p}.b4", f"{p}.pool", c, b4, 1, bias=True)
        n.op("Relu", f"{p}.b4r", f"{p}.b4")
        n.op("Concat", f"{p}.cat", f"{p}.b1r", f"{p}.b2br", f"{p}.b3br", f"{p}.b4r", axis=1)
        cv = {"type": "conv", "rounding": "floor"}
        spec_layers += [
            {"name": f"{p}.b1", **cv, "inputs": x, "filters": b1, "kernel": 1}, {"name": f"{p}.b1r", "type": "relu"},
            {"name": f"{p}.b2a", **cv, "inputs": x, "filters": b2r, "kernel": 1},
            {"name": f"{p}.b2ar", "type": "relu"},
            {"name": f"{p}.b2b", **cv, "filters": b2, "kernel": 3, "padding": 1},
            {"name": f"{p}.b2br", "type": "relu"},
            {"name": f"{p}.b3a", **cv, "inputs": x, "filters": b3r, "kernel": 1},
            {"name": f"{p}.b3ar", "type": "relu"},
            {"name": f"{p}.b3b", **cv, "filters": b3, "kernel": 5, "padding": 2},
            {"name": f"{p}.b3br", "type": "relu"},
            {"name": f"{p}.pool", "type": "maxpool", "inputs": x, "kernel": 3, "stride": 1, "padding": 1},
            {"name": f"{p}.b4", **cv, "filters": b4, "kernel": 1}, {"name": f"{p}.b4r", "type": "relu"},
            {"name": f"{p}.cat", "type": "concat", "inputs": [f"{p}.b1r", f"{p}.b2br", f"{p}.b3br", f"{p}.b4r"]},
        ]
        x, c = f"{p}.cat", b1 + b2 + b3 + b4
    n.op("GlobalAveragePool", "gap", x)
    n.op("Flatten", "flat", "gap")
    n.fc("fc", "flat", c, 5)
    n.op("Softmax", "prob", "fc", axis=1)
    spec_layers += [{"name": "gap", "type": "gap"}, {"name": "flat", "type": "flatten"},
                    {"name": "fc", "type": "fc", "units": 5}, {"name": "prob", "type": "softmax"}]
    onnx_report = verify(n.model([1, 3, 32, 32]))
    assert_same_layers(onnx_report, spec_report({"name": "inception_style", "input": [3, 32, 32],
                                                 "layers": spec_layers}))
    assert onnx_report["m0.cat"].shape == (8 + 12 + 4 + 4, 16, 16)
    assert onnx_report["m1.cat"].rf.size == (3 + 2 * 4 + 2 * 4,) * 2  # stem 3, then 5x5 twice at jump 2


# -- MobileNet-style depthwise-separable with squeeze-excitation --------------------------------------------


def test_depthwise_separable_se_net_equals_its_spec() -> None:
    n = Net(opset=14)  # HardSwish
    n.inits += [tensor("zero", 0.0, np.float32), tensor("six", 6.0, np.float32)]
    n.conv("conv0", "input", 3, 8, 3, 2, 1, bias=True)  # BN folded by the exporter
    n.op("Clip", "act0", "conv0", "zero", "six")
    # inverted residual: expand 1x1, depthwise 3x3, SE, project 1x1, residual add
    n.conv("expand", "act0", 8, 32, 1, bias=True)
    n.op("Clip", "act1", "expand", "zero", "six")
    n.conv("dw", "act1", 32, 32, 3, 1, 1, bias=True, groups=32)
    n.op("Clip", "act2", "dw", "zero", "six")
    n.op("GlobalAveragePool", "se.pool", "act2")
    n.conv("se.fc1", "se.pool", 32, 8, 1, bias=True)
    n.op("Relu", "se.relu", "se.fc1")
    n.conv("se.fc2", "se.relu", 8, 32, 1, bias=True)
    n.op("HardSigmoid", "se.gate", "se.fc2", alpha=1 / 6)
    n.op("Mul", "se.scale", "act2", "se.gate")
    n.conv("project", "se.scale", 32, 8, 1, bias=True)
    n.op("Add", "res", "project", "act0")
    # a strided depthwise-separable block
    n.conv("dw2", "res", 8, 8, 3, 2, 1, bias=True, groups=8)
    n.op("Clip", "act3", "dw2", "zero", "six")
    n.conv("pw2", "act3", 8, 24, 1, bias=True)
    n.op("HardSwish", "act4", "pw2")
    n.op("GlobalAveragePool", "gap", "act4")
    n.op("Flatten", "flat", "gap")
    n.fc("classifier", "flat", 24, 7)
    onnx_report = verify(n.model([1, 3, 48, 48]))
    cv = {"type": "conv", "rounding": "floor"}
    spec = {
        "name": "mobilenet_style", "input": [3, 48, 48],
        "layers": [
            {"name": "conv0", **cv, "filters": 8, "kernel": 3, "stride": 2, "padding": 1},
            {"name": "act0", "type": "relu6"},
            {"name": "expand", **cv, "filters": 32, "kernel": 1}, {"name": "act1", "type": "relu6"},
            {"name": "dw", **cv, "depthwise": True, "filters": 32, "kernel": 3, "padding": 1},
            {"name": "act2", "type": "relu6"},
            {"name": "se.pool", "type": "global_avgpool"},
            {"name": "se.fc1", **cv, "filters": 8, "kernel": 1}, {"name": "se.relu", "type": "relu"},
            {"name": "se.fc2", **cv, "filters": 32, "kernel": 1}, {"name": "se.gate", "type": "hardsigmoid"},
            {"name": "se.scale", "type": "mul", "inputs": ["act2", "se.gate"]},
            {"name": "project", **cv, "filters": 8, "kernel": 1},
            {"name": "res", "type": "add", "inputs": ["project", "act0"]},
            {"name": "dw2", **cv, "depthwise": True, "filters": 8, "kernel": 3, "stride": 2, "padding": 1},
            {"name": "act3", "type": "relu6"},
            {"name": "pw2", **cv, "filters": 24, "kernel": 1}, {"name": "act4", "type": "hardswish"},
            {"name": "gap", "type": "global_avgpool"}, {"name": "flat", "type": "flatten"},
            {"name": "classifier", "type": "fc", "units": 7},
        ],
    }
    assert_same_layers(onnx_report, spec_report(spec))
    assert onnx_report["dw"].params == 32 * 9 + 32
    assert onnx_report["dw"].macs == 32 * 24 * 24 * 9
    # biased convs alone are no evidence of folded BN (these biases are named as the layers' own)
    assert not any("folded it into conv" in note for note in onnx_report.notes)


# -- FCN with a transposed convolution and Resize -------------------------------------------------------------


@pytest.mark.parametrize("opset", [11, 13, 19])
def test_fcn_with_conv_transpose_and_resize_equals_its_spec(opset: int) -> None:
    n = Net(opset=opset)
    n.conv("conv1", "input", 3, 8, 3, 2, 1, bias=True)
    n.op("Relu", "relu1", "conv1")
    n.conv("conv2", "relu1", 8, 16, 3, 2, 1, bias=True)
    n.op("Relu", "relu2", "conv2")
    n.conv("score2", "relu2", 16, 4, 1, bias=True)
    n.inits.append(weight("up2.weight", [4, 4, 4, 4]))
    n.op("ConvTranspose", "up2", "score2", "up2.weight", strides=[2, 2], pads=[1, 1, 1, 1])
    n.conv("score1", "relu1", 8, 4, 1, bias=True)
    n.op("Add", "fuse", "up2", "score1")
    n.inits += [tensor("scales", [1, 1, 2, 2], np.float32), tensor("sizes", [1, 4, 40, 40])]
    n.op("Resize", "up1", "fuse", "", "scales", mode="linear")
    n.op("Resize", "out", "up1", "", "", "sizes", mode="nearest")
    if opset < 13:  # roi and scales are required before opset 13 (they may be empty)
        n.inits += [tensor("roi", [], np.float32), tensor("no_scales", [], np.float32)]
        n.nodes[-2].input[1] = "roi"
        n.nodes[-1].input[1] = "roi"
        n.nodes[-1].input[2] = "no_scales"
    onnx_report = verify(n.model([1, 3, 40, 40]))
    cv = {"type": "conv", "rounding": "floor"}
    spec = {
        "name": "fcn", "input": [3, 40, 40],
        "layers": [
            {"name": "conv1", **cv, "filters": 8, "kernel": 3, "stride": 2, "padding": 1},
            {"name": "relu1", "type": "relu"},
            {"name": "conv2", **cv, "filters": 16, "kernel": 3, "stride": 2, "padding": 1},
            {"name": "relu2", "type": "relu"},
            {"name": "score2", **cv, "filters": 4, "kernel": 1},
            {"name": "up2", "type": "conv_transpose", "filters": 4, "kernel": 4, "stride": 2, "padding": 1,
             "bias": "none"},
            {"name": "score1", **cv, "inputs": "relu1", "filters": 4, "kernel": 1},
            {"name": "fuse", "type": "add", "inputs": ["up2", "score1"]},
            {"name": "up1", "type": "upsample", "scale": 2, "mode": "bilinear"},
            {"name": "out", "type": "upsample", "size": [40, 40], "mode": "nearest"},
        ],
    }
    assert_same_layers(onnx_report, spec_report(spec))
    assert onnx_report["up2"].shape == (4, 20, 20)
    assert onnx_report["up2"].macs == 10 * 10 * 4 * 4 * 16


# -- messy real-export patterns ---------------------------------------------------------------------------


def test_weights_from_constant_nodes_and_clip_limits_as_constant_inputs() -> None:
    nodes = [
        node("Constant", [], "w", value=weight("w_value", [6, 3, 3, 3])),
        node("Constant", [], "b", value=weight("b_value", [6])),
        node("Constant", [], "lo", value=helper.make_tensor("lo_v", TensorProto.FLOAT, [], [0.0])),
        node("Constant", [], "hi", value=helper.make_tensor("hi_v", TensorProto.FLOAT, [], [6.0])),
        node("Conv", ["x", "w", "b"], "conv", pads=[1, 1, 1, 1]),
        node("Clip", ["conv", "lo", "hi"], "act"),
    ]
    r = verify(make(nodes, {"x": [1, 3, 8, 8]}, opset=12), layers=["conv", "act"])
    assert r.totals.params == 6 * 27 + 6
    assert r["act"].params == 0


def test_huge_constant_of_shape_weight_is_never_materialised() -> None:
    # VGG-16's fc6: a 4096 x 25088 weight (411 MB as float32) made by ConstantOfShape
    nodes = [
        node("Flatten", ["x"], "flat"),
        node("ConstantOfShape", ["wshape"], "w", value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.01])),
        node("Gemm", ["flat", "w", "b"], "fc6", transB=1),
        node("Relu", ["fc6"], "relu6"),
    ]
    m = make(nodes, {"x": [1, 512, 7, 7]}, inits=[tensor("wshape", [4096, 25088]), weight("b", [4096])], opset=13)
    path = save(m)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        r = analyze(path)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r["fc6"].params == 4096 * 25088 + 4096
    assert r["fc6"].macs == 25088 * 4096
    assert peak < 20 * 2**20, f"peak {peak:,} bytes: the weight was materialised"
    assert elapsed < 5


def test_torch_style_flatten_chain_and_interpolate_sizes_chain() -> None:
    # x.view(x.size(0), -1) and F.interpolate(scale_factor=2) as old torch exporters write them
    nodes = [
        node("Conv", ["x", "w"], "conv", pads=[1, 1, 1, 1]),
        node("Shape", ["conv"], "s"),
        node("Slice", ["s", "st", "en"], "hw"),
        node("Cast", ["hw"], "hw_f", to=TensorProto.FLOAT),
        node("Mul", ["hw_f", "two"], "hw2_f"),
        node("Cast", ["hw2_f"], "hw2", to=TensorProto.INT64),
        node("Slice", ["s", "zero", "st"], "nc"),
        node("Concat", ["nc", "hw2"], "sizes", axis=0),
        node("Resize", ["conv", "", "", "sizes"], "up", mode="nearest"),
        node("Shape", ["up"], "s2"),
        node("Gather", ["s2", "i0"], "n"),
        node("Unsqueeze", ["n", "ax0"], "n1"),
        node("Concat", ["n1", "minus1"], "target", axis=0),
        node("Reshape", ["up", "target"], "flat"),
        node("MatMul", ["flat", "fcw"], "fc"),
    ]
    inits = [weight("w", [4, 3, 3, 3]), tensor("st", [2]), tensor("en", [4]), tensor("zero", [0]),
             tensor("two", [2.0, 2.0], np.float32), tensor("i0", 0), tensor("ax0", [0]), tensor("minus1", [-1]),
             weight("fcw", [4 * 12 * 12, 5])]
    r = verify(make(nodes, {"x": [2, 3, 6, 6]}, inits=inits, opset=13), layers=["conv", "up", "flat", "fc"])
    assert r["up"].shape == (4, 12, 12)
    assert r["fc"].params == 576 * 5
    assert any("Shape x2" in n and "Slice x2" in n for n in r.notes)


def test_opset7_upsample_in_a_network() -> None:
    nodes = [node("Conv", ["x", "w", "b"], "conv", pads=[1, 1, 1, 1]), node("Relu", ["conv"], "relu"),
             node("Upsample", ["relu"], "up", scales=[1.0, 1.0, 2.0, 2.0]), node("Conv", ["up", "w2"], "head")]
    inits = [weight("w", [4, 3, 3, 3]), weight("b", [4]), weight("w2", [2, 4, 1, 1])]
    r = verify(make(nodes, {"x": [1, 3, 5, 5]}, inits=inits, opset=7), layers=["conv", "relu", "up", "head"])
    assert r["head"].shape == (2, 10, 10) and r["head"].macs == 2 * 100 * 4
    assert r["head"].rf.jump == (Fraction(1, 2), Fraction(1, 2))


def test_pads_computed_by_a_constant_subgraph() -> None:
    # torch's F.pad(x, (1, 2, 3, 0)) at opset 11+: ConstantOfShape, Concat, Reshape, a reversing
    # Slice, Transpose, Reshape, Cast
    nodes = [
        node("Constant", [], "p", value=helper.make_tensor("pv", TensorProto.INT64, [4], [1, 2, 3, 0])),
        node("ConstantOfShape", ["four"], "zeros", value=helper.make_tensor("z", TensorProto.INT64, [1], [0])),
        node("Concat", ["p", "zeros"], "p8", axis=0),
        node("Reshape", ["p8", "shape_m1_2"], "p42"),
        node("Slice", ["p42", "start_m1", "end_min", "axes0", "step_m1"], "rev"),
        node("Transpose", ["rev"], "tr", perm=[1, 0]),
        node("Reshape", ["tr", "shape_m1"], "flat"),
        node("Cast", ["flat"], "pads", to=TensorProto.INT64),
        node("Pad", ["x", "pads"], "pad", mode="reflect"),
        node("Conv", ["pad", "w"], "conv"),
    ]
    inits = [tensor("four", [4]), tensor("shape_m1_2", [-1, 2]), tensor("start_m1", [-1]),
             tensor("end_min", [-(2**63) + 1]), tensor("axes0", [0]), tensor("step_m1", [-1]), tensor("shape_m1", [-1]),
             weight("w", [2, 3, 3, 3])]
    r = verify(make(nodes, {"x": [1, 3, 8, 9]}, inits=inits, opset=13), layers=["pad", "conv"])
    # F.pad's last-axis-first order: W gets (1, 2), H gets (3, 0)
    assert r["pad"].shape == (3, 8 + 3, 9 + 1 + 2)
    assert r["pad"].rf.start == (-3, -1)


def test_initializers_listed_as_graph_inputs() -> None:
    # exporters before IR 4 list every initializer in graph.input as well
    inits = [weight("w", [4, 3, 3, 3]), weight("b", [4]), weight("fw", [10, 4 * 36]), weight("fb", [10])]
    nodes = [node("Conv", ["x", "w", "b"], "conv"), node("Relu", ["conv"], "relu"), node("Flatten", ["relu"], "flat"),
             node("Gemm", ["flat", "fw", "fb"], "fc", transB=1)]
    m = make(nodes, {"x": [1, 3, 8, 8]}, inits=inits, opset=7)
    for t in inits:
        m.graph.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    m.ir_version = 3
    r = verify(m, layers=["conv", "relu", "flat", "fc"])
    assert [x.name for x in r if x.kind == "input"] == ["x"]
    assert r.totals.params == 4 * 27 + 4 + 144 * 10 + 10


def test_shared_initializer_is_counted_once() -> None:
    nodes = [node("Conv", ["x", "w", "b"], "c1", pads=[1, 1, 1, 1]), node("Relu", ["c1"], "r1"),
             node("Conv", ["r1", "w", "b"], "c2", pads=[1, 1, 1, 1]), node("Relu", ["c2"], "r2")]
    r = verify(make(nodes, {"x": [1, 8, 6, 6]}, inits=[weight("w", [8, 8, 3, 3]), weight("b", [8])]),
               layers=["c1", "r1", "c2", "r2"])
    assert r.totals.params == 8 * 8 * 9 + 8  # once
    assert r["c1"].params == 8 * 8 * 9 + 8 and r["c2"].params == 0
    assert r["c1"].macs == r["c2"].macs == 8 * 36 * 8 * 9  # both layers do the work
    assert any("shared initializers counted once" in n for n in r.notes)


def test_bn_folded_into_conv_is_noted() -> None:
    nodes = [node("Conv", ["x", "w1", "b1"], "c1", pads=[1, 1, 1, 1]), node("Relu", ["c1"], "r1"),
             node("Conv", ["r1", "w2", "b2"], "c2", strides=[2, 2]), node("Relu", ["c2"], "r2")]
    inits = [weight("w1", [8, 3, 3, 3]), weight("b1", [8]), weight("w2", [16, 8, 3, 3]), weight("b2", [16])]
    r = verify(make(nodes, {"x": [1, 3, 9, 9]}, inits=inits), layers=["c1", "r1", "c2", "r2"])
    assert r.totals.buffers == 0
    assert r.totals.params == 8 * 27 + 8 + 16 * 72 + 16
    # biases named b1, b2 are no evidence that BN was ever there: no note
    assert not any("folded it into conv" in n for n in r.notes)
    # biases the exporter computed (TorchScript's names for folded constants) are
    renamed = [node("Conv", ["x", "w1", "onnx::Conv_7"], "c1", pads=[1, 1, 1, 1]), nodes[1],
               node("Conv", ["r1", "w2", "onnx::Conv_9"], "c2", strides=[2, 2]), nodes[3]]
    inits = [inits[0], weight("onnx::Conv_7", [8]), inits[2], weight("onnx::Conv_9", [16])]
    r = verify(make(renamed, {"x": [1, 3, 9, 9]}, inits=inits), layers=["c1", "r1", "c2", "r2"])
    assert any(n.startswith("2 of 2 convolutions have biases the exporter computed") and "may have had BN" in n
               for n in r.notes)


def test_matmul_weight_is_a_transposed_initializer() -> None:
    nodes = [node("Transpose", ["w"], "wt", perm=[1, 0]), node("MatMul", ["x", "wt"], "fc"),
             node("Add", ["fc", "b"], "fc_b"), node("MatMul", ["fc_b", "w"], "tied")]  # tied: the same weight
    r = verify(make(nodes, {"x": [3, 100]}, inits=[weight("w", [80, 100]), weight("b", [80])]),
               layers=["fc", "fc_b", "tied"])
    assert r["fc"].params == 8000 and r["fc"].macs == 3 * 8000
    assert r["tied"].params == 0 and r["tied"].macs == 3 * 8000
    assert r.totals.params == 8000 + 80


# -- external data ----------------------------------------------------------------------------------------


def _external_model() -> onnx.ModelProto:
    nodes = [node("Conv", ["x", "w", "b"], "conv", pads=[1, 1, 1, 1]), node("Relu", ["conv"], "relu"),
             node("GlobalAveragePool", ["relu"], "gap"), node("Flatten", ["gap"], "flat"),
             node("Gemm", ["flat", "fw", "fb"], "fc", transB=1)]
    inits = [weight("w", [64, 32, 3, 3]), weight("b", [64]), weight("fw", [100, 64]), weight("fb", [100])]
    return make(nodes, {"x": [1, 32, 16, 16]}, inits=inits, opset=13)


@pytest.mark.parametrize("delete_bin", [False, True])
def test_missing_external_weight_file_is_analysed_from_dims(delete_bin: bool) -> None:
    model = _external_model()
    embedded = analyze(save(model))
    folder = tmp_file("").with_name(tmp_file("").name + "_ext")
    folder.mkdir()
    path = folder / "model.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model.weights.bin", size_threshold=0)
    bin_file = folder / "model.weights.bin"
    assert bin_file.stat().st_size > 64 * 32 * 9 * 4
    assert path.stat().st_size < 4096  # the weights really are outside
    if delete_bin:
        bin_file.unlink()
    r = analyze(path)
    for a, b in zip(r, embedded, strict=True):
        assert (a.name, a.shapes, a.params, a.macs, a.connections, a.rf) == (b.name, b.shapes, b.params, b.macs,
                                                                             b.connections, b.rf)
    assert r.totals == embedded.totals
    assert r.totals.params == 64 * 32 * 9 + 64 + 6400 + 100
    assert any("external data" in n for n in r.notes)


def test_weight_bytes_are_not_read() -> None:
    r = analyze(save(_external_model()))
    assert any("bytes of data not read" in n for n in r.notes)
