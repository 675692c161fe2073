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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archcalc.errors import ArchcalcError, GraphError, SpecError, suggest
from archcalc.ir import Graph, Layer, Origin, build_graph, freeze, plain
from archcalc.language.variables import evaluate_all, substitute
from archcalc.language.yamlmarks import MarkedList, MarkedMap, load_yaml
from archcalc.ops import REGISTRY, lookup
from archcalc.ops.conv import connection_table

TOP_KEYS = (
    "name", "description", "source", "notes", "input", "variables", "defaults",
    "conventions", "tables", "blocks", "layers", "expected",
)
LAYER_KEYS = ("name", "type", "inputs", "when", "note")
USE_KEYS = ("name", "block", "repeat", "with", "first", "each", "inputs", "when", "note")
BLOCK_KEYS = ("params", "layers", "output", "doc")

#: the largest spec file read (bytes); a spec is text written by hand
MAX_SPEC_BYTES = 16 * 1024 * 1024
#: how deep block uses may nest
MAX_BLOCK_DEPTH = 32
#: the most layers one spec may expand to
MAX_LAYERS = 1_000_000


@dataclass(frozen=True)
class _Target:
    """What a name stands for: a layer output, or another reference to follow (skipped layer)."""

    layer: str | None = None
    index: int = 0
    ref: _Ref | None = None


@dataclass(frozen=True)
class _Ref:
    scope: _Scope
    text: str | None
    line: int | None
    direct: _Target | None = None


@dataclass(eq=False)
class _Scope:
    prefix: str
    input: _Target
    names: dict[str, _Target] = field(default_factory=dict)
    lines: dict[str, int | None] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Pending:
    name: str
    kind: str
    attrs: Mapping[str, Any]
    refs: list[_Ref]
    origin: Origin
    n_outputs: int


@dataclass
class _Block:
    name: str
    params: dict[str, Any]
    required: set[str]
    layers: MarkedList
    output: str | None
    line: int | None
    param_lines: dict[str, int | None] = field(default_factory=dict)


