"""Structural block expansion: every block use makes a scope whose layers are named
``use.rep.layer``; references resolve after the whole scope is read; a layer whose ``when:`` is
false passes its input through. The loader (:mod:`archcalc.language.loader`) drives it."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from archcalc.errors import ArchcalcError, GraphError, SpecError, suggest
from archcalc.ir import Origin, freeze
from archcalc.language.scopes import Block, Pending, Ref, Scope, Target
from archcalc.language.shapes import ExpansionShapes, ShapeNames
from archcalc.language.variables import evaluate_all, substitute
from archcalc.language.yamlmarks import MarkedList, MarkedMap
from archcalc.ops import lookup

LAYER_KEYS = ("name", "type", "inputs", "when", "note")
USE_KEYS = ("name", "block", "repeat", "with", "first", "each", "inputs", "when", "note")
BLOCK_KEYS = ("params", "inputs", "layers", "output", "doc")
#: how deep block uses may nest
MAX_BLOCK_DEPTH = 32
#: the most layers one spec may expand to (the largest CNNs have a few thousand); the environment
#: variable ARCHCALC_MAX_LAYERS raises it
MAX_LAYERS = int(os.environ.get("ARCHCALC_MAX_LAYERS", "") or 100_000)
#: the most layer entries one spec may visit while expanding, skipped ones (when: false) included
MAX_VISITS = 2 * MAX_LAYERS


class Expander:
    def __init__(self, file: str | None, globals_: dict[str, Any]) -> None:
        self.file = file
        self.globals = globals_
        self.blocks: dict[str, Block] = {}
        self.tables: dict[str, Any] = {}
        self.defaults: dict[str, dict[str, Any]] = {}
        self.default_lines: dict[str, MarkedMap] = {}
        self.pending: list[Pending] = []
        self.full: dict[str, Target] = {}
        self.full_lines: dict[str, int | None] = {}
        self.by_name: dict[str, Pending] = {}
        self.shapes = ExpansionShapes(self)
        #: entries expanded so far (skipped ones too), against MAX_VISITS
        self.visits = 0
        self._sizes: dict[str, int] = {}

    # -- errors --------------------------------------------------------------------------

    def error(self, message: str, line: int | None, layer: str | None = None,
              trace: tuple[str, ...] = (), cls: type[ArchcalcError] = SpecError) -> ArchcalcError:
        return cls(message, file=self.file, line=line, layer=layer, trace=trace)

    @contextmanager
    def in_file(self, node: Any) -> Iterator[None]:
        """Errors and origins name the file ``node`` came from (a base spec's, via ``extends``)."""
        saved = self.file
        self.file = getattr(node, "file", None) or saved
        try:
            yield
        finally:
            self.file = saved

    # -- names ---------------------------------------------------------------------------

    def register(self, scope: Scope, local: str, target: Target, line: int | None,
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

    def resolve(self, ref: Ref) -> tuple[str, int]:
        """The layer output a reference names, following skipped layers (``when: false``) and
        block outputs iteratively: a chain of any length, and a cycle among them is an error."""
        index: int | None = None
        seen: set[int] = set()
        while True:
            if id(ref) in seen:
                raise self.error("skipped layers (when: false) pass their inputs to each other in a cycle", ref.line)
            seen.add(id(ref))
            target, found_index = self._target_of(ref)
            if index is None:
                index = found_index
            if target.ref is None:
                if target.layer is None:
                    raise self.error("internal: a reference resolved to nothing", ref.line)
                return target.layer, (index if index is not None else target.index)
            ref = target.ref

    def follow(self, target: Target) -> tuple[str, int]:
        """The layer output a target stands for (a skipped layer's, followed to its input)."""
        if target.ref is None:
            if target.layer is None:
                raise self.error("internal: a reference resolved to nothing", None)
            return target.layer, target.index
        return self.resolve(target.ref)

    def _target_of(self, ref: Ref) -> tuple[Target, int | None]:
        """What one reference names directly, and the output index it asks for (``name:1``)."""
        if ref.direct is not None:
            return ref.direct, None
        if ref.text is None:
            raise self.error("internal: a reference without a name", ref.line)
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
        return target, index

    def size_of(self, block: Block, stack: tuple[str, ...] = ()) -> int:
        """How many entries one repetition of ``block`` visits at most, counting nested uses with
        their literal ``repeat`` (an expression counts once; MAX_VISITS still bounds it)."""
        if block.name in self._sizes:
            return self._sizes[block.name]
        total = 0
        for raw in block.layers:
            total += 1
            name = raw.get("block") if isinstance(raw, dict) else None
            inner = self.blocks.get(name) if isinstance(name, str) else None
            if inner is not None and inner.name not in stack and inner.name != block.name:
                reps = raw.get("repeat", 1)
                reps = reps if isinstance(reps, int) and not isinstance(reps, bool) and reps >= 0 else 1
                total += reps * self.size_of(inner, (*stack, block.name))
            if total > MAX_VISITS:
                break
        self._sizes[block.name] = total
        return total

    def names(self, env: Mapping[str, Any], scope: Scope) -> ShapeNames:
        """``env`` plus the shape references of ``scope`` (``in`` is its input)."""
        return ShapeNames(env, lambda text: self.shapes.shape_of(scope, text))

    # -- expansion -----------------------------------------------------------------------

    def expand(self, entries: Any, scope: Scope, env: Mapping[str, Any], stack: tuple[str, ...],
               trace: tuple[str, ...], line: int | None) -> Target:
        if not isinstance(entries, list):
            raise self.error("'layers' must be a list of layers", line, trace=trace)
        previous = scope.input
        with self.in_file(entries):
            for i, raw in enumerate(entries):
                entry_line = entries.line_of(i) if isinstance(entries, MarkedList) else line
                self.visits += 1
                if self.visits > MAX_VISITS:
                    raise self.error(f"the spec expands past {MAX_VISITS:,} layer entries (skipped ones included)",
                                     entry_line, trace=trace)
                with self.in_file(raw):
                    previous = self.entry(raw, scope, env, stack, trace, entry_line, previous)
                if len(self.pending) > MAX_LAYERS:
                    raise self.error(f"the spec expands to more than {MAX_LAYERS:,} layers", entry_line, trace=trace)
        return previous

    def entry(self, raw: Any, scope: Scope, env: Mapping[str, Any], stack: tuple[str, ...],
              trace: tuple[str, ...], line: int | None, previous: Target) -> Target:
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
        names = self.names(env, scope)
        for key, value in entry.items():
            try:
                values[key] = substitute(value, names)
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
            target = Target(ref=refs[0]) if refs else previous
            self.register(scope, local, target, line, trace)
            return target
        if is_use:
            target = self.use(values, entry, scope, local, refs, env, stack, trace, line)
        else:
            target = self.layer(values, entry, scope, local, refs, trace, line)
        return target

    def local_name(self, values: dict[str, Any], scope: Scope, kind_word: str, line: int | None,
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

    def input_refs(self, values: dict[str, Any], scope: Scope, previous: Target, line: int | None,
                   full: str, trace: tuple[str, ...]) -> list[Ref]:
        if "inputs" not in values:
            return [Ref(scope, None, line, direct=previous)]
        raw = values["inputs"]
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
            raise self.error(f"inputs must be a layer name or a list of them, got {raw!r}", line, full, trace)
        return [Ref(scope, text, line) for text in items]

    def layer(self, values: dict[str, Any], entry: dict[str, Any], scope: Scope, local: str,
              refs: list[Ref], trace: tuple[str, ...], line: int | None) -> Target:
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
        pending = Pending(full, op.kind, freeze(attrs), refs, origin, op.n_outputs(attrs))
        self.pending.append(pending)
        self.by_name[full] = pending
        target = Target(layer=full)
        self.register(scope, local, target, line, trace)
        return target

    def use(self, values: dict[str, Any], entry: dict[str, Any], scope: Scope, local: str,
            refs: list[Ref], env: Mapping[str, Any], stack: tuple[str, ...],
            trace: tuple[str, ...], line: int | None) -> Target:
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
        if repeat is not None and (not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 0):
            raise self.error(f"repeat must be a non-negative integer (0: the use passes its input through), "
                             f"got {repeat!r}", line_of("repeat"), full, trace)
        reps = repeat if repeat is not None else 1
        expansion = reps * self.size_of(block)
        if expansion > MAX_VISITS - self.visits:
            raise self.error(f"{'repeat ' + format(reps, ',') + ' of ' if repeat is not None else ''}block "
                             f"'{block.name}' expands to {expansion:,} layer entries or more; a spec may expand to "
                             f"{MAX_LAYERS:,} layers ({MAX_VISITS:,} entries with skipped ones)",
                             line_of("repeat") if repeat is not None else line, full, trace)
        each = values.get("each")
        if each is not None and (not isinstance(each, list) or len(each) != reps
                                 or not all(isinstance(e, dict) for e in each)):
            raise self.error(f"each must be a list of {reps} mapping(s), one per repetition",
                             line_of("each"), full, trace)
        for key in ("with", "first"):
            if key in values and not isinstance(values[key], dict):
                raise self.error(f"{key} must be a mapping of block parameters", line_of(key), full, trace)
        if len(refs) != max(1, len(block.inputs)):
            takes = f"{len(block.inputs)} inputs ({', '.join(block.inputs)})" if block.inputs else "one input"
            raise self.error(f"block '{block.name}' takes {takes}, got {len(refs)}", line_of("inputs"), full, trace,
                             GraphError)
        elsewhere = block.file is not None and block.file != self.file
        defined = (f" ({block.file}" + (f" line {block.line})" if block.line is not None else ")") if elsewhere
                   else f" (line {block.line})" if block.line is not None else "")
        used = (f" at {self.file} line {line}" if elsewhere and self.file else f" at line {line}") \
            if line is not None else ""
        use_site = f"block '{block.name}'{defined} used by {full}{used}"
        child_trace = (*trace, use_site)
        current = Target(ref=refs[0])
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
            prefix = f"{full}.{r}." if repeat is not None else f"{full}."
            child = Scope(prefix=prefix, input=current)
            for k, input_name in enumerate(block.inputs):  # repetitions after the first chain the first
                self.register(child, input_name, current if k == 0 else Target(ref=refs[k]), line, child_trace)
            child_env = self.block_env(block, given, r, reps, full, child_trace, child)
            out = self.expand(block.layers, child, child_env, (*stack, block.name), child_trace, block.line)
            if block.output is not None:
                out = Target(ref=Ref(child, block.output, block.line))
            if repeat is not None:
                self.register(scope, f"{local}.{r}", out, line, trace)
            current = out
        self.register(scope, local, current, line, trace)
        return current

    def block_env(self, block: Block, given: Mapping[str, Any], index: int, reps: int, full: str,
                  trace: tuple[str, ...], scope: Scope) -> dict[str, Any]:
        """The scope of one repetition: globals, ``index``/``repeat``, the parameters given at
        the use site, and the block's defaults evaluated in that scope (a default may name
        other parameters: ``mid: "${filters // 4}"``)."""
        base = {**self.globals, "index": index, "repeat": reps, **given}
        defaults = {k: v for k, v in block.params.items() if k not in given}

        def locate(key: str, exc: ArchcalcError) -> ArchcalcError:
            exc.message = f"default of block parameter '{key}': {exc.message}"
            return exc.located(file=self.file, line=block.param_lines.get(key, block.line), layer=full,
                               trace=trace)

        return evaluate_all(defaults, base, locate, what="block parameters",
                            view=lambda env: self.names(env, scope))
