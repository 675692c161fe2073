"""Issue 14 item 1: ``report.explain(layer, figure)``. Every explained figure equals the report's
figure for every layer of every bundled spec (variants too) and ONNX fixture, under every preset
and under settings that switch on the terms no preset uses; each op's ``derive`` gives the same
values as its ``apply``; LeNet-5's C3 under lecun1998 reads as the paper's arithmetic (LeCun,
Bottou, Bengio, Haffner 1998, Proc. IEEE, Sec. II-B: 1,516 trainable parameters, 151,600
connections)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import archcalc
from archcalc.explain import FIGURES, explain, explain_all
from archcalc.ops import REGISTRY
from archcalc.receptive import format_field
from archcalc.zoo import bundled_specs, bundled_variants

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "onnx"
SOURCES = [*bundled_specs(), *bundled_variants(), *sorted(str(p) for p in FIXTURES.rglob("*.onnx"))]
#: the terms no preset switches on
EXTRA = [{"bias_macs": "per_output", "affine_macs": "per_param", "batch": 3, "dtype": "fp16"},
         {"pooling_connections": "none", "units_include_input": True, "units_include_output": False,
          "bn_affine_params": False, "cheap_ops": "none"}]


def _graph(source: str) -> archcalc.Graph:
    return archcalc.load(source, batch=1) if source.endswith(".onnx") else archcalc.load(source)


def _report_values(record: archcalc.LayerRecord) -> dict[str, object]:
    values: dict[str, object] = {name: getattr(record, name) for name in FIGURES
                                 if name not in ("output", "receptive_field")}
    values["output"] = " | ".join("x".join(str(v) for v in s) for s in record.shapes)
    values["receptive_field"] = format_field(record.rf)
    return values


def _id(source: str) -> str:
    return Path(source).name


@pytest.mark.parametrize("source", SOURCES, ids=_id)
def test_every_explained_figure_equals_the_report(source: str) -> None:
    graph = _graph(source)
    settings = [{"preset": name} for name in archcalc.PRESETS] + [{"overrides": o} for o in EXTRA]
    for setting in settings:
        report = archcalc.analyze(graph, **setting)  # type: ignore[arg-type]
        explained = explain_all(report)
        assert [e.layer for e in explained] == [r.name for r in report]
        for record, item in zip(report, explained, strict=True):
            got = {f.figure: f.value for f in item.figures}
            assert got == _report_values(record), (source, setting, record.name)


@pytest.mark.parametrize("source", [*bundled_specs(), *sorted(str(p) for p in FIXTURES.glob("*.onnx"))], ids=_id)
def test_every_derivation_equals_the_ops_apply(source: str) -> None:
    graph = _graph(source)
    report = archcalc.analyze(graph)
    for layer in graph.layers.values():
        ins = tuple(report[ref[0]].shapes[ref[1]] for ref in layer.inputs)
        op = REGISTRY[layer.kind]
        applied = op.apply(layer.attrs, ins)
        for key, step in op.derive(layer.attrs, ins).items():
            if key == "output":
                assert step.value == " | ".join("x".join(map(str, s)) for s in applied.outs), layer.name
            elif key == "connections+bias":
                assert step.value == applied.cost.connections + applied.cost.bias_units, layer.name
            elif key.startswith("cheap:"):
                assert (key[6:], step.value) in applied.cost.cheap, (layer.name, key)
            else:
                assert step.value == getattr(applied.cost, key), (layer.name, key)


@pytest.mark.parametrize("source", [*bundled_specs(), *sorted(str(p) for p in FIXTURES.glob("*.onnx"))], ids=_id)
def test_every_count_of_the_zoo_has_its_formula_written_out(source: str) -> None:
    """Every non-zero op figure of every bundled spec and ONNX fixture comes with its family's
    formula (no bare 'as the layer counts it')."""
    graph = _graph(source)
    report = archcalc.analyze(graph)
    missing = set()
    for layer in graph.layers.values():
        ins = tuple(report[ref[0]].shapes[ref[1]] for ref in layer.inputs)
        op = REGISTRY[layer.kind]
        applied, steps = op.apply(layer.attrs, ins), op.derive(layer.attrs, ins)
        for key in ("weights", "biases", "affine", "fixed", "buffers", "connections", "macs"):
            if getattr(applied.cost, key) and key not in steps:
                missing.add((layer.kind, key))
        missing |= {(layer.kind, f"cheap:{c}") for c, _ in applied.cost.cheap if f"cheap:{c}" not in steps}
    assert not missing


#: families the zoo does not use, with the attributes that change their formulas
FAMILIES = {
    "name": "families",
    "input": [8, 12, 10],
    "layers": [
        {"name": "local", "type": "locally_connected", "filters": 4, "kernel": 3, "inputs": "input"},
        {"name": "grouped", "type": "conv", "filters": 8, "kernel": [3, 1], "groups": 2, "padding": "same",
         "bias": "per_unit", "inputs": "input"},
        {"name": "deconv", "type": "conv_transpose", "filters": 4, "kernel": 3, "stride": 2, "padding": 1,
         "output_padding": 1},
        {"name": "prelu", "type": "activation", "fn": "prelu"},
        {"name": "ln", "type": "layernorm"},
        {"name": "ln_last", "type": "layernorm", "over": "last", "axes": 2, "bias": False},
        {"name": "gn_pg", "type": "groupnorm", "groups": 2, "affine": "per_group"},
        {"name": "in_affine", "type": "instancenorm", "affine": True},
        {"name": "scale", "type": "elementwise", "op": "mul", "const_shape": [4, 1, 1], "const_params": True},
        {"name": "shift", "type": "elementwise", "op": "add", "const_shape": [4, 1, 1], "const_params": True},
        {"name": "up", "type": "upsample", "scale": 2, "mode": "bilinear"},
        {"name": "pool", "type": "adaptive_avgpool", "size": [5, 3]},
        {"name": "gmax", "type": "global_maxpool"},
        {"name": "mean", "type": "reduce", "op": "mean", "axes": [0]},
        {"name": "flat", "type": "flatten"},
        {"name": "proj", "type": "matmul", "units": 6},
        {"name": "gamma", "type": "layer_scale", "inputs": "ln"},
        {"name": "tokens", "type": "reshape", "shape": [4, 480], "inputs": "gamma"},
        {"name": "attn", "type": "matmul", "inputs": ["tokens", "tokens_t"]},
        {"name": "tokens_t", "type": "transpose", "perm": [1, 0], "inputs": "tokens"},
    ],
}


def test_families_beyond_the_zoo_explain_as_the_report_counts() -> None:
    graph = archcalc.load(FAMILIES)
    for setting in [{"preset": name} for name in archcalc.PRESETS] + [{"overrides": o} for o in EXTRA]:
        report = archcalc.analyze(graph, **setting)  # type: ignore[arg-type]
        for record, item in zip(report, explain_all(report), strict=True):
            assert {f.figure: f.value for f in item.figures} == _report_values(record), (setting, record.name)
    report = archcalc.analyze(graph)
    for layer in graph.layers.values():
        ins = tuple(report[ref[0]].shapes[ref[1]] for ref in layer.inputs)
        applied, steps = REGISTRY[layer.kind].apply(layer.attrs, ins), REGISTRY[layer.kind].derive(layer.attrs, ins)
        for key in ("weights", "biases", "affine", "fixed", "buffers", "connections", "macs"):
            value = getattr(applied.cost, key)
            assert (key in steps) if value else True, (layer.name, key)
            if key in steps:
                assert steps[key].value == value, (layer.name, key)
        for category, value in applied.cost.cheap:
            assert steps[f"cheap:{category}"].value == value, (layer.name, category)


def test_lenet5_c3_reads_as_the_paper() -> None:
    report = archcalc.analyze(archcalc.load("lenet5"), preset="lecun1998")
    c3 = report.explain("C3")
    assert c3.kind == "conv"
    assert c3["units"].value == 16 * 10 * 10 and c3["units"].numbers == "16 x 10 x 10 = 1,600"
    links = sum(len(row) for row in archcalc.connectivity.LENET5_C3)  # Table I: 60 map pairs
    assert links == 60
    assert c3["weights"].value == links * 5 * 5 == 1500
    assert "connection table gives 60 input-map links" in c3["weights"].words
    assert c3["params"].value == 1516 and c3["params"].numbers == "1,500 + 16 = 1,516"
    assert c3["connections"].value == 100 * (1500 + 16) == 151600
    # "each of the 100 units of map j has links_j x 25 + 1 connections": 100 x (1,500 + 16)
    assert c3["connections"].numbers == "100 x (1,500 + 16) = 151,600"
    assert any(n.startswith("bias_is_connection: true") for n in c3["connections"].conventions)
    assert c3["receptive_field"].value == "14 j2 s6.5"
    json.dumps(c3.to_dict())
    only = report.explain("C3", "connections")
    assert [f.figure for f in only.figures] == ["connections"]
    assert only.figures[0] == c3["connections"]
    assert explain(report, "C3", "rf").figures[0].figure == "receptive_field"


def test_conventions_are_named_where_they_change_a_term() -> None:
    graph = archcalc.load("lenet5")
    course = archcalc.analyze(graph, preset="course").explain("C3")
    assert course["params"].value == 1500
    assert "biases_as_params: false (preset course)" in course["params"].conventions
    overridden = archcalc.analyze(graph, preset="course", overrides={"batch": 2}).explain("C3", "macs")
    assert overridden.figures[0].value == 2 * 150000
    assert "batch: 2 (set by the spec or --set)" in overridden.figures[0].conventions


def test_unknown_names_say_what_exists() -> None:
    report = archcalc.analyze(archcalc.load("lenet5"))
    with pytest.raises(archcalc.OptionError, match=r"no layer 'c3' in lenet5 \(did you mean 'C3'\?\); layers: "):
        report.explain("c3")
    with pytest.raises(archcalc.OptionError, match=r"unknown figure 'mac' .*|unknown figure 'mcas'"):
        report.explain("C3", "mcas")
    with pytest.raises(archcalc.OptionError, match=r"figures: output, units, weights, biases, params"):
        report.explain("C3", "flps")


def _cli(*args: str) -> tuple[int, str, str]:
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from archcalc.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_cli_explains_a_layer_or_one_figure(tmp_path: Path) -> None:
    code, out, err = _cli("explain", "lenet5", "C3", "--preset", "lecun1998")
    assert code == 0 and err == ""
    assert out.startswith("lenet5: C3 (conv)\n")
    assert "params = 1,516\n" in out and "  numbers: 1,500 + 16 = 1,516\n" in out
    assert "connections = 151,600\n" in out
    assert out.rstrip().endswith(archcalc.analyze(archcalc.load("lenet5"), preset="lecun1998").conventions_line())
    code, out, _ = _cli("explain", "resnet18", "layer1.0.conv1.macs", "-f", "json")
    data = json.loads(out)
    assert code == 0 and data["layer"] == "layer1.0.conv1" and data["network"] == "resnet18"
    assert [f["figure"] for f in data["figures"]] == ["macs"]
    assert data["figures"][0]["value"] == archcalc.analyze(archcalc.load("resnet18"))["layer1.0.conv1"].macs
    code, out, _ = _cli("explain", "lenet5", "C3.params", "--format", "markdown")
    assert code == 0 and out.startswith("### lenet5: C3 (conv)\n") and "- formula: `params = weights + biases`" in out
    target = tmp_path / "c3.md"
    code, out, _ = _cli("explain", "lenet5", "C3", "-o", str(target))
    assert code == 0 and out == "" and target.read_text().startswith("### lenet5: C3")


@pytest.mark.parametrize(("target", "words"), [
    ("c3", ("lenet5.yaml", "no layer 'c3' in lenet5 (did you mean 'C3'?)", "layers: input, C1")),
    ("C3.weigths", ("layer C3", "unknown figure 'weigths' (did you mean 'weights'?)", "figures: output, units")),
    ("C3.flps", ("layer C3", "unknown figure 'flps' (did you mean 'flops'?)",)),
    ("C9.macs", ("no layer 'C9' in lenet5",)),
])
def test_cli_unknown_names_are_one_line_exit_2(target: str, words: tuple[str, ...]) -> None:
    code, out, err = _cli("explain", "lenet5", target)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    for word in words:
        assert word in err, (word, err)
