"""Issue 11, blocks that see their input: ``${in.channels}`` / ``height`` / ``width`` / ``shape``
inside a block, ``${LAYER.out.channels}`` for any layer above, ``repeat: 0``; each error one line
with file, line and layer. Expected shapes are hand arithmetic written next to each check."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

import archcalc
from archcalc.language.expressions import names_of
from archcalc.language.variables import names_in

INVERTED = """
input: [32, 112, 112]
defaults: {conv: {bias: none, rounding: floor}}
blocks:
  ir:
    params: {t: 6, filters: required, stride: 1}
    layers:
      - {name: expand, type: conv, filters: "${in.channels * t}", kernel: 1, when: "${t != 1}"}
      - {name: dw, type: depthwise_conv, kernel: 3, stride: "${stride}", padding: 1}
      - {name: project, type: conv, filters: "${filters}", kernel: 1}
      - {name: add, type: add, inputs: [project, input], when: "${stride == 1 and in.channels == filters}"}
layers:
  - {name: s1, block: ir, with: {t: 1, filters: 16}}
  - {name: s2, block: ir, repeat: 2, with: {filters: 24}, first: {stride: 2}}
  - {name: s3, block: ir, repeat: 0, with: {filters: 24}}
  - {name: head, type: conv, filters: "${s2.out.channels * 2}", kernel: "${s2.0.out.height}"}
"""


def load(text: str, **kw: Any) -> archcalc.Graph:
    return archcalc.load(yaml.safe_load(text), **kw)


def test_inverted_residual_written_once() -> None:
    graph = load(INVERTED)
    rep = archcalc.analyze(graph)
    assert "s1.expand" not in graph.layers  # t = 1: no expansion conv
    assert rep["s1.project"].shape == (16, 112, 112)
    assert rep["s2.0.expand"].shape == (16 * 6, 112, 112)  # in.channels = 16 (s1's output)
    assert rep["s2.1.expand"].shape == (24 * 6, 56, 56)  # in.channels = 24 (s2.0's output)
    assert "s2.0.add" not in graph.layers  # stride 2: no residual
    assert "s1.add" not in graph.layers  # 32 -> 16 channels: no residual
    assert graph["s2.1.add"].inputs == (("s2.1.project", 0), ("s2.0.project", 0))
    # repeat 0: s3 vanishes, head reads s2's output; filters = 24 * 2, kernel = s2.0's height 56
    assert not any(n.startswith("s3") for n in graph.layers)
    assert graph["head"].inputs == (("s2.1.add", 0),)
    assert rep["head"].shape == (48, 1, 1)


def test_in_shape_is_a_list_and_width_height() -> None:
    graph = load("""
input: [3, 20, 30]
blocks:
  b: {layers: [{name: r, type: reshape, shape: "${in.shape}"},
               {name: c, type: conv, filters: "${in.height + in.width}", kernel: 1}]}
layers: [{name: u, block: b}]
""")
    assert graph["u.r"].attrs["shape"] == (3, 20, 30)
    assert graph["u.c"].attrs["filters"] == 50


def test_top_level_in_is_the_network_input() -> None:
    graph = load("input: [5, 8, 8]\nlayers: [{name: c, type: conv, filters: '${in.channels * 2}', kernel: 1}]\n")
    assert graph["c"].attrs["filters"] == 10


def test_block_default_sees_in() -> None:
    graph = load("""
input: [8, 4, 4]
blocks:
  b:
    params: {mid: "${in.channels // 2}"}
    layers: [{name: c, type: conv, filters: "${mid}", kernel: 1}]
layers: [{name: u, block: b, repeat: 3}]
""")
    assert [graph[f"u.{i}.c"].attrs["filters"] for i in range(3)] == [4, 2, 1]


def test_dotted_names_in_dependency_tracking() -> None:
    assert names_of("in.channels * t == filters") == {"in.channels", "t", "filters"}
    assert names_of("stage2.0.out.width") == {"stage2.0.out.width"}
    assert names_in({"a": "${in.channels + k}", "b": ["${x.out.height}"]}) == {"in.channels", "k", "x.out.height"}
    # a variable called 'channels' is not mistaken for a dependency of in.channels
    graph = load("variables: {channels: 7}\ninput: [3, 4, 4]\n"
                 "layers: [{name: c, type: conv, filters: '${in.channels + channels}', kernel: 1}]\n")
    assert graph["c"].attrs["filters"] == 10


def test_shapes_follow_skipped_layers_and_forward_inputs_of_earlier_layers() -> None:
    graph = load("""
