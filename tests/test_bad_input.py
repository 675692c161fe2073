"""Bad input: one line naming file, line and layer, exit code 2, no traceback, nothing written.

Each case is a spec text, the words its message must contain, and the line it must name. The
table also produces docs/errors.md (ARCHCALC_UPDATE_DOCS=1 rewrites it; otherwise the test
checks the file is current), so the documented messages are the real ones.
"""

from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

import archcalc
from archcalc.cli import main
from tests.conftest import ROOT

LENET_HEAD = "input: [1, 32, 32]\nlayers:\n"

# (bad-input class, spec text, words the message must contain, line it must name or None)
CASES: list[tuple[str, str, tuple[str, ...], int | None]] = [
    ("malformed YAML", "input: [1, 32, 32\nlayers: []\n", ("malformed YAML",), 2),
    ("not a mapping", "- conv\n- relu\n", ("must be a YAML mapping",), None),
    ("empty file", "", ("must be a YAML mapping",), None),
    ("unknown top-level key", "input: [1, 8, 8]\nlayer:\n  - relu\n", ("unknown top-level key 'layer'", "did you mean 'layers'"), 2),
    ("missing layers", "input: [1, 8, 8]\n", ("a spec needs 'layers'",), None),
    ("unknown layer type", LENET_HEAD + "  - {name: C1, type: convv, filters: 6, kernel: 5}\n",
     ("layer C1", "unknown layer type 'convv'", "did you mean 'conv'"), 3),
    ("unknown key", LENET_HEAD + "  - {name: C1, type: conv, filters: 6, kernal: 5}\n",
     ("layer C1", "unknown key 'kernal'", "did you mean 'kernel'"), 3),
    ("missing key", LENET_HEAD + "  - {name: C1, type: conv, filters: 6}\n", ("layer C1", "needs 'kernel'"), 3),
    ("wrong value type", LENET_HEAD + "  - {name: C1, type: conv, filters: six, kernel: 5}\n",
     ("layer C1", "filters must be a positive integer", "'six'"), 3),
    ("non-positive size (layer)", LENET_HEAD + "  - {name: C1, type: conv, filters: 0, kernel: 5}\n",
     ("layer C1", "filters must be a positive integer, got 0"), 3),
    ("non-positive size (input)", "input: [1, 0, 32]\nlayers: [relu]\n", ("input sizes must be positive",), 1),
    ("stride does not fit (rounding: exact)", "input: [1, 7, 7]\nlayers:\n  - {name: c, type: conv, filters: 1, kernel: 3, stride: 3, rounding: exact}\n",
     ("layer c", "(7 - 3)/3 + 1 = 2.33 is not an integer", "padding", "rounding: floor (gives 2)"), 3),
    ("kernel larger than the input", "input: [1, 4, 4]\nlayers:\n  - {name: c, type: conv, filters: 1, kernel: 5}\n",
     ("layer c", "window of 5 does not fit", "4"), 3),
    ("channel mismatch at an add",
     "input: [3, 8, 8]\nlayers:\n  - {name: a, type: conv, filters: 4, kernel: 1}\n"
     "  - {name: b, type: conv, inputs: input, filters: 8, kernel: 1}\n  - {name: s, type: add, inputs: [a, b]}\n",
     ("layer s", "channel mismatch at an add", "4x8x8", "8x8x8"), 5),
    ("concat of different spatial sizes",
     "input: [3, 8, 8]\nlayers:\n  - {name: a, type: maxpool, kernel: 2}\n  - {name: j, type: concat, inputs: [a, input]}\n",
     ("layer j", "concat of different spatial sizes"), 4),
    ("cycle", "input: [3, 8, 8]\nlayers:\n  - {name: a, type: relu, inputs: b}\n  - {name: b, type: relu, inputs: a}\n",
     ("cycle", "a -> b -> a"), 3),
    ("dangling input", "input: [3, 8, 8]\nlayers:\n  - {name: conv1, type: conv, filters: 4, kernel: 1}\n"
     "  - {name: r, type: relu, inputs: conv2}\n", ("input 'conv2' is not a layer", "did you mean 'conv1'"), 4),
    ("duplicate names", "input: [3, 8, 8]\nlayers:\n  - {name: a, type: relu}\n  - {name: a, type: tanh}\n",
     ("duplicate layer name 'a'", "first declared at line 3"), 4),
    ("connection table names a missing map",
     LENET_HEAD + "  - {name: C1, type: conv, filters: 6, kernel: 5}\n  - {name: S2, type: subsample}\n"
     "  - {name: C3, type: conv, kernel: 5, connections: [[0, 1, 2], [3, 4, 5], [5, 6]]}\n",
     ("layer C3", "connection table row 2 names map 6", "maps 0-5", "S2 6x14x14"), 5),
    ("too few inputs", "input: [3, 8, 8]\nlayers:\n  - {name: s, type: add}\n",
     ("layer s", "add takes at least 2 input(s), got 1", "inputs: [a, b]"), 3),
    ("undefined variable", "input: [3, 8, 8]\nvariables: {width: 8}\nlayers:\n"
     "  - {name: c, type: conv, filters: '${widht}', kernel: 1}\n",
     ("layer c", "undefined variable 'widht'", "did you mean 'width'"), 4),
    ("unknown block", "input: [3, 8, 8]\nlayers:\n  - {name: s1, block: basic}\n", ("layer s1", "unknown block 'basic'"), 3),
    ("unknown block parameter",
     "input: [3, 8, 8]\nblocks:\n  b:\n    params: {filters: 4}\n    layers:\n      - {type: conv, filters: '${filters}', kernel: 1}\n"
     "layers:\n  - {name: s1, block: b, with: {filter: 8}}\n",
     ("layer s1", "block 'b' has no parameter 'filter'", "did you mean 'filters'"), 8),
    ("error inside a block",
     "input: [3, 8, 8]\nblocks:\n  b:\n    params: {k: 1}\n    layers:\n      - {name: c, type: conv, filters: 4, kernel: '${k}'}\n"
     "layers:\n  - {name: s1, block: b, with: {k: 9}}\n",
     ("layer s1.c", "window of 9 does not fit", "block 'b' (line 3) used by s1 at line 8"), 6),
    ("block that uses itself",
     "input: [3, 8, 8]\nblocks:\n  b:\n    layers:\n      - {name: x, block: b}\nlayers:\n  - {name: s, block: b}\n",
     ("block 'b' uses itself",), 5),
    ("code in YAML is not run", "input: !!python/object/apply:os.system ['echo hacked']\nlayers: [relu]\n",
     ("malformed YAML", "constructor"), 1),
    ("YAML alias bomb", "".join(
        f"{k}: &{k} [{', '.join([f'*{p}'] * 9)}]\n" for p, k in zip("abcdefgh", "bcdefghi", strict=True)
    ).replace("b: &b [*a", "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a", 1) + "input: [1, 8, 8]\nlayers: [relu]\n",
     ("expands to", "YAML nodes through its aliases"), None),
    ("recursive YAML alias", "input: [1, 8, 8]\nlayers:\n  - &a {name: x, type: relu, note: [*a]}\n",
     ("malformed YAML", "recursive"), 3),
    ("bad expected block", "input: [3, 8, 8]\nlayers: [relu]\nexpected:\n  - totals: {params: 1}\n",
     ("expected:", "source"), 4),
    ("bad convention in a spec", "input: [3, 8, 8]\nconventions: {bais_macs: none}\nlayers: [relu]\n",
     ("unknown convention 'bais_macs'", "did you mean 'bias_macs'"), 2),
    ("drop_path rate that is not a ratio", "input: [3, 8, 8]\nlayers:\n  - {name: dp, type: drop_path, rate: 1/zero}\n",
     ("layer dp", "rate must be a number or a ratio of integers such as 3/170", "'1/zero'"), 3),
]


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(("what", "text", "words", "line"), CASES, ids=[c[0] for c in CASES])
def test_bad_spec_gives_one_line(tmp_path: Path, what: str, text: str, words: tuple[str, ...], line: int | None) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    out_file = tmp_path / "out.txt"
    code, out, err = run_cli("report", str(spec), "-o", str(out_file))
    assert code == 2, (what, out, err)
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("archcalc: "), err
    assert "Traceback" not in err
    where = f"{spec}:{line}:" if line is not None else f"{spec}"
    assert where in err, (what, err)
    for word in words:
        assert word in err, (what, word, err)
    assert not out_file.exists(), "nothing is written when the input is bad"
    assert list(tmp_path.iterdir()) == [spec], "no temporary file is left behind"


