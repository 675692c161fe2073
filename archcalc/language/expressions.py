"""The ``${...}`` expression language: integers and booleans, never Python.

Grammar (lowest precedence first; Python's precedence and meaning)::

    expr       := disjunct ('if' disjunct 'else' expr)?
    disjunct   := conjunct ('or' conjunct)*
    conjunct   := negation ('and' negation)*
    negation   := 'not' negation | comparison
    comparison := sum (('==' | '!=' | '<' | '<=' | '>' | '>=') sum)*     # a < b < c chains
    sum        := term (('+' | '-') term)*
    term       := unary (('*' | '//' | '/' | '%') unary)*
    unary      := ('-' | '+') unary | atom
    atom       := INTEGER | 'true' | 'false' | NAME | ('min' | 'max') '(' expr (',' expr)* ')'
                | '(' expr ')'

Integers are exact; ``/`` must divide exactly (``//`` floors, ``%`` is Python's modulo).
``and``, ``or``, ``not`` and the condition of ``x if c else y`` take booleans (``true``/``false``
or a comparison), never integers: ``${not 3}`` is an error, not ``false``. Only the chosen
branch of ``if``/``else`` and the needed side of ``and``/``or`` are evaluated.

Work is bounded: an expression longer than :data:`MAX_EXPRESSION_CHARS`, nesting deeper than
:data:`MAX_DEPTH`, or any value (a literal, a variable or an intermediate result) larger in
magnitude than :data:`MAX_MAGNITUDE` is refused with one line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archcalc.errors import VariableError, suggest

MAX_EXPRESSION_CHARS = 400
MAX_DEPTH = 64
#: the largest magnitude of any value in an expression (10^18: far past any layer size)
MAX_MAGNITUDE = 10**18
_MAX_DIGITS = len(str(MAX_MAGNITUDE))

KEYWORDS = frozenset({"and", "or", "not", "if", "else", "true", "false"})
FUNCTIONS = frozenset({"min", "max"})
RESERVED = KEYWORDS | FUNCTIONS
ALLOWED = ("integers, true/false, names, + - * / // %, == != < <= > >=, and or not, "
           "x if cond else y, min(...), max(...), parentheses")

#: a name, possibly dotted (``in.channels``, ``layer2.0.out.width``: shapes, see
#: :mod:`archcalc.language.shapes`); a dotted name is one name to the evaluator
_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*"
_TOKEN = re.compile(r"\s*(?:(\d+)|(" + _NAME + r")|(//|==|!=|<=|>=|[-+*/%()<>,]))")
_COMPARE = ("==", "!=", "<", "<=", ">", ">=")

Value = int | bool


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "int", "name", "op", "end"
    text: str
    pos: int  # 0-based character offset in the expression


# -- the syntax tree: tuples, evaluated by _eval ------------------------------------------------
# ("lit", value) ("var", name, pos) ("neg", node, pos) ("bin", op, left, right, pos)
# ("cmp", [ops], [nodes], pos) ("and"/"or", left, right, pos) ("not", node, pos)
# ("if", then, cond, other, pos) ("call", fname, [nodes], pos)
Node = tuple[Any, ...]


def evaluate(expression: str, env: Mapping[str, Any]) -> Any:
    """The value of ``${expression}`` in ``env`` (a lone name keeps the variable's type)."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise VariableError(f"'${{...}}' expression longer than {MAX_EXPRESSION_CHARS} characters: "
                            f"{expression[:40]!r}...")
    tokens = _tokenize(expression)
    if len(tokens) == 1:
        raise VariableError("empty ${} reference")
    if len(tokens) == 2 and tokens[0].kind == "name" and tokens[0].text not in RESERVED:
        return _lookup(tokens[0].text, env, expression)
    parser = _Parser(tokens, expression)
    tree = parser.expr(0)
    if tokens[parser.pos].kind != "end":
        raise parser.unexpected()
    return _Evaluator(env, expression).eval(tree)


def names_of(expression: str) -> set[str]:
    """The variable names an expression mentions (keywords and functions left out)."""
    return {m for m in re.findall(_NAME, expression) if m not in RESERVED}


def _lookup(name: str, env: Mapping[str, Any], source: str) -> Any:
    if name not in env:
        if "." in name:
            raise VariableError(f"'{name}' is a shape reference: shapes are known in layers and block "
                                "parameters, not in variables: or input:")
        raise VariableError(f"undefined variable '{name}'{suggest(name, env)}")
    value = env[name]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_MAGNITUDE:
        raise VariableError(f"'${{{source}}}': variable '{name}' is larger than 10^18 in magnitude: refused")
    return value