input: [4, 8, 8]
layers:
  - {name: a, type: conv, filters: 6, kernel: 1}
  - {name: skip, type: conv, filters: 99, kernel: 1, when: false}
  - {name: b, type: conv, filters: "${skip.out.channels + 1}", kernel: 1}
""")
    assert graph["b"].attrs["filters"] == 7


@pytest.mark.parametrize(("expr", "words"), [
    ("${later.out.channels}", ("'later' is not a layer expanded before this point", "layers above")),
    ("${in.chanels}", ("unknown shape attribute 'chanels'", "did you mean 'channels'")),
    ("${foo.bar}", ("'foo.bar' is no shape reference", "in.channels")),
    ("${aa.out.channels}", ("(did you mean 'a'?)",)),
    ("${c.out.channels}", ("'c' is not a layer expanded before this point",)),
])
def test_shape_reference_errors(tmp_path: Any, expr: str, words: tuple[str, ...]) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("input: [4, 8, 8]\nlayers:\n  - {name: a, type: conv, filters: 6, kernel: 1}\n"
                    f"  - {{name: c, type: conv, filters: '{expr}', kernel: 1}}\n"
                    "  - {name: later, type: relu}\n")
    with pytest.raises(archcalc.ArchcalcError) as info:
        archcalc.load(path)
    text = str(info.value)
    assert "\n" not in text and f"{path}:4" in text and "layer c" in text
    for word in words:
        assert word in text


def test_shape_error_inside_a_block_names_the_use_site(tmp_path: Any) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("input: [32, 8]\nblocks:\n  b: {layers: [{name: c, type: fc, units: '${in.width}'}]}\n"
                    "layers: [{name: u, block: b}]\n")
    with pytest.raises(archcalc.VariableError) as info:
        archcalc.load(path)
    text = str(info.value)
    assert "has no width" in text and "layer c:" in text and "used by u at line 4" in text


def test_shape_of_a_bad_layer_is_its_own_error() -> None:
    with pytest.raises(archcalc.ShapeError, match="layer a"):
        load("input: [4, 8, 8]\nlayers:\n  - {name: a, type: conv, filters: 6, kernel: 9}\n"
             "  - {name: b, type: conv, filters: '${a.out.channels}', kernel: 1}\n")


def test_repeat_zero_and_negative() -> None:
    graph = load("input: [4, 8, 8]\nblocks: {b: [{type: relu}]}\n"
                 "layers: [{name: u, block: b, repeat: 0}, {name: c, type: conv, filters: 2, kernel: 1}]\n")
    assert graph["c"].inputs == (("input", 0),)
    with pytest.raises(archcalc.SpecError, match="repeat must be a non-negative integer"):
        load("input: [4, 8, 8]\nblocks: {b: [{type: relu}]}\nlayers: [{name: u, block: b, repeat: -1}]\n")


def test_long_chain_shapes_are_iterative() -> None:
    """3000 layers and one shape reference at the end: no recursion limit."""
    layers = "".join("  - relu\n" for _ in range(3000))
    graph = load(f"input: [4, 8, 8]\nlayers:\n{layers}  - {{name: c, type: conv, filters: '${{in.channels}}', "
                 "kernel: 1}\n  - {name: d, type: conv, filters: '${relu3000.out.width}', kernel: 1}\n")
    assert graph["d"].attrs["filters"] == 8


def test_bundled_mobilenet_v2_structure() -> None:
    """Sandler et al. 2018, Table 2: residual adds where stride 1 and c_in == c (stage2: 1,
    stage3: 2, stage4: 3, stage5: 2, stage6: 2 = 10); the expansion conv is 6 x its input width."""
    rep = archcalc.analyze(archcalc.load("mobilenet_v2"))
    assert sum(1 for r in rep if r.kind == "add") == 10
    assert rep["stage5.0.expand.conv"].shape[0] == 6 * 64  # stage4 ends with 64 channels
    assert "stage5.0.add" not in [r.name for r in rep]  # 64 -> 96: no residual
    assert rep["head.conv"].shape == (1280, 7, 7)


def test_bundled_densenet121_widths() -> None:
    """Huang et al. 2017: 64 + 6*32 = 256 -> 128; 128 + 12*32 = 512 -> 256; 256 + 24*32 = 1024 -> 512;
    512 + 16*32 = 1024 at 7x7."""
    rep = archcalc.analyze(archcalc.load("densenet121"))
    assert [rep[f"transition{i}.conv"].shape[0] for i in (1, 2, 3)] == [128, 256, 512]
    assert rep["block4.15.concat"].shape == (1024, 7, 7)


@pytest.mark.parametrize(("shape", "noted"), [
    ([32, 32, 3], True), ([224, 224, 1], True), ([64, 64, 4], True),
    ([3, 32, 32], False), ([1, 32, 32], False), ([3, 224, 224], False), ([4, 4, 3], False), ([32, 32], False),
])
def test_channels_last_input_gets_a_warning(shape: list[int], noted: bool) -> None:
    kind = "conv, filters: 2, kernel: 1" if len(shape) == 3 else "relu"
    rep = archcalc.analyze(load(f"input: {shape}\nlayers: [{{type: {kind}}}]\n"))
    notes = [n for n in rep.warnings if "channels-last" in n]
    assert bool(notes) is noted
    if noted:
        assert f"did you mean [{shape[2]}, {shape[0]}, {shape[1]}]?" in notes[0]


FUSE = """
input: [8, 16, 16]
blocks:
  fuse:
    inputs: [main, skip]
    layers:
      - {name: up, type: upsample, scale: 2}
      - {name: reduce, type: conv, filters: "${skip.out.channels}", kernel: 1}
      - {name: cat, type: concat, inputs: [reduce, skip]}
