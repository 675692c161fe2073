"""The top-level sections of a spec other than ``layers``: ``input``, ``variables``, ``tables``
(LeNet-style connection tables), ``defaults`` and ``blocks``, read into the expander."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archcalc.errors import ArchcalcError, SpecError, suggest
from archcalc.ir import plain
from archcalc.language.expansion import BLOCK_KEYS, Block, Expander
from archcalc.language.variables import evaluate_all
from archcalc.language.yamlmarks import MarkedList, MarkedMap
from archcalc.ops import REGISTRY, lookup
from archcalc.ops.conv import connection_table


def input_shape(raw: Any, file: str | None, line: int | None) -> tuple[str, tuple[int, ...]]:
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


def channels_last_note(shape: tuple[int, ...]) -> str | None:
    """A warning for an input that looks channels-last (``[32, 32, 3]``): shapes are channels first."""
    if len(shape) != 3 or shape[2] not in (1, 3, 4) or shape[0] <= 4 or shape[1] <= 4:
        return None
    return (f"input {list(shape)} looks channels-last (height, width, channels), but shapes are read "
            f"channels first: {shape[0]} channels of {shape[1]}x{shape[2]}; did you mean "
            f"[{shape[2]}, {shape[0]}, {shape[1]}]?")


def read_variables(declared: Any, overrides: Mapping[str, Any], file: str | None, line: int | None) -> dict[str, Any]:
    """The spec's variables with ``overrides`` in place of their declared values, evaluated in
    dependency order: a derived variable (``c1: "${2 * k}"``) follows an override of ``k``.
    A variable a base spec declared (``extends``) is located in the base's file."""
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

    files = getattr(declared, "key_files", None) or {}

    def locate(key: str, exc: ArchcalcError) -> ArchcalcError:
        if key in overrides:
            exc.message = f"--var {key}: {exc.message}"
            return exc.located(file=file, line=line)
        return exc.located(file=files.get(key) or file, line=line_of(key))

    return evaluate_all(raw, {}, locate)


def read_tables(ex: Expander, tables: Any, line: int | None) -> None:
    if not isinstance(tables, dict):
        raise ex.error("tables must be a mapping of name: [[maps], ...]", line)
    line_of = tables.line_of if isinstance(tables, MarkedMap) else (lambda _k: line)
    for name, value in tables.items():
        try:
            ex.tables[name] = plain(connection_table(plain(value), f"table {name}"))
        except ArchcalcError as exc:
            raise exc.located(file=ex.file, line=line_of(name)) from None


def read_defaults(ex: Expander, defaults: Any, line: int | None) -> None:
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


def read_blocks(ex: Expander, blocks: Any, line: int | None) -> None:
    if not isinstance(blocks, dict):
        raise ex.error("blocks must be a mapping of name: {params:, layers:}", line)
    line_of = blocks.line_of if isinstance(blocks, MarkedMap) else (lambda _k: line)
    for name, body in blocks.items():
        with ex.in_file(body):
            read_block(ex, name, body, line_of(name))


def read_block(ex: Expander, name: str, body: Any, bline: int | None) -> None:
    """One entry of ``blocks:`` into the expander."""
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
    inputs = body.get("inputs") or []
    if not isinstance(inputs, list) or not all(isinstance(n, str) and n.isidentifier() and n != "input"
                                               for n in inputs) or len(set(inputs)) != len(inputs):
        raise ex.error(f"inputs of block '{name}' must be a list of distinct names (not 'input'), got {inputs!r}",
                       body_line_of("inputs"))
    layers = body.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ex.error(f"block '{name}' needs a non-empty list of layers", body_line_of("layers"))
    output = body.get("output")
    if output is not None and not isinstance(output, str):
        raise ex.error(f"output of block '{name}' must be a layer name", body_line_of("output"))
    ex.blocks[name] = Block(
        name=name,
        params={k: (None if v == "required" else v) for k, v in params.items()},
        required={k for k, v in params.items() if v is None or v == "required"},
        layers=layers if isinstance(layers, MarkedList) else MarkedList(layers),
        output=output,
        line=bline,
        param_lines={k: (params.line_of(k) if isinstance(params, MarkedMap) else body_line_of("params"))
                     for k in params},
        file=getattr(body, "file", None) or ex.file,
        inputs=tuple(inputs),
    )
