"""The public API: ``archcalc.__all__`` offers every entry point and every exception, the heavy
entry points are thin lazy wrappers whose signatures equal their targets', and ``import archcalc``
loads no heavy dependency."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

import archcalc
from archcalc import errors
from tests.conftest import ROOT

ENTRY_POINTS = ("load", "analyze", "check", "sweep", "export_onnx", "save_onnx", "profile", "calibrate",
                "device_profile", "estimate_latency")


def test_all_names_every_entry_point_and_exception() -> None:
    exported = set(archcalc.__all__)
    assert set(ENTRY_POINTS) <= exported
    tree = {name for name, value in vars(errors).items()
            if isinstance(value, type) and issubclass(value, errors.ArchcalcError)
            and value.__module__ == errors.__name__}
    assert len(tree) >= 15 and tree <= exported, sorted(tree - exported)
    for name in archcalc.__all__:
        assert hasattr(archcalc, name), name


def _targets() -> list[tuple[Callable[..., Any], Callable[..., Any]]]:
    from archcalc import estimate, measure, sweeps
    from archcalc.onnx_export import export

    return [
        (archcalc.export_onnx, export.export_onnx), (archcalc.save_onnx, export.save),
        (archcalc.profile, measure.profile), (archcalc.calibrate, estimate.calibrate),
        (archcalc.device_profile, estimate.device_profile), (archcalc.estimate_latency, estimate.estimate_latency),
        (archcalc.sweep, sweeps.sweep),
    ]


@pytest.mark.parametrize(("wrapper", "target"), _targets(), ids=lambda f: getattr(f, "__name__", "?"))
def test_wrappers_mirror_their_targets(wrapper: Callable[..., Any], target: Callable[..., Any]) -> None:
    def shape(f: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(f).parameters.values()]

    assert shape(wrapper) == shape(target)
    assert "Any" not in str(inspect.signature(wrapper).return_annotation)


def test_import_archcalc_loads_no_heavy_dependency() -> None:
    probe = (
        "import sys\n"
        "import archcalc\n"
        "graph = archcalc.load('lenet5')\n"
        "archcalc.analyze(graph)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('onnx', 'onnxruntime', 'numpy', 'networkx'))\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_export_through_the_api(tmp_path: Any) -> None:
    pytest.importorskip("onnx")
    exported = archcalc.export_onnx(archcalc.load("lenet5"), weights="constant")
    archcalc.save_onnx(exported, tmp_path / "m.onnx")
    again = archcalc.analyze(archcalc.load(tmp_path / "m.onnx"))
    assert again.totals.macs == archcalc.analyze(archcalc.load("lenet5")).totals.macs


def test_estimate_through_the_api() -> None:
    from tests.test_estimate import synthetic

    graph = archcalc.load("lenet5_modern")
    estimate = archcalc.estimate_latency(graph, synthetic(), batch=2)
    assert estimate.total_ms > 0


def test_docs_teach_the_package_names() -> None:
    """The README and docs call ``archcalc.X`` wherever ``archcalc.X`` exists, not a module path."""
    import re

    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for module, name in re.findall(r"from (archcalc(?:\.\w+)+) import (\w+)", path.read_text()):
            assert name not in archcalc.__all__, f"{path.name}: from {module} import {name} (use archcalc.{name})"
        for name in re.findall(r"archcalc\.(?:\w+\.)+(\w+)\(", path.read_text()):
            assert name not in archcalc.__all__, f"{path.name}: a module path to archcalc.{name}"


def _python_blocks(text: str) -> list[str]:
    import re

    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_sweep_doc_examples_run(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweep examples of docs/sweeps.md and the README run as written (in a scratch folder)."""
    (tmp_path / "specs").symlink_to(ROOT / "specs")
    monkeypatch.chdir(tmp_path)
    pytest.importorskip("pandas")
    docs = _python_blocks((ROOT / "docs" / "sweeps.md").read_text())[0]
    readme = next(b for b in _python_blocks((ROOT / "README.md").read_text()) if "archcalc.sweep(" in b)
    for block in (docs, readme):
        namespace: dict[str, Any] = {}
        exec(compile("import archcalc\n" + block, "doc example", "exec"), namespace)
        assert len(namespace["result"]) > 0
    assert (tmp_path / "sweep.csv").exists() and (tmp_path / "sweep.json").exists()


def test_package_docstring_example(monkeypatch: pytest.MonkeyPatch) -> None:
    import doctest

    monkeypatch.chdir(ROOT)
    outcome = doctest.testmod(archcalc)
    assert outcome.attempted >= 3 and outcome.failed == 0


def test_networkx_is_used_only_where_the_docs_say() -> None:
    """networkx is imported by ``Graph.to_networkx``, compare's structural matching and the diagram's
    layering, lazily; the analysis never needs it."""
    import ast

    users = set()
    for path in (ROOT / "archcalc").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] == "networkx" for n in names):
                users.add(path.relative_to(ROOT).as_posix())
    assert users == {"archcalc/ir.py", "archcalc/comparison/matching.py", "archcalc/diagram/layering.py"}
    pytest.importorskip("networkx")
    g = archcalc.load("resnet18").to_networkx()
    assert g.number_of_nodes() == len(archcalc.load("resnet18").layers)
    assert "networkx" in (ROOT / "README.md").read_text().split("## What a report looks like")[0]


def test_a_command_loads_only_its_own_options() -> None:
    """``archcalc report`` builds the options of report alone: the modules other commands' help
    texts need (sweeps, comparison, estimate) are not loaded, and ``--help`` still lists them all."""
    probe = (
        "import sys, contextlib, io\n"
        "from archcalc.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['report', 'lenet5'])\n"
        "print(sorted(m for m in sys.modules if m.startswith(('archcalc.sweeps', 'archcalc.comparison', "
        "'archcalc.estimate', 'archcalc.render.compare'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
    listed = subprocess.run([sys.executable, "-m", "archcalc", "--help"], capture_output=True, text=True, cwd=ROOT,
                            check=True).stdout
    from archcalc.cli import COMMANDS

    assert all(name in listed for name in COMMANDS)
