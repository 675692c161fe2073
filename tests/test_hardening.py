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
