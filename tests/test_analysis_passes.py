"""The analysis's fused passes against the plain definitions they replace (counting.unit_output_flags:
one backwards walk; analysis: per-layer lists instead of dicts keyed by tensor). Random DAGs of
layers of mixed families under presets with different unit families, and the bundled networks."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import archcalc
from archcalc.conventions import resolve
from archcalc.counting import unit_output_flags, unit_outputs
from archcalc.ir import Graph, Layer, build_graph
from archcalc.ops import REGISTRY

KINDS = ("conv", "fc", "maxpool", "subsample", "rbf", "activation", "add")


def _reference_unit_outputs(graph: Graph, families: frozenset[str]) -> dict[str, bool]:
    """The definition: a unit-counting layer or any layer such that no unit-counting layer reads it,
    directly or through others, is an output (True); found by a search from each layer."""
    users: dict[str, list[str]] = {}
    for layer in graph.layers.values():
        for ref in layer.inputs:
            users.setdefault(ref[0], []).append(layer.name)
    out = {}
    for name in graph.layers:
        seen, stack, later = set(), list(users.get(name, ())), False
        while stack and not later:
            user = stack.pop()
            if user in seen:
                continue
            seen.add(user)
            later = REGISTRY[graph.layers[user].kind].family in families
            stack.extend(users.get(user, ()))
        out[name] = not later
    return out


def _random_graph(rng: random.Random, n: int) -> Graph:
    layers = [Layer("l0", "input", {"shape": (3, 8, 8)}, ())]
    for i in range(1, n):
        kind = rng.choice(KINDS)
        sources = rng.sample([layer.name for layer in layers], min(i, 2 if kind == "add" else 1))
        layers.append(Layer(f"l{i}", kind, {}, tuple((s, 0) for s in sources)))
    return build_graph("g", layers)


@pytest.mark.parametrize("seed", range(40))
def test_unit_output_flags_match_the_definition_on_random_dags(seed: int) -> None:
    rng = random.Random(seed)
    graph = _random_graph(rng, rng.randint(1, 40))
    for preset in (None, "lecun1998"):
        conv = resolve(preset)
        want = _reference_unit_outputs(graph, conv.unit_families)
        assert unit_outputs(graph, conv) == want
        assert unit_output_flags(graph, conv) == list(want.values())


@pytest.mark.parametrize("name", ["lenet5", "googlenet", "resnet18", "densenet121", "mobilenet_v2"])
def test_unit_output_flags_match_the_definition_on_bundled_networks(name: str) -> None:
    graph = archcalc.load(name)
    conv = resolve(None, graph.conventions)
    assert unit_outputs(graph, conv) == _reference_unit_outputs(graph, conv.unit_families)


def _without_applied(graph: Graph) -> Graph:
    meta = {k: v for k, v in graph.meta.items() if k != "applied"}
    return build_graph(graph.name, list(graph.layers.values()), dict(graph.n_outputs), meta=meta,
                       conventions=graph.conventions)


def test_imported_results_taken_in_step_or_by_name_match_applying_afresh(tmp_path: Path) -> None:
    """The importer's applied results are taken in step with the layers; in another layer order (a
    graph rebuilt from the same layers) they are looked up by name; either way the report is the one
    of applying every layer again."""
    from archcalc.onnx_export.export import export_onnx, save

    path = tmp_path / "g.onnx"
    save(export_onnx(archcalc.load("googlenet"), seed=1), path)
    graph = archcalc.load(str(path), batch=1)
    layers = list(graph.layers.values())
    shuffled = build_graph(graph.name, [layers[0], *reversed(layers[1:])], dict(graph.n_outputs),
                           meta=dict(graph.meta), conventions=graph.conventions)
    assert list(shuffled.layers) != list(graph.layers)
    for g in (graph, shuffled):
        a, b = archcalc.analyze(g), archcalc.analyze(_without_applied(g))
        assert a.totals == b.totals
        assert a.layers == b.layers


def test_imported_layers_share_their_producers_shape_tuples(tmp_path: Path) -> None:
    """A one-input layer reading output 0 of a one-output layer keeps its producer's own output tuple
    as its input shapes (equal values, one tuple fewer per layer), and an activation its input's."""
    from archcalc.onnx_export.export import export_onnx, save

    path = tmp_path / "g.onnx"
    save(export_onnx(archcalc.load("mobilenet_v2"), seed=1), path)
    graph = archcalc.load(str(path), batch=1)
    applied = graph.meta["applied"]
    shared = 0
    for name, (layer, ins, result) in applied.items():
        if len(layer.inputs) == 1 and layer.inputs[0][0] in applied:
            producer_outs = applied[layer.inputs[0][0]][2].outs
            if len(producer_outs) == 1 and layer.inputs[0][1] == 0:
                assert ins is producer_outs, name
                shared += 1
        if layer.kind == "activation":
            assert result.outs is ins, name
    assert shared > 100
