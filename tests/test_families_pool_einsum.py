"""Adaptive average pooling to any output size (window counts against a brute force of PyTorch's
window definition), and Einsum for the batched matrix products CNN exporters write (shapes
against ONNX Runtime, MACs against a hand count; other equations refused by name)."""

from __future__ import annotations

from math import ceil, floor

import numpy as np
import pytest

import archcalc
from archcalc.ops.pool import adaptive_longest, adaptive_total
from tests.onnx_builders import make, node, verify, weight


def _windows(n_in: int, n_out: int) -> list[range]:
    """PyTorch's adaptive pooling windows: [floor(i N / n), ceil((i + 1) N / n))."""
    return [range(floor(i * n_in / n_out), ceil((i + 1) * n_in / n_out)) for i in range(n_out)]


@pytest.mark.parametrize("n_in", range(1, 30))
def test_adaptive_window_formulas_match_brute_force(n_in: int) -> None:
    for n_out in range(1, n_in + 1):
        windows = _windows(n_in, n_out)
        assert adaptive_total(n_in, n_out) == sum(len(w) for w in windows), (n_in, n_out)
        assert adaptive_longest(n_in, n_out) == max(len(w) for w in windows), (n_in, n_out)


@pytest.mark.parametrize("h,w,oh,ow", [(7, 7, 3, 3), (14, 10, 4, 3), (10, 10, 5, 5), (13, 9, 6, 2), (5, 8, 5, 3)])
def test_adaptive_avgpool_counts_unequal_windows_exactly(h: int, w: int, oh: int, ow: int) -> None:
    c = 3
    net = {"name": "a", "input": [c, h, w], "layers": [{"name": "p", "type": "adaptive_avgpool", "size": [oh, ow]}]}
    r = archcalc.analyze(archcalc.load(net))
    # brute force: every output position reads its window rows x cols, in every channel
    reads = c * sum(len(rw) * len(cw) for rw in _windows(h, oh) for cw in _windows(w, ow))
    assert r["p"].shape == (c, oh, ow)
    assert r["p"].connections == reads and r["p"].flops == reads and r["p"].params == 0
    assert r["p"].rf.size == (adaptive_longest(h, oh), adaptive_longest(w, ow))


def test_adaptive_avgpool_unequal_windows_export_is_refused_with_the_reason() -> None:
    from archcalc.onnx_export.export import export_onnx

    net = {"name": "a", "input": [3, 7, 7], "layers": [{"name": "p", "type": "adaptive_avgpool", "size": 3}]}
    with pytest.raises(archcalc.ArchcalcError, match="windows of unequal"):
        export_onnx(archcalc.load(net))


@pytest.mark.parametrize("eq,shapes,out,macs", [
    ("bij,bjk->bik", ([2, 5, 7], [2, 7, 3]), (5, 3), 5 * 7 * 3),
    ("bhij,bhjk->bhik", ([2, 4, 6, 8], [2, 4, 8, 5]), (4, 6, 5), 4 * 6 * 8 * 5),
    ("...ij,...jk->...ik", ([2, 4, 6, 8], [2, 4, 8, 5]), (4, 6, 5), 4 * 6 * 8 * 5),
])
def test_einsum_of_two_activations(eq: str, shapes: tuple, out: tuple, macs: int) -> None:
    m = make([node("Einsum", ["a", "b"], "y", equation=eq)], {"a": shapes[0], "b": shapes[1]}, opset=12)
    r = verify(m, layers=["y"])
    assert r["y"].kind == "matmul" and r["y"].shape == out
    assert r["y"].macs == 2 * macs and r["y"].params == 0  # per batch of 2


@pytest.mark.parametrize("eq,order", [("bhwc,cd->bhwd", ["x", "w"]), ("cd,bhwc->bhwd", ["w", "x"]),
                                      ("bc,cd->bd", ["x", "w"])])
def test_einsum_by_a_weight_matrix(eq: str, order: list[str]) -> None:
    shape = [1, 6] if eq.startswith("bc") else [1, 5, 4, 6]
    m = make([node("Einsum", order, "y", equation=eq)], {"x": shape}, inits=[weight("w", [6, 10])], opset=13)
    r = verify(m, layers=["y"])
    positions = int(np.prod(shape[1:-1]))
    assert r["y"].kind == ("fc" if len(shape) == 2 else "matmul")
    assert r["y"].params == 60 and r["y"].macs == positions * 60


@pytest.mark.parametrize("eq,shapes", [
    ("bik,bjk->bij", ([1, 4, 5], [1, 3, 5])),  # a transposed operand
    ("bii->bi", ([1, 4, 4],)),  # a diagonal
    ("bij,bjk", ([1, 2, 3], [1, 3, 4])),  # implicit output
    ("bchw,cd->bdhw", ([1, 3, 2, 2], None)),  # a weight not over the last axis (a 1x1 convolution)
])
def test_other_einsum_equations_are_refused_by_name(eq: str, shapes: tuple) -> None:
    names = ["a", "b"][: len(shapes)]
    inputs = {n: sh for n, sh in zip(names, shapes, strict=True) if sh is not None}
    inits = [weight("b", [3, 4])] if None in shapes else []
    m = make([node("Einsum", names, "y", equation=eq)], inputs, inits=inits, opset=13)
    with pytest.raises(archcalc.ArchcalcError, match=f"Einsum equation '{eq}'"):
        verify(m, ort=False)
