"""``${...}`` references in spec values: a variable, or integer arithmetic over variables.

Grammar (integers only; nothing is ever evaluated as Python)::

    expr  := term (('+' | '-') term)*
    term  := unary (('*' | '//' | '/' | '%') unary)*
    unary := '-' unary | atom
    atom  := INTEGER | NAME | '(' expr ')'

``/`` must divide exactly. A string that is exactly one ``${...}`` takes the value's type
(``"${width}"`` -> 64); anything else is text interpolation (``"conv${i}"`` -> ``"conv3"``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from archcalc.errors import VariableError, suggest

_REF = re.compile(r"\$\{([^{}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_][A-Za-z0-9_]*)|(//|[-+*/%()]))")


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
                    found.update(_NAME.findall(ref.group(1)))
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
) -> dict[str, Any]:
    """Evaluate every value of ``raw`` (which may mention each other and ``base``) in dependency
    order; returns ``base`` plus the evaluated values.

    Declaration order is kept where dependencies allow. A cycle between values is an error
    naming it. ``locate(key, error)`` turns an error about ``key`` into the one to raise (it
    adds the file and line).
    """
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
            env[key] = substitute(raw[key], env)
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
    for attr in ("line", "key_lines", "item_lines"):
        if hasattr(src, attr):
            setattr(dst, attr, getattr(src, attr))


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def evaluate(expression: str, env: Mapping[str, Any]) -> Any:
    if len(expression) > 400:
        raise VariableError(f"'${{...}}' expression longer than 400 characters: {expression[:40]!r}...")
    tokens = _tokenize(expression)
    if not tokens:
        raise VariableError("empty ${} reference")
    if len(tokens) == 1 and tokens[0][0] == "name":
        return _lookup(tokens[0][1], env)
    parser = _Parser(tokens, env, expression)
    result = parser.expr()
    if parser.pos != len(tokens):
        raise VariableError(f"cannot read '${{{expression}}}': unexpected '{tokens[parser.pos][1]}'")
    return result


def _lookup(name: str, env: Mapping[str, Any]) -> Any:
    if name not in env:
        raise VariableError(f"undefined variable '{name}'{suggest(name, env)}")
    return env[name]


def _tokenize(expression: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = expression.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise VariableError(f"cannot read '${{{expression}}}' at '{text[pos:].strip()}'")
        if m.group(1):
            tokens.append(("int", m.group(1)))
        elif m.group(2):
            tokens.append(("name", m.group(2)))
        else:
            tokens.append(("op", m.group(3)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], env: Mapping[str, Any], source: str) -> None:
        self.tokens = tokens
        self.env = env
        self.source = source
        self.pos = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def expr(self) -> int:
        value = self.term()
        while self._peek() in ("+", "-"):
            op = self.tokens[self.pos][1]
            self.pos += 1
            rhs = self.term()
            value = value + rhs if op == "+" else value - rhs
        return value

    def term(self) -> int:
        value = self.unary()
        while self._peek() in ("*", "/", "//", "%"):
            op = self.tokens[self.pos][1]
            self.pos += 1
            rhs = self.unary()
            if op == "*":
                value *= rhs
            elif rhs == 0:
                raise VariableError(f"division by zero in '${{{self.source}}}'")
            elif op == "//":
                value //= rhs
            elif op == "%":
                value %= rhs
            else:
                if value % rhs:
                    raise VariableError(
                        f"'${{{self.source}}}': {value}/{rhs} is not an integer (use // to round down)"
                    )
                value //= rhs
        return value

    def unary(self) -> int:
        if self._peek() == "-":
            self.pos += 1
            return -self.unary()
        return self.atom()

    def atom(self) -> int:
        if self.pos >= len(self.tokens):
            raise VariableError(f"cannot read '${{{self.source}}}': it ends too soon")
        kind, text = self.tokens[self.pos]
        self.pos += 1
        if kind == "int":
            return int(text)
        if kind == "name":
            value = _lookup(text, self.env)
            if isinstance(value, bool) or not isinstance(value, int):
                raise VariableError(
                    f"'{text}' is {value!r}; arithmetic in '${{{self.source}}}' needs integers"
                )
            return value
        if text == "(":
            value = self.expr()
            if self._peek() != ")":
                raise VariableError(f"cannot read '${{{self.source}}}': missing ')'")
            self.pos += 1
            return value
        raise VariableError(f"cannot read '${{{self.source}}}': unexpected '{text}'")
