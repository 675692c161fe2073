"""Issues 15 and 16, bounded work at the edge: absurd values are refused in one line (exit 2,
well under a second, no traceback) before any work; valid YAML stays valid."""

from __future__ import annotations

import io
import resource
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

import archcalc
from archcalc.cli import main
from tests.conftest import SPECS

LENET = str(SPECS / "lenet5.yaml")
BOMB = ("[&a [1,1,1,1,1,1,1,1,1], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], &c [*b,*b,*b,*b,*b,*b,*b,*b,*b], "
        "&d [*c,*c,*c,*c,*c,*c,*c,*c,*c], &e [*d,*d,*d,*d,*d,*d,*d,*d,*d], &f [*e,*e,*e,*e,*e,*e,*e,*e,*e], "
        "&g [*f,*f,*f,*f,*f,*f,*f,*f,*f]]")

# (case, spec text or None for lenet5, extra arguments, the whole stderr line after "archcalc: ")
CASES: list[tuple[str, str | None, tuple[str, ...], str]] = [
    ("integer of 5000 digits in a spec",
     "input: [1, 8, 8]\nlayers:\n  - {name: c, type: conv, filters: " + "9" * 5000 + ", kernel: 1}\n", (),
     "{spec}:3: an integer of 5,000 digits: values are limited to 10^18"),
    ("integer of 5000 digits in --var", None, ("--var", "w=" + "9" * 5000),
     "--var w: the value is 5,000 characters long (limit 4,096)"),
    ("integer of 30 digits in --var", None, ("--var", "w=" + "9" * 30),
     "--var w: an integer of 30 digits: values are limited to 10^18"),
    ("alias bomb in --var", None, ("--var", "w=" + BOMB),
     "--var w: the document expands to 6,053,444 YAML nodes through its aliases (limit 2,000,000): refusing it"),
    ("--batch 2^63", None, ("--batch", str(2**63)),
     "argument --batch: must be an integer from 1 to 1,048,576, got '9223372036854775808' (see archcalc report --help)"),
    ("--batch 0", None, ("--batch", "0"),
     "argument --batch: must be an integer from 1 to 1,048,576, got '0' (see archcalc report --help)"),
    ("--batch -3", None, ("--batch", "-3"),
     "argument --batch: must be an integer from 1 to 1,048,576, got '-3' (see archcalc report --help)"),
    ("repeat 10^9",
     "input: [1, 8, 8]\nblocks:\n  b: {layers: [relu]}\nlayers:\n  - {block: b, repeat: 1000000000}\n", (),
     "{spec}:5: layer b1: repeat 1,000,000,000 of block 'b' expands to 1,000,000,000 layer entries or more; "
     "a spec may expand to 100,000 layers (200,000 entries with skipped ones)"),
    ("repeat 2^63",
     "input: [1, 8, 8]\nblocks:\n  b: {layers: [relu]}\nlayers:\n  - {block: b, repeat: 9223372036854775808}\n", (),
     "{spec}:5: layer b1: repeat 9,223,372,036,854,775,808 of block 'b' expands to 9,223,372,036,854,775,808 layer "
     "entries or more; a spec may expand to 100,000 layers (200,000 entries with skipped ones)"),
    ("2^30 skipped layers through nested blocks",
     "input: [1, 8, 8]\nblocks:\n  b: {layers: [{type: relu, when: false}]}\n  c: {layers: [{block: b, repeat: 32768}]}\n"
     "layers:\n  - {block: c, repeat: 32768}\n", (),
     "{spec}:6: layer c1: repeat 32,768 of block 'c' expands to 1,073,774,592 layer entries or more; a spec may "
     "expand to 100,000 layers (200,000 entries with skipped ones)"),
    ("spec over 1 MiB", "input: [1, 8, 8]\nlayers:\n" + "  - {type: relu}\n" * 80000, (),
     "{spec}: is 1,360,025 bytes, larger than a spec file may be (1 MiB)"),
    ("duplicate explicit keys", "input: [1, 8, 8]\nlayers:\n  - {name: a, type: conv, filters: 4, kernel: 1, kernel: 3}\n",
     (), "{spec}:3: duplicate key 'kernel'"),
]


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse's own refusals
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(("case", "text", "extra", "message"), CASES, ids=[c[0] for c in CASES])
def test_refused_in_one_line(tmp_path: Path, case: str, text: str | None, extra: tuple[str, ...], message: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text if text is not None else Path(LENET).read_text())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    code, out, err = _run("report", str(spec), *extra)
    assert time.perf_counter() - start < 1.0
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) < 200 * 1024  # KiB: no large allocation
    assert code == 2 and out == ""
    assert err == f"archcalc: {message.format(spec=spec)}\n", case


def test_merge_key_then_an_override_is_valid_yaml() -> None:
    text = ("input: [1, 8, 8]\nlayers:\n  - &c {name: a, type: conv, filters: 4, kernel: 1}\n"
            "  - {<<: *c, name: b, filters: 2}\n")
    from archcalc.language.yamlmarks import load_yaml

    graph = archcalc.load(load_yaml(text))
    assert graph["b"].attrs["filters"] == 2 and graph["b"].attrs["kernel"] == 1
    assert archcalc.analyze(graph)["b"].shape == (2, 8, 8)


