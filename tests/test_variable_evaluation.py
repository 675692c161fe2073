"""Issue 11, bugs 1 and 2 (silent wrong figures): derived variables follow overrides, and block
parameter defaults are expressions evaluated in the block's scope. Each is checked through the
CLI, the API and a sweep; the expected widths are the arithmetic written in the spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import archcalc
from tests.test_cli import run

DERIVED = """\
variables: {k: 4, c1: "${2 * k}"}
input: [3, 8, 8]
layers: [{name: conv, type: conv, filters: "${c1}", kernel: 3}]
"""

# c2 is declared before the variable it derives from; d depends on c2 (a chain)
CHAIN = """\
variables: {c2: "${k * 3}", k: 2, d: "${c2 + k}"}
input: [3, 8, 8]
layers: [{name: conv, type: conv, filters: "${d}", kernel: 1}]
"""

DEFAULTS = """\
variables: {g: 2}
input: [4, 8, 8]
blocks:
  b:
    params: {g1: "${g}", f: 8, mid: "${f // 2}"}
    layers:
      - {name: c, type: conv, filters: "${mid}", kernel: 1, groups: "${g1}"}
layers:
  - {name: s, block: b}
  - {name: t, block: b, with: {f: 16}}
"""


@pytest.fixture
def spec(tmp_path: Path):  # type: ignore[no-untyped-def]
    def write(text: str) -> str:
        path = tmp_path / "spec.yaml"
        path.write_text(text)
        return str(path)
    return write


def _filters(out: str, layer: str) -> int:
    doc = json.loads(out)
    row = next(r for r in doc["layers"] if r["name"] == layer)
    return int(row["shape"][0])


def test_derived_variable_follows_override_cli(spec) -> None:  # type: ignore[no-untyped-def]
    path = spec(DERIVED)
    code, out, _ = run("report", path, "-f", "json")
    assert code == 0 and _filters(out, "conv") == 8
    code, out, _ = run("report", path, "--var", "k=8", "-f", "json")
    assert code == 0 and _filters(out, "conv") == 16


def test_derived_variable_follows_override_api(spec) -> None:  # type: ignore[no-untyped-def]
    path = spec(DERIVED)
    assert archcalc.load(path, variables={"k": 8})["conv"].attrs["filters"] == 16
    assert archcalc.load(path).variables["c1"] == 8
    graph = archcalc.load(spec(CHAIN), variables={"k": 5})
    assert graph.variables == {"c2": 15, "k": 5, "d": 20}


def test_derived_variable_follows_override_sweep(spec) -> None:  # type: ignore[no-untyped-def]
    path = spec(DERIVED)
    result = archcalc.sweep(path, {"k": [4, 8]}, workers=1)
    assert [r["output_shape"] for r in result.rows] == ["8x6x6", "16x6x6"]
    code, out, _ = run("sweep", path, "--vary", "k=4,8", "-f", "json", "--workers", "1")
    assert code == 0
    assert [r["output_shape"] for r in json.loads(out)["rows"]] == ["8x6x6", "16x6x6"]


def test_variable_cycle_is_an_error(spec) -> None:  # type: ignore[no-untyped-def]
    path = spec('variables: {a: "${b}", b: "${a + 1}"}\ninput: [3, 8, 8]\n'
                'layers: [{name: c, type: conv, filters: "${a}", kernel: 1}]\n')
    code, _, err = run("report", path)
    assert code == 2
    assert err.strip() == f"archcalc: {path}:1: variables depend on each other in a cycle: a -> b -> a"


def test_override_may_be_an_expression(spec) -> None:  # type: ignore[no-untyped-def]
    graph = archcalc.load(spec(DERIVED), variables={"k": "${3 + 3}"})
    assert graph["conv"].attrs["filters"] == 12


def test_block_defaults_are_evaluated_cli(spec) -> None:  # type: ignore[no-untyped-def]
    path = spec(DEFAULTS)
    code, out, _ = run("report", path, "-f", "json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)["layers"]}
    # s.c: 4 -> 4 maps (mid = 8 // 2), groups 2: 4 x (4/2) x 1x1 weights + 4 biases
    assert rows["s.c"]["params"] == 4 * 2 + 4
    # t.c: f = 16 given, so mid = 8: 8 x 2 weights + 8 biases
    assert rows["t.c"]["params"] == 8 * 2 + 8
    code, out, _ = run("report", path, "--var", "g=4", "-f", "json")
    rows = {r["name"]: r for r in json.loads(out)["layers"]}
    assert code == 0 and rows["s.c"]["params"] == 4 * 1 + 4  # groups follow g through the default


def test_block_defaults_are_evaluated_api_and_sweep(spec) -> None:  # type: ignore[no-untyped-def]
    path = spec(DEFAULTS)
    graph = archcalc.load(path, variables={"g": 4})
    assert graph["s.c"].attrs["groups"] == 4 and graph["t.c"].attrs["filters"] == 8
    result = archcalc.sweep(path, {"g": [1, 2, 4]}, workers=1)
    assert [r["params"] for r in result.rows] == [(16 + 4) + (32 + 8), (8 + 4) + (16 + 8), (4 + 4) + (8 + 8)]


@pytest.mark.parametrize(("params", "message"), [
    ('{a: "${zz + 1}"}', "default of block parameter 'a': undefined variable 'zz'"),
    ('{a: "${b + 1}", b: "${a}"}', "default of block parameter 'a': block parameters depend on each other in a cycle: a -> b -> a"),
])
def test_block_default_errors_point_at_the_default(spec, params: str, message: str) -> None:  # type: ignore[no-untyped-def]
    path = spec(f"input: [4, 8, 8]\nblocks:\n  b:\n    params: {params}\n    layers:\n"
                "      - {name: c, type: conv, filters: 4, kernel: 1}\nlayers:\n  - {name: s, block: b}\n")
    code, _, err = run("report", path)
    assert code == 2
    assert err.startswith(f"archcalc: {path}:4: layer s: {message} (block 'b' (line 3) used by s at line 8)")