def _tokenize(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    text = expression.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            start = len(text[pos:]) - len(text[pos:].lstrip()) + pos
            raise VariableError(f"cannot read '${{{expression}}}' at position {start + 1} "
                                f"('{text[start:start + 10]}'); allowed: {ALLOWED}")
        start = m.start(m.lastindex or 0)
        if m.group(1):
            if len(m.group(1)) > _MAX_DIGITS:
                raise VariableError(f"'${{{expression}}}': the integer at position {start + 1} has "
                                    f"{len(m.group(1))} digits; values are limited to 10^18")
            tokens.append(_Token("int", m.group(1), start))
        elif m.group(2):
            tokens.append(_Token("name", m.group(2), start))
        else:
            tokens.append(_Token("op", m.group(3), start))
        pos = m.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token], source: str) -> None:
        self.tokens = tokens
        self.source = source
        self.pos = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def at(self, *texts: str) -> bool:
        token = self.tokens[self.pos]
        return token.kind in ("op", "name") and token.text in texts

    def unexpected(self) -> VariableError:
        token = self.peek()
        if token.kind == "end":
            return VariableError(f"cannot read '${{{self.source}}}': it ends too soon; allowed: {ALLOWED}")
        return VariableError(f"cannot read '${{{self.source}}}': unexpected '{token.text}' at position "
                             f"{token.pos + 1}; allowed: {ALLOWED}")

    def expect(self, text: str) -> None:
        if not self.at(text):
            raise self.unexpected()
        self.pos += 1

    def deeper(self, depth: int) -> int:
        if depth >= MAX_DEPTH:
            raise VariableError(f"'${{{self.source}}}' nests deeper than {MAX_DEPTH} levels")
        return depth + 1

    def expr(self, depth: int) -> Node:
        depth = self.deeper(depth)
        then = self.disjunct(depth)
        if self.at("if"):
            pos = self.take().pos
            cond = self.disjunct(depth)
            self.expect("else")
            return ("if", then, cond, self.expr(depth), pos)
        return then

    def disjunct(self, depth: int) -> Node:
        node = self.conjunct(depth)
        while self.at("or"):
            pos = self.take().pos
            node = ("or", node, self.conjunct(depth), pos)
        return node

    def conjunct(self, depth: int) -> Node:
        node = self.negation(depth)
        while self.at("and"):
            pos = self.take().pos
            node = ("and", node, self.negation(depth), pos)
        return node

    def negation(self, depth: int) -> Node:
        if self.at("not"):
            pos = self.take().pos
            return ("not", self.negation(self.deeper(depth)), pos)
        return self.comparison(depth)

    def comparison(self, depth: int) -> Node:
        first = self.sum(depth)
        ops: list[str] = []
        nodes = [first]
        pos = self.peek().pos
        while self.peek().kind == "op" and self.peek().text in _COMPARE:
            ops.append(self.take().text)
            nodes.append(self.sum(depth))
        return ("cmp", ops, nodes, pos) if ops else first

    def sum(self, depth: int) -> Node:
        node = self.term(depth)
        while self.peek().kind == "op" and self.peek().text in ("+", "-"):
            token = self.take()
            node = ("bin", token.text, node, self.term(depth), token.pos)
        return node

    def term(self, depth: int) -> Node:
        node = self.unary(depth)
        while self.peek().kind == "op" and self.peek().text in ("*", "/", "//", "%"):
            token = self.take()
            node = ("bin", token.text, node, self.unary(depth), token.pos)
        return node

    def unary(self, depth: int) -> Node:
        if self.peek().kind == "op" and self.peek().text in ("-", "+"):
            token = self.take()
            inner = self.unary(self.deeper(depth))
            return ("neg", inner, token.pos) if token.text == "-" else ("pos", inner, token.pos)
        return self.atom(depth)

    def atom(self, depth: int) -> Node:
        token = self.peek()
        if token.kind == "int":
            self.pos += 1
            return ("lit", int(token.text))
        if token.kind == "name" and token.text in ("true", "false"):
            self.pos += 1
            return ("lit", token.text == "true")
        if token.kind == "name" and token.text in FUNCTIONS:
            self.pos += 1
            self.expect("(")
            args = [self.expr(depth)]
            while self.at(","):
                self.pos += 1
                args.append(self.expr(depth))
            self.expect(")")
            return ("call", token.text, args, token.pos)
        if token.kind == "name" and token.text not in KEYWORDS:
            self.pos += 1
            return ("var", token.text, token.pos)
        if token.kind == "op" and token.text == "(":
            self.pos += 1
            node = self.expr(depth)
            self.expect(")")
            return node
        raise self.unexpected()


