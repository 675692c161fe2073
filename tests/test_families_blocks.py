"""Modern blocks in the forms PyTorch's exporters write them (built here with onnx.helper: torch
stays out of the dependencies), imported with the parameters torch counts and hand-counted MACs:
an EfficientNet MBConv with SE and SiLU (Mul(x, Sigmoid(x)), legacy opset 13), a ConvNeXt block
(permute, LayerNormalization, Linear as MatMul + Add, GELU, layer scale; opsets 17 and 20), a
GroupNorm + InstanceNorm + PixelShuffle net (opset 17) and a MobileNetV3 block (HardSwish as
HardSigmoid + Mul, opset 13). Shapes are checked against ONNX Runtime by ``verify``."""

from __future__ import annotations

import numpy as np
import pytest

from tests.onnx_builders import make, node, tensor, verify, weight


def _silu(x: str, y: str) -> list:
    return [node("Sigmoid", [x], f"{y}_sig"), node("Mul", [x, f"{y}_sig"], y)]


def test_efficientnet_mbconv_with_se_and_silu() -> None:
    c, e, se, h = 16, 96, 4, 14
    nodes = [node("Conv", ["x", "w_exp", "b_exp"], "expand"), *_silu("expand", "act1"),
             node("Conv", ["act1", "w_dw", "b_dw"], "dw", group=e, pads=[1, 1, 1, 1]), *_silu("dw", "act2"),
             node("GlobalAveragePool", ["act2"], "pool"), node("Conv", ["pool", "w_r", "b_r"], "reduce"),
             *_silu("reduce", "act3"), node("Conv", ["act3", "w_e", "b_e"], "expand_se"),
             node("Sigmoid", ["expand_se"], "gate"), node("Mul", ["act2", "gate"], "scale"),
             node("Conv", ["scale", "w_p", "b_p"], "project"), node("Add", ["project", "x"], "y")]
    inits = [weight("w_exp", [e, c, 1, 1]), weight("b_exp", [e]), weight("w_dw", [e, 1, 3, 3]), weight("b_dw", [e]),
             weight("w_r", [se, e, 1, 1]), weight("b_r", [se]), weight("w_e", [e, se, 1, 1]), weight("b_e", [e]),
             weight("w_p", [c, e, 1, 1]), weight("b_p", [c])]
    m = make(nodes, {"x": [1, c, h, h]}, inits=inits, opset=13)
    r = verify(m, layers=["expand", "act1", "dw", "act2", "pool", "reduce", "act3", "expand_se", "gate", "scale",
                          "project", "y"])
    assert all(r[a].kind == "activation" for a in ("act1", "act2", "act3"))
    torch_params = (e * c + e) + (e * 9 + e) + (se * e + se) + (e * se + e) + (c * e + c)  # BN folded into convs
    assert r.totals.params == torch_params
    assert r.totals.macs == h * h * (e * c + e * 9 + c * e) + se * e + e * se


@pytest.mark.parametrize("opset", [17, 20])
def test_convnext_block(opset: int) -> None:
    c, h = 32, 7
    gelu = ([node("Gelu", ["fc1"], "gelu")] if opset >= 20 else
            [node("Div", ["fc1", "sqrt2"], "g_div"), node("Erf", ["g_div"], "g_erf"),
             node("Add", ["g_erf", "one"], "g_add"), node("Mul", ["fc1", "g_add"], "g_mul"),
             node("Mul", ["g_mul", "half"], "gelu")])
    nodes = [node("Conv", ["x", "w_dw", "b_dw"], "dw", group=c, pads=[3, 3, 3, 3]),
             node("Transpose", ["dw"], "nhwc", perm=[0, 2, 3, 1]),
             node("LayerNormalization", ["nhwc", "ln_s", "ln_b"], "ln", axis=-1, epsilon=1e-6),
             node("MatMul", ["ln", "w1"], "mm1"), node("Add", ["mm1", "b1"], "fc1"), *gelu,
             node("MatMul", ["gelu", "w2"], "mm2"), node("Add", ["mm2", "b2"], "fc2"),
             node("Mul", ["fc2", "gamma"], "ls"), node("Transpose", ["ls"], "nchw", perm=[0, 3, 1, 2]),
             node("Add", ["x", "nchw"], "y")]
    inits = [weight("w_dw", [c, 1, 7, 7]), weight("b_dw", [c]), weight("ln_s", [c]), weight("ln_b", [c]),
             weight("w1", [c, 4 * c]), weight("b1", [4 * c]), weight("w2", [4 * c, c]), weight("b2", [c]),
             weight("gamma", [c]), tensor("sqrt2", 2**0.5, np.float32), tensor("one", 1.0, np.float32),
             tensor("half", 0.5, np.float32)]
    m = make(nodes, {"x": [1, c, h, h]}, inits=inits, opset=opset)
    r = verify(m, layers=["dw", "nhwc", "ln", "fc1", "gelu", "fc2", "ls", "nchw", "y"])
    assert r["ln"].kind == "layernorm" and r["gelu"].kind == "activation"
    assert r["fc1"].kind == r["fc2"].kind == "matmul" and (r["fc1"].biases, r["fc2"].biases) == (4 * c, c)
    torch_params = (49 * c + c) + 2 * c + (c * 4 * c + 4 * c) + (4 * c * c + c) + c
    assert r.totals.params == torch_params
    assert r.totals.macs == h * h * (49 * c + 2 * 4 * c * c)


