"""Receptive fields against a brute-force oracle that propagates sets of input pixels.

The oracle knows nothing of archcalc's (size, jump, start) algebra: for every layer it lists
the input positions each output position reads (a window reads o*s - p_before + t*d for each
tap t, a pad layer o - before, nearest upsampling floor(o/r)), and the field of an output is
the union, through the whole graph, of the network-input pixels it reaches. Padding is not
clipped: every tensor is extended with virtual positions beyond its borders (negative or
>= N), mapped by the same formulas, so a field counts the full span including padding, as
archcalc's convention does. From the set of output ``o``:

* size  = max - min + 1
* centre = (max + min) / 2   (a half pixel for even spans) = archcalc ``rf.start`` for o = 0
* jump   = centre(o + 1) - centre(o), the same for every o

After upsampling or a transposed convolution archcalc switches to continuous input coordinates
(archcalc/receptive.py): the true field of neighbouring outputs then alternates, and the
continuous model gives its average (see ``test_nearest_upsampling_then_3x3_conv``).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from fractions import Fraction
from math import floor, gcd
from typing import Any

import pytest

import archcalc

Deps = Callable[[int], list[int]]


def analyze(input_shape: Sequence[int], layers: Sequence[dict[str, Any]], **overrides: Any) -> archcalc.Report:
    return archcalc.analyze(archcalc.load({"input": list(input_shape), "layers": list(layers)}), overrides=overrides)


# -- the oracle ------------------------------------------------------------------------------


def window(k: int, s: int = 1, d: int = 1, before: int = 0) -> Deps:
    return lambda o: [o * s - before + t * d for t in range(k)]


def pad(before: int) -> Deps:
    return lambda o: [o - before]


def nearest(r: int) -> Deps:
    return lambda o: [o // r]


def linear(r: int) -> Deps:
    """Half-pixel linear interpolation: output o sits at c = (o + 1/2)/r - 1/2 and reads
    floor(c) and floor(c) + 1 (unclipped)."""

    def deps(o: int) -> list[int]:
        low = floor(Fraction(2 * o + 1, 2 * r) - Fraction(1, 2))
        return [low, low + 1]

    return deps


def transposed(k: int, s: int, d: int, before: int) -> Deps:
    """Inputs i with o = i*s - before + t*d for some tap t."""
    return lambda o: [(o + before - t * d) // s for t in range(k) if (o + before - t * d) % s == 0]


class Oracle:
    """A DAG of per-axis dependency functions; ``field(name, o)`` = input pixels of output o."""

    def __init__(self) -> None:
        self.nodes: dict[str, tuple[list[str], list[Deps] | None]] = {}
        self.memo: dict[tuple[str, tuple[int, ...]], frozenset[tuple[int, ...]]] = {}

    def add(self, name: str, inputs: list[str], deps: list[Deps] | None) -> None:
        """``deps`` per axis; None = every input reads the same position (merges)."""
        self.nodes[name] = (inputs, deps)

    def field(self, name: str, o: tuple[int, ...]) -> frozenset[tuple[int, ...]]:
        if name == "input":
            return frozenset({o})
        key = (name, o)
        if key not in self.memo:
            inputs, deps = self.nodes[name]
            reads = [o] if deps is None else list(itertools.product(*(f(x) for f, x in zip(deps, o, strict=True))))
            out: set[tuple[int, ...]] = set()
            for src in inputs:
                for q in reads:
                    out |= self.field(src, q)
            self.memo[key] = frozenset(out)
        return self.memo[key]

    def measure(self, name: str, o: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[Fraction, ...]]:
        """(span, centre) per axis of output o's field."""
        pixels = self.field(name, o)
        spans, centres = [], []
        for axis in range(len(o)):
            values = [p[axis] for p in pixels]
            spans.append(max(values) - min(values) + 1)
            centres.append(Fraction(max(values) + min(values), 2))
        return tuple(spans), tuple(centres)

    def rf(self, name: str, n: int, count: int = 4) -> tuple[tuple[int, ...], tuple[Fraction, ...], tuple[Fraction, ...]]:
        """(size, jump, start) of an integer-grid layer, checking they hold for ``count`` outputs."""
        size, start = self.measure(name, (0,) * n)
        _, next_centre = self.measure(name, (1,) * n)
        jump = tuple(b - a for a, b in zip(start, next_centre, strict=True))
        for i in range(count):
            s, c = self.measure(name, (i,) * n)
            assert s == size
            assert c == tuple(st + i * j for st, j in zip(start, jump, strict=True))
        return size, jump, start


