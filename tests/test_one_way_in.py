"""One way in: every command reads a spec, a bundled name or an ONNX model the same way, and a
command that needs a spec says so in one line; formats follow the output's extension; bundled
names (``specs/lenet5.yaml``) resolve from any directory."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from archcalc.cli import COMMANDS, main
from archcalc.sources import SourceKind, load_any, what_is
from tests.conftest import ROOT, SPECS

FIXTURES = ROOT / "tests" / "fixtures" / "onnx"
ONNX = str(FIXTURES / "lenet5_modern_full.onnx")
LENET = str(SPECS / "lenet5.yaml")


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def _onnx_argv(tmp: Path) -> dict[str, list[tuple[str, ...]]]:
    """For every command that reads a source: its invocations on an ONNX model."""
    return {
        "report": [("report", ONNX)],
        "compare": [("compare", ONNX, LENET), ("compare", LENET, ONNX, "--by", "block")],
        "explain": [("explain", ONNX, "/conv1/Conv"), ("explain", ONNX, "/fc1/Gemm.macs")],
        "check": [("check", ONNX)],
        "export": [("export", ONNX, "-o", str(tmp / "again.onnx"))],
        "sweep": [("sweep", ONNX, "--vary", "width=1,2")],
        "plot": [("plot", "layers", ONNX, "-o", str(tmp / "layers.svg")),
                 ("plot", "rf", ONNX, "-o", str(tmp / "rf.svg")),
                 ("plot", "sweep", ONNX, "-o", str(tmp / "sweep.svg"))],
        "diagram": [("diagram", ONNX, "-o", str(tmp / "graph.svg"))],
        "view": [("view", ONNX, "-o", str(tmp / "page.html"))],
        "tables": [("tables", ONNX)],
        "profile": [("profile", ONNX, "--device", "cpu", "--warmup", "0", "--repeat", "1", "--estimate", "off")],
        "estimate": [("estimate", ONNX, "--device", "h100")],
    }


def test_every_command_works_on_onnx_or_says_why_in_one_line(tmp_path: Path) -> None:
    cases = _onnx_argv(tmp_path)
    assert set(cases) == {c.name for c in COMMANDS.values() if c.reads_source}, "a command lacks an ONNX case"
    works = {"report", "explain", "compare", "plot layers", "plot rf", "profile", "estimate", "diagram", "view"}
    for argv_list in cases.values():
        for argv in argv_list:
            code, out, err = run(*argv)
            label = " ".join(argv[:2]) if argv[0] == "plot" else argv[0]
            if label in works:
                assert code == 0, (argv, err)
                continue
            assert code == 2, (argv, code, err)
            assert out == "" and err.count("\n") == 1, (argv, err)
            assert "needs a" in err and "ONNX model" in err, (argv, err)
            assert "larger than" not in err and "UTF-8" not in err, (argv, err)


def test_what_is_decides_without_reading(tmp_path: Path) -> None:
    assert what_is(ONNX) is SourceKind.ONNX
    assert what_is("model.ONNX") is SourceKind.ONNX
    assert what_is(LENET) is SourceKind.SPEC
    assert what_is("resnet18") is SourceKind.BUNDLED
    assert what_is({"input": [1, 2, 2], "layers": []}) is SourceKind.DOCUMENT
    assert not SourceKind.ONNX.is_spec and SourceKind.BUNDLED.is_spec


def test_load_any_reads_every_kind() -> None:
    assert load_any("lenet5").name == load_any(LENET).name == "lenet5"
    assert load_any(ONNX).layers
    doc = {"input": [1, 8, 8], "layers": [{"type": "conv", "filters": 2, "kernel": 3}]}
    assert len(load_any(doc).layers) == 2


def test_specs_path_resolves_to_the_bundled_spec_from_any_directory(tmp_path: Path) -> None:
    probe = ("import archcalc, doctest, sys\n"
             "g = archcalc.load('specs/lenet5.yaml')\n"
             "print(g.name)\n"
             "sys.exit(doctest.testmod(archcalc).failed)\n")
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.splitlines()[0] == "lenet5"
    code, out, _ = run("report", "specs/resnet18.yaml", "--format", "json")
    assert code == 0 and json.loads(out)["name"] == "resnet18"


def test_a_local_file_wins_over_the_bundled_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "lenet5.yaml").write_text("name: mine\ninput: [1, 8, 8]\nlayers: [{type: conv, filters: 2, kernel: 3}]\n")
    monkeypatch.chdir(tmp_path)
    assert load_any("specs/lenet5.yaml").name == "mine"


@pytest.mark.parametrize(("suffix", "check"), [
    (".json", lambda text: json.loads(text)["name"] == "lenet5"),
    (".md", lambda text: text.startswith("## lenet5")),
    (".csv", lambda text: "params" in text.splitlines()[0]),
    (".txt", lambda text: text.startswith("lenet5")),
])
def test_format_follows_the_output_extension(tmp_path: Path, suffix: str, check: object) -> None:
    out = tmp_path / f"out{suffix}"
    code, stdout, err = run("report", LENET, "-o", str(out))
    assert code == 0 and stdout == "" and err == ""
    assert check(out.read_text())  # type: ignore[operator]


def test_format_option_wins_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    code, _, err = run("report", LENET, "--format", "table", "-o", str(out))
    assert code == 0 and out.read_text().startswith("lenet5")
    assert err.count("\n") == 1 and "--format" in err and "json" in err
    code, _, err = run("report", LENET, "--format", "json", "-o", str(out))
    assert code == 0 and err == "" and json.loads(out.read_text())["name"] == "lenet5"


def test_tables_and_sweep_follow_the_extension_too(tmp_path: Path) -> None:
    out = tmp_path / "tables.json"
    code, _, _ = run("tables", "lenet5", "-o", str(out))
    assert code in (0, 1) and "references" in json.loads(out.read_text())
    out = tmp_path / "sweep.csv"
    code, _, err = run("sweep", LENET, "--vary", "C1.filters=4,6", "--workers", "1", "-o", str(out))
    assert code == 0, err
    assert "C1.filters" in out.read_text()


def test_every_command_is_in_the_table() -> None:
    res = subprocess.run([sys.executable, "-m", "archcalc", "--help"], capture_output=True, text=True, cwd=ROOT)
    for name in COMMANDS:
        assert name in res.stdout


def test_only_the_cli_prints_and_only_emit_writes() -> None:
    import ast

    package = ROOT / "archcalc"
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text())
        in_cli = path.parent.name == "cli"
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                assert in_cli, f"{path.relative_to(ROOT)}:{node.lineno} prints; only archcalc/cli does"
            if in_cli and isinstance(node, ast.Name) and node.id == "write_atomic":
                assert path.name == "output.py", f"{path.relative_to(ROOT)}:{node.lineno} writes a file past emit()"
