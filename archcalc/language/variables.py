"""``${...}`` references in spec values, and evaluating a set of values that name each other.

What may stand inside ``${...}`` is :mod:`archcalc.language.expressions` (integers and booleans;
nothing is ever evaluated as Python). A string that is exactly one ``${...}`` takes the value's type
(``"${width}"`` -> 64); anything else is text interpolation (``"conv${i}"`` -> ``"conv3"``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from archcalc.errors import VariableError
from archcalc.language.expressions import RESERVED, evaluate, names_of

_REF = re.compile(r"\$\{([^{}]*)\}")


def has_refs(value: str) -> bool:
    return "${" in value


def names_in(value: Any) -> set[str]:
    """Every name that a ``${...}`` inside ``value`` (lists and mappings included) mentions."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "${" in item:
                for ref in _REF.finditer(item):
                    found.update(names_of(ref.group(1)))
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return found


def evaluate_all(
    raw: Mapping[str, Any],
    base: Mapping[str, Any],
    locate: Callable[[str, VariableError], Exception],
    what: str = "variables",
    view: Callable[[dict[str, Any]], Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Evaluate every value of ``raw`` (which may mention each other and ``base``) in dependency
    order; returns ``base`` plus the evaluated values.

    Declaration order is kept where dependencies allow. A cycle between values is an error
    naming it. ``view`` wraps what each expression sees (shape references such as
    ``${in.channels}``: :class:`archcalc.language.shapes.ShapeNames`). ``locate(key, error)``
    turns an error about ``key`` into the one to raise (it adds the file and line).
    """
    for key in raw:
        if key in RESERVED:
            raise locate(key, VariableError(f"'{key}' is a word of the expression language; choose another name"))
    deps = {key: {n for n in names_in(value) if n in raw} for key, value in raw.items()}
    waiting = {key: len(d) for key, d in deps.items()}
    users: dict[str, list[str]] = {key: [] for key in raw}
    for key, d in deps.items():
        for name in d:
            users[name].append(key)
    ready = [key for key in raw if not waiting[key]]
    order: list[str] = []
    while ready:
        key = ready.pop(0)
        order.append(key)
        for user in users[key]:
            waiting[user] -= 1
            if not waiting[user]:
                ready.append(user)
    if len(order) < len(raw):
        cycle = _cycle(deps, set(order))
        raise locate(cycle[0], VariableError(f"{what} depend on each other in a cycle: {' -> '.join(cycle)}"))
    env = dict(base)
    for key in order:
        try:
            env[key] = substitute(raw[key], view(env) if view is not None else env)
        except VariableError as exc:
            raise locate(key, exc) from None
    return env


def _cycle(deps: Mapping[str, set[str]], done: set[str]) -> list[str]:
    """One cycle (``[a, b, a]``) among the values that could not be ordered."""
    path = [next(key for key in deps if key not in done)]
    seen = {path[0]: 0}
    while True:
        nxt = min(n for n in deps[path[-1]] if n not in done)
        if nxt in seen:
            return [*path[seen[nxt]:], nxt]
        seen[nxt] = len(path)
        path.append(nxt)


def substitute(value: Any, env: Mapping[str, Any]) -> Any:
    """Replace ``${...}`` in every string inside ``value`` (lists and mappings included)."""
    if isinstance(value, str):
        if "${" not in value:
            return value
        whole = _REF.fullmatch(value.strip())
        if whole:
            return evaluate(whole.group(1), env)
        if "${" in _REF.sub("", value):
            raise VariableError(f"unbalanced '${{' in {value!r}")
        return _REF.sub(lambda m: _as_text(evaluate(m.group(1), env)), value)
    if isinstance(value, list):
        out = type(value)(substitute(v, env) for v in value)
        _copy_marks(value, out)
        return out
    if isinstance(value, dict):
        out_map = type(value)((k, substitute(v, env)) for k, v in value.items())
        _copy_marks(value, out_map)
        return out_map
    return value


def _copy_marks(src: Any, dst: Any) -> None:
    for attr in ("line", "key_lines", "item_lines", "file"):
        if hasattr(src, attr):
            setattr(dst, attr, getattr(src, attr))


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