layers:
  - {name: enc, type: conv, filters: 4, kernel: 3, padding: 1}
  - {name: down, type: maxpool, kernel: 2, stride: 2}
  - {name: down2, type: maxpool, kernel: 2, stride: 2}
  - {name: f, block: fuse, inputs: [down2, down]}
  - {name: g, block: fuse, inputs: [f, input]}
"""


def test_block_with_several_inputs() -> None:
    graph = load(FUSE)
    rep = archcalc.analyze(graph)
    assert graph["f.up"].inputs == (("down2", 0),)  # the first input is `input`
    assert graph["f.cat"].inputs == (("f.reduce", 0), ("down", 0))
    assert rep["f.cat"].shape == (4 + 4, 8, 8)  # reduce to down's 4 channels, then concat with down
    assert rep["g.cat"].shape == (8 + 8, 16, 16)  # skip is the network input (8 channels)


@pytest.mark.parametrize(("use", "words"), [
    ("{name: f, block: fuse}", "block 'fuse' takes 2 inputs (main, skip), got 1"),
    ("{name: f, block: fuse, inputs: [enc, enc, enc]}", "takes 2 inputs (main, skip), got 3"),
])
def test_block_input_count_errors(use: str, words: str) -> None:
    text = FUSE.split("  - {name: f,")[0] + f"  - {use}\n"
    with pytest.raises(archcalc.GraphError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load(text)
    with pytest.raises(archcalc.SpecError, match="inputs of block 'b' must be a list of distinct names"):
        load("input: [1, 4, 4]\nblocks: {b: {inputs: [a, a], layers: [relu]}}\nlayers: [{block: b}]\n")


def test_shape_reference_outside_layers_says_where_shapes_are_known() -> None:
    with pytest.raises(archcalc.VariableError, match="shapes are known in layers and block parameters"):
        load("variables: {c: '${in.channels}'}\ninput: [3, 4, 4]\nlayers: [relu]\n")