class _Evaluator:
    def __init__(self, env: Mapping[str, Any], source: str) -> None:
        self.env = env
        self.source = source

    def fail(self, message: str, pos: int) -> VariableError:
        return VariableError(f"'${{{self.source}}}' at position {pos + 1}: {message}")

    def integer(self, node: Node, what: str, pos: int) -> int:
        value = self.eval(node)
        if isinstance(value, bool) or not isinstance(value, int):
            shown = "true" if value is True else "false" if value is False else repr(value)
            raise self.fail(f"{what} needs integers, got {shown}", pos)
        return value

    def boolean(self, node: Node, what: str, pos: int) -> bool:
        value = self.eval(node)
        if not isinstance(value, bool):
            raise self.fail(f"{what} needs true or false, got {value!r} (compare it: == 0, > 1, ...)", pos)
        return value

    def bounded(self, value: int, pos: int) -> int:
        if abs(value) > MAX_MAGNITUDE:
            raise self.fail("the result is larger than 10^18 in magnitude: refused", pos)
        return value

    def eval(self, node: Node) -> Value:
        kind = node[0]
        if kind == "lit":
            return self.bounded(node[1], 0) if not isinstance(node[1], bool) else node[1]
        if kind == "var":
            value = _lookup(node[1], self.env, self.source)
            if not isinstance(value, int):  # bool is an int
                raise self.fail(f"'{node[1]}' is {value!r}; '${{{self.source}}}' needs integers or true/false",
                                node[2])
            return value
        if kind in ("neg", "pos"):
            value = self.integer(node[1], "unary " + ("-" if kind == "neg" else "+"), node[2])
            return -value if kind == "neg" else value
        if kind == "bin":
            return self.binary(node[1], node[2], node[3], node[4])
        if kind == "cmp":
            return self.compare(node[1], node[2], node[3])
        if kind == "and":
            return self.boolean(node[1], "'and'", node[3]) and self.boolean(node[2], "'and'", node[3])
        if kind == "or":
            return self.boolean(node[1], "'or'", node[3]) or self.boolean(node[2], "'or'", node[3])
        if kind == "not":
            return not self.boolean(node[1], "'not'", node[2])
        if kind == "if":
            return self.eval(node[1]) if self.boolean(node[2], "the condition of if/else", node[4]) \
                else self.eval(node[3])
        values = [self.integer(arg, f"{node[1]}()", node[3]) for arg in node[2]]
        return min(values) if node[1] == "min" else max(values)

    def binary(self, op: str, left: Node, right: Node, pos: int) -> int:
        a = self.integer(left, f"'{op}'", pos)
        b = self.integer(right, f"'{op}'", pos)
        if op == "+":
            return self.bounded(a + b, pos)
        if op == "-":
            return self.bounded(a - b, pos)
        if op == "*":
            return self.bounded(a * b, pos)
        if b == 0:
            raise VariableError(f"division by zero in '${{{self.source}}}' at position {pos + 1}")
        if op == "//":
            return a // b
        if op == "%":
            return a % b
        if a % b:
            raise VariableError(f"'${{{self.source}}}': {a}/{b} is not an integer (use // to round down)")
        return a // b

    def compare(self, ops: list[str], nodes: list[Node], pos: int) -> bool:
        left = self.eval(nodes[0])
        for op, node in zip(ops, nodes[1:], strict=True):
            right = self.eval(node)
            if op not in ("==", "!=") and (isinstance(left, bool) or isinstance(right, bool)):
                raise self.fail(f"'{op}' compares integers, not true/false", pos)
            if isinstance(left, bool) != isinstance(right, bool):
                raise self.fail(f"'{op}' compares an integer with true/false", pos)
            ok = {"==": left == right, "!=": left != right, "<": left < right, "<=": left <= right,
                  ">": left > right, ">=": left >= right}[op]
            if not ok:
                return False
            left = right
        return True
