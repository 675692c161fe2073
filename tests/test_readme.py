"""The README's example output is produced here: it must equal what the CLI prints now.

Run with ARCHCALC_UPDATE_README=1 to rewrite the block after an intended change.
"""

from __future__ import annotations

import io
import os
import re
from contextlib import redirect_stdout

import pytest

from archcalc.cli import main
from tests.conftest import ROOT


def _cli_output(argv: list[str]) -> str:
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(argv) == 0
    return buf.getvalue()


def _check_block(name: str, block: str) -> None:
    """The README's block between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` is ``block``
    (ARCHCALC_UPDATE_README=1 writes it instead)."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    path = ROOT / "README.md"
    text = path.read_text()
    pattern = re.compile(re.escape(begin) + r"\n(.*?)" + re.escape(end), re.S)
    match = pattern.search(text)
    assert match, f"README lacks the {name} block markers"
    if os.environ.get("ARCHCALC_UPDATE_README"):
        path.write_text(pattern.sub(lambda _m: begin + "\n" + block + end, text))
        return
    assert match.group(1) == block


def test_readme_starts_with_install_and_test_commands() -> None:
    head = (ROOT / "README.md").read_text().splitlines()[:8]
    text = "\n".join(head)
    assert "pip install . && archcalc report specs/lenet5.yaml" in text
    assert "python -m pytest" in text
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install '.[test]'" in ci and "python -m pytest" in ci and "venv" in ci


def test_readme_report_block_is_real_output() -> None:
    _check_block("lenet5-report", _cli_output(["report", str(ROOT / "specs" / "lenet5.yaml"), "--format", "markdown"]))


COMPARE_ARGV = ["compare", "googlenet", "tests/fixtures/onnx/googlenet_zoo.onnx", "--format", "markdown"]


def test_readme_compare_block_is_real_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's GoogLeNet compare (paper vs ONNX model zoo) is what the CLI prints now."""
    monkeypatch.chdir(ROOT)
    assert f"archcalc {' '.join(COMPARE_ARGV)}" in (ROOT / "README.md").read_text()
    _check_block("googlenet-compare", _cli_output(COMPARE_ARGV))


def test_readme_explain_block_is_real_output() -> None:
    """``archcalc explain specs/lenet5.yaml C3``, as the README shows it (in a code block)."""
    block = _cli_output(["explain", str(ROOT / "specs" / "lenet5.yaml"), "C3"])
    _check_block("lenet5-explain", "```text\n" + block + "```\n")


def test_readme_error_example_is_a_real_message() -> None:
    """The README's error line is the one docs/errors.md records (itself produced by a test)."""
    docs = (ROOT / "docs" / "errors.md").read_text()
    row = next(line for line in docs.splitlines() if line.startswith("| stride does not fit (rounding: exact) |"))
    message = row.split("`")[1]
    assert message in (ROOT / "README.md").read_text()
