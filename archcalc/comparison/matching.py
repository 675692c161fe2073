"""Which layer of network A is which layer of network B.

First by name (the same name and the same kind). The layers left are aligned by structure: both
graphs' remaining layers in execution order, as sequences of tokens, aligned like two texts
(``difflib``'s longest matching blocks), from the strictest token to the loosest, each pass only
inside the gaps the one before left:

1. kind, output channels and a Weisfeiler-Lehman hash of the layer's input side (its kind and
   the kinds of the layers feeding it, two levels up: ``networkx`` does the hashing, imported
   here only, on the first call);
2. kind and output channels;
3. kind.

Spatial sizes are never part of a token: matching a 56x56 layer with its 55x55 counterpart is
what lets :mod:`~archcalc.comparison.differences` say why they differ.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from archcalc.ir import Graph
from archcalc.report import LayerRecord, Report

BY_NAME = "name"
BY_STRUCTURE = "structure"


@dataclass(frozen=True, slots=True)
class Pair:
    a: str
    b: str
    how: str


@dataclass(frozen=True, slots=True)
class Matching:
    #: matched layers, in A's execution order
    pairs: tuple[Pair, ...]
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]

    def b_of(self) -> dict[str, str]:
        return {p.a: p.b for p in self.pairs}

    def a_of(self) -> dict[str, str]:
        return {p.b: p.a for p in self.pairs}


def label(graph: Graph, name: str) -> str:
    """A layer's kind, with the function of an activation (``activation:relu``)."""
    layer = graph.layers[name]
    fn = layer.attrs.get("fn")
    return f"{layer.kind}:{fn}" if isinstance(fn, str) else layer.kind


def _input_hashes(graph: Graph) -> dict[str, str]:
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from((n, {"label": label(graph, n)}) for n in graph.layers)
    g.add_edges_from((dst, src) for src, dst in graph.to_networkx().edges())  # successors = inputs
    with warnings.catch_warnings():  # networkx 3.5 notes that directed hashes changed; ours are compared in-run
        warnings.simplefilter("ignore")
        hashes = nx.weisfeiler_lehman_subgraph_hashes(g, node_attr="label", iterations=2)
    return {n: h[-1] if h else "" for n, h in hashes.items()}


def _channels(record: LayerRecord) -> int | None:
    return record.shape[0] if record.shape else None


Token = Callable[[str], Hashable]


def _align(a: Sequence[str], b: Sequence[str], levels: Sequence[tuple[Token, Token]]) -> list[tuple[str, str]]:
    if not a or not b or not levels:
        return []
    token_a, token_b = levels[0]
    matcher = SequenceMatcher(None, [token_a(n) for n in a], [token_b(n) for n in b], autojunk=False)
    out: list[tuple[str, str]] = []
    i = j = 0
    for block in matcher.get_matching_blocks():
        out += _align(a[i:block.a], b[j:block.b], levels[1:])
        out += [(a[block.a + k], b[block.b + k]) for k in range(block.size)]
        i, j = block.a + block.size, block.b + block.size
    return out


def match_layers(graph_a: Graph, report_a: Report, graph_b: Graph, report_b: Report) -> Matching:
    """Pair the layers of A and B: by name, then by structure (module docstring)."""
    rec_a = {r.name: r for r in report_a.layers}
    rec_b = {r.name: r for r in report_b.layers}
    pairs: dict[str, tuple[str, str]] = {}
    for name in rec_a:
        if name in rec_b and graph_a.layers[name].kind == graph_b.layers[name].kind:
            pairs[name] = (name, BY_NAME)
    left_a = [n for n in rec_a if n not in pairs]
    taken = {b for b, _ in pairs.values()}
    left_b = [n for n in rec_b if n not in taken]
    if left_a and left_b:
        hash_a, hash_b = _input_hashes(graph_a), _input_hashes(graph_b)

        def by_kind(graph: Graph) -> Token:
            return lambda n: label(graph, n)

        def by_channels(graph: Graph, rec: dict[str, LayerRecord]) -> Token:
            return lambda n: (label(graph, n), _channels(rec[n]))

        levels: list[tuple[Token, Token]] = [
            (lambda n: (label(graph_a, n), _channels(rec_a[n]), hash_a[n]),
             lambda n: (label(graph_b, n), _channels(rec_b[n]), hash_b[n])),
            (by_channels(graph_a, rec_a), by_channels(graph_b, rec_b)),
            (by_kind(graph_a), by_kind(graph_b)),
        ]
        for a, b in _align(left_a, left_b, levels):
            pairs[a] = (b, BY_STRUCTURE)
    matched_b = {b for b, _ in pairs.values()}
    return Matching(
        pairs=tuple(Pair(a, pairs[a][0], pairs[a][1]) for a in rec_a if a in pairs),
        only_a=tuple(n for n in rec_a if n not in pairs),
        only_b=tuple(n for n in rec_b if n not in matched_b),
    )