def test_missing_file(tmp_path: Path) -> None:
    code, _, err = run_cli("report", str(tmp_path / "nope.yaml"))
    assert code == 2 and "nope.yaml: no such file" in err and err.count("\n") == 1


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    code, _, err = run_cli("report", str(path))
    assert code == 2 and err.count("\n") == 1


def test_directory(tmp_path: Path) -> None:
    code, _, err = run_cli("report", str(tmp_path))
    assert code == 2 and "is a directory" in err


def test_unknown_preset_and_convention() -> None:
    spec = str(ROOT / "specs" / "lenet5.yaml")
    code, _, err = run_cli("report", spec, "--preset", "lecun98")
    assert code == 2 and "unknown preset 'lecun98'" in err and "lecun1998" in err
    code, _, err = run_cli("report", spec, "--set", "bais_macs=none")
    assert code == 2 and "did you mean 'bias_macs'" in err
    code, _, err = run_cli("report", spec, "--set", "batch=0")
    assert code == 2 and "batch must be a positive integer" in err
    code, _, err = run_cli("report", spec, "--set", "nonsense")
    assert code == 2 and "key=value" in err


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("input: [1, 7, 7]\nlayers:\n  - {name: c, type: conv, filters: 1, kernel: 3, stride: 3, rounding: exact}\n")
    with pytest.raises(archcalc.ShapeError):
        run_cli("--debug", "report", str(spec))


