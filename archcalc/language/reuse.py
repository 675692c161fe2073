"""Named variants (``variants:``) and building on another spec (``extends:``), both resolved into
one plain document before it is built, so a sweep or a check that rebuilds the document sees the
same network.

::

    variants: {vgg11: {n1: 1, n2: 1, n3: 2, n4: 2, n5: 2}, vgg19: {n3: 4, n4: 4, n5: 4}}
    extends: resnet50            # or a path (relative to this file), or spec:variant

``extends``: the base document (itself resolved) is the starting point; this document's
``variables``, ``variants``, ``defaults``, ``blocks``, ``tables`` and ``conventions`` are merged
into the base's by name (this one wins); every other key (``input``, ``layers``, ``name``,
``expected``, ...) replaces the base's. ``expected:`` is not inherited: a spec that changes a
base states its own figures. Every mapping and list that comes from the base remembers its file
(``node.file``), so an error inside it names the base file and the spec that extends it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from archcalc.errors import ArchcalcError, SpecError, suggest
from archcalc.language.yamlmarks import MarkedList, MarkedMap

#: keys whose mappings are merged by name with the base's
MERGED_KEYS = ("variables", "variants", "defaults", "blocks", "tables", "conventions")
#: how many specs may extend each other in a chain
MAX_EXTENDS = 16

Loader = Callable[[str, str | None], tuple[Any, str, str | None]]


def line_of(doc: Any, key: str) -> int | None:
    return doc.line_of(key) if isinstance(doc, MarkedMap) else None


def read_variants(doc: Any, file: str | None) -> dict[str, dict[str, Any]]:
    """The ``variants:`` of a document: name -> {variable: value}, each naming declared variables."""
    raw = doc.get("variants") or {}
    at = line_of(doc, "variants")
    if not isinstance(raw, dict):
        raise SpecError("variants must be a mapping of name: {variable: value}", file=file, line=at)
    declared = doc.get("variables") or {}
    out: dict[str, dict[str, Any]] = {}
    for name, values in raw.items():
        vline = raw.line_of(name) if isinstance(raw, MarkedMap) else at
        if not isinstance(name, str) or not name.replace("-", "_").isidentifier():
            raise SpecError(f"variant name '{name}' must be a name (letters, digits, _ and -)", file=file, line=vline)
        values = values or {}
        if not isinstance(values, dict):
            raise SpecError(f"variant '{name}' must be a mapping of variable: value", file=file, line=vline)
        for key in values:
            if key not in declared:
                raise SpecError(f"variant '{name}' sets '{key}', which is not a declared variable"
                                f"{suggest(str(key), declared)}; variables: {', '.join(declared) or 'none'}",
                                file=file, line=vline)
        out[name] = dict(values)
    return out


def apply_variant(doc: Any, variant: str, file: str | None) -> MarkedMap:
    """``doc`` with the named variant's values as its variables' values, named after the variant;
    only the ``expected:`` entries about that configuration are kept (those whose ``variant:``
    and ``variables:`` come to the variant's values; an entry with neither is about the
    defaults, so it is kept for a variant that sets the defaults)."""
    variants = read_variants(doc, file)
    if variant not in variants:
        raise SpecError(f"no variant '{variant}'{suggest(variant, variants)}; variants: "
                        f"{', '.join(variants) or 'none'}", file=file, line=line_of(doc, "variants"))
    out = _copy(doc)
    declared = doc.get("variables") or {}
    variables = _copy(declared) if isinstance(declared, MarkedMap) else MarkedMap(declared)
    variables.update(variants[variant])
    out["variables"] = variables
    out["name"] = variant
    chosen = {**declared, **variants[variant]}

    def belongs(entry: Any) -> bool:
        """An expected: entry is about this variant when its variables come to the same values."""
        if not isinstance(entry, dict):
            return True
        name = entry.get("variant")
        named = variants.get(name, {}) if isinstance(name, str) else {}
        own = entry.get("variables")
        return {**declared, **named, **(own if isinstance(own, dict) else {})} == chosen

    expected = doc.get("expected")
    if isinstance(expected, list):
        keep = [i for i, e in enumerate(expected) if belongs(e)]
        kept = MarkedList(expected[i] for i in keep)
        kept.line = getattr(expected, "line", None)
        kept.item_lines = [expected.line_of(i) or 0 for i in keep] if isinstance(expected, MarkedList) else []
        out["expected"] = kept
    elif expected is not None and not belongs(expected):
        out.pop("expected")
    return out


def resolve_extends(doc: Any, file: str | None, load: Loader, chain: tuple[str, ...] = ()) -> Any:
    """``doc`` with its ``extends:`` chain merged in (no ``extends`` key left).

    ``load(name, relative_to)`` reads the base: (document, its file, the variant it names)."""
    if not isinstance(doc, dict) or "extends" not in doc:
        return doc
    target = doc["extends"]
    at = line_of(doc, "extends")
    here = file or "<spec>"
    if not isinstance(target, str) or not target.strip():
        raise SpecError("extends must name a spec (a bundled name, a path or spec:variant)", file=file, line=at)
    if len(chain) >= MAX_EXTENDS:
        raise SpecError(f"extends chains deeper than {MAX_EXTENDS} specs", file=file, line=at)
    try:
        base, base_file, variant = load(target, file)
    except ArchcalcError as exc:
        exc.message = f"extends {target}: {exc.message}"
        if exc.file is not None and exc.line is None and target.startswith(exc.file.split(":", 1)[0].rstrip("/")):
            exc.file = None  # "no such file": say where the extends stands
        raise exc.located(file=file, line=at) from None
    if base_file in (*chain, here):
        raise SpecError(f"extends {target}: specs extend each other in a cycle: "
                        f"{' -> '.join([*chain, here, base_file])}", file=file, line=at)
    if not isinstance(base, dict):
        raise SpecError(f"extends {target}: {base_file} is not a spec (a YAML mapping)", file=file, line=at)
    tag_file(base, base_file)
    base = resolve_extends(base, base_file, load, (*chain, here))
    if variant is not None:
        base = apply_variant(base, variant, base_file)
    return merge(base, doc, file)


def merge(base: Any, doc: Any, file: str | None) -> MarkedMap:
    """``doc`` over ``base``: merged keys by name, every other key replaced; no ``expected``,
    ``extends`` or base ``name`` unless ``doc`` gives them."""
    out = MarkedMap()
    out.line = getattr(doc, "line", None)
    out.key_lines = {}
    for source in (base, doc):
        for key, value in source.items():
            if key in ("extends",) or (source is base and key == "expected"):
                continue
            if key in MERGED_KEYS and isinstance(value, dict) and isinstance(out.get(key), dict):
                merged = _copy(out[key])
                merged.update(value)
                if isinstance(value, MarkedMap):
                    merged.key_lines = {**getattr(merged, "key_lines", {}), **value.key_lines}
                    merged.key_files = {**getattr(merged, "key_files", {}),
                                        **dict.fromkeys(value, getattr(value, "file", file))}
                out[key] = merged
            else:
                out[key] = value
            line = line_of(source, key)
            if line is not None:
                out.key_lines[key] = line
    return out


def _copy(doc: Any) -> MarkedMap:
    out = MarkedMap(doc)
    for attr in ("line", "key_lines", "file", "key_files"):
        if hasattr(doc, attr):
            setattr(out, attr, dict(getattr(doc, attr)) if attr in ("key_lines", "key_files")
                    else getattr(doc, attr))
    if not hasattr(out, "key_lines"):
        out.key_lines = {}
    return out


def tag_file(node: Any, file: str) -> None:
    """Remember ``file`` on every mapping and list of a base document (iteratively)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, (MarkedMap, MarkedList)) and item.file is None:
            item.file = file
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def file_of(node: Any, default: str | None) -> str | None:
    """The file a node of a document came from (a base's, for what ``extends`` brought in)."""
    return getattr(node, "file", None) or default


def relative_to(target: str, file: str | None) -> str:
    """A base named by a relative path is looked up next to the spec that extends it."""
    if file is None or Path(target).is_absolute():
        return target
    near = Path(file).parent / target.split(":", 1)[0]
    if near.exists():
        return str(Path(file).parent / target)
    return target