def arch_rf(record: archcalc.LayerRecord) -> tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]:
    rf = record.rf
    assert not rf.is_global
    return tuple(rf.size), tuple(rf.jump), tuple(rf.start)


# -- random 1-D chains -----------------------------------------------------------------------


def _random_layer(rng: random.Random, i: int) -> tuple[dict[str, Any], Deps]:
    kind = rng.choice(("conv", "conv", "maxpool", "avgpool", "subsample", "pad"))
    name = f"l{i}"
    if kind == "pad":
        before, after = rng.randrange(4), rng.randrange(4)
        return {"name": name, "type": "pad", "padding": [[before, after]]}, pad(before)
    k = rng.randint(1, 4)
    s = rng.randint(1, 3)
    d = rng.choice((1, 1, 2, 3)) if kind in ("conv", "maxpool") else 1
    before = rng.randrange(k) if kind != "conv" else rng.randrange(4)
    after = rng.randrange(k) if kind != "conv" else rng.randrange(4)
    layer: dict[str, Any] = {"name": name, "type": kind, "kernel": k, "stride": s, "padding": [[before, after]],
                             "rounding": "floor"}
    if kind == "conv":
        layer["filters"] = 1
    if d > 1:
        layer["dilation"] = d
    return layer, window(k, s, d, before)


def test_random_1d_chains_against_brute_force() -> None:
    """250 chains of 1-5 layers (conv with padding/stride/dilation, max/avg pooling,
    subsampling, pad layers)."""
    rng = random.Random(2024)
    for _ in range(250):
        oracle = Oracle()
        layers = []
        previous = "input"
        for i in range(rng.randint(1, 5)):
            layer, deps = _random_layer(rng, i)
            layers.append(layer)
            oracle.add(layer["name"], [previous], [deps])
            previous = layer["name"]
        report = analyze([1, 500], layers)
        for layer in layers:
            assert arch_rf(report[layer["name"]]) == oracle.rf(layer["name"], 1), layers


def test_2d_chains_against_brute_force() -> None:
    """2-D chains with different parameters per axis; the oracle propagates (y, x) pairs."""
    chains: list[list[tuple[dict[str, Any], list[Deps]]]] = [
        [
            ({"type": "conv", "filters": 2, "kernel": [3, 5], "stride": [1, 2], "padding": [[1, 1], [2, 0]],
              "rounding": "floor"}, [window(3, 1, 1, 1), window(5, 2, 1, 2)]),
            ({"type": "maxpool", "kernel": [2, 3], "stride": [2, 1], "dilation": [1, 2], "rounding": "floor"},
             [window(2, 2), window(3, 1, 2)]),
            ({"type": "pad", "padding": [[0, 1], [3, 0]]}, [pad(0), pad(3)]),
            ({"type": "conv", "filters": 1, "kernel": [1, 2], "stride": [3, 1], "dilation": [1, 3],
              "rounding": "floor"}, [window(1, 3), window(2, 1, 3)]),
        ],
        [
            ({"type": "subsample", "kernel": [2, 3], "stride": [2, 3], "rounding": "floor"},
             [window(2, 2), window(3, 3)]),
            ({"type": "avgpool", "kernel": [3, 2], "stride": 1, "padding": [[2, 0], [1, 1]], "rounding": "floor"},
             [window(3, 1, 1, 2), window(2, 1, 1, 1)]),
            # 30 x 21 in: same_lower pads (30: total 1, 21: total 2) one pixel before on both axes
            ({"type": "conv", "filters": 1, "kernel": 3, "padding": "same_lower", "stride": 2},
             [window(3, 2, 1, 1), window(3, 2, 1, 1)]),
        ],
    ]
    for chain in chains:
        oracle = Oracle()
        layers, previous = [], "input"
        for i, (layer, deps) in enumerate(chain):
            layers.append({"name": f"l{i}", **layer})
            oracle.add(f"l{i}", [previous], deps)
            previous = f"l{i}"
        report = analyze([1, 60, 60], layers)
        for layer in layers:
            assert arch_rf(report[layer["name"]]) == oracle.rf(layer["name"], 2, count=3), layer


