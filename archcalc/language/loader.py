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
from archcalc.language.reuse import apply_variant, file_of, read_variants, relative_to, resolve_extends, tag_file
from archcalc.language.sections import (
    channels_last_note,
    input_shape,
    read_blocks,
    read_defaults,
    read_tables,
    read_variables,
)
from archcalc.language.variables import substitute
from archcalc.language.yamlmarks import MarkedMap, load_yaml

__all__ = [
    "BLOCK_KEYS", "LAYER_KEYS", "MAX_BLOCK_DEPTH", "MAX_LAYERS", "MAX_SPEC_BYTES", "TOP_KEYS", "USE_KEYS",
    "build_from_document", "load_spec",
]

TOP_KEYS = (
    "name", "description", "source", "notes", "input", "variables", "variants", "extends", "defaults",
    "conventions", "tables", "blocks", "layers", "expected",
)
#: the largest spec file read (bytes); a spec is text written by hand
MAX_SPEC_BYTES = 1024 * 1024


def load_spec(
    source: str | Path | Mapping[str, Any],
    *,
    variables: Mapping[str, Any] | None = None,
    file: str | None = None,
) -> Graph:
    """Read a spec (a path, a bundled name, ``spec:variant``, a bundled variant's name, or an
    already-parsed mapping) and build its graph."""
    variant = None
    if isinstance(source, (str, Path)):
        doc, file, variant = read_document(source, file)
    else:
        doc = source
    if isinstance(doc, dict):
        doc = prepare(doc, file, variant)
    return build_from_document(doc, variables=variables, file=file)


def read_document(source: str | Path, file: str | None = None) -> tuple[Any, str, str | None]:
    """The parsed YAML of a source, the file to name in errors, and the variant it picks."""
    from archcalc.zoo import resolve

    path, variant = resolve(source)
    file = file or (str(source) if Path(source).exists() else str(path))
    text = read_regular_text(path, MAX_SPEC_BYTES, kind="a spec file", error=SpecError, shown=file)
    return load_yaml(text, file), file, variant


def _read_base(target: str, extending: str | None) -> tuple[Any, str, str | None]:
    return read_document(relative_to(target, extending))


def prepare(doc: Any, file: str | None, variant: str | None) -> Any:
    """The document to build: its ``extends:`` chain merged in, then the chosen variant applied."""
    with_bases = resolve_extends(doc, file, _read_base)
    if with_bases is not doc and file is not None:
        tag_file(with_bases, file)
    return apply_variant(with_bases, variant, file) if variant is not None else with_bases


def build_from_document(
    doc: Any, *, variables: Mapping[str, Any] | None = None, file: str | None = None
) -> Graph:
    """Build the graph of a parsed document (its ``extends:`` merged in here when still there).
    An error inside what a base spec brought in names the base's file and this one."""
    if isinstance(doc, dict) and "extends" in doc:
        doc = prepare(doc, file, None)
    try:
        return _build(doc, variables, file)
    except ArchcalcError as exc:
        if file is not None and exc.file is not None and exc.file != file and not getattr(exc, "extended_by", None):
            exc.message += f" (in {exc.file}, extended by {file})"
            exc.extended_by = file  # type: ignore[attr-defined]  # said once, by the innermost spec
        raise


def _build(doc: Any, variables: Mapping[str, Any] | None, file: str | None) -> Graph:
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
    read_variants(doc, file)
    ex = Expander(file, env)
    for key, read in (("tables", read_tables), ("defaults", read_defaults), ("blocks", read_blocks)):
        with ex.in_file(doc.get(key)):
            read(ex, doc.get(key) or {}, line_of(key))

    input_file = file_of(doc["input"], file)
    try:
        input_raw = substitute(doc["input"], env)
    except ArchcalcError as exc:
        raise exc.located(file=input_file, line=line_of("input")) from None
    input_name, shape = input_shape(input_raw, input_file, line_of("input"))
    input_layer = Layer(input_name, "input", freeze({"shape": shape}), (), Origin(input_file, line_of("input")))
    top = Scope(prefix="", input=Target(layer=input_name))
    ex.full[input_name] = Target(layer=input_name)
    ex.shapes.known[input_name] = (shape,)
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
    expected = parse_expected(doc.get("expected"), file, line_of("expected"), read_variants(doc, file))
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
        meta={"document": doc, "warnings": tuple(n for n in (channels_last_note(shape),) if n)},
    )