class _Expander:
    def __init__(self, file: str | None, globals_: dict[str, Any]) -> None:
        self.file = file
        self.globals = globals_
        self.blocks: dict[str, _Block] = {}
        self.tables: dict[str, Any] = {}
        self.defaults: dict[str, dict[str, Any]] = {}
        self.default_lines: dict[str, MarkedMap] = {}
        self.pending: list[_Pending] = []
        self.full: dict[str, _Target] = {}
        self.full_lines: dict[str, int | None] = {}

    # -- errors --------------------------------------------------------------------------

    def error(self, message: str, line: int | None, layer: str | None = None,
              trace: tuple[str, ...] = (), cls: type[ArchcalcError] = SpecError) -> ArchcalcError:
        return cls(message, file=self.file, line=line, layer=layer, trace=trace)

    # -- names ---------------------------------------------------------------------------

    def register(self, scope: _Scope, local: str, target: _Target, line: int | None,
                 trace: tuple[str, ...]) -> None:
        full = scope.prefix + local
        if local in scope.names or full in self.full:
            first = scope.lines.get(local, self.full_lines.get(full))
            where = f" (first declared at line {first})" if first else ""
            raise self.error(f"duplicate layer name '{full}'{where}", line, full, trace, GraphError)
        scope.names[local] = target
        scope.lines[local] = line
        self.full[full] = target
        self.full_lines[full] = line

    def resolve(self, ref: _Ref, depth: int = 0) -> tuple[str, int]:
        if depth > 10_000:
            raise self.error("skipped layers (when: false) pass their inputs to each other in a cycle", ref.line)
        if ref.direct is not None:
            return self._follow(ref.direct, depth)
        assert ref.text is not None
        text, index = ref.text, None
        head, sep, tail = text.rpartition(":")
        if sep and tail.isdigit():
            text, index = head, int(tail)
        if text == "input":
            target = ref.scope.input
        elif text in ref.scope.names:
            target = ref.scope.names[text]
        elif text in self.full:
            target = self.full[text]
        else:
            known = list(ref.scope.names) + list(self.full)
            raise self.error(f"input '{text}' is not a layer{suggest(text, known)}", ref.line, cls=GraphError)
        name, found = self._follow(target, depth)
        return name, (index if index is not None else found)

    def _follow(self, target: _Target, depth: int) -> tuple[str, int]:
        if target.ref is not None:
            return self.resolve(target.ref, depth + 1)
        assert target.layer is not None
        return target.layer, target.index

    # -- expansion -----------------------------------------------------------------------

    def expand(self, entries: Any, scope: _Scope, env: Mapping[str, Any], stack: tuple[str, ...],
               trace: tuple[str, ...], line: int | None) -> _Target:
        if not isinstance(entries, list):
            raise self.error("'layers' must be a list of layers", line, trace=trace)
        previous = scope.input
        for i, raw in enumerate(entries):
            entry_line = entries.line_of(i) if isinstance(entries, MarkedList) else line
            previous = self.entry(raw, scope, env, stack, trace, entry_line, previous)
            if len(self.pending) > MAX_LAYERS:
                raise self.error(f"the spec expands to more than {MAX_LAYERS:,} layers", entry_line, trace=trace)
        return previous

    def entry(self, raw: Any, scope: _Scope, env: Mapping[str, Any], stack: tuple[str, ...],
              trace: tuple[str, ...], line: int | None, previous: _Target) -> _Target:
        if isinstance(raw, str):
            entry: dict[str, Any] = MarkedMap(type=raw)
            entry.line = line  # type: ignore[attr-defined]
        elif isinstance(raw, dict):
            entry = raw
        else:
            raise self.error(f"a layer must be a mapping or a type name, got {raw!r}", line, trace=trace)
        line_of = entry.line_of if isinstance(entry, MarkedMap) else (lambda _k: line)
        name_hint = entry.get("name") if isinstance(entry.get("name"), str) else None
        values: dict[str, Any] = {}
        for key, value in entry.items():
            try:
                values[key] = substitute(value, env)
            except ArchcalcError as exc:
                raise exc.located(file=self.file, line=line_of(key), layer=name_hint, trace=trace) from None
        is_use = "block" in values
        kind_word = str(values["block"]) if is_use else str(values.get("type", ""))
        if not is_use and "type" not in values:
            raise self.error("a layer needs a 'type' (or 'block' to use a block)", line, name_hint, trace)
        local = self.local_name(values, scope, kind_word, line, trace)
        full = scope.prefix + local
        when = values.get("when", True)
        if not isinstance(when, bool):
            raise self.error(f"when must be true or false, got {when!r}", line_of("when"), full, trace)
        refs = self.input_refs(values, scope, previous, line_of("inputs"), full, trace)
        if not when:
            target = _Target(ref=refs[0]) if refs else previous
            self.register(scope, local, target, line, trace)
            return target
        if is_use:
            target = self.use(values, entry, scope, local, refs, env, stack, trace, line)
        else:
            target = self.layer(values, entry, scope, local, refs, trace, line)
        return target

    def local_name(self, values: dict[str, Any], scope: _Scope, kind_word: str, line: int | None,
                   trace: tuple[str, ...]) -> str:
        if "name" not in values:
            count = scope.counts.get(kind_word, 0) + 1
            scope.counts[kind_word] = count
            return f"{kind_word}{count}"
        name = values["name"]
        if isinstance(name, int) and not isinstance(name, bool):
            name = str(name)
        if not isinstance(name, str) or not name.strip():
            raise self.error(f"name must be a non-empty string, got {name!r}", line, trace=trace)
        if name == "input" or ":" in name or any(c.isspace() for c in name):
            raise self.error(
                f"'{name}' cannot be a layer name ('input' is reserved; no ':' or spaces)", line, trace=trace
            )
        return name

    def input_refs(self, values: dict[str, Any], scope: _Scope, previous: _Target, line: int | None,
                   full: str, trace: tuple[str, ...]) -> list[_Ref]:
        if "inputs" not in values:
            return [_Ref(scope, None, line, direct=previous)]
        raw = values["inputs"]
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
            raise self.error(f"inputs must be a layer name or a list of them, got {raw!r}", line, full, trace)
        return [_Ref(scope, text, line) for text in items]

    def layer(self, values: dict[str, Any], entry: dict[str, Any], scope: _Scope, local: str,
              refs: list[_Ref], trace: tuple[str, ...], line: int | None) -> _Target:
        full = scope.prefix + local
        line_of = entry.line_of if isinstance(entry, MarkedMap) else (lambda _k: line)
        type_name = values["type"]
        if not isinstance(type_name, str):
            raise self.error(f"type must be a string, got {type_name!r}", line_of("type"), full, trace)
        try:
            op, implied = lookup(type_name)
            raw = {k: v for k, v in values.items() if k not in LAYER_KEYS}
            for key, value in implied.items():
                if key in raw and raw[key] != value:
                    raise SpecError(f"type {type_name} means {key}: {value}, but the layer says {raw[key]!r}",
                                    line=line_of(key))
                raw[key] = value
            for scope_key in ("all", op.kind):
                for key, value in self.defaults.get(scope_key, {}).items():
                    if key not in raw and key in op.schema:
                        raw[key] = value
            if isinstance(raw.get("connections"), str) and raw["connections"] in self.tables:
                raw["connections"] = self.tables[raw["connections"]]
            attrs = op.normalize(raw, line_of)
        except ArchcalcError as exc:
            raise exc.located(file=self.file, line=line, layer=full, trace=trace) from None
        lo, hi = op.arity
        if len(refs) < lo or (hi is not None and len(refs) > hi):
            want = f"{lo}" if lo == hi else (f"at least {lo}" if hi is None else f"{lo} to {hi}")
            hint = "; list them with inputs: [a, b]" if lo > 1 else ""
            raise self.error(f"{type_name} takes {want} input(s), got {len(refs)}{hint}",
                             line_of("inputs"), full, trace, GraphError)
        origin = Origin(self.file, line, trace)
        self.pending.append(_Pending(full, op.kind, freeze(attrs), refs, origin, op.n_outputs(attrs)))
        target = _Target(layer=full)
        self.register(scope, local, target, line, trace)
        return target

    def use(self, values: dict[str, Any], entry: dict[str, Any], scope: _Scope, local: str,
            refs: list[_Ref], env: Mapping[str, Any], stack: tuple[str, ...],
            trace: tuple[str, ...], line: int | None) -> _Target:
        full = scope.prefix + local
        line_of = entry.line_of if isinstance(entry, MarkedMap) else (lambda _k: line)
        for key in values:
            if key not in USE_KEYS:
                raise self.error(f"unknown key '{key}' in a block use{suggest(key, USE_KEYS)}",
                                 line_of(key), full, trace)
        block_name = values["block"]
        block = self.blocks.get(block_name) if isinstance(block_name, str) else None
        if block is None:
            raise self.error(f"unknown block '{block_name}'{suggest(str(block_name), self.blocks)}",
                             line_of("block"), full, trace)
        if block.name in stack:
            raise self.error(f"block '{block.name}' uses itself ({' -> '.join([*stack, block.name])})",
                             line, full, trace)
        if len(stack) >= MAX_BLOCK_DEPTH:
            raise self.error(f"blocks nest deeper than {MAX_BLOCK_DEPTH}", line, full, trace)
        repeat = values.get("repeat")
        if repeat is not None and (not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1):
            raise self.error(f"repeat must be a positive integer, got {repeat!r}", line_of("repeat"), full, trace)
        reps = repeat if repeat is not None else 1
        each = values.get("each")
        if each is not None and (not isinstance(each, list) or len(each) != reps
                                 or not all(isinstance(e, dict) for e in each)):
            raise self.error(f"each must be a list of {reps} mapping(s), one per repetition",
                             line_of("each"), full, trace)
        for key in ("with", "first"):
            if key in values and not isinstance(values[key], dict):
                raise self.error(f"{key} must be a mapping of block parameters", line_of(key), full, trace)
        if len(refs) != 1:
            raise self.error(f"a block takes one input, got {len(refs)}", line_of("inputs"), full, trace, GraphError)
        defined = f" (line {block.line})" if block.line is not None else ""
        used = f" at line {line}" if line is not None else ""
        use_site = f"block '{block.name}'{defined} used by {full}{used}"
        child_trace = (*trace, use_site)
        current = _Target(ref=refs[0])
        for r in range(reps):
            given: dict[str, Any] = {}
            layers_of: list[tuple[str, Any]] = [("with", values.get("with") or {})]
            if r == 0 and values.get("first"):
                layers_of.append(("first", values["first"]))
            if each is not None:
                layers_of.append(("each", each[r]))
            for origin_key, supplied in layers_of:
                for key, value in supplied.items():
                    if key not in block.params:
                        raise self.error(
                            f"block '{block.name}' has no parameter '{key}'{suggest(key, block.params)}"
                            f"; parameters: {', '.join(block.params) or 'none'}",
                            line_of(origin_key), full, trace)
                    given[key] = value
            missing = [p for p in block.required if given.get(p) is None]
            if missing:
                raise self.error(f"block '{block.name}' needs parameter(s) {', '.join(sorted(missing))}",
                                 line, full, trace)
            child_env = self.block_env(block, given, r, reps, full, child_trace)
            prefix = f"{full}.{r}." if repeat is not None else f"{full}."
            child = _Scope(prefix=prefix, input=current)
            out = self.expand(block.layers, child, child_env, (*stack, block.name), child_trace, block.line)
            if block.output is not None:
                out = _Target(ref=_Ref(child, block.output, block.line))
            if repeat is not None:
                self.register(scope, f"{local}.{r}", out, line, trace)
            current = out
        self.register(scope, local, current, line, trace)
        return current



    def block_env(self, block: _Block, given: Mapping[str, Any], index: int, reps: int, full: str,
                  trace: tuple[str, ...]) -> dict[str, Any]:
        """The scope of one repetition: globals, ``index``/``repeat``, the parameters given at
        the use site, and the block's defaults evaluated in that scope (a default may name
        other parameters: ``mid: "${filters // 4}"``)."""
        base = {**self.globals, "index": index, "repeat": reps, **given}
        defaults = {k: v for k, v in block.params.items() if k not in given}

        def locate(key: str, exc: ArchcalcError) -> ArchcalcError:
            exc.message = f"default of block parameter '{key}': {exc.message}"
            return exc.located(file=self.file, line=block.param_lines.get(key, block.line), layer=full,
                               trace=trace)

        return evaluate_all(defaults, base, locate, what="block parameters")