def test_same_padding_field_centres() -> None:
    # same_lower on an even input (60/2: total 1, before 1) vs same (before 0): the centres differ
    for mode, before in (("same", 0), ("same_lower", 1)):
        report = analyze([1, 60], [{"name": "c", "type": "conv", "filters": 1, "kernel": 3, "stride": 2,
                                    "padding": mode}])
        oracle = Oracle()
        oracle.add("c", ["input"], [window(3, 2, 1, before)])
        assert arch_rf(report["c"]) == oracle.rf("c", 1)


# -- merges ----------------------------------------------------------------------------------


def test_aligned_branches_merge_to_the_union() -> None:
    """Inception-like concat (1x1, 3x3 pad 1, 5x5 pad 2, 3x3 max pool pad 1) and a ResNet
    projection shortcut (3x3 stride 2 pad 1 + 1x1 stride 2): centres and jumps agree."""
    layers = [
        {"name": "a", "type": "conv", "filters": 2, "kernel": 1, "inputs": "input"},
        {"name": "b", "type": "conv", "filters": 2, "kernel": 3, "padding": 1, "inputs": "input"},
        {"name": "c", "type": "conv", "filters": 2, "kernel": 5, "padding": 2, "dilation": 1, "inputs": "input"},
        {"name": "d", "type": "maxpool", "kernel": 3, "stride": 1, "padding": 1, "inputs": "input"},
        {"name": "cat", "type": "concat", "inputs": ["a", "b", "c", "d"]},
        {"name": "main", "type": "conv", "filters": 8, "kernel": 3, "stride": 2, "padding": 1, "rounding": "floor"},
        {"name": "main2", "type": "conv", "filters": 8, "kernel": 3, "padding": 2, "dilation": 2},
        {"name": "proj", "type": "conv", "filters": 8, "kernel": 1, "stride": 2, "inputs": "cat", "rounding": "floor"},
        {"name": "sum", "type": "add", "inputs": ["main2", "proj"]},
        {"name": "top", "type": "conv", "filters": 1, "kernel": 2, "stride": 2},
    ]
    oracle = Oracle()
    oracle.add("a", ["input"], [window(1)] * 2)
    oracle.add("b", ["input"], [window(3, 1, 1, 1)] * 2)
    oracle.add("c", ["input"], [window(5, 1, 1, 2)] * 2)
    oracle.add("d", ["input"], [window(3, 1, 1, 1)] * 2)
    oracle.add("cat", ["a", "b", "c", "d"], None)
    oracle.add("main", ["cat"], [window(3, 2, 1, 1)] * 2)
    oracle.add("main2", ["main"], [window(3, 1, 2, 2)] * 2)
    oracle.add("proj", ["cat"], [window(1, 2)] * 2)
    oracle.add("sum", ["main2", "proj"], None)
    oracle.add("top", ["sum"], [window(2, 2)] * 2)
    report = analyze([3, 32, 32], layers)
    assert report.warnings == ()
    for name in ("cat", "main", "main2", "proj", "sum", "top"):
        assert arch_rf(report[name]) == oracle.rf(name, 2, count=3), name
    assert report["cat"].rf.size == (5, 5) and report["sum"].rf.size == (15, 15)


