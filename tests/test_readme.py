"""The README's example output is produced here: it must equal what the CLI prints now.

Run with ARCHCALC_UPDATE_README=1 to rewrite the block after an intended change.
"""

from __future__ import annotations

import io
import os
import re
from contextlib import redirect_stdout

from archcalc.cli import main
from tests.conftest import ROOT

BEGIN = "<!-- BEGIN lenet5-report -->"
END = "<!-- END lenet5-report -->"


def _output() -> str:
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["report", str(ROOT / "specs" / "lenet5.yaml"), "--format", "markdown"]) == 0
    return buf.getvalue()


def test_readme_starts_with_install_and_test_commands() -> None:
    head = (ROOT / "README.md").read_text().splitlines()[:8]
    text = "\n".join(head)
    assert "pip install . && archcalc report specs/lenet5.yaml" in text
    assert "python -m pytest" in text
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install '.[test]'" in ci and "python -m pytest" in ci and "venv" in ci


def test_readme_report_block_is_real_output() -> None:
    path = ROOT / "README.md"
    text = path.read_text()
    block = _output()
    pattern = re.compile(re.escape(BEGIN) + r"\n(.*?)" + re.escape(END), re.S)
    match = pattern.search(text)
    assert match, "README lacks the report block markers"
    if os.environ.get("ARCHCALC_UPDATE_README"):
        path.write_text(pattern.sub(lambda _m: BEGIN + "\n" + block + END, text))
        return
    assert match.group(1) == block


COMPARE_BEGIN = "<!-- BEGIN googlenet-compare -->"
COMPARE_END = "<!-- END googlenet-compare -->"
COMPARE_ARGV = ["compare", "googlenet", "tests/fixtures/onnx/googlenet_zoo.onnx", "--format", "markdown"]


def test_readme_compare_block_is_real_output(monkeypatch: object) -> None:
    """The README's GoogLeNet compare (paper vs ONNX model zoo) is what the CLI prints now."""
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.chdir(ROOT)
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(COMPARE_ARGV) == 0
    block = buf.getvalue()
    path = ROOT / "README.md"
    text = path.read_text()
    assert f"archcalc {' '.join(COMPARE_ARGV)}" in text
    pattern = re.compile(re.escape(COMPARE_BEGIN) + r"\n(.*?)" + re.escape(COMPARE_END), re.S)
    match = pattern.search(text)
    assert match, "README lacks the compare block markers"
    if os.environ.get("ARCHCALC_UPDATE_README"):
        path.write_text(pattern.sub(lambda _m: COMPARE_BEGIN + "\n" + block + COMPARE_END, text))
        return
    assert match.group(1) == block


EXPLAIN_BEGIN = "<!-- BEGIN lenet5-explain -->"
EXPLAIN_END = "<!-- END lenet5-explain -->"


def test_readme_explain_block_is_real_output() -> None:
    """``archcalc explain specs/lenet5.yaml C3``, as the README shows it (in a code block)."""
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["explain", str(ROOT / "specs" / "lenet5.yaml"), "C3"]) == 0
    block = "```text\n" + buf.getvalue() + "```\n"
    path = ROOT / "README.md"
    text = path.read_text()
    pattern = re.compile(re.escape(EXPLAIN_BEGIN) + r"\n(.*?)" + re.escape(EXPLAIN_END), re.S)
    match = pattern.search(text)
    assert match, "README lacks the explain block markers"
    if os.environ.get("ARCHCALC_UPDATE_README"):
        path.write_text(pattern.sub(lambda _m: EXPLAIN_BEGIN + "\n" + block + EXPLAIN_END, text))
        return
    assert match.group(1) == block


def test_readme_error_example_is_a_real_message() -> None:
    """The README's error line is the one docs/errors.md records (itself produced by a test)."""
    docs = (ROOT / "docs" / "errors.md").read_text()
    row = next(line for line in docs.splitlines() if line.startswith("| stride does not fit (rounding: exact) |"))
    message = row.split("`")[1]
    assert message in (ROOT / "README.md").read_text()