def _input_shape(raw: Any, file: str | None, line: int | None) -> tuple[str, tuple[int, ...]]:
    def bad(message: str) -> SpecError:
        return SpecError(message, file=file, line=line)

    def ints(value: Any) -> bool:
        return isinstance(value, list) and bool(value) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value)

    name = "input"
    if isinstance(raw, list):
        shape = raw
    elif isinstance(raw, dict):
        keys = ("shape", "channels", "size", "name")
        unknown = [k for k in raw if k not in keys]
        if unknown:
            raise bad(f"unknown key '{unknown[0]}' in input{suggest(unknown[0], keys)}")
        name = str(raw.get("name", "input"))
        if "shape" in raw:
            shape = raw["shape"]
        else:
            size = raw.get("size")
            channels = raw.get("channels")
            if size is None or channels is None:
                raise bad("input needs shape: [C, H, W] or channels: and size:")
            sizes = [size, size] if isinstance(size, int) and not isinstance(size, bool) else size
            if not ints(sizes):
                raise bad(f"input size must be an integer or a list of them, got {size!r}")
            shape = [channels, *sizes]
    else:
        raise bad("input must be [C, H, W] or a mapping with shape: or channels: and size:")
    if not ints(shape):
        raise bad(f"input shape must be a list of integers (channels first), got {shape!r}")
    if any(v < 1 for v in shape):
        raise bad(f"input sizes must be positive, got {list(shape)}")
    return name, tuple(int(v) for v in shape)


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
        if path.is_dir():
            raise SpecError("is a directory, not a spec file", file=file)
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError(f"spec file is larger than {MAX_SPEC_BYTES // 2**20} MiB", file=file)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise SpecError("not a text file (it is not UTF-8)", file=file) from None
        except OSError as exc:
            raise SpecError(f"cannot read: {exc.strerror}", file=file) from None
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

    env = _variables(doc.get("variables") or {}, variables or {}, file, line_of("variables"))
    ex = _Expander(file, env)
    _read_tables(ex, doc.get("tables") or {}, line_of("tables"))
    _read_defaults(ex, doc.get("defaults") or {}, line_of("defaults"))
    _read_blocks(ex, doc.get("blocks") or {}, line_of("blocks"))

    try:
        input_raw = substitute(doc["input"], env)
    except ArchcalcError as exc:
        raise exc.located(file=file, line=line_of("input")) from None
    input_name, shape = _input_shape(input_raw, file, line_of("input"))
    input_layer = Layer(input_name, "input", freeze({"shape": shape}), (), Origin(file, line_of("input")))
    top = _Scope(prefix="", input=_Target(layer=input_name))
    ex.full[input_name] = _Target(layer=input_name)
    ex.full_lines[input_name] = line_of("input")
    top.names[input_name] = _Target(layer=input_name)
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
    from archcalc.expected import parse_expected

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