def test_misaligned_merges_warn_or_raise() -> None:
    shifted = [
        {"name": "a", "type": "conv", "filters": 1, "kernel": 3, "padding": 1, "inputs": "input"},
        # the same size, but centred one pixel to the left
        {"name": "b", "type": "conv", "filters": 1, "kernel": 3, "padding": [[2, 0]], "inputs": "input"},
        {"name": "m", "type": "add", "inputs": ["a", "b"]},
    ]
    report = analyze([1, 20], shifted)
    assert any(w.startswith("m: receptive fields misaligned") and "centre" in w for w in report.warnings)
    # the field kept is the union of both: input pixels o-2 .. o+1
    oracle = Oracle()
    oracle.add("a", ["input"], [window(3, 1, 1, 1)])
    oracle.add("b", ["input"], [window(3, 1, 1, 2)])
    oracle.add("m", ["a", "b"], None)
    assert arch_rf(report["m"]) == oracle.rf("m", 1) == ((4,), (1,), (Fraction(-1, 2),))
    with pytest.raises(archcalc.ShapeError, match=r"receptive fields misaligned.*centre -1 of 'b' vs 0 of 'a'"):
        analyze([1, 20], shifted, rf_merge="error")

    jumps = [
        {"name": "a", "type": "conv", "filters": 1, "kernel": 1, "stride": 2, "inputs": "input", "rounding": "floor"},
        {"name": "b1", "type": "conv", "filters": 1, "kernel": 5, "inputs": "input"},
        {"name": "b", "type": "conv", "filters": 1, "kernel": 1},
        {"name": "m", "type": "concat", "inputs": ["a", "b"]},
    ]
    report = analyze([1, 8], jumps)
    assert report["a"].shape == report["b"].shape == (1, 4)
    assert any("misaligned" in w and "jump 1 of 'b' vs 2 of 'a'" in w for w in report.warnings)
    with pytest.raises(archcalc.ShapeError, match="jump"):
        analyze([1, 8], jumps, rf_merge="error")


# -- global fields -----------------------------------------------------------------------------


def test_fc_and_global_pooling_are_global() -> None:
    report = analyze([3, 16, 16], [
        {"name": "c", "type": "conv", "filters": 4, "kernel": 3},
        {"name": "g", "type": "global_avgpool"},
        {"name": "after", "type": "conv", "filters": 4, "kernel": 1},
        {"name": "gm", "type": "global_maxpool", "inputs": "c"},
        {"name": "f", "type": "flatten", "inputs": "c"},
        {"name": "fc", "type": "fc", "units": 10},
        {"name": "rbf", "type": "rbf", "units": 3},
        {"name": "x", "type": "conv", "filters": 4, "kernel": 1, "inputs": "c"},
        {"name": "se", "type": "mul", "inputs": ["x", "g"]},
    ])
    assert not report["c"].rf.is_global and not report["f"].rf.is_global
    for name in ("g", "after", "gm", "fc", "rbf", "se"):
        assert report[name].rf.is_global, name
    assert report["g"].rf.to_dict() == {"global": True}


def test_adaptive_pooling_to_one_position_is_global() -> None:
    # squeeze-and-excitation with torchvision's AdaptiveAvgPool2d(1): the gate is global, so the
    # product is global and no misalignment is reported
    report = analyze([8, 7, 7], [
        {"name": "x", "type": "conv", "filters": 8, "kernel": 3, "padding": 1},
        {"name": "sq", "type": "adaptive_avgpool", "size": 1},
        {"name": "ex", "type": "conv", "filters": 8, "kernel": 1},
        {"name": "gate", "type": "sigmoid"},
        {"name": "se", "type": "mul", "inputs": ["x", "gate"]},
        {"name": "row", "type": "adaptive_avgpool", "size": [1, 7], "inputs": "x"},
    ])
    assert report["sq"].rf.is_global and report["se"].rf.is_global and report.warnings == ()
    assert report["row"].rf.size == (9, 3) and not report["row"].rf.is_global


# -- the course notes ----------------------------------------------------------------------


def test_course_notes_examples() -> None:
    stacked = analyze([1, 32, 32], [{"name": f"c{i}", "type": "conv", "filters": 1, "kernel": 3} for i in range(3)])
    assert [stacked[f"c{i}"].rf.size for i in range(3)] == [(3, 3), (5, 5), (7, 7)]
    r = analyze([1, 5, 5], [{"name": "a", "type": "conv", "filters": 1, "kernel": 3, "padding": 1},
                            {"name": "b", "type": "conv", "filters": 1, "kernel": 2}])
    assert r["b"].rf.size == (4, 4)
    r = analyze([1, 5, 5], [{"name": "a", "type": "conv", "filters": 1, "kernel": 4, "padding": 1},
                            {"name": "b", "type": "conv", "filters": 1, "kernel": 2, "stride": 2}])
    assert r["b"].rf.size == (5, 5)
    # the same four against the oracle
    for chain, expected in [
        ([window(3), window(3)], 5),
        ([window(3), window(3), window(3)], 7),
        ([window(3, 1, 1, 1), window(2)], 4),
        ([window(4, 1, 1, 1), window(2, 2)], 5),
    ]:
        oracle = Oracle()
        previous = "input"
        for i, deps in enumerate(chain):
            oracle.add(f"l{i}", [previous], [deps])
            previous = f"l{i}"
        assert oracle.rf(previous, 1)[0] == (expected,)


