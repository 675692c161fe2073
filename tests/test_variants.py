"""Issue 11, named variants and reuse: ``variants:``, ``spec:variant`` and bundled variant names
everywhere a spec is accepted (report, check, tables, sweep, export, the API), ``archcalc list``,
and ``extends:`` with errors naming both files. Published figures come from
tests/reference/published.yaml (through the specs' expected: blocks) and the torchvision docs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import archcalc
from archcalc.cli import main
from archcalc.zoo import bundled_variants, resolve, spec_path
from tests.conftest import SPECS

BASE = """\
name: base
input: [3, 8, 8]
variables: {width: 8, depth: 2}
variants: {small: {width: 4}, big: {width: 16, depth: 3}}
blocks:
  unit:
    params: {filters: required}
    layers:
      - {name: conv, type: conv, filters: "${filters}", kernel: 3, padding: 1}
      - relu
layers:
  - {name: body, block: unit, repeat: "${depth}", with: {filters: "${width}"}}
  - {name: head, type: fc, units: 10}
expected:
  - {source: "hand: 3*8*9+8 + 8*8*9+8 + 8*64*10+10 = 5938", totals: {params: 5938}}
  - {source: "hand: 3*4*9+4 + 4*4*9+4 + 4*64*10+10 = 2830", variant: small, totals: {params: 2830}}
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def base(tmp_path: Path) -> Path:
    path = tmp_path / "base.yaml"
    path.write_text(BASE)
    return path


def test_resolve_names() -> None:
    assert resolve("vgg19") == (SPECS.resolve() / "vgg.yaml", "vgg19")
    assert resolve("vgg:vgg11") == (SPECS.resolve() / "vgg.yaml", "vgg11")
    assert resolve("resnet152_v1")[1] == "resnet152_v1"
    assert resolve("resnet34") == (SPECS.resolve() / "resnet34.yaml", None)  # a spec's own name wins
    assert spec_path("vgg19") == SPECS.resolve() / "vgg.yaml"
    assert set(bundled_variants()) >= {"vgg11", "vgg11_lrn", "vgg13", "vgg16c", "vgg16", "vgg19", "resnet18",
                                       "resnet34", "resnet50", "resnet101", "resnet152", "resnet50_v1",
                                       "resnet101_v1", "resnet152_v1"}
    with pytest.raises(archcalc.SpecError, match=r"did you mean 'vgg19'"):
        resolve("vgg91")


@pytest.mark.parametrize(("name", "params"), [
    # published.yaml vgg_table2 params_exact
    ("vgg11", 132863336), ("vgg11_lrn", 132863336), ("vgg13", 133047848), ("vgg16c", 133638952),
    ("vgg16", 138357544), ("vgg19", 143667240), ("vgg:vgg19", 143667240),
    # torchvision docs: resnet18/34/50/101/152 num_params
    ("resnet18:resnet18", 11689512), ("resnet18:resnet34", 21797672), ("resnet50", 25557032),
    ("resnet101", 44549160), ("resnet152", 60192808), ("resnet152_v1", 60192808),
])
def test_bundled_variants_reproduce_published_params(name: str, params: int) -> None:
    graph = archcalc.load(name)
    assert archcalc.analyze(graph).totals.params == params
    assert all(c.ok for c in archcalc.check(graph))


def test_variant_macs_follow_the_stride_placement() -> None:
    """published.yaml resnet_table1 / torchvision: ResNet-50 with the stride on the 3x3 has
    4,089,184,256 multiply-adds; the paper's placement (on the 1x1) is fewer, and the same params."""
    tv = archcalc.analyze(archcalc.load("resnet50"), preset="paper_macs").totals
    paper = archcalc.analyze(archcalc.load("resnet50_v1"), preset="paper_macs").totals
    assert tv.macs == 4089184256 and paper.macs < tv.macs and paper.params == tv.params


def test_resnet34_spec_equals_the_variant() -> None:
    a = archcalc.analyze(archcalc.load(SPECS / "resnet34.yaml"))
    b = archcalc.analyze(archcalc.load("resnet18:resnet34"))
    assert a.totals == b.totals and [r.name for r in a] == [r.name for r in b]


def test_variant_of_a_path_and_overrides(base: Path) -> None:
    small = archcalc.load(f"{base}:small")
    assert small.name == "small" and small["body.0.conv"].attrs["filters"] == 4
    assert archcalc.load(f"{base}:big", variables={"depth": 1})["body.0.conv"].attrs["filters"] == 16
    assert "body.1.conv" not in archcalc.load(f"{base}:big", variables={"depth": 1}).layers
    # check: the variant keeps the entries about its own values (here: the 'small' one)
    checks = archcalc.check(small)
    assert [c.expected for c in checks] == [2830] and checks[0].ok
    assert [c.ok for c in archcalc.check(archcalc.load(base))] == [True, True]


def test_variant_errors(base: Path, tmp_path: Path) -> None:
    with pytest.raises(archcalc.SpecError, match=r"no variant 'smal' \(did you mean 'small'\?\); variants: small, big"):
        archcalc.load(f"{base}:smal")
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.replace("big: {width: 16", "big: {widht: 16"))
    with pytest.raises(archcalc.SpecError) as info:
        archcalc.load(bad)
    assert f"{bad}:4" in str(info.value) and "'widht'" in str(info.value) and "did you mean 'width'" in str(info.value)


