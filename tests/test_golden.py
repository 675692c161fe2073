"""Golden reports: every bundled spec and every ONNX fixture, as JSON and as the all-columns
table, compared with the files under tests/golden/.

They guard refactors (every figure stays as it was). The golden files were written by archcalc
before the one-op-one-module redesign; the published figures themselves are checked elsewhere
against their sources. Rewrite them only for an intended change:
``ARCHCALC_GOLDEN_OVERWRITE=1 python -m pytest tests/test_golden.py``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from archcalc.bundled import bundled_specs
from archcalc.cli import main

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
FIXTURES = HERE / "fixtures" / "onnx"
OVERWRITE = os.environ.get("ARCHCALC_GOLDEN_OVERWRITE") == "1"

CASES = [(name, str(path)) for name, path in bundled_specs().items()] + [
    (p.stem + ".onnx", str(p)) for p in sorted(FIXTURES.glob("*.onnx"))
]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def _padding_free(text: str) -> str:
    """The table without its column padding: the width of the ``where`` column follows the
    length of the checkout's path, which is not a figure."""
    return re.sub(r"-{2,}", "-", re.sub(r" {2,}", " ", text))


def _check(path: Path, text: str, *, table: bool = False) -> None:
    if OVERWRITE:
        path.write_text(text)
        return
    assert path.exists(), f"no golden file {path.name}: run with ARCHCALC_GOLDEN_OVERWRITE=1"
    golden = path.read_text()
    if table:
        text, golden = _padding_free(text), _padding_free(golden)
    assert text == golden, f"{path.name} differs from the golden report"


@pytest.mark.parametrize(("name", "source"), CASES, ids=[c[0] for c in CASES])
def test_golden_report(name: str, source: str, capsys: pytest.CaptureFixture[str]) -> None:
    extra = ("--batch", "1") if "dynbatch" in name else ()
    doc = json.loads(_run(capsys, "report", source, *extra, "--format", "json", "--columns", "all"))
    doc.pop("file", None)
    if isinstance(doc.get("source"), str) and doc["source"].startswith("/"):
        doc["source"] = Path(doc["source"]).name
    for row in doc.get("layers", []):  # the folder the spec lives in is not a figure
        if isinstance(row.get("where"), str):
            row["where"] = Path(row["where"]).name
    _check(GOLDEN / f"{name}.json", json.dumps(doc, indent=1, sort_keys=True) + "\n")
    table = _run(capsys, "report", source, *extra, "--columns", "all")
    _check(GOLDEN / f"{name}.txt", table.replace(str(Path(source).parent) + "/", ""), table=True)
