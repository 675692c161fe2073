"""ONNX import, op by op: every op the importer claims, built with onnx.helper (no torch).

For each model, ``verify`` checks archcalc's per-layer output shapes against ONNX shape
inference (strict mode) and against ONNX Runtime's real output shapes (opsets up to 26; newer
ones with shape inference only). Parameters, MACs and connections are checked against hand
formulas written here, never against archcalc's own output.
"""

from __future__ import annotations

from fractions import Fraction
from math import prod
from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper

from tests.onnx_builders import LATEST, ORT_MAX_OPSET, make, node, save, tensor, verify, weight

CONV_OPSETS = [7, 11, 13, 22, LATEST]


def out_len(n: int, k: int, s: int = 1, p0: int = 0, p1: int = 0, d: int = 1, ceil: bool = False) -> int:
    """Hand formula: floor((n + p0 + p1 - d(k-1) - 1)/s) + 1 (ceil: no window starts in the right padding)."""
    span = n + p0 + p1 - (d * (k - 1) + 1)
    if not ceil:
        return span // s + 1
    o = -(-span // s) + 1
    return o - 1 if (o - 1) * s >= n + p0 else o


def conv_macs(c_out: int, out: tuple[int, ...], c_in: int, groups: int, kernel: tuple[int, ...]) -> int:
    return c_out * prod(out) * (c_in // groups) * prod(kernel)


# -- Conv -------------------------------------------------------------------------------------


@pytest.mark.parametrize("opset", CONV_OPSETS)
def test_conv_strides_pads_bias(opset: int) -> None:
    m = make([node("Conv", ["x", "w", "b"], "y", kernel_shape=[3, 5], strides=[2, 1], pads=[1, 2, 1, 2])],
             {"x": [2, 3, 17, 19]}, inits=[weight("w", [8, 3, 3, 5]), weight("b", [8])], opset=opset)
    r = verify(m, layers=["y"])
    oh, ow = out_len(17, 3, 2, 1, 1), out_len(19, 5, 1, 2, 2)
    assert r["y"].shape == (8, oh, ow)
    assert r["y"].weights == 8 * 3 * 3 * 5 and r["y"].biases == 8
    assert r["y"].params == 8 * 3 * 15 + 8
    assert r["y"].macs == 2 * conv_macs(8, (oh, ow), 3, 1, (3, 5))  # batch 2
    assert r["y"].connections == conv_macs(8, (oh, ow), 3, 1, (3, 5))  # per sample


@pytest.mark.parametrize("opset", [7, 13, LATEST])
@pytest.mark.parametrize("groups,c_in,c_out", [(2, 8, 6), (8, 8, 8), (4, 8, 16)])
def test_conv_groups_and_depthwise(opset: int, groups: int, c_in: int, c_out: int) -> None:
    m = make([node("Conv", ["x", "w"], "y", group=groups, pads=[1, 1, 1, 1])], {"x": [1, c_in, 10, 10]},
             inits=[weight("w", [c_out, c_in // groups, 3, 3])], opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].params == c_out * (c_in // groups) * 9
    assert r["y"].macs == conv_macs(c_out, (10, 10), c_in, groups, (3, 3))


@pytest.mark.parametrize("opset", [7, 11, 22])
def test_conv_dilations(opset: int) -> None:
    m = make([node("Conv", ["x", "w", "b"], "y", dilations=[2, 3], pads=[2, 3, 2, 3])], {"x": [1, 4, 15, 16]},
             inits=[weight("w", [5, 4, 3, 3]), weight("b", [5])], opset=opset)
    r = verify(m, layers=["y"])
    oh, ow = out_len(15, 3, 1, 2, 2, 2), out_len(16, 3, 1, 3, 3, 3)
    assert (oh, ow) == (15, 16)
    assert r["y"].macs == conv_macs(5, (oh, ow), 4, 1, (3, 3))
    # a dilated kernel spans d(k-1)+1 input pixels
    assert r["y"].rf.size == (5, 7)


@pytest.mark.parametrize("opset", [7, 11, 13, 22, LATEST])
@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_conv_auto_pad(opset: int, auto_pad: str) -> None:
    # input 10, kernel 4, stride 3: SAME total padding = (4-1)*3 + 4 - 10 = 3 (odd: the sides differ)
    m = make([node("Conv", ["x", "w"], "y", kernel_shape=[4, 4], strides=[3, 3], auto_pad=auto_pad)],
             {"x": [1, 2, 10, 11]}, inits=[weight("w", [3, 2, 4, 4])], opset=opset)
    r = verify(m, layers=["y"])
    out: tuple[int, ...]
    if auto_pad == "VALID":
        out = (out_len(10, 4, 3), out_len(11, 4, 3))
        before: tuple[int, ...] = (0, 0)
    else:
        out = (-(-10 // 3), -(-11 // 3))
        totals = (max((out[0] - 1) * 3 + 4 - 10, 0), max((out[1] - 1) * 3 + 4 - 11, 0))
        before = tuple(t // 2 if auto_pad == "SAME_UPPER" else t - t // 2 for t in totals)
    assert r["y"].shape == (3, *out)
    assert r["y"].macs == conv_macs(3, out, 2, 1, (4, 4))
    # the centre of output 0 is (k-1)/2 - pad_before in input coordinates
    assert r["y"].rf.start == tuple(Fraction(3, 2) - b for b in before)


@pytest.mark.parametrize("opset", [7, 13, LATEST])
def test_conv_asymmetric_pads(opset: int) -> None:
    m = make([node("Conv", ["x", "w", "b"], "y", pads=[0, 1, 2, 1])], {"x": [1, 3, 9, 9]},
             inits=[weight("w", [4, 3, 3, 3]), weight("b", [4])], opset=opset)
    r = verify(m, layers=["y"])
    out = (out_len(9, 3, 1, 0, 2), out_len(9, 3, 1, 1, 1))
    assert r["y"].shape == (4, *out) == (4, 9, 9)
    assert r["y"].rf.start == (1, 0)  # (3-1)/2 - pad_before
    assert r["y"].macs == conv_macs(4, out, 3, 1, (3, 3))


@pytest.mark.parametrize("opset", [11, LATEST])
def test_conv_1d_and_3d(opset: int) -> None:
    m1 = make([node("Conv", ["x", "w", "b"], "y", strides=[2], pads=[2, 2])], {"x": [1, 6, 50]},
              inits=[weight("w", [12, 6, 5]), weight("b", [12])], opset=opset)
    r1 = verify(m1, layers=["y"])
    assert r1["y"].shape == (12, out_len(50, 5, 2, 2, 2))
    assert r1["y"].params == 12 * 6 * 5 + 12
    assert r1["y"].macs == 12 * out_len(50, 5, 2, 2, 2) * 6 * 5
    m3 = make([node("Conv", ["x", "w"], "y", strides=[1, 2, 2], pads=[1, 1, 1, 1, 1, 1])], {"x": [1, 2, 4, 8, 8]},
              inits=[weight("w", [4, 2, 3, 3, 3])], opset=opset)
    r3 = verify(m3, layers=["y"])
    out = (4, 4, 4)
    assert r3["y"].shape == (4, *out)
    assert r3["y"].macs == conv_macs(4, out, 2, 1, (3, 3, 3))


def test_conv_weight_from_constant_node_counts_as_params() -> None:
    w = weight("wv", [4, 3, 3, 3])
    m = make([node("Constant", [], "w", value=w), node("Conv", ["x", "w"], "y")], {"x": [1, 3, 8, 8]})
    r = verify(m, layers=["y"])
    assert r.totals.params == 4 * 3 * 9


# -- ConvTranspose ----------------------------------------------------------------------------


def _tconv_edges(n_in: int, n_out: int, k: int, s: int, d: int, p0: int) -> int:
    """Hand count, by enumeration: (input, tap) pairs whose target i*s - p0 + t*d lies in the output."""
    return sum(1 for i in range(n_in) for t in range(k) if 0 <= i * s - p0 + t * d < n_out)


@pytest.mark.parametrize("opset", CONV_OPSETS)
def test_conv_transpose_stride_pads_output_padding(opset: int) -> None:
    m = make([node("ConvTranspose", ["x", "w", "b"], "y", strides=[2, 2], pads=[1, 1, 1, 1],
                   output_padding=[1, 1])],
             {"x": [1, 6, 7, 5]}, inits=[weight("w", [6, 4, 3, 3]), weight("b", [4])], opset=opset)
    r = verify(m, layers=["y"])
    out = ((7 - 1) * 2 - 2 + 3 + 1, (5 - 1) * 2 - 2 + 3 + 1)
    assert r["y"].shape == (4, *out) == (4, 14, 10)
    assert r["y"].params == 6 * 4 * 9 + 4
    assert r["y"].macs == 7 * 5 * 6 * 4 * 9  # every input position times every tap
    assert r["y"].connections == 6 * 4 * _tconv_edges(7, 14, 3, 2, 1, 1) * _tconv_edges(5, 10, 3, 2, 1, 1)


@pytest.mark.parametrize("opset", [7, 11, 22, LATEST])
@pytest.mark.parametrize("auto_pad", ["NOTSET", "SAME_UPPER", "SAME_LOWER"])
def test_conv_transpose_output_shape(opset: int, auto_pad: str) -> None:
    # natural output 2*(7-1) + 3 = 15; output_shape 14 -> total padding 1 (odd)
    attrs: dict[str, Any] = {"strides": [2, 2], "output_shape": [14, 13]}
    if auto_pad != "NOTSET":
        attrs["auto_pad"] = auto_pad
    m = make([node("ConvTranspose", ["x", "w"], "y", **attrs)], {"x": [1, 4, 7, 7]},
             inits=[weight("w", [4, 2, 3, 3])], opset=opset)
    # ONNX Runtime splits an odd total padding the other way round than the ONNX spec (and the
    # reference implementation); shapes agree, so it still checks the shapes
    r = verify(m, layers=["y"])
    assert r["y"].shape == (2, 14, 13)
    assert r["y"].macs == 7 * 7 * 4 * 2 * 9
    totals = (2 * 6 + 3 - 14, 2 * 6 + 3 - 13)
    # spec: SAME_UPPER puts total/2 at the start, otherwise total - total/2
    before = tuple(t // 2 if auto_pad == "SAME_UPPER" else t - t // 2 for t in totals)
    edges = [_tconv_edges(7, o, 3, 2, 1, b) for o, b in zip((14, 13), before, strict=True)]
    assert r["y"].connections == 4 * 2 * edges[0] * edges[1]
    # output o is centred at (o + p_before - (k-1)/2)/s in input coordinates: o = 0
    assert r["y"].rf.start == tuple(Fraction(2 * b - 2, 4) for b in before)


@pytest.mark.parametrize("opset", [11, 22])
def test_conv_transpose_groups_dilations_same(opset: int) -> None:
    m = make([node("ConvTranspose", ["x", "w", "b"], "y", group=2, dilations=[2, 2], strides=[2, 2],
                   auto_pad="SAME_UPPER")],
             {"x": [1, 4, 6, 6]}, inits=[weight("w", [4, 3, 3, 3]), weight("b", [6])], opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].shape == (6, 12, 12)
    assert r["y"].params == 4 * 3 * 9 + 6
    assert r["y"].macs == 36 * 4 * 3 * 9


def test_conv_transpose_1d() -> None:
    m = make([node("ConvTranspose", ["x", "w"], "y", strides=[3], pads=[1, 2])], {"x": [1, 2, 9]},
             inits=[weight("w", [2, 5, 4])], opset=13)
    r = verify(m, layers=["y"])
    assert r["y"].shape == (5, (9 - 1) * 3 - 3 + 4)
    assert r["y"].macs == 9 * 2 * 5 * 4
    assert r["y"].connections == 2 * 5 * _tconv_edges(9, 25, 4, 3, 1, 1)


# -- Gemm / MatMul ----------------------------------------------------------------------------


@pytest.mark.parametrize("opset", [7, 9, 11, 13, LATEST])
def test_gemm_trans_b_with_bias(opset: int) -> None:
    m = make([node("Gemm", ["x", "w", "b"], "y", transB=1)], {"x": [2, 64]},
             inits=[weight("w", [10, 64]), weight("b", [10])], opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].kind == "fc" and r["y"].shape == (10,)
    assert r["y"].params == 64 * 10 + 10
    assert r["y"].macs == 2 * 64 * 10  # batch 2
    assert r["y"].connections == 64 * 10


@pytest.mark.parametrize("opset", [11, 13, LATEST])
def test_gemm_without_c_and_without_trans(opset: int) -> None:
    m = make([node("Gemm", ["x", "w"], "y")], {"x": [1, 30]}, inits=[weight("w", [30, 7])], opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].params == 210 and r["y"].biases == 0 and r["y"].macs == 210


def test_gemm_scalar_c_and_alpha_beta_are_not_biases() -> None:
    m = make([node("Gemm", ["x", "w", "c"], "y", transB=1, alpha=0.5, beta=2.0)], {"x": [1, 12]},
             inits=[weight("w", [5, 12]), tensor("c", [0.1], np.float32)], opset=13)
    r = verify(m, layers=["y"])
    assert r["y"].params == 60 and r["y"].biases == 0
    assert any("not one per unit" in n for n in r.notes)
    assert any("alpha/beta" in n for n in r.notes)


def test_flatten_gemm_classifier() -> None:
    m = make([node("Flatten", ["x"], "f"), node("Gemm", ["f", "w", "b"], "y", transB=1)], {"x": [1, 8, 3, 3]},
             inits=[weight("w", [4, 72]), weight("b", [4])], opset=11)
    r = verify(m, layers=["f", "y"])
    assert r["f"].shape == (72,) and r["y"].params == 72 * 4 + 4


@pytest.mark.parametrize("opset", [7, 13, LATEST])
def test_matmul_2d_is_fc_and_bias_add_is_counted(opset: int) -> None:
    """MatMul -> Add of a bias: one fc layer with its bias (as a Gemm with C imports)."""
    m = make([node("MatMul", ["x", "w"], "h"), node("Add", ["h", "b"], "y")], {"x": [3, 20]},
             inits=[weight("w", [20, 9]), weight("b", [9])], opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].kind == "fc" and r["y"].weights == 180 and r["y"].biases == 9 and r["y"].params == 189
    assert r["y"].macs == 3 * 180
    gemm = verify(make([node("Gemm", ["x", "w", "b"], "y")], {"x": [3, 20]},
                       inits=[weight("w", [20, 9]), weight("b", [9])], opset=opset), layers=["y"])
    assert (gemm["y"].kind, gemm["y"].params, gemm["y"].macs) == (r["y"].kind, r["y"].params, r["y"].macs)


@pytest.mark.parametrize("opset", [13, LATEST])
def test_matmul_add_on_a_channels_last_tensor_is_one_linear_with_its_bias(opset: int) -> None:
    """nn.Linear on (N, H, W, C), as ConvNeXt runs its 1x1 convs, exports as MatMul -> Add: one matmul layer
    with its bias, whose figures under every preset equal a 1x1 conv with a bias on the same tensor (the
    bias add is not a separate elementwise layer that presets count differently). A bias shared with
    another reader, a second reader of the product, or a per-position constant keep the nodes apart."""
    from archcalc import analyze, load
    from archcalc.conventions import PRESETS

    c, k, h = 8, 12, 5
    lin = make([node("Transpose", ["x"], "t", perm=[0, 2, 3, 1]), node("MatMul", ["t", "w"], "mm"),
                node("Add", ["mm", "b"], "y")], {"x": [1, c, h, h]},
               inits=[weight("w", [c, k]), weight("b", [k])], opset=opset)
    r = verify(lin, layers=["t", "y"])
    assert r["y"].kind == "matmul" and r["y"].params == c * k + k and r["y"].biases == k
    conv = make([node("Conv", ["x", "w", "b"], "y")], {"x": [1, c, h, h]},
                inits=[weight("w", [k, c, 1, 1]), weight("b", [k])], opset=opset)
    for preset in PRESETS:
        a, b = analyze(load(save(lin)), preset=preset)["y"], analyze(load(save(conv)), preset=preset)["y"]
        assert (a.params, a.macs, a.flops, a.connections) == (b.params, b.macs, b.flops, b.connections), preset
    two_readers = make([node("MatMul", ["x2", "w"], "mm"), node("Add", ["mm", "b"], "y"), node("Relu", ["mm"], "z")],
                       {"x2": [1, 3, c]}, inits=[weight("w", [c, k]), weight("b", [k])], opset=opset, outputs=["y", "z"])
    two = verify(two_readers, layers=["mm", "y", "z"])
    assert (two["mm"].kind, two["mm"].biases, two["y"].kind) == ("matmul", 0, "elementwise")
    per_position = make([node("MatMul", ["x2", "w"], "mm"), node("Add", ["mm", "b"], "y")], {"x2": [1, 3, c]},
                        inits=[weight("w", [c, k]), weight("b", [3, k])], opset=opset)
    apart = verify(per_position, layers=["mm", "y"])
    assert (apart["mm"].kind, apart["y"].kind, apart["y"].params) == ("matmul", "elementwise", 3 * k)


@pytest.mark.parametrize("opset", [9, 13, LATEST])
def test_matmul_3d_activation_times_weight(opset: int) -> None:
    # a token-wise linear layer: (N, T, K) @ (K, M)
    m = make([node("MatMul", ["x", "w"], "y")], {"x": [2, 7, 16]}, inits=[weight("w", [16, 24])], opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].kind == "matmul" and r["y"].shape == (7, 24)
    assert r["y"].params == 16 * 24
    assert r["y"].macs == 2 * 7 * 16 * 24


def test_matmul_3d_weight_with_leading_one() -> None:
    # a 3-D constant [1, K, M] broadcasts over the batch: the same weight matrix for every sample
    m = make([node("MatMul", ["x", "w"], "y")], {"x": [2, 7, 16]}, inits=[weight("w", [1, 16, 24])], opset=13)
    r = verify(m, layers=["y"])
    assert r["y"].params == 16 * 24 and r["y"].macs == 2 * 7 * 16 * 24


@pytest.mark.parametrize("opset", [9, 13, LATEST])
def test_matmul_activation_at_activation(opset: int) -> None:
    # attention scores: q (N, h, T, d) @ k^T (N, h, d, T)
    nodes = [
        node("Transpose", ["k"], "kt", perm=[0, 1, 3, 2]),
        node("MatMul", ["q", "kt"], "s"),
        node("Softmax", ["s"], "p", axis=-1 if opset >= 13 else 3),
        node("MatMul", ["p", "v"], "y"),
    ]
    m = make(nodes, {"q": [1, 2, 5, 8], "k": [1, 2, 5, 8], "v": [1, 2, 5, 8]}, opset=opset)
    r = verify(m, layers=["kt", "s", "p", "y"])
    assert r["s"].shape == (2, 5, 5) and r["s"].params == 0
    assert r["s"].macs == 2 * 5 * 8 * 5
    assert r["y"].macs == 2 * 5 * 5 * 8


# -- pooling and reductions -------------------------------------------------------------------


@pytest.mark.parametrize("opset", [7, 8, 10, 12, 22, LATEST])
def test_maxpool(opset: int) -> None:
    m = make([node("MaxPool", ["x"], "y", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])],
             {"x": [1, 5, 15, 16]}, opset=opset)
    r = verify(m, layers=["y"])
    out = (out_len(15, 3, 2, 1, 1), out_len(16, 3, 2, 1, 1))
    assert r["y"].shape == (5, *out)
    assert r["y"].params == 0 and r["y"].macs == 0
    assert r["y"].connections == 5 * prod(out) * 9


@pytest.mark.parametrize("opset", [10, 12, 19, 22])
@pytest.mark.parametrize("n,k,s,p", [(6, 3, 2, 0), (7, 2, 2, 0), (8, 3, 2, 1), (5, 2, 2, 1), (10, 3, 3, 1)])
def test_maxpool_ceil_mode(opset: int, n: int, k: int, s: int, p: int) -> None:
    m = make([node("MaxPool", ["x"], "y", kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p], ceil_mode=1)],
             {"x": [1, 2, n, n]}, opset=opset)
    o = out_len(n, k, s, p, p, ceil=True)
    # a last window that would start in the right padding is dropped (PyTorch, ONNX Runtime, and
    # the ONNX spec from opset 22); ONNX shape inference before opset 22 keeps it
    starts_in_padding = -(-(n + 2 * p - k) // s) * s >= n + p
    r = verify(m, layers=["y"], onnx_differs={"y"} if starts_in_padding and opset < 22 else ())
    assert r["y"].shape == (2, o, o)
    assert r["y"].connections == 2 * o * o * k * k


@pytest.mark.parametrize("opset", [10, 12, LATEST])
def test_maxpool_dilations(opset: int) -> None:
    m = make([node("MaxPool", ["x"], "y", kernel_shape=[3, 2], dilations=[2, 3], strides=[1, 2])],
             {"x": [1, 3, 12, 13]}, opset=opset)
    r = verify(m, layers=["y"])
    out = (out_len(12, 3, 1, d=2), out_len(13, 2, 2, d=3))
    assert r["y"].shape == (3, *out)
    assert r["y"].rf.size == (5, 4)


@pytest.mark.parametrize("opset", [7, 10, 11, 19, LATEST])
@pytest.mark.parametrize("count_include_pad", [0, 1])
def test_average_pool(opset: int, count_include_pad: int) -> None:
    attrs: dict[str, Any] = {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 0, 1, 0],
                             "count_include_pad": count_include_pad}
    if opset >= 10:
        attrs["ceil_mode"] = 1
    m = make([node("AveragePool", ["x"], "y", **attrs)], {"x": [1, 4, 10, 9]}, opset=opset)
    r = verify(m, layers=["y"])
    out = (out_len(10, 3, 2, 1, 1, ceil=opset >= 10), out_len(9, 3, 2, 0, 0, ceil=opset >= 10))
    assert r["y"].shape == (4, *out)
    assert r["y"].connections == 4 * prod(out) * 9 and r["y"].params == 0


@pytest.mark.parametrize("opset", [19, 22, LATEST])
def test_average_pool_dilations(opset: int) -> None:
    m = make([node("AveragePool", ["x"], "y", kernel_shape=[3, 3], dilations=[2, 2], strides=[1, 1])],
             {"x": [1, 2, 9, 9]}, opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].shape == (2, 5, 5)
    assert r["y"].connections == 2 * 25 * 9
    assert r["y"].rf.size == (5, 5)


@pytest.mark.parametrize("opset", [7, 13, LATEST])
@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
def test_global_pool(opset: int, op: str) -> None:
    m = make([node(op, ["x"], "y")], {"x": [2, 6, 7, 5]}, opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].shape == (6, 1, 1)
    assert r["y"].connections == 6 * 7 * 5
    assert r["y"].rf.is_global


@pytest.mark.parametrize("opset", [7, 13, 17])
@pytest.mark.parametrize("keepdims", [0, 1])
def test_reduce_mean_axes_attribute(opset: int, keepdims: int) -> None:
    m = make([node("ReduceMean", ["x"], "y", axes=[2, 3], keepdims=keepdims)], {"x": [1, 6, 7, 5]}, opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].shape == ((6, 1, 1) if keepdims else (6,))
    assert r["y"].rf.is_global


@pytest.mark.parametrize("opset", [18, LATEST])
def test_reduce_mean_axes_input(opset: int) -> None:
    m = make([node("ReduceMean", ["x", "axes"], "y", keepdims=0)], {"x": [1, 6, 7, 5]},
             inits=[tensor("axes", [-1, -2])], opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].shape == (6,)
    m2 = make([node("ReduceMean", ["x", "axes"], "y")], {"x": [1, 6, 7, 5]}, inits=[tensor("axes", [1])],
              opset=opset)
    assert verify(m2, layers=["y"])["y"].shape == (1, 7, 5)


# -- normalisation ----------------------------------------------------------------------------


@pytest.mark.parametrize("opset", [7, 9, 14, 15, LATEST])
def test_batch_normalization(opset: int) -> None:
    c = 12
    inits = [weight("s", [c]), weight("bb", [c]), weight("mean", [c]),
             tensor("var", np.linspace(0.5, 2.0, c), np.float32)]
    m = make([node("BatchNormalization", ["x", "s", "bb", "mean", "var"], "y")], {"x": [2, c, 5, 5]},
             inits=inits, opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].params == 2 * c  # scale and shift
    assert r["y"].buffers == 2 * c  # running mean and variance
    assert r["y"].macs == 0


@pytest.mark.parametrize("opset", [7, 13, LATEST])
def test_lrn(opset: int) -> None:
    m = make([node("LRN", ["x"], "y", size=5, alpha=1e-4, beta=0.75, bias=2.0)], {"x": [1, 16, 6, 6]}, opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].shape == (16, 6, 6) and r["y"].params == 0
    assert r["y"].flops == (2 * 5 + 4) * 16 * 36  # the lrn op's documented cost


# -- activations ------------------------------------------------------------------------------

ACTIVATIONS = [
    ("Relu", {}, 7), ("LeakyRelu", {"alpha": 0.2}, 7), ("Sigmoid", {}, 7), ("HardSigmoid", {"alpha": 0.25}, 7),
    ("HardSwish", {}, 14), ("Tanh", {}, 7), ("Elu", {"alpha": 0.5}, 7), ("Relu", {}, LATEST),
    ("HardSwish", {}, LATEST), ("Sigmoid", {}, 22),
]


@pytest.mark.parametrize("op,attrs,opset", ACTIVATIONS)
def test_unary_activations(op: str, attrs: dict[str, Any], opset: int) -> None:
    m = make([node(op, ["x"], "y", **attrs)], {"x": [2, 3, 4, 5]}, opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].kind == "activation" and r["y"].params == 0 and r["y"].macs == 0
    assert r["y"].flops == 2 * 60  # one activation FLOP per element, batch 2


@pytest.mark.parametrize("opset,axis,shape", [(7, 1, [2, 10]), (11, 1, [2, 3, 4, 4]), (13, 1, [2, 3, 4, 4]),
                                               (13, -1, [2, 3, 4, 4]), (LATEST, -1, [2, 10])])
def test_softmax(opset: int, axis: int, shape: list[int]) -> None:
    m = make([node("Softmax", ["x"], "y", axis=axis)], {"x": shape}, opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].shape == tuple(shape[1:])


def test_softmax_over_the_batch_axis_is_refused(tmp_path: object) -> None:
    import archcalc
    from tests.onnx_builders import save

    m = make([node("Softmax", ["x"], "y", axis=0)], {"x": [2, 10]}, opset=13)
    with pytest.raises(archcalc.ArchcalcError, match="batch axis"):
        archcalc.load(save(m))


@pytest.mark.parametrize("opset", [7, 9, 16, LATEST])
@pytest.mark.parametrize("shared", [False, True])
def test_prelu(opset: int, shared: bool) -> None:
    slope = weight("slope", [1] if shared else [6, 1, 1])
    m = make([node("PRelu", ["x", "slope"], "y")], {"x": [1, 6, 4, 4]}, inits=[slope], opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].params == (1 if shared else 6)


@pytest.mark.parametrize("opset", [7, 10])
def test_clip_opset6_attributes(opset: int) -> None:
    nodes = [node("Clip", ["x"], "r6", min=0.0, max=6.0), node("Clip", ["r6"], "r", min=0.0),
             node("Clip", ["r"], "c", min=-1.0, max=1.0)]
    m = make(nodes, {"x": [1, 3, 4, 4]}, opset=opset)
    r = verify(m, layers=["r6", "r", "c"])
    assert [r[n].params for n in ("r6", "r", "c")] == [0, 0, 0]
    assert r.totals.flops == 3 * 48


@pytest.mark.parametrize("opset", [11, 12, 13, LATEST])
def test_clip_inputs_including_missing_max(opset: int) -> None:
    nodes = [node("Clip", ["x", "lo", "hi"], "r6"), node("Clip", ["r6", "lo"], "r"),
             node("Clip", ["r", "", "hi"], "top"), node("Clip", ["top"], "none")]
    m = make(nodes, {"x": [1, 3, 4, 4]}, inits=[tensor("lo", 0.0, np.float32), tensor("hi", 6.0, np.float32)],
             opset=opset)
    r = verify(m, layers=["r6", "r", "top", "none"])
    assert r.totals.params == 0 and r.totals.flops == 4 * 48


# -- elementwise arithmetic -------------------------------------------------------------------


@pytest.mark.parametrize("opset", [7, 13, LATEST])
def test_add_activations_same_shape_is_a_residual_add(opset: int) -> None:
    m = make([node("Relu", ["x"], "a"), node("Add", ["a", "x"], "y")], {"x": [1, 4, 5, 5]}, opset=opset)
    r = verify(m, layers=["a", "y"])
    assert r["y"].kind == "add" and r["y"].params == 0 and r["y"].flops == 100


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
def test_binary_activations_broadcasting(op: str) -> None:
    nodes = [node("GlobalAveragePool", ["x"], "g"), node(op, ["x", "g"], "y")]
    m = make(nodes, {"x": [2, 4, 5, 5]}, opset=13)
    r = verify(m, layers=["g", "y"])
    assert r["y"].shape == (4, 5, 5) and r["y"].params == 0
    assert r["y"].flops == 2 * 100  # one elementwise FLOP per output element, batch 2


@pytest.mark.parametrize("op,role", [("Add", "biases"), ("Sub", "biases"), ("Mul", "weights"), ("Div", "weights")])
@pytest.mark.parametrize("opset", [7, 14, LATEST])
def test_binary_with_constant_tensor_counts_params(op: str, role: str, opset: int) -> None:
    m = make([node(op, ["x", "c"], "y")], {"x": [1, 5, 3, 3]},
             inits=[tensor("c", np.linspace(1, 2, 5).reshape(5, 1, 1), np.float32)], opset=opset)
    r = verify(m, layers=["y"])
    assert getattr(r["y"], role) == 5 and r["y"].params == 5


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
def test_binary_with_scalar_constant_is_not_a_param(op: str) -> None:
    m = make([node(op, ["c", "x"], "y")], {"x": [1, 5, 3, 3]}, inits=[tensor("c", 3.0, np.float32)], opset=13)
    r = verify(m, layers=["y"])
    assert r["y"].params == 0
    assert any("scalar constant" in n for n in r.notes)


def test_squeeze_excitation_mul() -> None:
    nodes = [node("GlobalAveragePool", ["x"], "g"), node("Conv", ["g", "w1", "b1"], "fc1"),
             node("Relu", ["fc1"], "r"), node("Conv", ["r", "w2", "b2"], "fc2"), node("Sigmoid", ["fc2"], "s"),
             node("Mul", ["x", "s"], "y")]
    inits = [weight("w1", [2, 8, 1, 1]), weight("b1", [2]), weight("w2", [8, 2, 1, 1]), weight("b2", [8])]
    m = make(nodes, {"x": [1, 8, 6, 6]}, inits=inits, opset=13)
    r = verify(m, layers=["g", "fc1", "r", "fc2", "s", "y"])
    assert r["y"].kind == "mul" and r["y"].shape == (8, 6, 6)
    assert r.totals.params == 8 * 2 + 2 + 2 * 8 + 8


# -- data movement ----------------------------------------------------------------------------


@pytest.mark.parametrize("opset", [7, 13, LATEST])
def test_concat(opset: int) -> None:
    nodes = [node("Relu", ["x"], "a"), node("Sigmoid", ["x"], "b"), node("Concat", ["a", "b", "x"], "c", axis=1),
             node("Concat", ["c", "c"], "w", axis=-1 if opset >= 11 else 3)]
    m = make(nodes, {"x": [1, 3, 4, 5]}, opset=opset)
    r = verify(m, layers=["a", "b", "c", "w"])
    assert r["c"].shape == (9, 4, 5) and r["w"].shape == (9, 4, 10)


@pytest.mark.parametrize("opset,form", [(7, "attr"), (11, "attr"), (13, "input"), (13, "equal"), (18, "num_outputs"),
                                        (LATEST, "num_outputs"), (LATEST, "input")])
def test_split(opset: int, form: str) -> None:
    inits = []
    if form == "attr":
        n = node("Split", ["x"], ["a", "b", "c"], axis=1, split=[2, 3, 5])
    elif form == "input":
        n = node("Split", ["x", "sizes"], ["a", "b", "c"], axis=1)
        inits = [tensor("sizes", [2, 3, 5])]
    elif form == "equal":
        n = node("Split", ["x"], ["a", "b"], axis=-1)
    else:  # 10 into 3: ceil(10/3) = 4, 4, and the rest 2
        n = node("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3)
    shape = [1, 10, 4, 6]
    m = make([n], {"x": shape}, outputs=list(n.output), inits=inits, opset=opset)
    r = verify(m, layers=["a"])
    expected = {"attr": [2, 3, 5], "input": [2, 3, 5], "num_outputs": [4, 4, 2]}
    if form == "equal":
        assert r["a"].shapes == ((10, 4, 3), (10, 4, 3))
    else:
        assert [s[0] for s in r["a"].shapes] == expected[form]


@pytest.mark.parametrize("opset", [7, 13, LATEST])
@pytest.mark.parametrize("axis,out", [(1, (60,)), (-3, (60,)), (0, (60,))])
def test_flatten(opset: int, axis: int, out: tuple[int, ...]) -> None:
    if axis < 0 and opset < 11:
        axis += 4  # negative axes from opset 11
    m = make([node("Flatten", ["x"], "y", axis=axis), node("Relu", ["y"], "r")], {"x": [1, 3, 4, 5]}, opset=opset)
    r = verify(m)
    assert r["r"].shape == out


def test_flatten_negative_axis_with_spatial_axes_kept() -> None:
    # Flatten(axis=-2) of (1, 1, 4, 5): (1*1*4, 5) -- the batch axis becomes 4
    import archcalc
    from tests.onnx_builders import save

    m = make([node("Flatten", ["x"], "y", axis=-1)], {"x": [2, 3, 4, 5]}, opset=13)
    with pytest.raises(archcalc.ArchcalcError, match="batch axis"):
        archcalc.load(save(m))


@pytest.mark.parametrize("opset", [7, 13, 14, LATEST])
def test_reshape_zero_and_minus_one(opset: int) -> None:
    nodes = [node("Reshape", ["x", "s1"], "flat"), node("Reshape", ["x", "s2"], "seq"),
             node("Reshape", ["x", "s3"], "same")]
    inits = [tensor("s1", [0, -1]), tensor("s2", [0, 0, -1]), tensor("s3", [-1, 3, 4, 5])]
    m = make(nodes, {"x": [2, 3, 4, 5]}, outputs=["flat", "seq", "same"], inits=inits, opset=opset)
    r = verify(m, layers=["flat", "seq"])  # the third is the identity: passed through
    assert r["flat"].shape == (60,) and r["seq"].shape == (3, 20)


@pytest.mark.parametrize("opset", [7, 13, LATEST])
def test_transpose(opset: int) -> None:
    m = make([node("Transpose", ["x"], "y", perm=[0, 2, 3, 1]), node("Transpose", ["y"], "z", perm=[0, 3, 1, 2])],
             {"x": [1, 3, 4, 5]}, opset=opset)
    r = verify(m, layers=["y", "z"])
    assert r["y"].shape == (4, 5, 3) and r["z"].shape == (3, 4, 5)
    assert r["z"].rf.size == (1, 1)


@pytest.mark.parametrize("opset,form", [(7, "attr"), (11, "attr"), (13, "input"), (LATEST, "input")])
def test_squeeze_unsqueeze(opset: int, form: str) -> None:
    if form == "attr":
        nodes = [node("GlobalAveragePool", ["x"], "g"), node("Squeeze", ["g"], "s", axes=[2, 3]),
                 node("Unsqueeze", ["s"], "u", axes=[-1] if opset >= 11 else [2])]
        inits = []
    else:
        nodes = [node("GlobalAveragePool", ["x"], "g"), node("Squeeze", ["g", "ax"], "s"),
                 node("Unsqueeze", ["s", "ax1"], "u")]
        inits = [tensor("ax", [2, 3]), tensor("ax1", [-1])]
    m = make(nodes, {"x": [2, 6, 3, 3]}, inits=inits, opset=opset)
    r = verify(m, layers=["g", "s", "u"])
    assert r["s"].shape == (6,) and r["u"].shape == (6, 1)


@pytest.mark.parametrize("opset,mode", [(7, "constant"), (7, "reflect"), (10, "edge")])
def test_pad_opset2_attributes(opset: int, mode: str) -> None:
    m = make([node("Pad", ["x"], "y", pads=[0, 0, 1, 2, 0, 0, 3, 1], mode=mode)], {"x": [1, 3, 5, 6]}, opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].shape == (3, 5 + 1 + 3, 6 + 2 + 1)
    assert r["y"].rf.start == (-1, -2)


@pytest.mark.parametrize("opset", [11, 13, 18, LATEST])
@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
def test_pad_inputs(opset: int, mode: str) -> None:
    m = make([node("Pad", ["x", "pads", "v"] if mode == "constant" else ["x", "pads"], "y", mode=mode)],
             {"x": [1, 3, 5, 6]}, inits=[tensor("pads", [0, 0, 2, 0, 0, 0, 1, 3]), tensor("v", 0.5, np.float32)],
             opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].shape == (3, 8, 9)


@pytest.mark.parametrize("opset", [18, LATEST])
def test_pad_axes_input(opset: int) -> None:
    m = make([node("Pad", ["x", "pads", "", "axes"], "y")], {"x": [1, 3, 5, 6]},
             inits=[tensor("pads", [1, 2, 3, 4]), tensor("axes", [-1, 2])], opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].shape == (3, 5 + 2 + 4, 6 + 1 + 3)


@pytest.mark.parametrize("opset", [7, 8])
def test_upsample_opset7_attribute_scales(opset: int) -> None:
    m = make([node("Upsample", ["x"], "y", scales=[1.0, 1.0, 2.0, 3.0], mode="nearest")], {"x": [1, 3, 4, 5]},
             opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].shape == (3, 8, 15) and r["y"].params == 0 and r["y"].flops == 0


def test_upsample_opset9_input_scales_linear() -> None:
    m = make([node("Upsample", ["x", "sc"], "y", mode="linear")], {"x": [1, 3, 4, 5]},
             inits=[tensor("sc", [1, 1, 2, 2], np.float32)], opset=9)
    r = verify(m, layers=["y"])
    assert r["y"].shape == (3, 8, 10)
    assert r["y"].flops == 2 * 4 * 3 * 8 * 10  # bilinear: 4 weights, a multiply and an add each


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_resize_opset10_scales(mode: str) -> None:
    m = make([node("Resize", ["x", "sc"], "y", mode=mode)], {"x": [1, 3, 5, 4]},
             inits=[tensor("sc", [1, 1, 2, 1.5], np.float32)], opset=10)
    r = verify(m, layers=["y"])
    assert r["y"].shape == (3, 10, 6)


@pytest.mark.parametrize("opset", [11, 12])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_resize_opset11_scales_and_sizes(opset: int, mode: str) -> None:
    nodes = [node("Resize", ["x", "roi", "sc"], "a", mode=mode),
             node("Resize", ["x", "roi", "empty", "sz"], "b", mode=mode)]
    inits = [tensor("roi", [], np.float32), tensor("sc", [1, 1, 2, 2], np.float32), tensor("empty", [], np.float32),
             tensor("sz", [1, 3, 7, 9])]
    m = make(nodes, {"x": [1, 3, 5, 4]}, outputs=["a", "b"], inits=inits, opset=opset)
    r = verify(m, layers=["a", "b"])
    assert r["a"].shape == (3, 10, 8) and r["b"].shape == (3, 7, 9)


@pytest.mark.parametrize("opset", [13, 18, LATEST])
@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_resize_opset13_omitted_inputs(opset: int, mode: str) -> None:
    nodes = [node("Resize", ["x", "", "sc"], "a", mode=mode), node("Resize", ["x", "", "", "sz"], "b", mode=mode)]
    inits = [tensor("sc", [1, 1, 0.5, 3], np.float32), tensor("sz", [2, 3, 7, 9])]
    m = make(nodes, {"x": [2, 3, 5, 4]}, outputs=["a", "b"], inits=inits, opset=opset)
    r = verify(m, layers=["a", "b"])
    assert r["a"].shape == (3, 2, 12) and r["b"].shape == (3, 7, 9)


@pytest.mark.parametrize("opset", [18, LATEST])
@pytest.mark.parametrize("policy", ["stretch", "not_larger", "not_smaller"])
def test_resize_opset18_axes_and_aspect_ratio(opset: int, policy: str) -> None:
    nodes = [node("Resize", ["x", "", "", "sz"], "a", axes=[2, 3], keep_aspect_ratio_policy=policy),
             node("Resize", ["x", "", "sc"], "b", axes=[3])]
    inits = [tensor("sz", [8, 12]), tensor("sc", [2], np.float32)]
    m = make(nodes, {"x": [1, 3, 5, 4]}, outputs=["a", "b"], inits=inits, opset=opset)
    r = verify(m, layers=["a", "b"])
    scale = {"stretch": None, "not_larger": min(8 / 5, 12 / 4), "not_smaller": max(8 / 5, 12 / 4)}[policy]
    expected = (8, 12) if scale is None else (round(5 * scale), round(4 * scale))
    assert r["a"].shape == (3, *expected)
    assert r["b"].shape == (3, 5, 8)


@pytest.mark.parametrize("opset,ratio_input", [(7, False), (10, False), (12, True), (13, True), (LATEST, True)])
def test_dropout(opset: int, ratio_input: bool) -> None:
    if ratio_input:
        n = node("Dropout", ["x", "ratio"], ["y", "mask"])
        inits = [tensor("ratio", 0.3, np.float32)]
    else:
        n = node("Dropout", ["x"], ["y", "mask"], ratio=0.3)
        inits = []
    m = make([n, node("Relu", ["y"], "r")], {"x": [1, 4, 3, 3]}, inits=inits, opset=opset)
    r = verify(m, layers=["y", "r"])
    assert r["y"].kind == "dropout" and r["y"].params == 0


@pytest.mark.parametrize("opset", [7, 13, 19, LATEST])
def test_identity_and_cast_pass_through(opset: int) -> None:
    nodes = [node("Identity", ["x"], "i"), node("Cast", ["i"], "c", to=TensorProto.FLOAT), node("Relu", ["c"], "y")]
    m = make(nodes, {"x": [1, 3, 4, 4]}, opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].inputs == ("x",)
    assert any("passed through" in n for n in r.notes)


# -- shape arithmetic folded into constants ---------------------------------------------------


@pytest.mark.parametrize("opset", [9, 11, 13, 18, LATEST])
def test_shape_gather_unsqueeze_concat_reshape_is_folded(opset: int) -> None:
    axes0: dict[str, Any] = {"axes": [0]} if opset < 13 else {}
    nodes = [
        node("Conv", ["x", "w"], "c", pads=[1, 1, 1, 1]),
        node("Shape", ["c"], "shp"),
        node("Gather", ["shp", "i0"], "n", axis=0),
        node("Unsqueeze", ["n", "ax0"] if opset >= 13 else ["n"], "n1", **axes0),
        node("Concat", ["n1", "minus1"], "target", axis=0),
        node("Reshape", ["c", "target"], "flat"),
        node("Gemm", ["flat", "fw", "fb"], "y", transB=1),
    ]
    inits = [weight("w", [4, 3, 3, 3]), tensor("i0", 0), tensor("ax0", [0]), tensor("minus1", [-1]),
             weight("fw", [10, 4 * 6 * 6]), weight("fb", [10])]
    m = make(nodes, {"x": [2, 3, 6, 6]}, inits=inits, opset=opset)
    r = verify(m, layers=["c", "flat", "y"])
    assert r["flat"].kind == "flatten" and r["flat"].shape == (144,)
    assert r.totals.params == 4 * 27 + 144 * 10 + 10
    assert any("folded as constants" in n and "Gather" in n for n in r.notes)


@pytest.mark.parametrize("opset", [10, 13, LATEST])
def test_shape_slice_concat_reshape(opset: int) -> None:
    nodes = [
        node("Shape", ["x"], "shp"),
        node("Slice", ["shp", "st", "en"], "nc"),  # [N, C]
        node("Concat", ["nc", "minus1"], "target", axis=0),
        node("Reshape", ["x", "target"], "y"),  # (N, C, H*W)
    ]
    inits = [tensor("st", [0]), tensor("en", [2]), tensor("minus1", [-1])]
    m = make(nodes, {"x": [1, 3, 4, 5]}, inits=inits, opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].shape == (3, 20)


@pytest.mark.parametrize("opset", [11, 15, ORT_MAX_OPSET])  # ONNX shape inference cannot follow Range
def test_constant_of_shape_cast_range_are_folded(opset: int) -> None:
    nodes = [
        node("Constant", [], "two", value=helper.make_tensor("tv", TensorProto.INT64, [1], [2])),
        node("ConstantOfShape", ["two"], "ones", value=helper.make_tensor("fill", TensorProto.INT64, [1], [1])),
        node("Cast", ["ones"], "ones_f", to=TensorProto.FLOAT),
        node("Cast", ["ones_f"], "ones_i", to=TensorProto.INT64),
        node("Range", ["r0", "r1", "r2"], "rng"),  # [0, 1]
        node("Add", ["rng", "ones_i"], "pads_hw"),  # [1, 2]
        node("Concat", ["zeros2", "pads_hw", "zeros2", "pads_hw"], "pads", axis=0),
        node("Pad", ["x", "pads"], "y"),
    ]
    inits = [tensor("r0", 0), tensor("r1", 2), tensor("r2", 1), tensor("zeros2", [0, 0])]
    m = make(nodes, {"x": [1, 2, 3, 3]}, inits=inits, opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].shape == (2, 5, 7)
    assert r.totals.params == 0


# -- where the oracles disagree with each other -------------------------------------------------


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_same_padding_with_dilations_follows_the_onnx_spec(op: str) -> None:
    # SAME: output ceil(N/s) whatever the dilation (ONNX spec and shape inference); ONNX Runtime
    # 1.31 computes the SAME padding from the undilated kernel and gives 15 here
    m = make([node(op, ["x"], "y", auto_pad="SAME_UPPER", kernel_shape=[3, 1], dilations=[2, 1], strides=[1, 2])],
             {"x": [1, 3, 17, 12]}, opset=19)
    r = verify(m, layers=["y"], ort=False)
    assert r["y"].shape == (3, 17, 6)
    assert r["y"].rf.start == (2 - 2, 0)  # total padding (17-1)*1 + 5 - 17 = 4: 2 before


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
def test_conv_transpose_same_with_a_kernel_shorter_than_the_stride(auto_pad: str) -> None:
    # total padding s(N-1) + k - N*s < 0: no padding, the natural output (not N*s)
    m = make([node("ConvTranspose", ["x", "w"], "y", auto_pad=auto_pad, strides=[2, 3])], {"x": [2, 7, 15, 7]},
             inits=[weight("w", [7, 2, 1, 2])], opset=13)
    r = verify(m, layers=["y"])
    assert r["y"].shape == (2, (15 - 1) * 2 + 1, (7 - 1) * 3 + 2)
    assert r["y"].macs == 2 * 15 * 7 * 7 * 2 * 2


def test_conv_transpose_same_ignores_output_padding_in_the_size() -> None:
    # SAME: output N*s (ONNX spec, reference implementation, ONNX Runtime); ONNX shape inference adds
    # the output padding (7 here)
    m = make([node("ConvTranspose", ["x", "w"], "y", auto_pad="SAME_LOWER", strides=[3, 2], output_padding=[0, 1])],
             {"x": [1, 4, 12, 3]}, inits=[weight("w", [4, 2, 4, 4])], opset=13)
    r = verify(m, layers=["y"], onnx_differs={"y"})
    assert r["y"].shape == (2, 36, 6)


@pytest.mark.parametrize("start,end,step,expected", [
    (-9, -(2**62), -1, 1),  # a start before the first element is clamped to 0 (Python: empty)
    (-1, -(2**62), -1, 6), (2**62, -(2**62), -2, 3), (4, 1, -1, 3), (1, 5, 2, 2), (-4, 2**62, 1, 4),
])
def test_slice_follows_onnx_clamping(start: int, end: int, step: int, expected: int) -> None:
    inits = [tensor("s", [start]), tensor("e", [end]), tensor("a", [3]), tensor("st", [step])]
    m = make([node("Slice", ["x", "s", "e", "a", "st"], "y"), node("Relu", ["y"], "r")], {"x": [1, 2, 3, 6]},
             inits=inits, opset=13)
    r = verify(m, layers=["y", "r"])
    assert r["y"].shape == (2, 3, expected)
    # the same slice folded on a constant (shape arithmetic) gives the same length
    inits2 = [*inits[:3], tensor("st", [step]), tensor("v", np.arange(6)), tensor("shape_in", [1, 2, 3, 6])]
    inits2[2] = tensor("a", [0])
    nodes = [node("Slice", ["v", "s", "e", "a", "st"], "picked"), node("Shape", ["picked"], "n"),
             node("Concat", ["two", "n"], "target", axis=0), node("ConstantOfShape", ["target"], "zeros"),
             node("Unsqueeze", ["zeros", "ax0"], "z4"), node("Unsqueeze", ["z4", "ax0"], "z5"),
             node("Add", ["x", "z5"], "y2")]
    inits2 += [tensor("two", [2]), tensor("ax0", [0])]
    m2 = make(nodes, {"x": [1, 2, 1, 1]}, inits=inits2, opset=13)
    r2 = verify(m2, layers=["y2"])
    assert r2["y2"].shape == (2, 2, expected)


# -- random chains of ops against ONNX Runtime ----------------------------------------------------


def _random_chain(seed: int) -> tuple[list[Any], list[Any], list[int], int]:
    """A random chain of ops with random (valid, non-degenerate) attributes."""
    from tests.onnx_builders import inferred_shapes

    rng = np.random.default_rng(seed)
    opset = int(rng.choice([7, 9, 10, 11, 13, 18, 19, 22]))
    x_shape = [int(rng.integers(1, 3)), int(rng.integers(1, 9)), int(rng.integers(4, 20)), int(rng.integers(4, 20))]
    nodes: list[Any] = []
    inits: list[Any] = []
    cur, shape = "x", tuple(x_shape)
    for i in range(int(rng.integers(1, 6))):
        _, c, h, w = shape
        out = f"t{i}"
        op = str(rng.choice(["Conv", "ConvTranspose", "MaxPool", "AveragePool", "Resize", "Pad", "Slice",
                             "Transpose", "Concat", "Add"]))
        if op in ("Conv", "ConvTranspose", "MaxPool", "AveragePool"):
            d = [int(rng.integers(1, 3)), int(rng.integers(1, 3))] if rng.random() < 0.4 else [1, 1]
            k = [int(rng.integers(1, 5)), int(rng.integers(1, 5))]
            k = [kk if d_ * (kk - 1) + 1 <= n else 1 for kk, d_, n in zip(k, d, (h, w), strict=True)]
            a: dict[str, Any] = {"kernel_shape": k, "strides": [int(rng.integers(1, 4)), int(rng.integers(1, 4))]}
            pad = str(rng.choice(["NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
            if pad == "NOTSET":
                a["pads"] = [int(rng.integers(0, k[j % 2])) for j in range(4)]
            else:
                a["auto_pad"] = pad
            pool = op in ("MaxPool", "AveragePool")
            dilated = d != [1, 1] and not (pool and pad.startswith("SAME")) and not (op == "MaxPool" and opset < 10) \
                and not (op == "AveragePool" and opset < 19) and not (op == "Conv" and pad.startswith("SAME"))
            if dilated:
                a["dilations"] = d
            if op in ("Conv", "ConvTranspose"):
                g = int(rng.choice([v for v in range(1, c + 1) if c % v == 0]))
                c_out = g * int(rng.integers(1, 4))
                dims = [c_out, c // g, *k] if op == "Conv" else [c, c_out // g, *k]
                inits.append(weight(f"w{i}", dims))
                a["group"] = g
                nodes.append(node(op, [cur, f"w{i}"], out, **a))
            else:
                if opset >= 10 and not pad.startswith("SAME") and rng.random() < 0.5:
                    a["ceil_mode"] = 1
                nodes.append(node(op, [cur], out, **a))
        elif op == "Resize" and opset >= 11:
            inits += [tensor(f"roi{i}", [], np.float32)]
            if rng.random() < 0.5:
                inits.append(tensor(f"sc{i}", [1, 1, float(rng.choice([0.5, 1.5, 2, 3])), float(rng.choice([1.5, 2]))],
                                    np.float32))
                nodes.append(node("Resize", [cur, f"roi{i}", f"sc{i}"], out, mode=str(rng.choice(["nearest", "linear"]))))
            else:
                inits += [tensor(f"e{i}", [], np.float32),
                          tensor(f"sz{i}", [shape[0], c, int(rng.integers(1, 30)), int(rng.integers(1, 30))])]
                nodes.append(node("Resize", [cur, f"roi{i}", f"e{i}", f"sz{i}"], out, mode="nearest"))
        elif op == "Pad":
            p = [0, 0, int(rng.integers(0, 4)), int(rng.integers(0, 4)), 0, 0, int(rng.integers(0, 4)),
                 int(rng.integers(0, 4))]
            if opset < 11:
                nodes.append(node("Pad", [cur], out, pads=p))
            else:
                inits.append(tensor(f"p{i}", p))
                nodes.append(node("Pad", [cur, f"p{i}"], out, mode=str(rng.choice(["constant", "edge"]))))
        elif op == "Slice" and opset >= 10:
            axis = int(rng.integers(1, 4))
            length = shape[axis]
            step = int(rng.choice([1, 2, -1, -2, 3]))
            end = int(rng.choice([int(rng.integers(-length - 2, length + 2)), 2**62, -(2**62)]))
            inits += [tensor(f"s{i}", [int(rng.integers(-length - 2, length + 2))]), tensor(f"e{i}", [end]),
                      tensor(f"a{i}", [axis]), tensor(f"st{i}", [step])]
            nodes.append(node("Slice", [cur, f"s{i}", f"e{i}", f"a{i}", f"st{i}"], out))
        elif op == "Transpose":
            nodes.append(node("Transpose", [cur], out, perm=[0] + [int(v) + 1 for v in rng.permutation(3)]))
        elif op == "Concat":
            nodes.append(node("Concat", [cur, cur], out, axis=int(rng.integers(1, 4))))
        else:
            const = [[c, 1, 1], [1, 1, w], [1], [c, h, w]][int(rng.integers(0, 4))]
            inits.append(weight(f"c{i}", const))
            nodes.append(node(str(rng.choice(["Add", "Mul", "Sub", "Div"])), [cur, f"c{i}"], out))
        if nodes[-1].output[0] != out:
            continue
        m = make(nodes, {"x": x_shape}, outputs=[out], inits=inits, opset=opset)
        inferred = inferred_shapes(m, strict=False).get(out)
        if inferred is None or min(inferred) < 1 or prod(inferred) > 50_000:
            nodes.pop()
            break
        cur, shape = out, inferred
    return nodes, inits, x_shape, opset


def test_random_op_chains_match_onnxruntime() -> None:
    """Seeded random chains of Conv/ConvTranspose/pools/Resize/Pad/Slice/Transpose/Concat/arithmetic
    with random attributes: archcalc's shapes equal ONNX Runtime's for every node."""
    from tests.onnx_builders import analyze, ort_shapes

    compared = 0
    for seed in range(120):
        nodes, inits, x_shape, opset = _random_chain(seed)
        if not nodes:
            continue
        m = make(nodes, {"x": x_shape}, inits=inits, opset=opset)
        try:
            real = ort_shapes(m)
        except Exception:  # an attribute combination ONNX Runtime refuses
            continue
        if any(0 in s for s in real.values()):
            continue  # an empty tensor: archcalc refuses those
        records = {rec.name: rec for rec in analyze(m)}
        for n in nodes:
            if n.name in records:  # else passed through (a Slice or Transpose that changes nothing)
                assert records[n.name].shape == real[n.output[0]][1:], f"seed {seed} opset {opset} {n.op_type}"
        compared += 1
    assert compared >= 80


@pytest.mark.parametrize("opset", [15, 19, ORT_MAX_OPSET])
def test_shape_with_start_and_end_and_size_are_folded(opset: int) -> None:
    # Shape(start=1, end=2) = [C]; Size = N*C*H*W; a Reshape to (N, C, H*W) built from them
    nodes = [
        node("Shape", ["x"], "c", start=1, end=2),
        node("Size", ["x"], "total"),
        node("Div", ["total", "c"], "nhw"),
        node("Shape", ["x"], "n", end=1),
        node("Div", ["nhw", "n_scalar"], "hw"),  # [H*W]
        node("Concat", ["n", "c", "hw"], "target", axis=0),
        node("Reshape", ["x", "target"], "y"),
    ]
    m = make(nodes, {"x": [2, 3, 4, 5]}, inits=[tensor("n_scalar", 2)], opset=opset)
    r = verify(m, layers=["y"])
    assert r["y"].shape == (3, 20)


def test_reversed_slice_then_conv_receptive_field() -> None:
    inits = [tensor("s", [-1]), tensor("e", [-(2**62)]), tensor("a", [3]), tensor("st", [-1]),
             weight("w", [1, 2, 3, 3])]
    m = make([node("Slice", ["x", "s", "e", "a", "st"], "flip"), node("Conv", ["flip", "w"], "conv")],
             {"x": [1, 2, 8, 8]}, inits=inits, opset=13)
    r = verify(m, layers=["flip", "conv"])
    assert r["conv"].shape == (1, 6, 6)
    assert r["conv"].rf.size == (3, 3)  # flipping an axis does not change how many pixels a 3x3 sees


def test_where_condition_and_comparison_constants_are_not_params() -> None:
    nodes = [node("Where", ["cond", "x", "zero"], "masked"), node("Greater", ["x", "thresholds"], "gt"),
             node("Pow", ["masked", "exponent"], "p")]
    inits = [tensor("cond", np.ones((1, 6, 5)), np.bool_), tensor("zero", 0.0, np.float32),
             tensor("thresholds", np.zeros((4, 1, 1)), np.float32), tensor("exponent", np.full((4, 1, 1), 2.0), np.float32)]
    m = make(nodes, {"x": [2, 4, 6, 5]}, outputs=["p", ("gt", TensorProto.BOOL)], inits=inits, opset=13)
    r = verify(m, ort=True)
    assert r.totals.params == 0
    assert r["masked"].shape == r["gt"].shape == r["p"].shape == (4, 6, 5)