# -- upsampling and transposed convolution: continuous coordinates -------------------------------


def test_nearest_upsampling_then_3x3_conv() -> None:
    """Nearest x2 then a 3x3 conv: every output truly reads 2 input pixels, but which two
    alternates: outputs 0 and 1 read {0, 1}, outputs 2 and 3 read {1, 2}, ... (true centres
    1/2, 1/2, 3/2, 3/2, ...).

    archcalc's continuous model puts upsampled pixel u at input coordinate (u + 1/2)/2 - 1/2 =
    u/2 - 1/4 with a field of 1 pixel, so conv output o is centred at o/2 + 1/4 with size
    1 + 2 * 1/2 = 2 (the true size), jump 1/2, start 1/4: the true centre is a quarter pixel
    off, alternately right (even o) and left (odd o), and the model's is their mean.
    """
    r = analyze([1, 10, 10], [{"name": "up", "type": "upsample", "scale": 2},
                              {"name": "c", "type": "conv", "filters": 1, "kernel": 3}])
    assert arch_rf(r["up"]) == ((1, 1), (Fraction(1, 2),) * 2, (Fraction(-1, 4),) * 2)
    assert arch_rf(r["c"]) == ((2, 2), (Fraction(1, 2),) * 2, (Fraction(1, 4),) * 2)
    oracle = Oracle()
    oracle.add("up", ["input"], [nearest(2)])
    oracle.add("c", ["up"], [window(3)])
    spans = [oracle.measure("c", (o,)) for o in range(6)]
    assert [s[0] for s in spans] == [(2,)] * 6
    assert [c[0] for _, c in spans] == [Fraction(1, 2), Fraction(1, 2), Fraction(3, 2), Fraction(3, 2),
                                        Fraction(5, 2), Fraction(5, 2)]
    for o, (_, centre) in enumerate(spans):
        assert centre[0] - (Fraction(1, 4) + Fraction(o, 2)) == (Fraction(1, 4) if o % 2 == 0 else Fraction(-1, 4))


def test_continuous_sizes_can_be_fractions() -> None:
    """Nearest x2 then a 2-tap conv: outputs alternately read 1 and 2 input pixels; the model's
    size is their mean, 1 + 1/2 = 3/2. A 2-tap stride-2 conv after that is back on the integer
    grid: size 2 and jump 1 exact, but the model's centre stays a quarter pixel left of the
    true one (o + 1/4 vs o + 1/2): nearest upsampling is not shift-invariant, so no
    (size, jump, start) model is exact through it."""
    r = analyze([1, 10], [{"name": "up", "type": "upsample", "scale": 2},
                          {"name": "c", "type": "conv", "filters": 1, "kernel": 2},
                          {"name": "d", "type": "conv", "filters": 1, "kernel": 2, "stride": 2, "rounding": "floor"}])
    assert arch_rf(r["c"]) == ((Fraction(3, 2),), (Fraction(1, 2),), (0,))
    oracle = Oracle()
    oracle.add("up", ["input"], [nearest(2)])
    oracle.add("c", ["up"], [window(2)])
    oracle.add("d", ["c"], [window(2, 2)])
    assert [oracle.measure("c", (o,))[0] for o in range(4)] == [(1,), (2,), (1,), (2,)]
    # d reads c(2o), c(2o+1) = up(2o..2o+2) = input {o, o+1}
    assert oracle.rf("d", 1) == ((2,), (1,), (Fraction(1, 2),))
    assert arch_rf(r["d"]) == ((2,), (1,), (Fraction(1, 4),))
    assert isinstance(r["d"].rf.size[0], int) and isinstance(r["d"].rf.jump[0], int)


