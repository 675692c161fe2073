"""Counts of every layer family against oracles that share no code with archcalc.

* Brute force: plain Python loops over output positions x kernel taps x (output map, input
  map) pairs count connections and MACs of small conv / locally connected / table / grouped /
  depthwise / transposed conv / pooling / subsampling / adaptive pooling layers, with the
  definitions of the module docstrings (conv connections include taps over padding; a
  transposed conv edge counts when its target lands inside the output).
* onnxruntime: a transposed convolution of all-ones input with all-ones weights sums to its
  number of edges; a convolution of an input padded with ones (Pad then Conv) sums to its
  connections, taps over padding included.
* Weights from the shapes of the weight tensors an ONNX/PyTorch layer would have.
* Hand formulas for the cost of every family and for the conventions (cheap_ops, bias_macs,
  flops_per_mac, bias_is_connection, pooling_connections, biases_as_params, bn_affine_params).
* Absurd but valid sizes: exact Python ints, fast, and no big allocations.
"""

from __future__ import annotations

import itertools
import random
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from math import ceil, gcd, prod
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import archcalc
from archcalc.ops import REGISTRY

Shape = tuple[int, ...]


def net(input_shape: Sequence[int], *layers: dict[str, Any], **overrides: Any) -> archcalc.Report:
    return archcalc.analyze(archcalc.load({"input": list(input_shape), "layers": list(layers)}), overrides=overrides)


def one(input_shape: Sequence[int], layer: dict[str, Any], **overrides: Any) -> archcalc.LayerRecord:
    return net(input_shape, {"name": "L", **layer}, **overrides)["L"]


NO_CHEAP = {"cheap_ops": "none"}

# -- brute-force geometry (independent of archcalc) -----------------------------------------


def window_starts(size: int, k_eff: int, stride: int, pads: Sequence[int], ceil_mode: bool = False) -> list[int]:
    """Start (in input coordinates, padding negative) of every window along one axis.

    floor: every window that fits in the padded input. ceil (PyTorch/onnxruntime): also a last
    partial window, unless it would start in the right padding.
    """
    starts = []
    o = 0
    while True:
        start = o * stride - pads[0]
        fits = start + k_eff <= size + pads[1]
        partial = ceil_mode and start < size + pads[1] - k_eff + stride and start < size
        if not (fits or partial):
            return starts
        starts.append(start)
        o += 1


def positions(
    sizes: Sequence[int], kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int],
    pads: Sequence[Sequence[int]], ceil_mode: bool = False,
) -> list[list[int]]:
    return [
        window_starts(n, d * (k - 1) + 1, s, p, ceil_mode)
        for n, k, s, d, p in zip(sizes, kernel, stride, dilation, pads, strict=True)
    ]


def taps_of(kernel: Sequence[int], dilation: Sequence[int]) -> Iterator[tuple[int, ...]]:
    return itertools.product(*(range(0, k * d, d) for k, d in zip(kernel, dilation, strict=True)))


def map_pairs(c_in: int, c_out: int, groups: int = 1, table: Sequence[Sequence[int]] | None = None) -> list[tuple[int, int]]:
    """(output map, input map) pairs that carry a kernel, from the 0/1 mask of a dense layer."""
    mask = np.zeros((c_out, c_in), dtype=bool)
    if table is not None:
        for o, row in enumerate(table):
            mask[o, list(row)] = True
    else:
        per_in, per_out = c_in // groups, c_out // groups
        for o in range(c_out):
            g = o // per_out
            mask[o, g * per_in:(g + 1) * per_in] = True
    return [(int(o), int(i)) for o, i in zip(*np.nonzero(mask), strict=True)]


def brute_conv(
    c_in: int, sizes: Sequence[int], c_out: int, kernel: Sequence[int], stride: Sequence[int],
    dilation: Sequence[int], pads: Sequence[Sequence[int]], groups: int = 1,
    table: Sequence[Sequence[int]] | None = None,
) -> dict[str, int]:
    """Edges (output unit <- input unit or padding) and MACs of a convolution, one by one."""
    starts = positions(sizes, kernel, stride, dilation, pads)
    pairs = map_pairs(c_in, c_out, groups, table)
    edges = inside = 0
    for origin in itertools.product(*starts):
        for tap in taps_of(kernel, dilation):
            where = [a + b for a, b in zip(origin, tap, strict=True)]
            in_image = all(0 <= w < n for w, n in zip(where, sizes, strict=True))
            for _ in pairs:
                edges += 1
                inside += in_image
    n_pos = prod(len(s) for s in starts)
    return {"connections": edges, "macs": edges, "inside": inside, "positions": n_pos, "pairs": len(pairs),
            "out": tuple(len(s) for s in starts)}