def _variables(declared: Any, overrides: Mapping[str, Any], file: str | None, line: int | None) -> dict[str, Any]:
    """The spec's variables with ``overrides`` in place of their declared values, evaluated in
    dependency order: a derived variable (``c1: "${2 * k}"``) follows an override of ``k``."""
    if not isinstance(declared, dict):
        raise SpecError("variables must be a mapping of name: value", file=file, line=line)
    line_of = declared.line_of if isinstance(declared, MarkedMap) else (lambda _k: line)
    for key in declared:
        if not isinstance(key, str) or not key.isidentifier():
            raise SpecError(f"variable name '{key}' must be an identifier", file=file, line=line_of(key))
    for key in overrides:
        if key not in declared:
            raise SpecError(
                f"variable '{key}' is not declared in the spec{suggest(key, declared)}; "
                f"variables: {', '.join(declared) or 'none'}", file=file, line=line)
    raw = {**declared, **overrides}

    def locate(key: str, exc: ArchcalcError) -> ArchcalcError:
        if key in overrides:
            exc.message = f"--var {key}: {exc.message}"
        return exc.located(file=file, line=line_of(key))

    return evaluate_all(raw, {}, locate)


def _read_tables(ex: _Expander, tables: Any, line: int | None) -> None:
    if not isinstance(tables, dict):
        raise ex.error("tables must be a mapping of name: [[maps], ...]", line)
    line_of = tables.line_of if isinstance(tables, MarkedMap) else (lambda _k: line)
    for name, value in tables.items():
        try:
            ex.tables[name] = plain(connection_table(plain(value), f"table {name}"))
        except ArchcalcError as exc:
            raise exc.located(file=ex.file, line=line_of(name)) from None