def test_bilinear_upsampling_field() -> None:
    r = analyze([1, 8, 8], [{"name": "up", "type": "upsample", "scale": 2, "mode": "bilinear"},
                            {"name": "c", "type": "conv", "filters": 1, "kernel": 3}])
    # each upsampled pixel interpolates 2 input pixels per axis (half-pixel centres)
    assert arch_rf(r["up"]) == ((2, 2), (Fraction(1, 2),) * 2, (Fraction(-1, 4),) * 2)
    assert arch_rf(r["c"]) == ((3, 3), (Fraction(1, 2),) * 2, (Fraction(1, 4),) * 2)
    oracle = Oracle()
    oracle.add("up", ["input"], [linear(2)])
    oracle.add("c", ["up"], [window(3)])
    for name in ("up", "c"):
        measured = [oracle.measure(name, (o,)) for o in range(2, 6)]
        # the true span is the model's size for every output; the true centres alternate a
        # quarter pixel around the model's, which is their mean over a period
        assert {span for span, _ in measured} == {(r[name].rf.size[0],)}
        true_mean = sum(centre[0] for _, centre in measured) / 4
        model = r[name].rf.start[0] + r[name].rf.jump[0] * Fraction(2 + 5, 2)
        assert true_mean == model
    # upsampling a size-1 axis copies it: one pixel
    assert analyze([1, 1, 8], [{"name": "u", "type": "upsample", "scale": 2, "mode": "bilinear"}])["u"].rf.size == (
        1, 2)


@pytest.mark.parametrize("k,s,d,p", list(itertools.product((1, 2, 3, 4, 5), (1, 2, 3), (1, 2, 3), (0, 1, 2))))
def test_transposed_conv_field(k: int, s: int, d: int, p: int) -> None:
    """The largest true field of an output (in input pixels) is archcalc's size; the jump is
    1/s; the start is the centre of the taps, (p - (k-1)d/2)/s, which is the mean of the true
    centres over a period of outputs whenever every residue class of taps is non-empty."""
    r = analyze([1, 10], [{"name": "t", "type": "conv_transpose", "filters": 1, "kernel": k, "stride": s,
                             "dilation": d, "padding": p}])
    oracle = Oracle()
    oracle.add("t", ["input"], [transposed(k, s, d, p)])
    period = list(range(20 * s, 20 * s + s * d))  # a whole period of the output pattern, far from 0
    measured = [(o, oracle.measure("t", (o,))) for o in period if oracle.field("t", (o,))]
    got_size, got_jump, got_start = arch_rf(r["t"])
    assert got_size == (max(span[0] for _, (span, _) in measured),)
    assert got_jump == (Fraction(1, s),)
    assert got_start == (Fraction(2 * p - (k - 1) * d, 2 * s),)
    if k >= s // gcd(s, d):
        offsets = [centre[0] - Fraction(o, s) for o, (_, centre) in measured]
        assert sum(offsets) / len(offsets) == got_start[0]


def test_transposed_conv_then_conv_matches_true_span() -> None:
    # 4x4 stride-2 pad-1 deconvolution (DCGAN) then a 3x3 conv: every output reads 3 input pixels
    r = analyze([1, 8], [{"name": "t", "type": "conv_transpose", "filters": 1, "kernel": 4, "stride": 2,
                          "padding": 1},
                         {"name": "c", "type": "conv", "filters": 1, "kernel": 3, "padding": 1}])
    oracle = Oracle()
    oracle.add("t", ["input"], [transposed(4, 2, 1, 1)])
    oracle.add("c", ["t"], [window(3, 1, 1, 1)])
    assert {oracle.measure("c", (o,))[0] for o in range(10)} == {(3,)}
    assert arch_rf(r["c"])[0] == (3,)


# -- adaptive pooling --------------------------------------------------------------------------