def brute_deconv(
    sizes: Sequence[int], kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int],
    pads: Sequence[Sequence[int]], output_padding: Sequence[int],
) -> tuple[tuple[int, ...], int]:
    """(output sizes, (input position, tap) pairs whose target o = i*s - p0 + t*d is in the output)."""
    out = tuple(
        (n - 1) * s - p[0] - p[1] + d * (k - 1) + 1 + op
        for n, k, s, d, p, op in zip(sizes, kernel, stride, dilation, pads, output_padding, strict=True)
    )
    reach = 0
    for i in itertools.product(*(range(n) for n in sizes)):
        for t in itertools.product(*(range(k) for k in kernel)):
            target = [ii * s - p[0] + tt * d for ii, tt, s, d, p in zip(i, t, stride, dilation, pads, strict=True)]
            reach += all(0 <= o < m for o, m in zip(target, out, strict=True))
    return out, reach


# -- convolution: dense, grouped, depthwise, tables, locally connected -----------------------


def _conv_case(rng: random.Random) -> dict[str, Any]:
    n = rng.choice((1, 2, 2))
    groups = rng.choice((1, 1, 2, 3))
    return {
        "c_in": groups * rng.choice((1, 2)),
        "c_out": groups * rng.choice((1, 2)),
        "groups": groups,
        "sizes": [rng.choice((3, 5, 6, 8)) for _ in range(n)],
        "kernel": [rng.choice((1, 2, 3)) for _ in range(n)],
        "stride": [rng.choice((1, 2, 3)) for _ in range(n)],
        "dilation": [rng.choice((1, 1, 2)) for _ in range(n)],
        "pads": [[rng.choice((0, 1, 2)), rng.choice((0, 1, 3))] for _ in range(n)],
    }


def _fits(case: dict[str, Any]) -> bool:
    return all(
        n + p[0] + p[1] >= d * (k - 1) + 1
        for n, p, k, d in zip(case["sizes"], case["pads"], case["kernel"], case["dilation"], strict=True)
    )


def _conv_layer(case: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "conv", "filters": case["c_out"], "kernel": case["kernel"], "stride": case["stride"],
            "dilation": case["dilation"], "padding": case["pads"], "groups": case["groups"],
            "rounding": "floor", **extra}


RNG_CASES = [c for c in (_conv_case(random.Random(seed)) for seed in range(160)) if _fits(c)][:120]