def test_usage_errors_exit_2() -> None:
    err = io.StringIO()
    with redirect_stderr(err), pytest.raises(SystemExit) as info:
        main(["report", str(ROOT / "specs" / "lenet5.yaml"), "--format", "xml"])
    assert info.value.code == 2
    assert err.getvalue().count("\n") == 1 and "invalid choice: 'xml'" in err.getvalue()


def test_absurd_sizes_are_exact_and_never_allocated() -> None:
    """1e12 units: exact integers, no allocation (the analysis never materialises tensors)."""
    side = 10**6
    report = archcalc.analyze(archcalc.load({
        "input": [3, side, side],
        "layers": [{"name": "c", "type": "conv", "filters": 1024, "kernel": 3, "padding": 1},
                   {"name": "fc", "type": "fc", "units": 10**12}],
    }))
    units = 1024 * side * side
    assert report["c"].units == units
    assert report["c"].macs == units * 27
    assert report["fc"].weights == units * 10**12
    assert report.totals.activation_bytes == 4 * (3 * side * side + units + 10**12)
    assert isinstance(report.totals.flops, int)


def _messages() -> list[tuple[str, str]]:
    rows = []
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "archcalc-docs-errors"
    tmp.mkdir(parents=True, exist_ok=True)
    spec = tmp / "spec.yaml"
    for what, text, _, _ in CASES:
        spec.write_text(text)
        _, _, err = run_cli("report", str(spec))
        rows.append((what, err.strip().replace(str(tmp) + "/", "")))
    return rows


def _onnx_model(nodes: list, inits: list | None = None, dims: list | None = None, opset: int = 13) -> bytes:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims or [1, 3, 8, 8])],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in (inits or {}).items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    return model.SerializeToString()


