"""The data of an expansion: what names stand for (targets and references), scopes, the layers
waiting for their inputs to resolve, and blocks as read from the spec."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archcalc.ir import Origin
from archcalc.language.yamlmarks import MarkedList


@dataclass(frozen=True)
class Target:
    """What a name stands for: a layer output, or another reference to follow (skipped layer)."""

    layer: str | None = None
    index: int = 0
    ref: Ref | None = None


@dataclass(frozen=True)
class Ref:
    scope: Scope
    text: str | None
    line: int | None
    direct: Target | None = None


@dataclass(eq=False)
class Scope:
    prefix: str
    input: Target
    names: dict[str, Target] = field(default_factory=dict)
    lines: dict[str, int | None] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Pending:
    name: str
    kind: str
    attrs: Mapping[str, Any]
    refs: list[Ref]
    origin: Origin
    n_outputs: int


@dataclass
class Block:
    name: str
    params: dict[str, Any]
    required: set[str]
    layers: MarkedList
    output: str | None
    line: int | None
    param_lines: dict[str, int | None] = field(default_factory=dict)
    #: the file the block was declared in (a base spec's, through ``extends``)
    file: str | None = None
    #: names of the block's inputs when it takes several (``input`` is the first)
    inputs: tuple[str, ...] = ()
