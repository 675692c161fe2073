"""The registry owns everything about a layer family: each kind has every piece (schema, apply,
doc, ONNX translators or a statement of how it comes from ONNX, an emitter or a reasoned refusal,
the facts), every ONNX op_type the importer accepts maps to a registered kind or is folded, and
the layer table of docs/spec-language.md is generated from it (``ARCHCALC_UPDATE_DOCS=1``
rewrites it; otherwise the test checks the file is current)."""

from __future__ import annotations

import ast
import inspect
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping

import onnx
import pytest

from archcalc.cli import main
from archcalc.onnx_import.folders import FOLDERS
from archcalc.onnx_import.foldshape import FOLD_OPS
from archcalc.onnx_import.importer import DRIVER_OPS, known_ops
from archcalc.ops import OPS, REGISTRY, TRANSLATORS
from archcalc.ops.base import Attr, Op
from archcalc.ops.catalog import TABLE_BEGIN, TABLE_END, markdown_table, public_ops
from archcalc.ops.facts import KernelClass
from tests.conftest import ROOT

IDS = [op.kind for op in OPS]


def _overrides(op: Op, method: str) -> bool:
    return getattr(type(op), method) is not getattr(Op, method)


def missing_pieces(op: Op) -> list[str]:
    """What a layer family lacks of what every pass needs from it."""
    checks = {
        "kind and family": bool(getattr(op, "kind", "")) and bool(getattr(op, "family", "")),
        "doc line": bool(op.doc),
        "schema": isinstance(op.schema, Mapping) and all(isinstance(a, Attr) for a in op.schema.values()),
        "apply": _overrides(op, "apply"),
        "kernel_class": isinstance(getattr(op, "kernel_class", None), KernelClass),
        "view and inplace facts": isinstance(op.view, bool) and isinstance(op.inplace, bool),
        "ONNX translators or an import_note saying why none": bool(op.translators or op.import_note),
        "an emitter or an export_refusal saying why none": _overrides(op, "emit") or bool(op.export_refusal),
    }
    return [piece for piece, ok in checks.items() if not ok]


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_every_kind_has_every_piece(op: Op) -> None:
    assert missing_pieces(op) == [], f"{op.kind} lacks: {', '.join(missing_pieces(op))}"


def test_a_family_without_its_pieces_is_caught() -> None:
    class Bare(Op):
        kind = "bare"
        family = "bare"

    assert missing_pieces(Bare()) == [
        "doc line", "apply", "kernel_class", "ONNX translators or an import_note saying why none",
        "an emitter or an export_refusal saying why none",
    ]


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_translators_are_real_onnx_ops_owned_by_one_kind(op: Op) -> None:
    # a subclass inherits class attributes: it must set its own translators (or have none)
    assert not op.translators or "translators" in type(op).__dict__, f"{op.kind} inherits its translators"
    for op_type in op.translators:
        assert onnx.defs.has(op_type), f"{op.kind}: {op_type} is not an ONNX op"
    assert sum(len(o.translators) for o in OPS) == len(TRANSLATORS), "an op_type has two owners"


def _kinds_made_by(fn: object) -> set[str]:
    """The kinds a translator's source builds LayerSpecs of (string literals)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(inspect.getmodule(fn))))  # type: ignore[arg-type]
    kinds = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "LayerSpec" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                kinds.add(first.value)
    return kinds


def test_every_onnx_op_the_importer_accepts_maps_to_a_registered_kind() -> None:
    for op_type, fn in TRANSLATORS.items():
        made = _kinds_made_by(fn)
        assert made and made <= set(REGISTRY), f"{op_type}: translator makes unregistered kinds {made}"
    for op_type in known_ops():
        # translated to a layer of a registered kind, folded on constants (never a layer), or the driver's
        assert op_type in TRANSLATORS or op_type in FOLDERS or op_type in DRIVER_OPS, op_type


def test_the_numpy_free_list_of_folded_ops_is_the_folders_table() -> None:
    """The importer knows which ops fold from ``FOLD_OPS`` (no numpy imported); ``FOLDERS`` computes them."""
    assert set(FOLDERS) == FOLD_OPS


def test_facts_replace_the_old_kind_lists() -> None:
    assert {op.kind for op in OPS if op.view} == {"flatten", "identity", "dropout", "drop_path"}
    assert {op.kind for op in OPS if op.inplace} == {"activation", "batchnorm", "dropout", "drop_path", "layer_scale"}


def test_layer_table_in_the_docs_is_generated_from_the_registry() -> None:
    path = ROOT / "docs" / "spec-language.md"
    text = path.read_text()
    start, end = text.index(TABLE_BEGIN), text.index(TABLE_END) + len(TABLE_END) + 1
    if os.environ.get("ARCHCALC_UPDATE_DOCS"):
        path.write_text(text[:start] + markdown_table() + text[end:])
        return
    assert text[start:end] == markdown_table(), "docs/spec-language.md is stale: run with ARCHCALC_UPDATE_DOCS=1"


def test_archcalc_types_lists_every_public_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["types"]) == 0
    out = capsys.readouterr().out
    kinds = [line.split(" ")[0] for line in out.splitlines() if not line.startswith(" ")]
    assert kinds == [op.kind for op in public_ops()]


def test_ops_import_neither_onnx_nor_numpy_nor_the_onnx_packages() -> None:
    probe = (
        "import sys, pkgutil, importlib, archcalc.ops\n"
        "for m in pkgutil.iter_modules(archcalc.ops.__path__): importlib.import_module('archcalc.ops.' + m.name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('onnx', 'numpy')\n"
        "             or m.startswith(('archcalc.onnx_import', 'archcalc.onnx_export'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
    for path in (ROOT / "archcalc" / "ops").glob("*.py"):  # function-level imports count too
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(("archcalc.onnx_import", "archcalc.onnx_export")), path.name


def test_the_estimator_asks_the_registry_not_kind_names() -> None:
    """No pass below the ops keeps its own list of kinds: the estimator dispatches on the kernel
    class each op declares. A layer's kind may be looked up (``REGISTRY[layer.kind]``), copied
    into a record, or compared with ``"input"`` (the graph input, a structural fact); it is never
    compared with another kind name or tested against a set of kinds."""
    import ast

    def is_kind(node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "kind"

    def names_kinds(node: ast.AST) -> bool:
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str) and node.value != "input"
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return any(names_kinds(e) for e in node.elts)
        return isinstance(node, ast.Name)  # a module-level set of kind names

    for path in sorted((ROOT / "archcalc" / "estimate").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare) or any(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops):
                continue
            sides = [node.left, *node.comparators]
            if any(is_kind(side) for side in sides):
                others = [side for side in sides if not is_kind(side)]
                assert not any(names_kinds(o) for o in others), f"{path.name}:{node.lineno}: {ast.unparse(node)}"


def test_kernel_class_follows_attributes() -> None:
    from archcalc.ops import REGISTRY
    from archcalc.ops.facts import KernelClass

    act = REGISTRY["activation"]
    assert act.kernel_class_of({"fn": "relu"}) is KernelClass.ACTIVATION
    assert act.kernel_class_of({"fn": "identity"}) is KernelClass.ELIMINATED
    assert REGISTRY["conv"].kernel_class_of({}) is KernelClass.CONV
