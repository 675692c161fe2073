"""The execution orders' shortcut (ir.build_graph, protos.node_order): when the declaration order is
already a dependency order it is returned as it is, and it must be the order the earliest-first
topological sort gives; otherwise the sort runs. Random DAGs, declared sorted and shuffled."""

from __future__ import annotations

import random

import pytest

from archcalc.errors import GraphError
from archcalc.ir import Layer, _stable_topological_order, build_graph
from archcalc.onnx_import.protos import node_order
from archcalc.onnx_import.view import Node


def _dag(rng: random.Random, n: int) -> list[tuple[str, list[str]]]:
    """``n`` layers in a dependency order, each reading one to three earlier ones."""
    out: list[tuple[str, list[str]]] = [("l0", [])]
    for i in range(1, n):
        out.append((f"l{i}", rng.sample([name for name, _ in out], min(i, rng.randint(1, 3)))))
    return out


@pytest.mark.parametrize("seed", range(30))
def test_build_graph_order_is_the_sorts_whether_declared_sorted_or_not(seed: int) -> None:
    rng = random.Random(seed)
    dag = _dag(rng, rng.randint(1, 40))
    if seed % 2:
        rng.shuffle(dag)
    layers = [Layer(name, "relu", {}, tuple((src, 0) for src in srcs)) for name, srcs in dag]
    declared = {layer.name: layer for layer in layers}
    assert list(build_graph("g", layers).layers) == _stable_topological_order(declared)
    if seed % 2 == 0:
        assert list(build_graph("g", layers).layers) == [name for name, _ in dag]


def test_build_graph_still_finds_a_cycle() -> None:
    layers = [Layer("a", "relu", {}, (("c", 0),)), Layer("b", "relu", {}, (("a", 0),)),
              Layer("c", "relu", {}, (("b", 0),))]
    with pytest.raises(GraphError, match="cycle: a -> b -> c -> a"):
        build_graph("g", layers)


def _heap_order(nodes: list[Node], available: set[str]) -> list[int]:
    """node_order's sort, written out (smallest ready index first)."""
    producer = {o: i for i, n in enumerate(nodes) for o in n.output}
    deps = [{producer[t] for t in n.input if t and t not in available} for n in nodes]
    done: list[int] = []
    while len(done) < len(nodes):
        done.append(min(i for i in range(len(nodes)) if i not in done and deps[i] <= set(done)))
    return done


@pytest.mark.parametrize("seed", range(30))
def test_node_order_is_the_sorts_whether_the_file_is_sorted_or_not(seed: int) -> None:
    rng = random.Random(seed)
    dag = _dag(rng, rng.randint(1, 30))
    if seed % 2:
        rng.shuffle(dag)
    nodes = [Node(name, "Relu", "", tuple(["x", *srcs]), (name,), ()) for name, srcs in dag]
    assert node_order(nodes, {"x"}, "m.onnx") == _heap_order(nodes, {"x"})


def test_node_order_still_finds_a_cycle() -> None:
    nodes = [Node("a", "Relu", "", ("b",), ("a",), ()), Node("b", "Relu", "", ("a",), ("b",), ())]
    with pytest.raises(GraphError, match="cycle"):
        node_order(nodes, set(), "m.onnx")
    with pytest.raises(GraphError, match="cycle"):
        node_order([Node("a", "Relu", "", ("a",), ("a",), ())], set(), "m.onnx")