def test_cli_commands_take_variants(base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "report", "vgg19", "--format", "json")
    assert code == 0 and json.loads(out)["totals"]["params"] == 143667240 and json.loads(out)["name"] == "vgg19"
    code, out, _ = run(capsys, "report", "vgg:vgg19", "--var", "lrn=true", "--format", "json")
    assert code == 0 and json.loads(out)["totals"]["params"] == 143667240
    code, out, _ = run(capsys, "check", "vgg19")
    assert code == 0 and "vgg19: 4 of 4 published figures reproduced" in out
    code, out, _ = run(capsys, "tables", "vgg19")
    assert code == 0 and "143,667,240" in out and "4 of 4 published figures reproduced" in out
    code, out, _ = run(capsys, "sweep", f"{base}:big", "--vary", "depth=1,2", "--format", "json")
    assert code == 0
    rows = json.loads(out)["rows"]
    assert [r["params"] for r in rows] == [3 * 16 * 9 + 16 + 16 * 64 * 10 + 10,
                                          3 * 16 * 9 + 16 + 16 * 16 * 9 + 16 + 16 * 64 * 10 + 10]
    onnx = tmp_path / "v.onnx"
    code, _, err = run(capsys, "export", f"{base}:small", "-o", str(onnx))
    assert code == 0, err
    assert onnx.exists()


def test_list_shows_variables_and_variants(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list")
    assert code == 0
    assert "    variables: n1=2, n2=2, n3=3, n4=3, n5=3, conv1x1=false, lrn=false\n" in out
    assert "    variant vgg19 (vgg:vgg19): n1=2, n2=2, n3=4, n4=4, n5=4\n" in out
    assert "variant resnet152_v1 (resnet50:resnet152_v1)" in out


# --- extends ---------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_extends_merges_and_overrides(base: Path, tmp_path: Path) -> None:
    child = write(tmp_path, "child.yaml", "extends: base.yaml:big\nname: child\nvariables: {width: 32}\n"
                  "expected: [{source: hand, totals: {params: 39882}}]\n")
    graph = archcalc.load(child)
    # big: depth 3; width overridden to 32: 3*32*9+32 + 2*(32*32*9+32) + 32*64*10+10
    assert graph.name == "child" and graph["body.2.conv"].attrs["filters"] == 32
    assert archcalc.analyze(graph).totals.params == 3 * 32 * 9 + 32 + 2 * (32 * 32 * 9 + 32) + 32 * 64 * 10 + 10
    assert [(c.expected, c.ok) for c in archcalc.check(graph)] == [(39882, True)]  # the base's expected: is not inherited
    assert graph["body.0.conv"].origin.file == str(base)  # layers remember the base's file
    # a variant of the base is still there, and a sweep over a base variable works
    assert archcalc.load(f"{child}:small")["body.0.conv"].attrs["filters"] == 4
    result = archcalc.sweep(str(child), {"depth": [1, 2]})
    assert len(result.rows) == 2


def test_extends_a_bundled_spec(tmp_path: Path) -> None:
    child = write(tmp_path, "wide.yaml", "extends: resnet50\nvariables: {width: 128}\n")
    tv = archcalc.analyze(archcalc.load("resnet50")).totals.params
    assert archcalc.analyze(archcalc.load(child)).totals.params > tv
    child101 = write(tmp_path, "r101.yaml", "extends: resnet50:resnet101\n")
    assert archcalc.analyze(archcalc.load(child101)).totals.params == 44549160  # torchvision docs


@pytest.mark.parametrize(("text", "words"), [
    ("extends: nothere.yaml\n", ("child.yaml:1", "extends nothere.yaml: no such file")),
    ("extends: base.yaml:huge\n", ("base.yaml:4", "no variant 'huge'")),
    ("extends: base.yaml\nvariables: {width: 0}\n",
     ("base.yaml:9", "layer body.0.conv", "filters must be a positive integer", "extended by", "child.yaml")),
    ("extends: base.yaml\nblocks:\n  unit:\n    params: {filters: required}\n    layers:\n"
     "      - {name: conv, type: conv, filters: '${filters}', kernel: 3, strid: 2}\n",
     ("child.yaml:6", "did you mean 'stride'", "used by body at", "base.yaml line 12")),
    ("extends: 3\n", ("child.yaml:1", "extends must name a spec")),
    ("extends: child.yaml\n", ("extend each other in a cycle",)),
])
def test_extends_errors_name_both_files(base: Path, tmp_path: Path, text: str, words: tuple[str, ...]) -> None:
    child = write(tmp_path, "child.yaml", text)
    with pytest.raises(archcalc.ArchcalcError) as info:
        archcalc.load(child)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)


def test_expected_variant_must_exist(base: Path, tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", BASE.replace("variant: small", "variant: smol"))
    with pytest.raises(archcalc.ExpectationError, match=r"no variant 'smol' \(did you mean 'small'\?\)"):
        archcalc.load(bad)