def test_groupnorm_instancenorm_pixelshuffle_net() -> None:
    c, g, h = 16, 4, 8
    nodes = [node("Conv", ["x", "w1", "b1"], "c1", pads=[1, 1, 1, 1]),
             node("Reshape", ["c1", "gshape"], "gn_r1"),
             node("InstanceNormalization", ["gn_r1", "g_ones", "g_zeros"], "gn_in"),
             node("Shape", ["c1"], "c1_shape"), node("Reshape", ["gn_in", "c1_shape"], "gn_r2"),
             node("Mul", ["gn_r2", "gn_w"], "gn_m"), node("Add", ["gn_m", "gn_b"], "gn"),
             node("Relu", ["gn"], "r"), node("Conv", ["r", "w2", "b2"], "c2", pads=[1, 1, 1, 1]),
             node("InstanceNormalization", ["c2", "i_ones", "i_zeros"], "inorm"),
             node("DepthToSpace", ["inorm"], "y", blocksize=2, mode="CRD")]
    inits = [weight("w1", [c, 3, 3, 3]), weight("b1", [c]), tensor("gshape", [0, g, -1]),
             tensor("g_ones", np.ones(g), np.float32), tensor("g_zeros", np.zeros(g), np.float32),
             weight("gn_w", [c, 1, 1]), weight("gn_b", [c, 1, 1]), weight("w2", [4 * c, c, 3, 3]),
             weight("b2", [4 * c]), tensor("i_ones", np.ones(4 * c), np.float32),
             tensor("i_zeros", np.zeros(4 * c), np.float32)]
    m = make(nodes, {"x": [2, 3, h, h]}, inits=inits, opset=17)
    r = verify(m, layers=["c1", "gn", "r", "c2", "inorm", "y"])
    assert r["gn"].kind == "groupnorm" and r["inorm"].kind == "instancenorm" and r["y"].kind == "pixel_shuffle"
    assert r["y"].shape == (c, 2 * h, 2 * h)
    # nn.GroupNorm(4, 16) has 32 parameters; nn.InstanceNorm2d(64) (affine=False) none
    assert r.totals.params == (c * 27 + c) + 2 * c + (4 * c * c * 9 + 4 * c)
    assert r.totals.macs == 2 * h * h * (c * 27 + 4 * c * c * 9)


def test_mobilenetv3_block_hardswish_and_hardsigmoid_se() -> None:
    c, e, se, h = 16, 64, 16, 8
    nodes = [node("Conv", ["x", "w_exp", "b_exp"], "expand"),
             node("HardSigmoid", ["expand"], "hs1_g", alpha=1 / 6, beta=0.5), node("Mul", ["expand", "hs1_g"], "hs1"),
             node("Conv", ["hs1", "w_dw", "b_dw"], "dw", group=e, pads=[2, 2, 2, 2], strides=[2, 2]),
             node("HardSigmoid", ["dw"], "hs2_g", alpha=1 / 6, beta=0.5), node("Mul", ["dw", "hs2_g"], "hs2"),
             node("GlobalAveragePool", ["hs2"], "pool"), node("Conv", ["pool", "w_r", "b_r"], "reduce"),
             node("Relu", ["reduce"], "relu"), node("Conv", ["relu", "w_e", "b_e"], "expand_se"),
             node("HardSigmoid", ["expand_se"], "gate", alpha=1 / 6, beta=0.5), node("Mul", ["hs2", "gate"], "scale"),
             node("Conv", ["scale", "w_p", "b_p"], "y")]
    inits = [weight("w_exp", [e, c, 1, 1]), weight("b_exp", [e]), weight("w_dw", [e, 1, 5, 5]), weight("b_dw", [e]),
             weight("w_r", [se, e, 1, 1]), weight("b_r", [se]), weight("w_e", [e, se, 1, 1]), weight("b_e", [e]),
             weight("w_p", [c, e, 1, 1]), weight("b_p", [c])]
    m = make(nodes, {"x": [1, c, h, h]}, inits=inits, opset=13)
    r = verify(m, layers=["expand", "hs1", "dw", "hs2", "pool", "reduce", "relu", "expand_se", "gate", "scale", "y"])
    assert r["hs1"].kind == r["hs2"].kind == r["gate"].kind == "activation"
    assert r.totals.params == (e * c + e) + (e * 25 + e) + (se * e + se) + (e * se + e) + (c * e + c)
    o = h // 2
    assert r.totals.macs == h * h * e * c + o * o * (e * 25 + c * e) + se * e + e * se