def _read_defaults(ex: _Expander, defaults: Any, line: int | None) -> None:
    if not isinstance(defaults, dict):
        raise ex.error("defaults must be a mapping of layer type: {key: value}", line)
    line_of = defaults.line_of if isinstance(defaults, MarkedMap) else (lambda _k: line)
    for type_name, values in defaults.items():
        if not isinstance(values, dict):
            raise ex.error(f"defaults for {type_name} must be a mapping", line_of(type_name))
        if type_name == "all":
            known = {k for op in REGISTRY.values() for k in op.schema}
            for key in values:
                if key not in known:
                    raise ex.error(f"no layer type has a key '{key}'{suggest(key, known)}", line_of(type_name))
            ex.defaults["all"] = dict(values)
            continue
        try:
            op, _ = lookup(type_name)
        except ArchcalcError as exc:
            raise exc.located(file=ex.file, line=line_of(type_name)) from None
        for key in values:
            if key not in op.schema:
                raise ex.error(f"unknown key '{key}' for layer type {op.kind}{suggest(key, op.schema)}",
                               line_of(type_name))
        ex.defaults.setdefault(op.kind, {}).update(values)


def _read_blocks(ex: _Expander, blocks: Any, line: int | None) -> None:
    if not isinstance(blocks, dict):
        raise ex.error("blocks must be a mapping of name: {params:, layers:}", line)
    line_of = blocks.line_of if isinstance(blocks, MarkedMap) else (lambda _k: line)
    for name, body in blocks.items():
        bline = line_of(name)
        if isinstance(body, list):
            body = {"layers": body}
        if not isinstance(body, dict):
            raise ex.error(f"block '{name}' must be a list of layers or a mapping with layers:", bline)
        body_line_of = body.line_of if isinstance(body, MarkedMap) else (lambda _k, at=bline: at)
        for key in body:
            if key not in BLOCK_KEYS:
                raise ex.error(f"unknown key '{key}' in block '{name}'{suggest(key, BLOCK_KEYS)}", body_line_of(key))
        params = body.get("params") or {}
        if not isinstance(params, dict):
            raise ex.error(f"params of block '{name}' must be a mapping of name: default", body_line_of("params"))
        for pname in params:
            if not str(pname).isidentifier() or pname in ("index", "repeat"):
                raise ex.error(f"block parameter '{pname}' must be an identifier other than index and repeat",
                               body_line_of("params"))
        layers = body.get("layers")
        if not isinstance(layers, list) or not layers:
            raise ex.error(f"block '{name}' needs a non-empty list of layers", body_line_of("layers"))
        output = body.get("output")
        if output is not None and not isinstance(output, str):
            raise ex.error(f"output of block '{name}' must be a layer name", body_line_of("output"))
        ex.blocks[name] = _Block(
            name=name,
            params={k: (None if v == "required" else v) for k, v in params.items()},
            required={k for k, v in params.items() if v is None or v == "required"},
            layers=layers if isinstance(layers, MarkedList) else MarkedList(layers),
            output=output,
            line=bline,
            param_lines={k: (params.line_of(k) if isinstance(params, MarkedMap) else body_line_of("params"))
                         for k in params},
        )