def test_long_chains_of_skipped_layers_resolve_without_recursion() -> None:
    """3,000 skipped layers in a row, each passing its input to the next, and block outputs that
    name skipped layers: resolved iteratively (no RecursionError)."""
    layers = [{"name": "first", "type": "relu"}]
    layers += [{"name": f"s{i}", "type": "relu", "when": False} for i in range(3000)]
    layers.append({"name": "last", "type": "tanh"})
    graph = archcalc.load({"input": [1, 4, 4], "layers": layers})
    assert graph["last"].inputs == (("first", 0),)
    nested = {"input": [1, 4, 4], "blocks": {"b": {"layers": [{"name": "x", "type": "relu", "when": False}],
                                                   "output": "x"}},
              "layers": [{"name": "a", "type": "relu"}, {"name": "st", "block": "b", "repeat": 600},
                         {"name": "z", "type": "tanh"}]}
    assert archcalc.load(nested)["z"].inputs == (("a", 0),)


@pytest.mark.parametrize(("argv", "message"), [
    (("profile", "lenet5", "--warmup", "1000000000"),
     "argument --warmup: must be an integer from 0 to 100,000, got '1000000000' (see archcalc profile --help)"),
    (("profile", "lenet5", "--repeat", "0"),
     "argument --repeat: must be an integer from 1 to 100,000, got '0' (see archcalc profile --help)"),
    (("profile", "lenet5", "--threads", "100000"),
     "argument --threads: must be an integer from 1 to 1,024, got '100000' (see archcalc profile --help)"),
    (("calibrate", "--threads", "0"),
     "argument --threads: must be an integer from 1 to 1,024, got '0' (see archcalc calibrate --help)"),
    (("export", "lenet5", "-o", "x.onnx", "--seed", "-1"),
     "argument --seed: must be an integer from 0 to 4,294,967,295, got '-1' (see archcalc export --help)"),
    (("profile", "lenet5", "--max-memory", "1e999GiB"),
     "--max-memory takes a size such as 8GiB, 500MB or 1000000, got '1e999GiB'"),
])
def test_run_options_are_bounded_at_the_edge(argv: tuple[str, ...], message: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    start = time.perf_counter()
    code, out, err = _run(*argv)
    assert time.perf_counter() - start < 1.0
    assert (code, out, err) == (2, "", f"archcalc: {message}\n")


def test_every_option_has_help() -> None:
    from archcalc.cli import parser

    top = parser()
    missing = []
    for action in top._subparsers._group_actions:  # type: ignore[union-attr]
        for name, sub in action.choices.items():
            for opt in sub._actions:
                if opt.option_strings and opt.help is None and "-h" not in opt.option_strings:
                    missing.append(f"{name} {'/'.join(opt.option_strings)}")
    assert not missing, missing


def test_export_past_protobufs_2_gib_is_refused_before_any_work(tmp_path: Path) -> None:
    """Issue 16: 600,080,000 fp32 parameters (2.4 GB) cannot be one protobuf message; refused at
    once with the way out, nothing written (the constant-weights export of the same net works)."""
    spec = tmp_path / "huge.yaml"
    spec.write_text("input: [1, 1, 1]\nlayers:\n  - {type: flatten}\n  - {name: fc, type: fc, units: 30000}\n"
                    "  - {name: fc2, type: fc, units: 20000}\n")
    out = tmp_path / "huge.onnx"
    start = time.perf_counter()
    code, stdout, err = _run("export", str(spec), "-o", str(out))
    assert time.perf_counter() - start < 1.0
    assert code == 2 and stdout == "" and not out.exists()
    assert err == ("archcalc: the weights need 2,400,320,000 bytes; one ONNX file holds less than 2 GiB (protobuf's "
                   "limit), and archcalc does not write external data: export constant weights (--weights constant: "
                   "made at load time, a file of a few KB, the same work to run)\n")
    code, stdout, _ = _run("export", str(spec), "-o", str(out), "--weights", "constant")
    assert code == 0 and 0 < out.stat().st_size < 100_000


def test_profile_counts_constant_outputs_in_its_memory_check(tmp_path: Path) -> None:
    """A model whose output is a folded constant of 9e8 floats (Tile of one element): ONNX
    Runtime materialises 3.6 GB, so the memory check counts it and refuses under a 1 GiB limit."""
    import onnx
    from onnx import TensorProto, helper

    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    reps = helper.make_tensor("reps", TensorProto.INT64, [1], [900_000_000])
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Tile", ["one", "reps"], ["t"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4]),
         helper.make_tensor_value_info("t", TensorProto.FLOAT, [900_000_000])], [one, reps])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "tile.onnx"
    onnx.save(model, path)
    code, out, err = _run("profile", str(path), "--estimate", "off", "--max-memory", "1GiB")
    assert code == 2 and out == ""
    assert err == ("archcalc: a run at batch 1 needs about 3,433 MiB (weights 0 MiB + activations 0 MiB + constant "
                   "outputs 3,433 MiB), more than the limit of 1,024 MiB: use a smaller batch, or raise the limit "
                   "(--max-memory / max_memory=)\n")
