"""The command line: formats, options, check, atomic output, start-up without onnx."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from archcalc.cli import main
from tests.conftest import ROOT, SPECS

LENET = str(SPECS / "lenet5.yaml")


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_table_has_totals_and_conventions() -> None:
    code, out, _ = run("report", LENET)
    assert code == 0
    assert "340,908" in out and "60,000" in out
    assert "conventions: preset lecun1998" in out
    total_line = next(line for line in out.splitlines() if line.startswith("total"))
    assert "8,094" in total_line


def test_json_keeps_exact_integers_and_schema() -> None:
    code, out, _ = run("report", LENET, "--format", "json", "--batch", "3")
    assert code == 0
    data = json.loads(out)
    assert data["schema_version"] == 1
    assert data["conventions"]["batch"] == 3 and data["conventions"]["preset"] == "lecun1998"
    assert data["totals"]["params"] == 60000 and isinstance(data["totals"]["macs"], int)
    c3 = next(layer for layer in data["layers"] if layer["name"] == "C3")
    assert c3["connections"] == 151600 and c3["shape"] == [16, 10, 10]
    assert c3["receptive_field"] == {"global": False, "size": [14, 14], "jump": [2, 2], "start": ["13/2", "13/2"]}
    assert sum(layer["macs"] for layer in data["layers"]) == data["totals"]["macs"]


def test_json_integers_beyond_float_precision(tmp_path: Path) -> None:
    spec = tmp_path / "huge.yaml"
    spec.write_text("input: [3, 1000000, 1000000]\nlayers:\n  - {name: fc, type: fc, units: 1000000007}\n")
    code, out, _ = run("report", str(spec), "--format", "json")
    assert code == 0
    weights = json.loads(out)["layers"][1]["weights"]
    assert weights == 3 * 10**12 * 1000000007  # exact: 3.000000021e21 is not a float
    assert str(weights) in out


def test_csv_is_plain_rows_and_context_is_asked_for() -> None:
    pd = __import__("pytest").importorskip("pandas")
    code, out, _ = run("report", LENET, "--format", "csv", "--columns", "name,params,connections")
    assert code == 0
    rows = list(csv.reader(out.splitlines()))
    assert rows[0] == ["name", "params", "connections"]
    assert ["C3", "1516", "151600"] in rows and rows[-1][0] == "Output"  # no total row
    frame = pd.read_csv(io.StringIO(out))
    assert list(frame.columns) == ["name", "params", "connections"] and frame["params"].sum() == 60000
    code, out, _ = run("report", LENET, "-f", "csv", "--columns", "name,params,connections", "--csv-context",
                       "--totals")
    lines = out.splitlines()
    assert lines[0].startswith("# lenet5: conventions: preset lecun1998")
    rows = list(csv.reader(line for line in lines if not line.startswith("#")))
    assert rows[0] == ["name", "params", "connections"] and rows[-1] == ["total", "60000", "340908"]
    frame = pd.read_csv(io.StringIO(out), comment="#")
    assert list(frame.columns) == ["name", "params", "connections"]


def test_markdown_columns_set_preset_dtype() -> None:
    code, out, _ = run("report", LENET, "-f", "markdown", "--columns", "name,params,param_bytes",
                       "--preset", "course", "--dtype", "fp16")
    assert code == 0 and out.startswith("## lenet5")
    assert "| C1 " in out and "preset course" in out and "fp16" in out
    c1 = next(line for line in out.splitlines() if line.startswith("| C1 "))
    assert "150" in c1 and "312" in c1  # course: bias not a param; but stored: (150 + 6) x 2 bytes
    code, out, _ = run("report", LENET, "--set", "flops_per_mac=1", "--set", "cheap_ops=none", "-f", "json")
    totals = json.loads(out)["totals"]
    assert totals["flops"] == totals["macs"]


def test_columns_all_and_variables() -> None:
    code, out, _ = run("report", str(SPECS / "resnet18.yaml"), "--var", "width=32", "--columns", "all", "-f", "csv")
    assert code == 0
    header = next(csv.reader([out.splitlines()[0]]))
    assert "live_bytes" in header and "where" in header
    assert "32x112x112" in out


def test_output_file_is_written(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    code, out, _ = run("report", LENET, "-f", "json", "-o", str(target))
    assert code == 0 and out == ""
    assert json.loads(target.read_text())["totals"]["connections"] == 340908
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_check_passes_and_fails(tmp_path: Path) -> None:
    code, out, _ = run("check", LENET, "-q")
    assert code == 0 and "32 of 32 published figures reproduced; 0 known errata; 0 mismatches" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "input: [1, 8, 8]\nlayers:\n  - {name: c, type: conv, filters: 2, kernel: 3}\n"
        "expected:\n  - source: a made-up figure\n    layers: {c: {params: 19}}\n"
    )
    code, out, _ = run("check", str(bad))
    assert code == 1 and "MISMATCH: c.params published 19 computed 20" in out


def test_listing_commands() -> None:
    for command, word in (("types", "subsample"), ("presets", "lecun1998"), ("columns", "connections")):
        code, out, _ = run(command)
        assert code == 0 and word in out


def test_python_m_and_no_onnx_on_the_report_path() -> None:
    probe = (
        "import sys, io, contextlib\n"
        "from archcalc.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['report', {LENET!r}]) == 0\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('onnx', 'onnxruntime', 'numpy', 'networkx'))\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
    res = subprocess.run([sys.executable, "-m", "archcalc", "check", "-q", LENET], capture_output=True, text=True,
                         cwd=ROOT)
    assert res.returncode == 0 and "published figures reproduced" in res.stdout


def test_the_same_note_on_many_layers_is_one_line_with_a_count() -> None:
    """Issue 12: a note repeated per layer (here: the default floor dropping a pixel on three
    convs) is printed once, with the count and the first layers named; JSON keeps every one."""
    import archcalc
    from archcalc.render import render

    layers = [{"name": f"c{i}", "type": "conv", "inputs": "input", "filters": 1, "kernel": 3, "stride": 3}
              for i in range(4)]
    report = archcalc.analyze(archcalc.load({"input": [1, 7, 7], "layers": [
        *layers, {"name": "sum", "type": "add", "inputs": [f"c{i}" for i in range(4)]}]}))
    assert len(report.notes) == 4
    text = render(report, "table")
    lines = [line for line in text.splitlines() if line.startswith("note:")]
    assert lines == ["note: 4 layers (c0, c1, c2, ...): rounding floor along H and W: (7 - 3)/3 + 1 = 2.33 gives 2, "
                     "so the last 1 input pixel is never read (pad 2 more pixels, or rounding: ceil, to read it; "
                     "rounding: exact makes this an error)"]
    assert len(json.loads(render(report, "json"))["notes"]) == 4