def _onnx_cases() -> list[tuple[str, bytes]]:
    import numpy as np
    from onnx import helper

    w = {"w": np.zeros((4, 3, 3, 3))}
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv")
    good = _onnx_model([conv], w)
    external = __import__("onnx").load_from_string(good)
    tensor = external.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = 1
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "../../etc/passwd"
    return [
        ("truncated ONNX file", good[: len(good) // 2]),
        ("not an ONNX file", b"this is plain text, not a protobuf\n"),
        ("empty ONNX file", b""),
        ("unknown ONNX ops", _onnx_model([helper.make_node("Hardmax", ["x"], ["e"], name="e"),
                                          helper.make_node("GridSample", ["x", "x"], ["g"], name="g")])),
        ("symbolic input dims", _onnx_model([conv], w, dims=["batch", 3, "height", "width"])),
        ("graph with a cycle", _onnx_model([helper.make_node("Relu", ["b"], ["a"], name="first"),
                                            helper.make_node("Relu", ["a"], ["b"], name="second")])),
        ("node reads a tensor nothing produces", _onnx_model([helper.make_node("Relu", ["nowhere"], ["y"], name="r")])),
        ("external data outside the model's folder", external.SerializeToString()),
    ]


def _onnx_messages() -> list[tuple[str, str]]:
    rows = []
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "archcalc-docs-errors"
    tmp.mkdir(parents=True, exist_ok=True)
    model = tmp / "model.onnx"
    for what, data in _onnx_cases():
        model.write_bytes(data)
        code, _, err = run_cli("report", str(model))
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, (what, err)
        rows.append((what, err.strip().replace(str(tmp) + "/", "")))
    return rows


def _bounds_messages() -> list[tuple[str, str]]:
    """The refusals of tests/test_onnx_bounds.py (special files, limits, external data, folding)."""
    import shutil

    from tests.test_onnx_bounds import CASES as BOUNDS

    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "archcalc-docs-bounds"
    if tmp.exists():
        shutil.rmtree(tmp)
    rows = []
    for i, (what, build, code, _) in enumerate(BOUNDS):
        if code != 2:
            continue
        folder = tmp / f"c{i}"
        folder.mkdir(parents=True)
        got, _, err = run_cli("report", str(build(folder)))
        assert got == 2 and err.count("\n") == 1 and "Traceback" not in err, (what, err)
        rows.append((what, err.strip().replace(str(folder) + "/", "")))
    return rows


def _output_messages() -> list[tuple[str, str]]:
    """Outputs that must not be written (issue 15): run in a scratch folder, relative names."""
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "archcalc-docs-outputs"
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    (tmp / "net.yaml").write_text("input: [1, 8, 8]\nlayers: [relu]\n")
    (tmp / "folder").mkdir()
    os.mkfifo(tmp / "fifo")
    cases = [
        ("output is the input", ("report", "net.yaml", "-o", "./net.yaml")),
        ("output folder missing", ("report", "net.yaml", "-o", "no/such/r.txt")),
        ("output is a folder", ("report", "net.yaml", "-o", "folder")),
        ("output name too long", ("report", "net.yaml", "-o", "x" * 300)),
        ("FIFO that nobody reads", ("report", "net.yaml", "-o", "fifo")),
    ]
    rows = []
    here = os.getcwd()
    try:
        os.chdir(tmp)
        for what, args in cases:
            code, _, err = run_cli(*args)
            assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, (what, err)
            rows.append((what, err.strip().replace("x" * 300, "xxx...(300 x)")))
    finally:
        os.chdir(here)
    return rows


def _needs_spec_messages() -> list[tuple[str, str]]:
    model = "model.onnx"  # refused before it is read
    rows = []
    for argv in (("check", model), ("tables", model), ("export", model, "-o", "out.onnx"),
                 ("sweep", model, "--vary", "width=32,64"), ("plot", "sweep", model, "-o", "front.svg")):
        code, _, err = run_cli(*argv)
        assert code == 2 and err.count("\n") == 1, (argv, err)
        rows.append((" ".join(argv[:2]) if argv[0] == "plot" else argv[0], err.strip()))
    return rows


def test_docs_error_table_is_current() -> None:
    lines = [
        "# Bad input and the message it gets",
        "",
        "Produced by `tests/test_bad_input.py` (`ARCHCALC_UPDATE_DOCS=1` rewrites it; the test fails",
        "when a message changes without this file). Every one is a single line on stderr with exit",
        "code 2 and no traceback (`archcalc --debug` shows it); nothing is written.",
        "",
        "| input | message |",
        "|---|---|",
    ]
    for what, message in _messages():
        escaped = message.replace("|", "\\|")
        lines.append(f"| {what} | `{escaped}` |")
    lines += ["", "## ONNX models", "", "| input | message |", "|---|---|"]
    for what, message in _onnx_messages():
        escaped = message.replace("|", "\\|")
        lines.append(f"| {what} | `{escaped}` |")
    lines += ["", "## Special files, limits, external data and constant folding", "",
              "Only regular files are read (a FIFO is never waited on, a device never read), each up to a size",
              "checked before reading. Constant folding computes only small results (the dims first); a large",
              "constant is kept as its dims and data type, and refused only where a value is needed.",
              "", "| input | message |", "|---|---|"]
    for what, message in _bounds_messages():
        escaped = message.replace("|", "\\|")
        lines.append(f"| {what} | `{escaped}` |")
    lines += ["", "## Outputs", "",
              "`/dev/null`, `/dev/stdout`, a terminal or a FIFO with a reader are written straight through",
              "(never replaced by a regular file); a regular file is replaced atomically, keeping its mode.",
              "", "| output | message |", "|---|---|"]
    for what, message in _output_messages():
        lines.append(f"| {what} | `{message}` |")
    lines += ["", "## Commands that need a spec, given an ONNX model", "", "| command | message |", "|---|---|"]
    for what, message in _needs_spec_messages():
        escaped = message.replace("|", "\\|")
        lines.append(f"| {what} | `{escaped}` |")
    text = "\n".join(lines) + "\n"
    path = ROOT / "docs" / "errors.md"
    if os.environ.get("ARCHCALC_UPDATE_DOCS"):
        path.write_text(text)
    assert path.read_text() == text
