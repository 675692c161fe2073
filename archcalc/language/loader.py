"""YAML spec -> Graph.

Blocks are expanded structurally (never as text): every block use makes a scope whose layers
are named ``use.rep.layer`` (``stage3.1.conv1``), ``input`` inside a block is the block's
input, and references resolve after the whole scope is read, so a layer may name one declared
further down. A layer whose ``when:`` is false is skipped and passes its input through, so a
residual block can say ``inputs: [bn2, proj_bn]`` and get the identity when there is no
projection. Every error names the file, the line, the layer and the block uses it came through.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archcalc.errors import ArchcalcError, SpecError, suggest
from archcalc.fileio import read_regular_text
from archcalc.ir import Graph, Layer, Origin, build_graph, freeze, plain
from archcalc.language.expansion import (
    BLOCK_KEYS,
    LAYER_KEYS,
    MAX_BLOCK_DEPTH,
    MAX_LAYERS,
    USE_KEYS,
    Expander,
    Scope,
    Target,
)
from archcalc.language.expectations import parse_expected
from archcalc.language.sections import input_shape, read_blocks, read_defaults, read_tables, read_variables
from archcalc.language.variables import substitute
from archcalc.language.yamlmarks import MarkedMap, load_yaml

__all__ = [
    "BLOCK_KEYS", "LAYER_KEYS", "MAX_BLOCK_DEPTH", "MAX_LAYERS", "MAX_SPEC_BYTES", "TOP_KEYS", "USE_KEYS",
    "build_from_document", "load_spec",
]

TOP_KEYS = (
    "name", "description", "source", "notes", "input", "variables", "defaults",
    "conventions", "tables", "blocks", "layers", "expected",
)
#: the largest spec file read (bytes); a spec is text written by hand
MAX_SPEC_BYTES = 16 * 1024 * 1024


def load_spec(
    source: str | Path | Mapping[str, Any],
    *,
    variables: Mapping[str, Any] | None = None,
    file: str | None = None,
) -> Graph:
    """Read a spec (a path, or an already-parsed mapping) and build its graph."""
    if isinstance(source, (str, Path)):
        from archcalc.zoo import spec_path

        path = spec_path(source)
        file = file or (str(source) if Path(source).exists() else str(path))
        text = read_regular_text(path, MAX_SPEC_BYTES, kind="a spec file", error=SpecError, shown=file)
        doc = load_yaml(text, file)
    else:
        doc = source
    return build_from_document(doc, variables=variables, file=file)


def build_from_document(
    doc: Any, *, variables: Mapping[str, Any] | None = None, file: str | None = None
) -> Graph:
    if not isinstance(doc, dict):
        raise SpecError("a spec must be a YAML mapping with 'input' and 'layers'", file=file,
                        line=getattr(doc, "line", None))
    line_of = doc.line_of if isinstance(doc, MarkedMap) else (lambda _k: None)
    for key in doc:
        if key not in TOP_KEYS:
            raise SpecError(f"unknown top-level key '{key}'{suggest(key, TOP_KEYS)}", file=file, line=line_of(key))
    for key in ("input", "layers"):
        if key not in doc:
            raise SpecError(f"a spec needs '{key}'", file=file, line=getattr(doc, "line", None))

    env = read_variables(doc.get("variables") or {}, variables or {}, file, line_of("variables"))
    ex = Expander(file, env)
    read_tables(ex, doc.get("tables") or {}, line_of("tables"))
    read_defaults(ex, doc.get("defaults") or {}, line_of("defaults"))
    read_blocks(ex, doc.get("blocks") or {}, line_of("blocks"))

    try:
        input_raw = substitute(doc["input"], env)
    except ArchcalcError as exc:
        raise exc.located(file=file, line=line_of("input")) from None
    input_name, shape = input_shape(input_raw, file, line_of("input"))
    input_layer = Layer(input_name, "input", freeze({"shape": shape}), (), Origin(file, line_of("input")))
    top = Scope(prefix="", input=Target(layer=input_name))
    ex.full[input_name] = Target(layer=input_name)
    ex.full_lines[input_name] = line_of("input")
    top.names[input_name] = Target(layer=input_name)
    ex.expand(doc["layers"], top, env, (), (), line_of("layers"))
    if not ex.pending:
        raise SpecError("'layers' is empty", file=file, line=line_of("layers"))

    layers = [input_layer]
    n_outputs = {input_name: 1}
    for p in ex.pending:
        try:
            inputs = tuple(ex.resolve(ref) for ref in p.refs)
        except ArchcalcError as exc:
            raise exc.located(layer=p.name, trace=p.origin.trace) from None
        layers.append(Layer(p.name, p.kind, p.attrs, inputs, p.origin))
        n_outputs[p.name] = p.n_outputs

    conventions = doc.get("conventions") or {}
    if not isinstance(conventions, dict):
        raise SpecError("conventions must be a mapping", file=file, line=line_of("conventions"))
    from archcalc.conventions import resolve

    try:
        resolve(None, conventions)
    except ArchcalcError as exc:
        raise exc.located(file=file, line=line_of("conventions")) from None
    expected = parse_expected(doc.get("expected"), file, line_of("expected"))
    name = doc.get("name") or (Path(file).stem if file else "network")
    return build_graph(
        str(name),
        layers,
        n_outputs,
        file=file,
        description=doc.get("description"),
        source=doc.get("source"),
        conventions=plain(conventions),
        expected=expected,
        variables=env,
        meta={"document": doc},
    )
