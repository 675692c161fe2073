"""`archcalc tables`: published vs computed for every bundled reference, errata reported as such.

Sources: tests/reference/published.yaml (alexnet_2012 errata, errata_in_course_notes) and the
`expected:` blocks of the bundled specs, each naming its source.
"""

from __future__ import annotations

import csv
import io
import json
from contextlib import redirect_stdout
from typing import Any

from archcalc.cli import main
from archcalc.references import references


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


def test_every_reference_reproduces_or_reports_an_erratum() -> None:
    refs = references()
    assert {r.name for r in refs} >= {"lenet5", "lenet1989", "lenet5_course", "alexnet", "vgg", "resnet18",
                                      "resnet34", "resnet50", "googlenet"}
    for r in refs:
        assert r.checks, r.name
        bad = [c.describe() for c in r.checks if c.status == "mismatch"]
        assert not bad, bad
    code, out = run("tables")
    assert code == 0 and "0 mismatches" in out


def test_known_errata_are_reported_not_fixed(published: dict[str, Any]) -> None:
    code, out = run("tables", "-f", "csv")
    assert code == 0
    rows = [r for r in csv.DictReader(io.StringIO(out)) if r["status"] == "erratum"]
    found = {(r["network"], r["published"]) for r in rows}
    # published.yaml alexnet_2012 errata: 253,440; 150,528; the course table's 652 million
    assert len(published["alexnet_2012"]["errata"]) == 3
    assert {("alexnet", "253440"), ("alexnet", "150528"), ("alexnet", "652000000")} <= found
    # published.yaml errata_in_course_notes: GoogLeNet "2 million", ResNet-152 "25.5M"
    assert len(published["errata_in_course_notes"]) == 2
    assert ("googlenet", "2000000") in found and ("resnet50", "25500000") in found
    for r in rows:
        assert r["erratum"] and r["computed"] != r["published"]
    resnet152 = next(r for r in rows if r["published"] == "25500000")
    assert resnet152["computed"] == "60192808" and "n3=36" in resnet152["conventions"]


def test_markdown_is_slide_ready() -> None:
    code, out = run("tables", "alexnet", "lenet5", "-f", "markdown")
    assert code == 0
    assert out.startswith("## AlexNet")
    assert "| figure" in out and "ERRATUM: 253,440 does not follow" in out
    assert "+36,960 (+14.58%)" in out
    assert "Receptive field: fc8: global (last spatial layer pool5: 195 j32" in out


def test_json_rows_carry_sources_and_conventions() -> None:
    code, out = run("tables", "resnet18", "-f", "json")
    assert code == 0
    data = json.loads(out)["references"][0]
    macs = next(r for r in data["rows"] if r["figure"] == "totals.macs" and r["published"] == 1814073344)
    assert macs["status"] == "exact" and macs["conventions"] == "preset paper_macs" and "resnet_table1" in macs["source"]


def test_check_and_tables_share_one_vocabulary_and_both_fail_on_a_mismatch(tmp_path: Any) -> None:
    spec = tmp_path / "wrong.yaml"
    spec.write_text("input: [1, 8, 8]\nlayers:\n  - {name: c, type: conv, filters: 2, kernel: 3}\n"
                    "expected:\n  - source: a made-up table\n    layers: {c: {params: 20}}\n"
                    "    totals: {params: 21, macs: 648}\n")
    # c: 2 x 3x3 weights + 2 biases = 20 params; 2 x 9 x 6x6 = 648 MACs; 21 is wrong on purpose
    tally = "2 of 3 published figures reproduced; 0 known errata; 1 mismatch"
    code, out = run("check", str(spec))
    assert code == 1 and out.splitlines()[-1] == f"{spec}: {tally}"
    code, out = run("tables", str(spec))
    assert code == 1 and out.splitlines()[-1] == tally


def test_tally_grammar() -> None:
    from archcalc.expected import Check
    from archcalc.render.results import tally

    one = Check("source", "totals", "params", 1, 1, 0.0, "exact")
    close = Check("source", "totals", "macs", 100, 101, 0.02, "close")
    erratum = Check("source", "totals", "units", 5, 6, 0.0, "erratum", erratum="why")
    assert tally([one]) == "1 of 1 published figure reproduced; 0 known errata; 0 mismatches"
    assert tally([one, close, erratum]) == ("2 of 3 published figures reproduced (1 exact, 1 within the source's "
                                            "rounding); 1 known erratum; 0 mismatches")
