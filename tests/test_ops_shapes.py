"""Output shapes of every layer family against ONNX, an oracle archcalc has no part in.

Each case builds a one-node ONNX model with ``onnx.helper``, runs ``onnx.shape_inference``
(strict mode) AND onnxruntime (CPU, random inputs), and compares the shape onnxruntime really
produced with archcalc's. Where onnxruntime refuses a geometry, archcalc must raise a
ShapeError. archcalc shapes are per sample (channels first); ONNX tensors get a batch axis of 1
in front. Padding ``[[before, after], ...]`` per axis maps to ONNX ``pads = [b0, b1, .., a0, a1, ..]``,
rounding ``floor``/``ceil`` to ``ceil_mode`` 0/1.

Known disagreement between the two ONNX oracles (documented in ``test_pool_against_onnx``):
onnx's shape inference for pooling with ``ceil_mode=1`` keeps a last window that would start in
the right padding; onnxruntime (and PyTorch, and the ONNX operator text) drop it. archcalc
follows onnxruntime.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import archcalc

OPSET = 21
RNG = np.random.default_rng(0)

# -- the ONNX oracle -------------------------------------------------------------------------

Feed = tuple[int, ...] | np.ndarray | None


def onnx_shapes(
    op: str, feeds: Sequence[Feed], attrs: dict[str, Any] | None = None, n_out: int = 1, opset: int = OPSET
) -> tuple[list[tuple[int, ...]] | None, list[tuple[int, ...]] | None]:
    """(shapes from onnx shape inference, shapes onnxruntime produced); None where one refuses.

    ``feeds``: a tuple is a runtime float input of that shape, an array a constant initializer,
    None an omitted optional input.
    """
    names, inputs, inits, values = [], [], [], {}
    for i, feed in enumerate(feeds):
        if feed is None:
            names.append("")
        elif isinstance(feed, np.ndarray):
            name = f"c{i}"
            names.append(name)
            inits.append(onnx.numpy_helper.from_array(feed, name))
        else:
            name = f"x{i}"
            names.append(name)
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(feed)))
            values[name] = RNG.standard_normal(feed).astype(np.float32)
    outs = [f"y{i}" for i in range(n_out)]
    node = helper.make_node(op, names, outs, **(attrs or {}))
    graph = helper.make_graph(
        [node], "g", inputs, [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs], inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10  # onnx 1.23 writes IR 14, which onnxruntime 1.31 refuses
    inferred: list[tuple[int, ...]] | None
    try:
        done = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        inferred = [tuple(d.dim_value for d in o.type.tensor_type.shape.dim) for o in done.graph.output]
    except Exception:
        inferred = None
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        real = [tuple(y.shape) for y in session.run(None, values)]
    except Exception:
        real = None
    return inferred, real


def ort_only(*args: Any, **kwargs: Any) -> list[tuple[int, ...]] | None:
    inferred, real = onnx_shapes(*args, **kwargs)
    if real is not None:
        assert inferred == real, (inferred, real)
    return real


# -- archcalc --------------------------------------------------------------------------------


def analyze(input_shape: Sequence[int], *layers: dict[str, Any], **overrides: Any) -> archcalc.Report:
    return archcalc.analyze(archcalc.load({"input": list(input_shape), "layers": list(layers)}), overrides=overrides)


def arch_shape(input_shape: Sequence[int], layer: dict[str, Any]) -> tuple[int, ...] | None:
    """archcalc's output shape of one layer, or None when it raises a ShapeError."""
    try:
        return analyze(input_shape, {"name": "L", **layer})["L"].shape
    except archcalc.ShapeError:
        return None


def batched(shape: tuple[int, ...] | None) -> tuple[int, ...] | None:
    return None if shape is None else (1, *shape)


def onnx_pads(pads: Sequence[Sequence[int]]) -> list[int]:
    return [p[0] for p in pads] + [p[1] for p in pads]


def per_axis_draw(rng: random.Random, n: int, values: Sequence[int]) -> list[int]:
    return [rng.choice(values) for _ in range(n)]


# -- convolution -----------------------------------------------------------------------------