def test_conv_counts_against_brute_force() -> None:
    """120 random convolutions (1-D/2-D, asymmetric padding, strides, dilations, groups), each
    with the three bias modes."""
    for case in RNG_CASES:
        brute = brute_conv(case["c_in"], case["sizes"], case["c_out"], case["kernel"], case["stride"],
                           case["dilation"], case["pads"], case["groups"])
        # ONNX/PyTorch weight tensor: C_out x C_in/groups x k...
        weights = prod((case["c_out"], case["c_in"] // case["groups"], *case["kernel"]))
        units = case["c_out"] * brute["positions"]
        for bias, n_bias in (("none", 0), ("per_map", case["c_out"]), ("per_unit", units)):
            r = one([case["c_in"], *case["sizes"]], _conv_layer(case, bias=bias))
            assert r.shape == (case["c_out"], *brute["out"])
            assert (r.weights, r.biases, r.connections, r.macs) == (
                weights, n_bias, brute["connections"], brute["macs"]
            ), case
            assert r.units == units
            # FLOPs: 2 per MAC + one add per biased output (cheap op "bias")
            assert r.flops == 2 * brute["macs"] + (units if bias != "none" else 0)


def test_conv_connections_against_onnxruntime() -> None:
    """Pad(value=1) then Conv(no pads) on all-ones input and weights: the output sums to the
    number of edges, taps over padding included."""
    for case in RNG_CASES[:40]:
        n = len(case["sizes"])
        x_shape = [1, case["c_in"], *case["sizes"]]
        w = np.ones((case["c_out"], case["c_in"] // case["groups"], *case["kernel"]), dtype=np.float32)
        pads = np.array([0, 0] + [p[0] for p in case["pads"]] + [0, 0] + [p[1] for p in case["pads"]], dtype=np.int64)
        nodes = [
            helper.make_node("Pad", ["x", "pads", "one"], ["padded"], mode="constant"),
            helper.make_node("Conv", ["padded", "w"], ["y"], strides=case["stride"], dilations=case["dilation"],
                             group=case["groups"], pads=[0] * (2 * n)),
        ]
        inits = [onnx.numpy_helper.from_array(pads, "pads"), onnx.numpy_helper.from_array(w, "w"),
                 onnx.numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")]
        y = _run(nodes, [("x", x_shape)], inits, {"x": np.ones(x_shape, dtype=np.float32)})
        r = one([case["c_in"], *case["sizes"]], _conv_layer(case))
        assert r.connections == int(y.sum()) and r.shape == y.shape[1:], case


def _run(nodes: list[Any], inputs: list[tuple[str, list[int]]], inits: list[Any], feeds: dict[str, np.ndarray]) -> Any:
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


def test_locally_connected_against_brute_force() -> None:
    """Unshared weights: one kernel per output position (Keras LocallyConnected2D kernel shape
    out_positions x (k*k*C_in) x C_out), biases per unit by default."""
    for case in RNG_CASES[:60]:
        brute = brute_conv(case["c_in"], case["sizes"], case["c_out"], case["kernel"], case["stride"],
                           case["dilation"], case["pads"], case["groups"])
        layer = {**_conv_layer(case), "type": "locally_connected"}
        del layer["groups"]
        if case["groups"] == 1:
            r = one([case["c_in"], *case["sizes"]], layer)
            weights = brute["positions"] * prod((*case["kernel"], case["c_in"])) * case["c_out"]
            units = case["c_out"] * brute["positions"]
            assert (r.weights, r.biases, r.connections, r.macs) == (weights, units, brute["connections"], brute["macs"])
        r = one([case["c_in"], *case["sizes"]], {**layer, "groups": case["groups"], "bias": "none"})
        assert r.weights == brute["positions"] * brute["pairs"] * prod(case["kernel"])
        assert (r.connections, r.macs, r.biases) == (brute["connections"], brute["macs"], 0)


def test_connection_table_equals_masked_dense() -> None:
    """An explicit table counts as the dense layer with a 0/1 mask: weights = mask.sum() x taps."""
    rng = random.Random(3)
    lenet_c3 = [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 0], [5, 0, 1], [0, 1, 2, 3], [1, 2, 3, 4],
                [2, 3, 4, 5], [3, 4, 5, 0], [4, 5, 0, 1], [5, 0, 1, 2], [0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5],
                [0, 1, 2, 3, 4, 5]]
    tables: list[tuple[int, list[list[int]]]] = [(6, lenet_c3)]
    for _ in range(20):
        c_in = rng.randint(1, 5)
        tables.append((c_in, [rng.sample(range(c_in), rng.randint(1, c_in)) for _ in range(rng.randint(1, 5))]))
    for c_in, table in tables:
        size, k = (14, 5) if table is lenet_c3 else (6, 3)
        brute = brute_conv(c_in, [size, size], len(table), [k, k], [1, 1], [1, 1], [[0, 0], [0, 0]], table=table)
        mask_sum = sum(len(row) for row in table)
        r = one([c_in, size, size], {"type": "conv", "kernel": k, "connections": table})
        assert (r.weights, r.biases) == (mask_sum * k * k, len(table))
        assert (r.connections, r.macs) == (brute["connections"], brute["macs"])
    # the built-in LeNet-5 C3 table by name: LeCun et al. 1998 give 1516 trainable parameters and
    # 151600 connections
    r = net([6, 14, 14], {"name": "C3", "type": "conv", "kernel": 5, "connections": "lenet5_c3"}, preset="lecun1998")
    assert (r["C3"].params, r["C3"].connections) == (1516, 151600)


def test_groups_one_is_dense_and_depthwise_is_groups_c_in() -> None:
    for c, mult, size, k, p in itertools.product((1, 2, 4), (1, 3), (5, 7), (1, 3), (0, 1)):
        base = {"kernel": k, "padding": p}
        dense = one([c, size, size], {"type": "conv", "filters": c * mult, **base})
        grouped1 = one([c, size, size], {"type": "conv", "filters": c * mult, "groups": 1, **base})
        full_table = one([c, size, size], {"type": "conv", "connections": [list(range(c))] * (c * mult), **base})
        assert _counts(dense) == _counts(grouped1) == _counts(full_table)
        if c > 1:
            # groups = 2 is the block-diagonal connection table
            halves = [list(range(c // 2))] * (c * mult // 2) + [list(range(c // 2, c))] * (c * mult // 2)
            assert _counts(one([c, size, size], {"type": "conv", "filters": c * mult, "groups": 2, **base})) == (
                _counts(one([c, size, size], {"type": "conv", "connections": halves, **base}))
            )
        depthwise = one([c, size, size], {"type": "depthwise_conv", "filters": c * mult, **base})
        by_groups = one([c, size, size], {"type": "conv", "filters": c * mult, "groups": c, **base})
        assert _counts(depthwise) == _counts(by_groups)
        positions = (size + 2 * p - k + 1) ** 2
        assert depthwise.weights == c * mult * k * k  # C_out x 1 x k x k
        assert depthwise.macs == positions * c * mult * k * k
    default = one([3, 5, 5], {"type": "depthwise_conv", "kernel": 3})  # filters = input channels
    assert default.shape == (3, 3, 3) and default.weights == 27


def _counts(r: archcalc.LayerRecord) -> tuple[int, ...]:
    return (r.weights, r.biases, r.params, r.connections, r.macs, r.flops, r.units)


# -- transposed convolution ------------------------------------------------------------------


def _deconv_cases() -> list[dict[str, Any]]:
    rng = random.Random(11)
    out = []
    while len(out) < 150:
        n = rng.choice((1, 1, 2))
        groups = rng.choice((1, 1, 2))
        stride = [rng.choice((1, 2, 3)) for _ in range(n)]
        dilation = [rng.choice((1, 1, 2, 3)) for _ in range(n)]
        case = {
            "c_in": groups * rng.choice((1, 2)), "c_out": groups * rng.choice((1, 2)), "groups": groups,
            "sizes": [rng.choice((1, 2, 3, 5)) for _ in range(n)],
            "kernel": [rng.choice((1, 2, 3, 4, 5)) for _ in range(n)],
            "stride": stride, "dilation": dilation,
            "pads": [[rng.choice((0, 0, 1, 2, 5)), rng.choice((0, 0, 1, 3, 6))] for _ in range(n)],
            "output_padding": [rng.randrange(s) for s in stride],
        }
        out_sizes, _ = brute_deconv(case["sizes"], case["kernel"], case["stride"], case["dilation"], case["pads"],
                                    case["output_padding"])
        if min(out_sizes) >= 1:
            out.append(case)
    return out


DECONV_CASES = _deconv_cases()


def _deconv_layer(case: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "conv_transpose", "filters": case["c_out"], "kernel": case["kernel"], "stride": case["stride"],
            "dilation": case["dilation"], "padding": case["pads"], "groups": case["groups"],
            "output_padding": case["output_padding"], **extra}


def test_conv_transpose_counts_against_brute_force() -> None:
    """150 transposed convolutions: pads up to larger than the kernel (edges cropped away),
    output_padding, strides, dilations, groups."""
    cropped = 0
    for case in DECONV_CASES:
        out, reach = brute_deconv(case["sizes"], case["kernel"], case["stride"], case["dilation"], case["pads"],
                                  case["output_padding"])
        pairs = case["c_out"] * case["c_in"] // case["groups"]
        r = one([case["c_in"], *case["sizes"]], _deconv_layer(case))
        assert r.shape == (case["c_out"], *out)
        # ONNX ConvTranspose weight: C_in x C_out/groups x k...
        assert r.weights == prod((case["c_in"], case["c_out"] // case["groups"], *case["kernel"]))
        assert r.biases == case["c_out"]
        assert r.connections == reach * pairs, case
        # every input position x kernel tap x map pair is multiplied, cropped or not
        assert r.macs == prod(case["sizes"]) * pairs * prod(case["kernel"])
        assert r.flops == 2 * r.macs + case["c_out"] * prod(out)
        cropped += reach < prod(case["sizes"]) * prod(case["kernel"])
    assert cropped > 30


def test_conv_transpose_connections_against_onnxruntime() -> None:
    """All-ones input and weights: every output element is its number of incoming edges."""
    for case in DECONV_CASES[:60]:
        x_shape = [1, case["c_in"], *case["sizes"]]
        w = np.ones((case["c_in"], case["c_out"] // case["groups"], *case["kernel"]), dtype=np.float32)
        node = helper.make_node(
            "ConvTranspose", ["x", "w"], ["y"], strides=case["stride"], dilations=case["dilation"],
            group=case["groups"], output_padding=case["output_padding"],
            pads=[p[0] for p in case["pads"]] + [p[1] for p in case["pads"]],
        )
        y = _run([node], [("x", x_shape)], [onnx.numpy_helper.from_array(w, "w")],
                 {"x": np.ones(x_shape, dtype=np.float32)})
        r = one([case["c_in"], *case["sizes"]], _deconv_layer(case))
        assert r.shape == y.shape[1:] and r.connections == int(y.sum()), case


def _apply(kind: str, raw: dict[str, Any], shape: Shape) -> Any:
    """The layer family's pure ``apply`` on normalised attributes (no graph around it)."""
    op = REGISTRY[kind]
    return op.apply(op.normalize(raw, lambda key: None), (shape,))


def test_conv_transpose_edges_exhaustively_1d() -> None:
    """Every 1-D geometry with N <= 5, k <= 5, s <= 3, d <= 3, pads <= 6: the closed form of the
    edges that reach the output equals the enumeration."""
    checked = 0
    for n, k, s, d, p0, p1 in itertools.product(range(1, 6), range(1, 6), range(1, 4), range(1, 4), range(7),
                                                range(7)):
        op = (p0 + p1 + k) % s
        out, reach = brute_deconv([n], [k], [s], [d], [[p0, p1]], [op])
        if out[0] < 1:
            continue
        applied = _apply("conv_transpose", {"filters": 1, "kernel": k, "stride": s, "dilation": d,
                                            "padding": [[p0, p1]], "output_padding": op}, (1, n))
        assert applied.outs == ((1, *out),) and applied.cost.connections == reach, (n, k, s, d, p0, p1, op)
        checked += 1
    assert checked > 5000


def test_adaptive_windows_closed_forms_exhaustively() -> None:
    for n_in, n_out in itertools.product(range(1, 41), range(1, 41)):
        windows = [((i * n_in) // n_out, ceil((i + 1) * n_in / n_out)) for i in range(n_out)]
        applied = _apply("adaptive_avgpool", {"size": [n_out, 1]}, (1, n_in, 1))
        assert applied.cost.connections == sum(b - a for a, b in windows)
        if n_out > 1:
            assert applied.rf.axes[0][0] == max(b - a for a, b in windows)


def test_conv_transpose_same_padding_counts() -> None:
    # padding same: total (s*(N-1) + op + k_eff - N*s) split as ONNX SAME_UPPER (odd pixel after)
    # or SAME_LOWER (odd pixel before); the crop changes which edges reach the output
    for n, k, s, mode in itertools.product((2, 3, 5), (2, 3, 4), (1, 2), ("same", "same_lower")):
        total = s * (n - 1) + k - n * s
        if total < 0:
            continue
        small, big = total // 2, total - total // 2
        pads = [[small, big]] if mode == "same" else [[big, small]]
        out, reach = brute_deconv([n], [k], [s], [1], pads, [0])
        r = one([1, n], {"type": "conv_transpose", "filters": 1, "kernel": k, "stride": s, "padding": mode})
        assert r.shape == (1, *out) == (1, n * s) and r.connections == reach


# -- pooling and subsampling -----------------------------------------------------------------


def brute_pool(c: int, sizes: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
               dilation: Sequence[int], pads: Sequence[Sequence[int]], ceil_mode: bool) -> tuple[Shape, int]:
    """(output shape, window elements summed over output units: padding and overhang included)."""
    starts = positions(sizes, kernel, stride, dilation, pads, ceil_mode)
    edges = 0
    for _ in range(c):
        for _origin in itertools.product(*starts):
            for _tap in taps_of(kernel, dilation):
                edges += 1
    return (c, *(len(s) for s in starts)), edges


def test_pool_counts_against_brute_force() -> None:
    rng = random.Random(5)
    checked = 0
    while checked < 150:
        n = rng.choice((1, 2))
        kind = rng.choice(("maxpool", "avgpool"))
        kernel = [rng.choice((1, 2, 3)) for _ in range(n)]
        stride = [rng.choice((1, 2, 3)) for _ in range(n)]
        dilation = [rng.choice((1, 2)) if kind == "maxpool" else 1 for _ in range(n)]
        pads = [[rng.randrange(k), rng.randrange(k)] for k in kernel]
        sizes = [rng.choice((3, 4, 5, 7)) for _ in range(n)]
        ceil_mode = rng.random() < 0.5
        if any(s + p[0] + p[1] < d * (k - 1) + 1 for s, p, k, d in zip(sizes, pads, kernel, dilation, strict=True)):
            continue
        c = rng.choice((1, 3))
        shape, edges = brute_pool(c, sizes, kernel, stride, dilation, pads, ceil_mode)
        layer: dict[str, Any] = {"type": kind, "kernel": kernel, "stride": stride, "padding": pads,
                                 "rounding": "ceil" if ceil_mode else "floor"}
        if kind == "maxpool":
            layer["dilation"] = dilation
        r = one([c, *sizes], layer)
        assert r.shape == shape
        assert (r.weights, r.biases, r.params, r.macs) == (0, 0, 0, 0)
        assert r.connections == edges and r.flops == edges  # one "pool" FLOP per window element
        assert one([c, *sizes], layer, pooling_connections="none").connections == 0
        assert one([c, *sizes], layer, cheap_ops="none").flops == 0
        checked += 1


def test_global_pool_counts() -> None:
    for kind, shape in itertools.product(("global_avgpool", "global_maxpool"), [(3, 7, 5), (4, 6), (2, 3, 4, 5)]):
        r = one(shape, {"type": kind})
        assert (r.connections, r.flops, r.params) == (prod(shape), prod(shape), 0)  # one per input element
        assert r.rf.is_global


def test_subsample_counts_against_brute_force() -> None:
    """LeCun subsampling: weights = C, biases = C, connections = MACs = units x window."""
    for c, size, k, s, p in itertools.product((1, 6), (4, 7, 28), (2, 3), (1, 2), (0, 1)):
        if (size + 2 * p - k) % s:
            continue
        shape, edges = brute_pool(c, [size, size], [k, k], [s, s], [1, 1], [[p, p], [p, p]], False)
        r = one([c, size, size], {"type": "subsample", "kernel": k, "stride": s, "padding": p})
        units = prod(shape)
        assert r.shape == shape
        assert (r.weights, r.biases, r.params, r.connections, r.macs) == (c, c, 2 * c, edges, edges)
        assert r.flops == 2 * edges + units
        lecun = one([c, size, size], {"type": "subsample", "kernel": k, "stride": s, "padding": p},
                    preset="lecun1998")
        assert lecun.connections == edges + units  # + one bias connection per unit
    # LeNet-5 S2 (LeCun et al. 1998): 12 trainable parameters, 5880 connections
    s2 = one([6, 28, 28], {"type": "subsample"}, preset="lecun1998")
    assert (s2.params, s2.connections) == (12, 5880)


def brute_adaptive(sizes: Sequence[int], out: Sequence[int]) -> tuple[int, list[int]]:
    """(sum over output positions of their window sizes, the longest window per axis)."""
    windows = [
        [(i * n) // m, ceil((i + 1) * n / m)] for n, m in zip(sizes, out, strict=True) for i in range(m)
    ]
    per_axis: list[list[int]] = []
    at = 0
    for m in out:
        per_axis.append([b - a for a, b in windows[at:at + m]])
        at += m
    total = 0
    for lengths in itertools.product(*per_axis):
        total += prod(lengths)
    return total, [max(lengths) for lengths in per_axis]


def test_adaptive_pool_counts_against_brute_force() -> None:
    checked = 0
    for n1, n2, m1, m2 in itertools.product((1, 5, 7, 12), (3, 10), (1, 2, 3, 4, 7), (1, 3, 6, 11)):
        c = 2
        total, longest = brute_adaptive([n1, n2], [m1, m2])
        r = one([c, n1, n2], {"type": "adaptive_avgpool", "size": [m1, m2]})
        assert r.shape == (c, m1, m2)
        assert r.connections == c * total == r.flops
        # closed form of the sum of window lengths along an axis: N + n - gcd(N, n)
        assert total == (n1 + m1 - gcd(n1, m1)) * (n2 + m2 - gcd(n2, m2))
        if (m1, m2) == (1, 1):
            assert r.rf.is_global  # adaptive pooling to one position is global pooling
        else:
            assert r.rf.size == tuple(longest)
        checked += 1
    assert checked == 160


# -- fc, rbf, norm, activation, merges, resize, shape ops -------------------------------------


def test_fc_counts() -> None:
    for shape, units in itertools.product([(3, 4, 5), (120,), (16, 5, 5)], (1, 10, 84)):
        n = prod(shape)
        r = one(shape, {"type": "fc", "units": units})
        # Gemm weight units x N, bias units
        assert (r.weights, r.biases, r.connections, r.macs) == (n * units, units, n * units, n * units)
        assert r.flops == 2 * n * units + units and r.rf.is_global
        assert one(shape, {"type": "fc", "units": units, "bias": "none"}).flops == 2 * n * units


def test_rbf_counts() -> None:
    # LeNet-5 F6 -> output: 84 x 10 fixed (not trained) parameters
    r = one([84], {"type": "rbf", "units": 10})
    assert (r.weights, r.biases, r.params, r.fixed_params, r.connections, r.macs) == (0, 0, 0, 840, 840, 840)
    assert r.flops == 2 * 840 + 840  # + one subtraction per (input, unit): the "rbf" cheap op
    assert one([84], {"type": "rbf", "units": 10}, cheap_ops="none").flops == 2 * 840


def test_batchnorm_counts() -> None:
    for shape in [(3, 4, 5), (16, 7), (8,)]:
        c, n = shape[0], prod(shape)
        r = one(shape, {"type": "batchnorm"})
        assert (r.weights, r.biases, r.params, r.buffers, r.macs, r.flops) == (0, 0, 2 * c, 2 * c, 0, 2 * n)
        assert r.param_bytes == 4 * 4 * c  # scale, shift, mean, variance in fp32
        assert one(shape, {"type": "batchnorm"}, bn_affine_params=False).params == 0
        assert one(shape, {"type": "batchnorm", "affine": False}).params == 0


def test_lrn_and_activation_counts() -> None:
    for shape, size in itertools.product([(3, 4, 5), (96, 55, 55)], (3, 5)):
        n = prod(shape)
        assert one(shape, {"type": "lrn", "size": size}).flops == (2 * size + 4) * n
        for fn in ("relu", "tanh", "sigmoid", "softmax", "gelu"):
            r = one(shape, {"type": fn})
            assert (r.params, r.macs, r.flops) == (0, 0, n)
        assert one(shape, {"type": "prelu"}).weights == shape[0]
        assert one(shape, {"type": "prelu", "shared": True}).weights == 1
        assert one(shape, {"type": "relu"}, cheap_ops="bias,norm").flops == 0


def test_merge_counts() -> None:
    base = [3, 6, 6]
    branches = [{"name": f"b{i}", "type": "conv", "filters": 4, "kernel": 1, "inputs": "input"} for i in range(3)]
    for count in (2, 3):
        names = [f"b{i}" for i in range(count)]
        r = net(base, *branches, {"name": "a", "type": "add", "inputs": names},
                {"name": "m", "type": "mul", "inputs": names}, {"name": "c", "type": "concat", "inputs": names})
        n = 4 * 6 * 6
        assert r["a"].flops == r["m"].flops == (count - 1) * n
        assert r["c"].flops == 0 and r["c"].shape == (4 * count, 6, 6)
    # squeeze-and-excitation: C x 1 x 1 gates times a C x H x W map, one product per output element
    r = net(base, {"name": "x", "type": "conv", "filters": 4, "kernel": 1},
            {"name": "g", "type": "global_avgpool"}, {"name": "m", "type": "mul", "inputs": ["x", "g"]})
    assert r["m"].flops == 4 * 6 * 6


def test_resize_and_shape_op_counts() -> None:
    for shape, scale in itertools.product([(3, 4), (3, 4, 5), (2, 3, 4, 5)], (2, 3)):
        d = len(shape) - 1
        out = shape[0] * prod(s * scale for s in shape[1:])
        mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[d]
        assert one(shape, {"type": "upsample", "scale": scale, "mode": mode}).flops == 2 * 2**d * out
        assert one(shape, {"type": "upsample", "scale": scale}).flops == 0  # nearest copies
    for layer in ({"type": "flatten"}, {"type": "dropout"}, {"type": "identity"}, {"type": "pad", "padding": 1},
                  {"type": "split", "parts": 3}):
        r = one((3, 4, 5), layer)
        assert (r.params, r.connections, r.macs, r.flops) == (0, 0, 0, 0)


# -- conventions ---------------------------------------------------------------------------


def test_conventions_change_counting_by_the_hand_formulas() -> None:
    c_in, c_out, size, k = 3, 8, 9, 3
    layer = {"type": "conv", "filters": c_out, "kernel": k, "padding": 1}
    macs = size * size * c_out * c_in * k * k
    units = c_out * size * size
    weights = c_out * c_in * k * k
    cases: list[tuple[dict[str, Any], dict[str, int]]] = [
        ({}, {"macs": macs, "flops": 2 * macs + units, "params": weights + c_out, "connections": macs}),
        (NO_CHEAP, {"macs": macs, "flops": 2 * macs}),
        ({"flops_per_mac": 1}, {"flops": macs + units}),
        ({"flops_per_mac": 3, "cheap_ops": "none"}, {"flops": 3 * macs}),
        # torchinfo: a bias is one MAC per bias parameter; the bias add is then not a cheap op
        ({"bias_macs": "per_param"}, {"macs": macs + c_out, "flops": 2 * (macs + c_out)}),
        ({"bias_macs": "per_output"}, {"macs": macs + units, "flops": 2 * (macs + units)}),
        ({"bias_is_connection": True}, {"connections": macs + units}),
        ({"biases_as_params": False}, {"params": weights}),
        ({"batch": 4}, {"macs": 4 * macs, "flops": 4 * (2 * macs + units), "params": weights + c_out,
                        "connections": macs}),
        ({"preset": "paper_macs"}, {"macs": macs, "flops": 2 * macs}),
        ({"preset": "course"}, {"params": weights}),
    ]
    for overrides, expected in cases:
        r = one([c_in, size, size], layer, **overrides)
        assert {key: getattr(r, key) for key in expected} == expected, overrides


def test_totals_are_sums_of_hand_counted_layers() -> None:
    r = net([1, 32, 32], {"name": "C1", "type": "conv", "filters": 6, "kernel": 5}, {"type": "tanh"},
            {"name": "S2", "type": "subsample"}, {"name": "F", "type": "fc", "units": 10})
    c1 = 6 * 25 + 6
    s2 = 6 + 6
    f = 6 * 14 * 14 * 10 + 10
    assert r.totals.params == c1 + s2 + f
    assert r.totals.macs == 6 * 28 * 28 * 25 + 6 * 14 * 14 * 4 + 6 * 14 * 14 * 10


# -- absurd but valid sizes ------------------------------------------------------------------


def timed(fn: Any) -> Any:
    tracemalloc.start()
    start = time.perf_counter()
    try:
        result = fn()
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0, elapsed
    assert peak < 20 * 2**20, peak  # far less than any per-position structure would need
    return result


def _exact_int(*values: int) -> None:
    for v in values:
        assert type(v) is int


def test_huge_conv() -> None:
    big = 2**20
    r = timed(lambda: one([3, big, big], {"type": "conv", "filters": big, "kernel": 3, "padding": 1}))
    assert r.shape == (big, big, big)
    assert r.weights == big * 3 * 9 and r.biases == big
    assert r.macs == big**3 * 27 == r.connections
    assert r.flops == 2 * big**3 * 27 + big**3
    _exact_int(r.weights, r.macs, r.flops, r.activation_bytes)
    lc = timed(lambda: one([3, big, big], {"type": "locally_connected", "filters": 2, "kernel": 3, "stride": 3,
                                           "padding": [[0, 2], [0, 2]]}))
    positions = ((big + 2 - 3) // 3 + 1) ** 2
    assert lc.weights == positions * 2 * 3 * 9 and lc.biases == 2 * positions


def test_huge_fc() -> None:
    units = 10**12
    r = timed(lambda: one([3, 224, 224], {"type": "fc", "units": units}))
    n = 3 * 224 * 224
    assert (r.weights, r.biases, r.macs) == (n * units, units, n * units)
    assert r.flops == 2 * n * units + units
    _exact_int(r.weights, r.flops, r.param_bytes)


def test_huge_adaptive_pool() -> None:
    n_in, n_out = 3 * 10**12 + 1, 10**12
    r = timed(lambda: one([2, n_in, 7], {"type": "adaptive_avgpool", "size": [n_out, 3]}))
    assert r.shape == (2, n_out, 3)
    assert r.connections == 2 * (n_in + n_out - gcd(n_in, n_out)) * (7 + 3 - 1)
    # windows of 3*10^12+1 pixels over 10^12 outputs have 4 pixels at most: ceil((N + n - 1)/n)
    assert r.rf.size == (4, 3)
    _exact_int(r.connections)
    up = timed(lambda: one([1, 7, 7], {"type": "adaptive_avgpool", "size": 10**9}))
    assert up.shape == (1, 10**9, 10**9) and up.rf.size == (2, 2)
    assert up.connections == (7 + 10**9 - 1) ** 2


def test_huge_conv_transpose() -> None:
    big = 2**40
    r = timed(lambda: one([4, big], {"type": "conv_transpose", "filters": 2, "kernel": 4, "stride": 2,
                                     "padding": 1}))
    out = (big - 1) * 2 - 2 + 4
    assert r.shape == (2, out)
    # every input position reaches 4 outputs, except the 1 tap cropped at each end
    assert r.connections == (4 * big - 2) * 8 and r.macs == big * 8 * 4
    # a huge kernel too: taps are never enumerated
    k = 10**12
    n, s, d, p0, p1 = 10**5, 3, 2, 10**9, 5 * 10**11
    r = timed(lambda: one([1, n], {"type": "conv_transpose", "filters": 1, "kernel": k, "stride": s,
                                   "dilation": d, "padding": [[p0, p1]]}))
    out = (n - 1) * s - p0 - p1 + d * (k - 1) + 1
    assert r.shape == (1, out)
    # cropped: pairs with i*s + t*d <= p0 - 1 (before) and, from the far end, <= p1 - 1 (after)
    assert r.connections == n * k - _count_below(n, k, s, d, p0 - 1) - _count_below(n, k, s, d, p1 - 1)


def _count_below(n: int, k: int, s: int, d: int, limit: int) -> int:
    """#{(i, t) in [0,n) x [0,k) : i*s + t*d <= limit}, summed over i (n is small enough here)."""
    total = 0
    for i in range(n):
        room = limit - i * s
        if room < 0:
            break
        total += min(k, room // d + 1)
    return total


@pytest.mark.parametrize("n", [1, 2, 3])
def test_huge_everything_else(n: int) -> None:
    big = 10**9
    shape = [5] + [big] * n
    layers: list[dict[str, Any]] = [
        {"type": "maxpool", "kernel": 3, "stride": 2, "padding": 1, "rounding": "floor"},
        {"type": "subsample", "kernel": 2, "rounding": "floor"},
        {"type": "upsample", "scale": 10**6, "mode": "linear" if n == 1 else "bilinear" if n == 2 else "trilinear"},
        {"type": "batchnorm"}, {"type": "relu"}, {"type": "lrn"}, {"type": "global_avgpool"},
    ]
    for layer in layers:
        r = timed(lambda layer=layer: one(shape, layer))
        _exact_int(r.connections, r.macs, r.flops)
