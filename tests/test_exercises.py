"""Every exercise of the course notes (published.yaml `exercises`), through the API.

Source: CSC413 Lecture 4 exercises, as listed in tests/reference/published.yaml.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

import archcalc


def net(input_shape: list[int], *layers: dict[str, Any]) -> archcalc.Report:
    return archcalc.analyze(archcalc.load({"input": input_shape, "layers": list(layers)}))


def exercise(published: dict[str, Any], start: str) -> dict[str, Any]:
    matches = [e for e in published["exercises"] if e["what"].startswith(start)]
    assert len(matches) == 1, start
    return matches[0]


def test_every_exercise_is_covered(published: dict[str, Any]) -> None:
    covered = [
        "7x7 greyscale input, 3x3 conv", "3x7x7 input", "5x32x32 input", "200x200 greyscale",
        "3x200x200 input", "30x30x3 input, locally", "30x30x3 input, conv", "7x7 input, 3x3 kernel, stride 1",
        "7x7 input, 3x3 kernel, stride 3", "one 7x7 conv", "receptive field of two", "3x3 conv pad 1",
        "4x4 conv pad 1", "32x32x200 -> 32x32x32", "same via 1x1", "global average pooling",
        "3 multiply-adds per connection",
    ]
    assert len(published["exercises"]) == len(covered)
    for start in covered:
        exercise(published, start)


def test_units_of_a_3x3_conv_on_7x7(published: dict[str, Any]) -> None:
    ex = exercise(published, "7x7 greyscale input, 3x3 conv")
    r = net([1, 7, 7], {"name": "c", "type": "conv", "filters": 1, "kernel": 3})
    assert r["c"].units == ex["units"] == 25


def test_3x7x7_five_filters(published: dict[str, Any]) -> None:
    ex = exercise(published, "3x7x7 input")
    r = net([3, 7, 7], {"name": "c", "type": "conv", "filters": 5, "kernel": 3, "bias": "none"})
    assert (r["c"].units, r["c"].weights) == (ex["units"], ex["weights"]) == (125, 135)


def test_5x32x32_ten_filters(published: dict[str, Any]) -> None:
    ex = exercise(published, "5x32x32 input")
    r = net([5, 32, 32], {"name": "c", "type": "conv", "filters": 10, "kernel": 3, "bias": "none"})
    assert (r["c"].units, r["c"].weights) == (ex["units"], ex["weights"]) == (9000, 450)


def test_fully_connected_200x200_to_500(published: dict[str, Any]) -> None:
    ex = exercise(published, "200x200 greyscale")
    r = net([1, 200, 200], {"name": "fc", "type": "fc", "units": 500})
    assert r["fc"].params == ex["params"] == 20_000_500


def test_fully_connected_3x200x200_to_1000(published: dict[str, Any]) -> None:
    ex = exercise(published, "3x200x200 input")
    r = net([3, 200, 200], {"name": "fc", "type": "fc", "units": 1000, "bias": "none"})
    assert r["fc"].weights == ex["weights"] == 120_000_000


def test_locally_connected_vs_shared(published: dict[str, Any]) -> None:
    local = exercise(published, "30x30x3 input, locally")
    shared = exercise(published, "30x30x3 input, conv")
    r = net([3, 30, 30], {"name": "lc", "type": "locally_connected", "filters": 5, "kernel": 7, "bias": "none"})
    assert r["lc"].weights == local["weights"] == 423_360
    r = net([3, 30, 30], {"name": "c", "type": "conv", "filters": 5, "kernel": 7, "bias": "none"})
    assert r["c"].weights == shared["weights"] == 735


def test_output_size_stride_1_and_2(published: dict[str, Any]) -> None:
    ex = exercise(published, "7x7 input, 3x3 kernel, stride 1")
    sizes = [
        net([1, 7, 7], {"name": "c", "type": "conv", "filters": 1, "kernel": 3, "stride": s})["c"].shape[1]
        for s in (1, 2)
    ]
    assert sizes == ex["output"] == [5, 3]


def test_stride_3_does_not_fit(published: dict[str, Any]) -> None:
    ex = exercise(published, "7x7 input, 3x3 kernel, stride 3")
    assert "2.33" in ex["error"]
    with pytest.raises(archcalc.ShapeError) as info:
        net([1, 7, 7], {"name": "c", "type": "conv", "filters": 1, "kernel": 3, "stride": 3, "rounding": "exact"})
    message = str(info.value)
    assert "layer c" in message
    assert "(7 - 3)/3 + 1 = 2.33" in message
    assert "padding" in message and "rounding: floor (gives 2)" in message and "rounding: ceil (gives 3)" in message
    # the suggested fixes work
    padded = net([1, 7, 7], {"name": "c", "type": "conv", "filters": 1, "kernel": 3, "stride": 3,
                             "padding": [[0, 2], [0, 2]]})
    assert padded["c"].shape == (1, 3, 3)
    floor = net([1, 7, 7], {"name": "c", "type": "conv", "filters": 1, "kernel": 3, "stride": 3, "rounding": "floor"})
    assert floor["c"].shape == (1, 2, 2)


def test_one_7x7_versus_three_3x3(published: dict[str, Any]) -> None:
    ex = exercise(published, "one 7x7 conv")
    c = 64
    one = net([c, 32, 32], {"name": "a", "type": "conv", "filters": c, "kernel": 7, "padding": 3, "bias": "none"})
    three = net(
        [c, 32, 32],
        *({"name": f"b{i}", "type": "conv", "filters": c, "kernel": 3, "padding": 1, "bias": "none"} for i in range(3)),
    )
    assert [one.totals.weights, three.totals.weights] == ex["weights"] == [49 * c * c, 27 * c * c]
    # and they see the same receptive field
    assert one["a"].rf.size == three["b2"].rf.size == (7, 7)


def test_receptive_field_of_stacked_3x3(published: dict[str, Any]) -> None:
    ex = exercise(published, "receptive field of two")
    layers = [{"name": f"c{i}", "type": "conv", "filters": 1, "kernel": 3} for i in range(3)]
    r = net([1, 32, 32], *layers)
    assert [r["c1"].rf.size[0], r["c2"].rf.size[0]] == ex["receptive_field"] == [5, 7]


def test_receptive_field_3x3_then_2x2(published: dict[str, Any]) -> None:
    ex = exercise(published, "3x3 conv pad 1")
    r = net([1, 5, 5], {"name": "a", "type": "conv", "filters": 1, "kernel": 3, "padding": 1},
            {"name": "b", "type": "conv", "filters": 1, "kernel": 2})
    assert r["b"].rf.size == (ex["receptive_field"],) * 2 == (4, 4)


def test_receptive_field_4x4_then_2x2_stride_2(published: dict[str, Any]) -> None:
    ex = exercise(published, "4x4 conv pad 1")
    r = net([1, 5, 5], {"name": "a", "type": "conv", "filters": 1, "kernel": 4, "padding": 1},
            {"name": "b", "type": "conv", "filters": 1, "kernel": 2, "stride": 2})
    assert r["a"].shape == (1, 4, 4) and r["b"].shape == (1, 2, 2)
    assert r["b"].rf.size == (ex["receptive_field"],) * 2 == (5, 5)
    # the first 4x4 kernel over 1 pixel of padding is centred on a half pixel
    assert r["a"].rf.start == (Fraction(1, 2), Fraction(1, 2))


def test_5x5_same_conv_macs(published: dict[str, Any]) -> None:
    ex = exercise(published, "32x32x200 -> 32x32x32")
    r = net([200, 32, 32], {"name": "c", "type": "conv", "filters": 32, "kernel": 5, "padding": "same", "bias": "none"})
    assert r["c"].shape == (32, 32, 32)
    assert r["c"].macs == ex["macs"] == 163_840_000


def test_bottleneck_macs(published: dict[str, Any]) -> None:
    ex = exercise(published, "same via 1x1")
    r = net([200, 32, 32], {"name": "a", "type": "conv", "filters": 16, "kernel": 1, "bias": "none"},
            {"name": "b", "type": "conv", "filters": 32, "kernel": 5, "padding": "same", "bias": "none"})
    assert r.totals.macs == ex["macs"] == 16_384_000


def test_global_average_pooling(published: dict[str, Any]) -> None:
    ex = exercise(published, "global average pooling")
    assert ex["output"] == "1 x 1 x d" and ex["params"] == 0
    r = net([37, 13, 11], {"name": "g", "type": "global_avgpool"})
    assert r["g"].shape == (37, 1, 1)
    assert r["g"].params == 0
    assert r["g"].rf.is_global


def test_training_is_three_times_forward(published: dict[str, Any]) -> None:
    ex = exercise(published, "3 multiply-adds per connection")
    assert "3x" in ex["note"]
    r = net([3, 32, 32], {"name": "c", "type": "conv", "filters": 8, "kernel": 3})
    assert r.totals.training_flops == 3 * r.totals.flops


def test_stride_3_floors_by_default_with_a_note_and_strict_refuses(published: dict[str, Any], tmp_path: Any) -> None:
    """Issue 11, friendlier defaults: frameworks floor, so does archcalc; the note keeps the
    arithmetic of the exercise, and --strict (or rounding: exact) makes it the error again."""
    ex = exercise(published, "7x7 input, 3x3 kernel, stride 3")
    assert "2.33" in ex["error"]
    spec = tmp_path / "ex.yaml"
    spec.write_text("input: [1, 7, 7]\nlayers:\n  - {name: c, type: conv, filters: 1, kernel: 3, stride: 3}\n")
    report = archcalc.analyze(archcalc.load(spec))
    assert report["c"].shape == (1, 2, 2)  # floor((7 - 3)/3) + 1
    assert report.notes == ("c: rounding floor along H and W: (7 - 3)/3 + 1 = 2.33 gives 2, so the last 1 input "
                            "pixel is never read (pad 2 more pixels, or rounding: ceil, to read it; rounding: exact "
                            "makes this an error)",)
    assert report.warnings == ()
    from tests.test_cli import run

    code, out, _ = run("report", str(spec))
    assert code == 0 and "note: c: rounding floor along H and W: (7 - 3)/3 + 1 = 2.33 gives 2" in out
    code, out, err = run("report", str(spec), "--strict")
    assert code == 2 and out == "" and err.startswith(f"archcalc: {spec}:3: layer c: rounding floor along H and W")
    # a stride that leaves only padding unread, or skips no more than its own gap, is not worth a note
    quiet = archcalc.analyze(archcalc.load({"input": [3, 56, 56], "layers": [
        {"name": "a", "type": "conv", "filters": 4, "kernel": 3, "stride": 2, "padding": 1},
        {"name": "b", "type": "conv", "inputs": "input", "filters": 4, "kernel": 1, "stride": 2}]}))
    assert quiet.notes == ()