def test_adaptive_pooling_field() -> None:
    """Windows [floor(iN/n), ceil((i+1)N/n)). Divisible: an ordinary k = N/n window. Otherwise
    the longest window, the mean step N/n, and (continuous coordinates, as resize) output o
    centred at (o + 1/2) N/n - 1/2, which is the mean of the true window centres."""
    r = analyze([1, 12], [{"name": "a", "type": "adaptive_avgpool", "size": 4}])
    oracle = Oracle()
    oracle.add("a", ["input"], [window(3, 3)])
    assert arch_rf(r["a"]) == oracle.rf("a", 1)
    for n_in, n_out in [(5, 3), (7, 3), (10, 4), (3, 5), (7, 7), (13, 2)]:
        r = analyze([1, n_in], [{"name": "a", "type": "adaptive_avgpool", "size": n_out}])
        windows = [((i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)) for i in range(n_out)]
        centres = [Fraction(a + b - 1, 2) for a, b in windows]
        size, jump, start = arch_rf(r["a"])
        assert size == (max(b - a for a, b in windows),)
        assert jump == (Fraction(n_in, n_out),)
        assert start == (Fraction(n_in, 2 * n_out) - Fraction(1, 2),)
        # symmetric windows: the model's centres and the true ones have the same mean
        assert sum(centres) / n_out == start[0] + jump[0] * Fraction(n_out - 1, 2)
        # and the first true centre is within half a pixel of the model's
        assert abs(centres[0] - start[0]) <= Fraction(1, 2)


def test_split_along_a_spatial_axis_shifts_each_part() -> None:
    """Part i of a split along W starts sum(sizes[:i]) pixels in: its field centre moves with it."""
    r = archcalc.analyze(archcalc.load({"input": [1, 8, 10], "layers": [
        {"name": "sp", "type": "split", "sizes": [4, 6], "axis": 2},
        {"name": "a", "type": "relu", "inputs": "sp:0"},
        {"name": "b", "type": "relu", "inputs": "sp:1"},
    ]}))
    assert r["a"].rf.start == (0, 0)
    assert r["b"].rf.start == (0, 4)  # output 0 of part 1 is input column 4
    assert r["b"].rf.size == (1, 1) and r["b"].rf.jump == (1, 1)


# -- transposes carry the fields with their axes; a weight over the channels keeps them --------------


def test_channels_last_permute_and_linear_keep_the_field() -> None:
    """ConvNeXt as torchvision runs it (Permute to N x H x W x C, LayerNorm, Linear, Permute back):
    a 3x3 conv's field (3 j1) survives, and the next 3x3 conv grows it to 5 = 3 + 2."""
    rep = analyze([4, 9, 9], [
        {"name": "c1", "type": "conv", "filters": 4, "kernel": 3, "padding": 1},
        {"name": "last", "type": "transpose", "perm": [1, 2, 0]},
        {"name": "norm", "type": "layernorm", "over": "last", "axes": 1},
        {"name": "lin", "type": "matmul", "units": 8},
        {"name": "first", "type": "transpose", "perm": [2, 0, 1]},
        {"name": "c2", "type": "conv", "filters": 4, "kernel": 3, "padding": 1},
    ])
    for name in ("last", "norm", "lin", "first"):
        assert (rep[name].rf.size, rep[name].rf.jump) == ((3, 3), (1, 1)), name
    assert rep["lin"].rf.channel == 2 and rep["first"].rf.channel == 0
    assert rep["lin"].rf.to_dict()["channel_axis"] == 2 and "channel_axis" not in rep["c2"].rf.to_dict()
    assert rep["c2"].rf.size == (5, 5)


def test_a_permute_that_moves_a_spatial_axis_first_keeps_it() -> None:
    """H x C x W and back: the H field is carried, not dropped (the 5x3 conv's field is 5 x 3)."""
    rep = analyze([2, 10, 10], [
        {"name": "c", "type": "conv", "filters": 2, "kernel": [5, 3]},
        {"name": "hcw", "type": "transpose", "perm": [1, 0, 2]},
        {"name": "back", "type": "transpose", "perm": [1, 0, 2]},
    ])
    assert rep["hcw"].rf.size == (5, 3) and rep["hcw"].rf.channel == 1
    assert rep["back"].rf == rep["c"].rf


def test_a_weight_over_a_spatial_axis_and_windows_on_permuted_tensors() -> None:
    rep = analyze([2, 6, 6], [
        {"name": "mix_w", "type": "matmul", "units": 6},   # mixes the width: global
        {"name": "t", "type": "transpose", "perm": [1, 2, 0], "inputs": "input"},
        {"name": "pool", "type": "maxpool", "kernel": 2},  # a window over (W, C): not the spatial axes
    ])
    assert rep["mix_w"].rf.is_global
    assert rep["pool"].rf.is_unknown
