"""Safe YAML loading that keeps line numbers.

Mappings load as :class:`MarkedMap` (a dict that knows the line of itself and of every key)
and sequences as :class:`MarkedList` (a list that knows the line of itself and of every item).
Only ``yaml.SafeLoader`` constructors are used: nothing in a spec is ever executed.
"""

from __future__ import annotations

from typing import Any

import yaml

from archcalc.errors import SpecError, YamlSyntaxError


class MarkedMap(dict[str, Any]):
    """A mapping with the 1-based line of itself (``line``) and of each key (``key_lines``)."""

    line: int | None = None
    key_lines: dict[str, int]
    #: the file a mapping came from when another spec extends it (None: the spec being read)
    file: str | None = None
    #: per key, the file a merged section's entry came from (``extends``)
    key_files: dict[str, str | None]

    def line_of(self, key: str) -> int | None:
        lines = getattr(self, "key_lines", None)
        if lines and key in lines:
            return lines[key]
        return self.line


class MarkedList(list[Any]):
    """A sequence with the 1-based line of itself (``line``) and of each item (``item_lines``)."""

    line: int | None = None
    item_lines: list[int]
    file: str | None = None

    def line_of(self, index: int) -> int | None:
        lines = getattr(self, "item_lines", None)
        if lines and 0 <= index < len(lines):
            return lines[index]
        return self.line


class _MarkedLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]  # libyaml: 10x faster
    pass


_MERGE_TAG = "tag:yaml.org,2002:merge"
#: integers are exact and bounded: more digits than 10^18 has are refused before conversion
MAX_INT_DIGITS = 19


def _construct_map(loader: _MarkedLoader, node: yaml.MappingNode) -> MarkedMap:
    explicit = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE_TAG)
    loader.flatten_mapping(node)  # merged pairs (``<<: *base``) come first, explicit ones after
    merged = len(node.value) - explicit
    out = MarkedMap()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    seen_explicit: set[str] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if index >= merged:  # an explicit key may override a merged one, not another explicit one
            if key in seen_explicit:
                raise SpecError(f"duplicate key '{key}'", line=key_node.start_mark.line + 1)
            seen_explicit.add(key)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_int(loader: _MarkedLoader, node: yaml.ScalarNode) -> int:
    digits = sum(ch.isdigit() for ch in str(node.value))
    if digits > MAX_INT_DIGITS:
        raise SpecError(f"an integer of {digits:,} digits: values are limited to 10^18",
                        line=node.start_mark.line + 1)
    value: int = yaml.SafeLoader.construct_yaml_int(loader, node)
    return value


def _construct_seq(loader: _MarkedLoader, node: yaml.SequenceNode) -> MarkedList:
    out = MarkedList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_MarkedLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_MarkedLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)
_MarkedLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


#: the most nodes a document may expand to once its aliases are followed ("billion laughs")
MAX_EXPANDED_NODES = 2_000_000


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Node count with every alias expanded, computed without expanding (memoised per node)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = 1  # a recursive alias counts once; the constructor rejects it anyway
    total = 1
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            total += _expanded_size(child, memo)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            total += _expanded_size(key, memo) + _expanded_size(value, memo)
    memo[id(node)] = total
    return total


def _load(text: str) -> Any:
    loader = _MarkedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, {})
        if size > MAX_EXPANDED_NODES:
            raise SpecError(
                f"the document expands to {size:,} YAML nodes through its aliases "
                f"(limit {MAX_EXPANDED_NODES:,}): refusing it"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_yaml(text: str, file: str | None = None) -> Any:
    """Parse YAML text safely, keeping line marks; errors name the file and line."""
    try:
        return _load(text)  # a SafeLoader subclass: no Python objects, nothing executed
    except SpecError as exc:
        raise exc.located(file=file) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = (exc.problem or exc.context or "malformed YAML").strip().splitlines()[0]
        raise YamlSyntaxError(f"malformed YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise YamlSyntaxError(f"malformed YAML: {first}", file=file) from None
    except RecursionError:
        raise SpecError("malformed YAML: nesting too deep", file=file) from None