def _conv_case(seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    n = rng.choice((1, 2, 2, 2, 3))
    groups = rng.choice((1, 1, 2, 3))
    c_in = groups * rng.choice((1, 2))
    c_out = groups * rng.choice((1, 2))
    size = per_axis_draw(rng, n, (1, 2, 3, 5, 7, 8) if n < 3 else (3, 5, 6))
    kernel = per_axis_draw(rng, n, (1, 2, 3, 4))
    return {
        "c_in": c_in,
        "size": size,
        "filters": c_out,
        "groups": groups,
        "kernel": kernel,
        "stride": per_axis_draw(rng, n, (1, 2, 3)),
        "dilation": per_axis_draw(rng, n, (1, 1, 2, 3)),
        "pads": [[rng.choice((0, 0, 1, 2, 3)), rng.choice((0, 0, 1, 2, 3))] for _ in range(n)],
    }


CONV_CASES = [_conv_case(seed) for seed in range(400)]


def _onnx_conv(case: dict[str, Any], **attrs: Any) -> list[tuple[int, ...]] | None:
    weight = (case["filters"], case["c_in"] // case["groups"], *case["kernel"])
    return ort_only(
        "Conv",
        [(1, case["c_in"], *case["size"]), weight],
        {"strides": case["stride"], "dilations": case["dilation"], "group": case["groups"], **attrs},
    )


def test_conv_against_onnx() -> None:
    """400 random conv geometries (1-D/2-D/3-D, asymmetric pads, strides, dilations, groups),
    each with rounding floor (must equal onnxruntime, or both refuse) and rounding exact (equal
    when the stride fits, else a ShapeError naming the formula)."""
    refused = 0
    for case in CONV_CASES:
        real = _onnx_conv(case, pads=onnx_pads(case["pads"]))
        layer = {
            "type": "conv", "filters": case["filters"], "kernel": case["kernel"], "stride": case["stride"],
            "dilation": case["dilation"], "groups": case["groups"], "padding": case["pads"],
        }
        got = arch_shape([case["c_in"], *case["size"]], {**layer, "rounding": "floor"})
        assert batched(got) == (real[0] if real else None), case
        refused += real is None
        assert arch_shape([case["c_in"], *case["size"]], layer) == got, case  # floor is the default
        exact = arch_shape([case["c_in"], *case["size"]], {**layer, "rounding": "exact"})
        if real is None:
            assert exact is None
            continue
        fits = all(
            (size + p[0] + p[1] - d * (k - 1) - 1) % s == 0
            for size, p, k, s, d in zip(
                case["size"], case["pads"], case["kernel"], case["stride"], case["dilation"], strict=True
            )
        )
        assert exact == (got if fits else None), case
    assert 10 < refused < 200  # the table really has impossible geometries too


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_conv_auto_pad_against_onnx(auto_pad: str) -> None:
    """ONNX auto_pad = archcalc padding same / same_lower / valid (kernels smaller and larger than
    the stride: SAME with a stride larger than the kernel needs no padding at all)."""
    padding = {"SAME_UPPER": "same", "SAME_LOWER": "same_lower", "VALID": "valid"}[auto_pad]
    dilated = 0
    for case in CONV_CASES[:150]:
        weight = (case["filters"], case["c_in"] // case["groups"], *case["kernel"])
        inferred, real = onnx_shapes("Conv", [(1, case["c_in"], *case["size"]), weight], {
            "strides": case["stride"], "dilations": case["dilation"], "group": case["groups"], "auto_pad": auto_pad})
        if real is None and auto_pad != "VALID" and max(case["dilation"]) > 1:
            # onnxruntime: "Dilation not supported for AutoPadType::SAME_UPPER"; onnx shape inference
            # (output ceil(N/s)) is the oracle there
            real = inferred
            dilated += 1
        elif real is not None:
            assert inferred == real
        for rounding in ("exact", "floor", "ceil") if padding != "valid" else ("floor",):
            got = arch_shape([case["c_in"], *case["size"]], {
                "type": "conv", "filters": case["filters"], "kernel": case["kernel"], "stride": case["stride"],
                "dilation": case["dilation"], "groups": case["groups"], "padding": padding, "rounding": rounding,
            })
            assert batched(got) == (real[0] if real else None), (case, rounding)
    assert dilated > 10 or auto_pad == "VALID"


def test_conv_same_is_ceil_n_over_s() -> None:
    # the stride (3) larger than the kernel (1): no padding, output ceil(8/3) = 3, not an error
    assert arch_shape([1, 8, 8], {"type": "conv", "filters": 1, "kernel": 1, "stride": 3, "padding": "same"}) == (
        1, 3, 3,
    )
    assert arch_shape([1, 8], {"type": "maxpool", "kernel": 2, "stride": 3, "padding": "same_lower"}) == (1, 3)


def test_locally_connected_shape_is_conv_shape() -> None:
    for case in CONV_CASES[:60]:
        real = _onnx_conv(case, pads=onnx_pads(case["pads"]))
        got = arch_shape([case["c_in"], *case["size"]], {
            "type": "locally_connected", "filters": case["filters"], "kernel": case["kernel"],
            "stride": case["stride"], "dilation": case["dilation"], "groups": case["groups"],
            "padding": case["pads"], "rounding": "floor",
        })
        assert batched(got) == (real[0] if real else None), case


def test_depthwise_shape_against_onnx() -> None:
    for c, mult, size, k, s in itertools.product((1, 3), (1, 2), (5, 8), (1, 3), (1, 2)):
        real = ort_only("Conv", [(1, c, size, size), (c * mult, 1, k, k)],
                        {"group": c, "strides": [s, s], "pads": [1, 1, 1, 1]})
        got = arch_shape([c, size, size], {"type": "depthwise_conv", "filters": c * mult, "kernel": k, "stride": s,
                                           "padding": 1, "rounding": "floor"})
        assert real is not None and batched(got) == real[0]


# -- transposed convolution ------------------------------------------------------------------


def _deconv_case(seed: int) -> dict[str, Any]:
    rng = random.Random(10_000 + seed)
    n = rng.choice((1, 2, 2, 3))
    groups = rng.choice((1, 1, 2))
    stride = per_axis_draw(rng, n, (1, 2, 3))
    dilation = per_axis_draw(rng, n, (1, 1, 2, 3))
    return {
        "c_in": groups * rng.choice((1, 2)),
        "filters": groups * rng.choice((1, 2)),
        "groups": groups,
        "size": per_axis_draw(rng, n, (1, 2, 3, 5) if n < 3 else (2, 3)),
        "kernel": per_axis_draw(rng, n, (1, 2, 3, 4)),
        "stride": stride,
        "dilation": dilation,
        "pads": [[rng.choice((0, 0, 1, 2, 4)), rng.choice((0, 0, 1, 2, 4))] for _ in range(n)],
        # onnxruntime wants output_padding < stride (PyTorch: < stride or dilation, see below)
        "output_padding": [rng.randrange(s) for s in stride],
    }


DECONV_CASES = [_deconv_case(seed) for seed in range(300)]


def test_conv_transpose_against_onnx() -> None:
    """300 random ConvTranspose geometries: pads (incl. asymmetric and larger than the kernel),
    output_padding, strides, dilations, groups."""
    refused = 0
    for case in DECONV_CASES:
        weight = (case["c_in"], case["filters"] // case["groups"], *case["kernel"])
        real = ort_only("ConvTranspose", [(1, case["c_in"], *case["size"]), weight], {
            "strides": case["stride"], "dilations": case["dilation"], "group": case["groups"],
            "pads": onnx_pads(case["pads"]), "output_padding": case["output_padding"],
        })
        got = arch_shape([case["c_in"], *case["size"]], {
            "type": "conv_transpose", "filters": case["filters"], "kernel": case["kernel"],
            "stride": case["stride"], "dilation": case["dilation"], "groups": case["groups"],
            "padding": case["pads"], "output_padding": case["output_padding"],
        })
        refused += real is None
        assert batched(got) == (real[0] if real else None), case
    assert 0 < refused < 100


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_conv_transpose_auto_pad_against_onnx(auto_pad: str) -> None:
    padding = {"SAME_UPPER": "same", "SAME_LOWER": "same_lower", "VALID": "valid"}[auto_pad]
    checked = 0
    for case in DECONV_CASES[:120]:
        weight = (case["c_in"], case["filters"] // case["groups"], *case["kernel"])
        inferred, real = onnx_shapes("ConvTranspose", [(1, case["c_in"], *case["size"]), weight], {
            "strides": case["stride"], "dilations": case["dilation"], "group": case["groups"],
            "auto_pad": auto_pad, "output_padding": case["output_padding"],
        })
        got = arch_shape([case["c_in"], *case["size"]], {
            "type": "conv_transpose", "filters": case["filters"], "kernel": case["kernel"],
            "stride": case["stride"], "dilation": case["dilation"], "groups": case["groups"],
            "padding": padding, "output_padding": case["output_padding"],
        })
        if padding != "valid" and real is not None and real[0][2:] != tuple(
            n * s for n, s in zip(case["size"], case["stride"], strict=True)
        ):
            # the kernel is too small to reach N*s (negative total padding): onnxruntime silently
            # gives a smaller output (onnx shape inference claims N*s), archcalc refuses
            # (padding: same cannot give N*s)
            assert got is None
            continue
        if real is not None and inferred != real:
            # onnx shape inference splits the padding computed without output_padding (clamped at
            # 0) and then adds output_padding; onnxruntime (and archcalc, and TF's SAME) give N*s
            assert inferred is not None
            for i, n in enumerate(case["size"]):
                s, op = case["stride"][i], case["output_padding"][i]
                full = (n - 1) * s + case["dilation"][i] * (case["kernel"][i] - 1) + 1
                assert inferred[0][2 + i] == full + op - max(0, full - n * s)
                assert op > 0 or inferred[0][2 + i] == real[0][2 + i]
        checked += 1
        assert batched(got) == (real[0] if real else None), case
    assert checked > 60


def test_conv_transpose_output_padding_below_the_dilation() -> None:
    """PyTorch allows output_padding < max(stride, dilation); onnxruntime only < stride, so onnx
    shape inference (which has no such limit) is the oracle for the rest."""
    checked = 0
    for size, k, s, d, p in itertools.product((1, 3, 4), (1, 2, 3), (1, 2), (2, 3), (0, 1)):
        for op in range(s, d):
            inferred, _ = onnx_shapes("ConvTranspose", [(1, 1, size), (1, 1, k)], {
                "strides": [s], "dilations": [d], "pads": [p, p], "output_padding": [op]})
            got = arch_shape([1, size], {"type": "conv_transpose", "filters": 1, "kernel": k, "stride": s,
                                         "dilation": d, "padding": p, "output_padding": op})
            assert inferred is not None
            if inferred[0][2] < 1:
                assert got is None  # an empty output: refused
            else:
                assert batched(got) == inferred[0]
                checked += 1
    assert checked >= 60


def test_conv_transpose_same_refuses_a_kernel_too_small_for_the_stride() -> None:
    with pytest.raises(archcalc.ShapeError, match=r"same cannot give 15.*too small"):
        analyze([1, 5], {"type": "conv_transpose", "filters": 1, "kernel": 1, "stride": 3, "padding": "same"})


# -- pooling ---------------------------------------------------------------------------------


def _last_window_in_right_padding(out: int, size: int, stride: int, pad_before: int) -> bool:
    return (out - 1) * stride >= size + pad_before


def test_pool_against_onnx() -> None:
    """Max pooling (pads, strides, dilations, ceil_mode) and average pooling (pads, strides,
    ceil_mode) against onnxruntime, 1-D and 2-D; ONNX requires pads < kernel."""
    rng = random.Random(7)
    compared = discrepancies = 0
    for _ in range(500):
        op = rng.choice(("MaxPool", "AveragePool"))
        n = rng.choice((1, 2, 2))
        size = per_axis_draw(rng, n, (1, 2, 3, 4, 5, 6, 7, 9))
        kernel = per_axis_draw(rng, n, (1, 2, 3, 4))
        stride = per_axis_draw(rng, n, (1, 2, 3))
        dilation = per_axis_draw(rng, n, (1, 1, 2)) if op == "MaxPool" else [1] * n
        pads = [[rng.randrange(k), rng.randrange(k)] for k in kernel]
        ceil = rng.random() < 0.5
        attrs: dict[str, Any] = {"kernel_shape": kernel, "strides": stride, "pads": onnx_pads(pads),
                                 "ceil_mode": int(ceil)}
        layer: dict[str, Any] = {"type": "maxpool" if op == "MaxPool" else "avgpool", "kernel": kernel,
                                 "stride": stride, "padding": pads, "rounding": "ceil" if ceil else "floor"}
        if op == "MaxPool":
            attrs["dilations"] = dilation
            layer["dilation"] = dilation
        inferred, real = onnx_shapes(op, [(1, 2, *size)], attrs)
        got = arch_shape([2, *size], layer)
        fits = all(
            size[i] + pads[i][0] + pads[i][1] >= dilation[i] * (kernel[i] - 1) + 1 for i in range(n)
        )
        if not fits:
            # a window larger than the padded input: archcalc refuses; onnxruntime divides a
            # negative span truncating toward zero and returns 1 (or refuses)
            assert got is None
            continue
        assert batched(got) == (real[0] if real else None), (op, size, attrs)
        if real is None:
            continue
        compared += 1
        assert inferred is not None
        if inferred != real:
            # onnx shape inference keeps a ceil-mode window that starts in the right padding
            discrepancies += 1
            assert ceil
            for i in range(n):
                extra = inferred[0][2 + i] - real[0][2 + i]
                assert extra in (0, 1)
                if extra:
                    assert _last_window_in_right_padding(inferred[0][2 + i], size[i], stride[i], pads[i][0])
    assert compared > 400 and discrepancies > 0


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_pool_auto_pad_against_onnx(auto_pad: str) -> None:
    padding = {"SAME_UPPER": "same", "SAME_LOWER": "same_lower", "VALID": "valid"}[auto_pad]
    checked = 0
    for op, size, k, s, d in itertools.product(("MaxPool", "AveragePool"), (4, 5, 7, 8), (1, 2, 3), (1, 2, 3), (1, 2)):
        if op == "AveragePool" and d > 1:
            continue
        attrs: dict[str, Any] = {"kernel_shape": [k, k + 1], "strides": [s, s], "auto_pad": auto_pad}
        layer: dict[str, Any] = {"type": "maxpool" if op == "MaxPool" else "avgpool", "kernel": [k, k + 1],
                                 "stride": s, "padding": padding, "rounding": "floor"}
        if d > 1:
            attrs["dilations"] = [d, d]
            layer["dilation"] = d
        inferred, real = onnx_shapes(op, [(1, 2, size, size + 1)], attrs)
        if padding == "valid" and (size < d * (k - 1) + 1 or size + 1 < d * k + 1):
            # the window does not fit: archcalc refuses; onnxruntime gives an empty tensor, or 1
            # (a negative span divided truncating toward zero), or refuses
            assert arch_shape([2, size, size + 1], layer) is None
            continue
        if padding != "valid" and (d > 1 or real is None):
            # onnxruntime pads SAME for the undilated kernel, and refuses a stride larger than
            # the kernel ("padding values must be non-negative") instead of padding nothing;
            # onnx shape inference (output ceil(N/s)) is the oracle there
            real = inferred
        else:
            assert real is None or inferred == real
        assert batched(arch_shape([2, size, size + 1], layer)) == (real[0] if real else None), attrs
        checked += real is not None
    assert checked > 60


def test_ceil_mode_drops_a_window_starting_in_padding() -> None:
    # (5 + 2 - 2)/2 = 2.5 -> ceil 3 + 1 = 4 windows, but the 4th would start at 6 = in the padding
    got = arch_shape([1, 5, 5], {"type": "maxpool", "kernel": 2, "stride": 2, "padding": 1, "rounding": "ceil"})
    assert got == (1, 3, 3)
    assert onnx_shapes("MaxPool", [(1, 1, 5, 5)], {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [1, 1, 1, 1],
                                                   "ceil_mode": 1}) == ([(1, 1, 4, 4)], [(1, 1, 3, 3)])


@pytest.mark.parametrize("op,kind", [("GlobalAveragePool", "global_avgpool"), ("GlobalMaxPool", "global_maxpool")])
def test_global_pool_against_onnx(op: str, kind: str) -> None:
    for shape in [(3, 7), (4, 5, 6), (2, 3, 4, 5), (1, 1, 1)]:
        real = ort_only(op, [(1, *shape)])
        assert real is not None and batched(arch_shape(shape, {"type": kind})) == real[0]


def test_subsample_shape_is_average_pool_shape() -> None:
    for size, k, s, p, ceil in itertools.product((4, 5, 7), (2, 3), (1, 2, 3), (0, 1), (False, True)):
        if p >= k:
            continue
        _, real = onnx_shapes("AveragePool", [(1, 2, size, size)], {"kernel_shape": [k, k], "strides": [s, s],
                                                                     "pads": [p] * 4, "ceil_mode": int(ceil)})
        got = arch_shape([2, size, size], {"type": "subsample", "kernel": k, "stride": s, "padding": p,
                                           "rounding": "ceil" if ceil else "floor"})
        assert real is not None and batched(got) == real[0]


def test_adaptive_pool_shape() -> None:
    # no ONNX operator; the output size is the requested one, per axis
    assert arch_shape([3, 7, 5], {"type": "adaptive_avgpool", "size": [2, 3]}) == (3, 2, 3)
    assert arch_shape([3, 7, 5], {"type": "adaptive_avgpool", "size": 4}) == (3, 4, 4)


# -- resize / upsample -----------------------------------------------------------------------


def test_resize_against_onnx() -> None:
    for shape, scale, mode in itertools.product([(2, 3), (2, 3, 4), (1, 2, 5, 3)], (1, 2, 3), ("nearest", "linear")):
        n = len(shape) - 1
        scales = np.array([1.0, 1.0] + [float(scale)] * n, dtype=np.float32)
        real = ort_only("Resize", [(1, *shape), None, scales], {"mode": mode})
        arch_mode = "nearest" if mode == "nearest" else {1: "linear", 2: "bilinear", 3: "trilinear"}[n]
        got = arch_shape(shape, {"type": "upsample", "scale": scale, "mode": arch_mode})
        assert real is not None and batched(got) == real[0]
        # a per-axis scale and a target size
        per = [scale + i for i in range(n)]
        real = ort_only("Resize", [(1, *shape), None, np.array([1.0, 1.0, *per], dtype=np.float32)], {"mode": mode})
        assert real is not None and batched(arch_shape(shape, {"type": "upsample", "scale": per})) == real[0]
        sizes = [shape[1 + i] * 2 + i for i in range(n)]
        real = ort_only("Resize", [(1, *shape), None, None, np.array([1, shape[0], *sizes], dtype=np.int64)],
                        {"mode": mode})
        assert real is not None and batched(arch_shape(shape, {"type": "upsample", "size": sizes})) == real[0]


def test_upsample_against_onnx_upsample_9() -> None:
    for shape, scale in itertools.product([(2, 3, 4), (1, 5, 1)], (1, 2, 4)):
        scales = np.array([1.0, 1.0, scale, scale], dtype=np.float32)
        real = ort_only("Upsample", [(1, *shape), scales], {"mode": "nearest"}, opset=9)
        assert real is not None and batched(arch_shape(shape, {"type": "upsample", "scale": scale})) == real[0]


# -- pad, concat, split, mul -----------------------------------------------------------------


def test_pad_against_onnx() -> None:
    for shape, pads, mode in itertools.product(
        [(2, 3), (2, 3, 4), (1, 4, 2, 3)], ([[0, 1]], [[2, 0]], [[1, 1]], [[3, 2]], [[0, 0]]), ("constant", "reflect", "edge")
    ):
        n = len(shape) - 1
        per_axis = [[pads[0][0] + i % 2, pads[0][1] + (i + 1) % 2 * (pads[0][1] > 0)] for i in range(n)]
        onnx_p = np.array([0, 0] + [p[0] for p in per_axis] + [0, 0] + [p[1] for p in per_axis], dtype=np.int64)
        real = ort_only("Pad", [(1, *shape), onnx_p], {"mode": mode})
        got = arch_shape(shape, {"type": "pad", "padding": per_axis, "mode": mode})
        assert batched(got) == (real[0] if real else None), (shape, per_axis, mode)
    # one int pads every side
    real = ort_only("Pad", [(1, 2, 3, 4), np.array([0, 0, 2, 2, 0, 0, 2, 2], dtype=np.int64)])
    assert real is not None and batched(arch_shape((2, 3, 4), {"type": "pad", "padding": 2})) == real[0]


def sources(*shapes: tuple[int, ...]) -> tuple[list[int], list[dict[str, Any]]]:
    """An input and one layer per shape that produces it: a valid conv (rank 3) or an fc (rank 1)."""
    base = [1, 9, 9]
    layers: list[dict[str, Any]] = []
    for i, shape in enumerate(shapes):
        if len(shape) == 1:
            layers.append({"name": f"s{i}", "type": "fc", "units": shape[0], "inputs": "input"})
        else:
            kernel = [base[1] - shape[1] + 1, base[2] - shape[2] + 1]
            layers.append({"name": f"s{i}", "type": "conv", "filters": shape[0], "kernel": kernel, "inputs": "input"})
    return base, layers


def merged_shape(kind: str, shapes: Sequence[tuple[int, ...]], **attrs: Any) -> list[tuple[int, ...]] | None:
    base, layers = sources(*shapes)
    layer = {"name": "m", "type": kind, "inputs": [f"s{i}" for i in range(len(shapes))], **attrs}
    try:
        return list(analyze(base, *layers, layer)["m"].shapes)
    except archcalc.ShapeError:
        return None


def test_concat_against_onnx() -> None:
    shapes = [(1, 3, 4), (2, 3, 4), (3, 3, 4), (2, 4, 4), (2, 3, 5), (2, 4, 5)]
    checked = 0
    for a, b in itertools.product(shapes, repeat=2):
        for axis in (0, 1, 2):
            real = ort_only("Concat", [(1, *a), (1, *b)], {"axis": axis + 1})
            got = merged_shape("concat", [a, b], axis=axis)
            assert (None if got is None else [(1, *got[0])]) == real, (a, b, axis)
            checked += 1
        real = ort_only("Concat", [(1, *a), (1, *b), (1, *a)], {"axis": 1})
        got = merged_shape("concat", [a, b, a], axis="channels")
        assert (None if got is None else [(1, *got[0])]) == real
    assert checked == 108


def test_split_against_onnx() -> None:
    for shape, sizes, axis in itertools.product([(6, 4, 5), (4, 6, 6)], ([1, 5], [2, 2, 2], [3, 3], [6], [4]), (0, 1)):
        real = ort_only("Split", [(1, *shape), np.array(sizes, dtype=np.int64)], {"axis": axis + 1},
                        n_out=len(sizes))
        base, layers = sources(shape)
        try:
            got: list[tuple[int, ...]] | None = list(
                analyze(base, *layers, {"name": "p", "type": "split", "sizes": sizes, "axis": axis})["p"].shapes
            )
        except archcalc.ShapeError:
            got = None
        assert (None if got is None else [(1, *g) for g in got]) == real, (shape, sizes, axis)
    for parts in (1, 2, 3, 4):
        real = ort_only("Split", [(1, 6, 4, 4)], {"axis": 1, "num_outputs": parts}, n_out=parts)
        base, layers = sources((6, 4, 4))
        if 6 % parts:
            # ONNX makes the last part smaller; archcalc's parts are equal or an error
            with pytest.raises(archcalc.ShapeError, match="equal parts"):
                analyze(base, *layers, {"name": "p", "type": "split", "parts": parts})
            continue
        got = analyze(base, *layers, {"name": "p", "type": "split", "parts": parts})["p"].shapes
        assert real is not None and [(1, *g) for g in got] == real


def test_mul_broadcasting_against_onnx() -> None:
    shapes = [(3, 4, 5), (1, 4, 5), (3, 1, 1), (3, 4, 1), (1, 1, 5), (2, 4, 5), (5,), (1,), (4,), (3, 1, 5)]
    checked = refused = 0
    for a, b in itertools.product(shapes, repeat=2):
        real = ort_only("Mul", [a, b])  # per-sample shapes, aligned on the right as numpy does
        got = merged_shape("mul", [a, b])
        assert got == real, (a, b)
        checked += 1
        refused += real is None
    assert checked == 100 and 0 < refused < 100


def test_mul_three_inputs_broadcast_like_numpy() -> None:
    for abc in [((3, 4, 5), (3, 1, 1), (1, 4, 1)), ((1, 1, 5), (3, 1, 1), (1, 4, 1)), ((3, 4, 5), (5,), (1,))]:
        expected = np.broadcast_shapes(*abc)
        assert merged_shape("mul", list(abc)) == [expected]
    assert merged_shape("mul", [(3, 4, 5), (2, 1, 1), (1, 1, 1)]) is None


def test_add_against_onnx_when_shapes_are_equal() -> None:
    for shape in [(3, 4, 5), (1, 2, 2), (7,)]:
        real = ort_only("Sum", [shape, shape, shape])
        assert merged_shape("add", [shape, shape, shape]) == real


# -- shapes of the remaining families (identities and flattening) ----------------------------


@pytest.mark.parametrize(
    "layer,op,attrs",
    [
        ({"type": "relu"}, "Relu", {}),
        ({"type": "sigmoid"}, "Sigmoid", {}),
        ({"type": "flatten"}, "Flatten", {"axis": 1}),
        ({"type": "dropout"}, "Dropout", {}),
        ({"type": "identity"}, "Identity", {}),
    ],
)
def test_elementwise_and_flatten_against_onnx(layer: dict[str, Any], op: str, attrs: dict[str, Any]) -> None:
    for shape in [(3, 4, 5), (2, 7), (1, 2, 3, 4)]:
        real = ort_only(op, [(1, *shape)], attrs)
        assert real is not None and batched(arch_shape(shape, layer)) == real[0]


def test_lrn_against_onnx() -> None:
    real = ort_only("LRN", [(1, 7, 4, 5)], {"size": 3})  # onnxruntime: 4-D only
    assert real is not None and batched(arch_shape((7, 4, 5), {"type": "lrn", "size": 3})) == real[0]


def test_fc_and_batchnorm_against_onnx() -> None:
    for shape, units in itertools.product([(3, 4, 5), (6,)], (1, 10)):
        n = int(np.prod(shape))
        real = ort_only("Gemm", [(1, n), (units, n)], {"transB": 1})
        assert real is not None and batched(arch_shape(shape, {"type": "fc", "units": units})) == real[0]
    c = 3
    params = [np.ones(c, dtype=np.float32)] * 4
    real = ort_only("BatchNormalization", [(1, c, 4, 5), *params])
    assert real is not None and batched(arch_shape((c, 4, 5), {"type": "batchnorm"})) == real[0]


# -- error messages for impossible geometry --------------------------------------------------


def test_kernel_larger_than_padded_input() -> None:
    with pytest.raises(archcalc.ShapeError, match=r"window of 7 does not fit along H: input 5 \+ padding 0\+1 = 6 < 7"):
        analyze([1, 5, 9], {"type": "conv", "filters": 1, "kernel": 7, "padding": [[0, 1], [0, 0]]})
    # a dilated kernel's span counts: 2*(3-1)+1 = 5 > 4
    with pytest.raises(archcalc.ShapeError, match=r"window of 5 does not fit along L"):
        analyze([1, 4], {"type": "maxpool", "kernel": 3, "dilation": 2, "stride": 1})


def test_stride_that_does_not_fit() -> None:
    with pytest.raises(archcalc.ShapeError, match=r"stride does not fit along H: \(7 - 3\)/3 \+ 1 = 2\.33") as err:
        analyze([1, 7, 7], {"type": "conv", "filters": 1, "kernel": 3, "stride": 3, "rounding": "exact"})
    message = str(err.value)
    assert "rounding: floor (gives 2)" in message and "rounding: ceil (gives 3)" in message
    assert "pad 2 more pixels" in message
    # the suggested padding does make it fit
    assert arch_shape([1, 7, 7], {"type": "conv", "filters": 1, "kernel": 3, "stride": 3,
                                  "padding": [[0, 2], [0, 2]]}) == (1, 3, 3)


def test_split_that_does_not_add_up() -> None:
    base, layers = sources((6, 4, 4))
    with pytest.raises(archcalc.ShapeError, match=r"split sizes \[2, 3\] add up to 5, but axis 0 has 6"):
        analyze(base, *layers, {"type": "split", "sizes": [2, 3]})
    with pytest.raises(archcalc.ShapeError, match="cannot split 6 into 4 equal parts"):
        analyze(base, *layers, {"type": "split", "parts": 4})


def test_merge_errors() -> None:
    base, layers = sources((3, 4, 4), (2, 4, 4), (3, 5, 4))
    with pytest.raises(archcalc.ShapeError, match=r"channel mismatch at an add: input shapes 3x4x4, 2x4x4"):
        analyze(base, *layers, {"type": "add", "inputs": ["s0", "s1"]})
    with pytest.raises(archcalc.ShapeError, match=r"shape mismatch at an add"):
        analyze(base, *layers, {"type": "add", "inputs": ["s0", "s2"]})
    with pytest.raises(archcalc.ShapeError, match=r"concat of different spatial sizes: input shapes 3x4x4, 3x5x4"):
        analyze(base, *layers, {"type": "concat", "inputs": ["s0", "s2"]})
    with pytest.raises(archcalc.ShapeError, match=r"do not broadcast"):
        analyze(base, *layers, {"type": "mul", "inputs": ["s0", "s1"]})


def test_per_axis_lists_must_match_the_rank() -> None:
    with pytest.raises(archcalc.ShapeError, match="kernel has 3 entries but the input has 2 spatial axes"):
        analyze([1, 5, 5], {"type": "conv", "filters": 1, "kernel": [1, 2, 3]})
    with pytest.raises(archcalc.ShapeError, match="padding has 3 entries but the input has 2 spatial axes"):
        analyze([1, 5, 5], {"type": "conv", "filters": 1, "kernel": 1, "padding": [1, 1, 1]})


def test_group_and_table_errors() -> None:
    with pytest.raises(archcalc.ShapeError, match=r"groups=2 must divide both input channels \(3\)"):
        analyze([3, 5, 5], {"type": "conv", "filters": 4, "kernel": 1, "groups": 2})
    with pytest.raises(archcalc.ShapeError, match=r"connection table row 1 names map 3, but the input has maps 0-2"):
        analyze([3, 5, 5], {"type": "conv", "kernel": 1, "connections": [[0], [1, 3]]})
    with pytest.raises(archcalc.ShapeError, match=r"output_padding 2 along L must be smaller"):
        analyze([1, 5], {"type": "conv_transpose", "filters": 1, "kernel": 3, "stride": 2, "output_padding": 2})
    with pytest.raises(archcalc.ShapeError, match=r"padding too large"):
        analyze([1, 2], {"type": "conv_transpose", "filters": 1, "kernel": 1, "padding": 1})


@pytest.mark.parametrize(("target", "expected"), [
    ([0, -1], (8, 24)), ([0, 0, 0], (8, 4, 6)), ([2, 0, -1], (2, 4, 24)), ([-1, 0], (48, 4)),
])
def test_reshape_zero_keeps_the_input_size_as_onnx(target: list[int], expected: tuple[int, ...]) -> None:
    """ONNX Reshape (allowzero=0): a 0 copies the input's size on that axis (per sample here)."""
    assert arch_shape([8, 4, 6], {"type": "reshape", "shape": target}) == expected
    from math import prod

    assert prod(expected) == 8 * 4 * 6


def test_reshape_zero_past_the_input_axes_is_refused() -> None:
    with pytest.raises(archcalc.ShapeError, match=r"0 at axis 3 has no input axis to keep \(the input is 8x4x6\)"):
        analyze([8, 4, 6], {"type": "reshape", "shape": [2, 2, 2, 0]})
