"""One fuzz case per function, shared by tests/test_fuzz.py (a fixed hypothesis corpus) and
benchmarks/fuzz_long.py (the long run). Each returns what happened; a broken contract raises."""

from __future__ import annotations

import copy
import random
from functools import lru_cache
from pathlib import Path
from typing import Any

import archcalc
from archcalc.language.yamlmarks import load_yaml
from archcalc.render import SUMMED
from tests.fuzz_strategies import dump, mutate_doc, mutate_text, random_spec

EXPORTABLE = frozenset({"input", "conv", "maxpool", "avgpool", "batchnorm", "activation", "dropout", "subsample",
                        "lrn", "upsample", "pad", "conv_transpose", "add", "concat", "global_avgpool", "fc"})
COMPARED = ("shapes", "units", "weights", "biases", "params", "connections", "macs", "flops", "param_bytes",
            "activation_bytes")


def outcome(source: Any) -> archcalc.Report | None:
    """Analyse; None for an ArchcalcError with a one-line message. Anything else propagates."""
    try:
        return archcalc.analyze(archcalc.load(source))
    except archcalc.ArchcalcError as exc:
        text = str(exc)
        assert text and "\n" not in text, repr(text)
        return None


def check_invariants(report: archcalc.Report) -> None:
    for column in SUMMED:
        assert report.sum(column) == getattr(report.totals, column), column
    assert report.totals.peak_activation_bytes == max(r.live_bytes for r in report)
    index = {r.name: r for r in report.layers}
    for r in report.layers:
        if len(r.inputs) != 1 or ":" in r.inputs[0]:
            continue
        before, after = index[r.inputs[0]].rf, r.rf
        if before.is_global or before.is_unknown or after.is_global or after.is_unknown:
            continue
        if len(before.axes) == len(after.axes):
            assert all(a >= b for a, b in zip(after.size, before.size, strict=True)), (r.name, before, after)


@lru_cache(maxsize=1)
def spec_texts() -> tuple[str, ...]:
    from archcalc.zoo import bundled_specs

    return tuple(p.read_text() for p in bundled_specs().values())


@lru_cache(maxsize=1)
def onnx_seeds() -> tuple[bytes, ...]:
    from archcalc.onnx_export.export import export_onnx
    from archcalc.zoo import bundled_specs

    models = [export_onnx(archcalc.load(bundled_specs()[n]), weights="constant").model.SerializeToString()
              for n in ("lenet5", "lenet5_modern")]
    fixtures = Path(__file__).parent / "fixtures" / "onnx"
    models += [p.read_bytes() for p in sorted(fixtures.glob("*.onnx")) if p.stat().st_size < 40_000]
    return tuple(models)


def generated(rng: random.Random) -> str:
    spec = random_spec(rng)
    report = outcome(copy.deepcopy(spec))
    if report is None:
        return "invalid spec: one-line error"
    check_invariants(report)
    again = archcalc.analyze(archcalc.load(copy.deepcopy(spec)))
    assert again.to_dict() == report.to_dict()
    from_text = outcome(load_yaml(dump(spec), "fuzz.yaml"))
    assert from_text is not None and from_text.totals == report.totals
    return "valid spec: invariants hold"


def round_trip(rng: random.Random, folder: Path) -> str:
    from archcalc.onnx_export.export import export_onnx, save

    spec = random_spec(rng)
    try:
        graph = archcalc.load(copy.deepcopy(spec))
        report = archcalc.analyze(graph)
    except archcalc.ArchcalcError:
        return "invalid spec"
    if any(r.kind not in EXPORTABLE for r in report.layers) or any(len(r.shape) > 3 for r in report.layers):
        return "not exportable"
    path = folder / "round_trip.onnx"
    save(export_onnx(graph, weights="constant"), path)
    back = archcalc.analyze(archcalc.load(str(path)))
    assert [r.name for r in back.layers] == [r.name for r in report.layers]
    for a, b in zip(report.layers, back.layers, strict=True):
        for key in COMPARED:
            assert getattr(a, key) == getattr(b, key), (a.name, key, getattr(a, key), getattr(b, key))
        assert a.rf == b.rf, a.name
    return "exported and imported: same report"


def spec_text(rng: random.Random) -> str:
    text = rng.choice(spec_texts())
    for _ in range(rng.randint(1, 4)):
        text = mutate_text(rng, text)
    try:
        doc = load_yaml(text, "mutant.yaml")
    except archcalc.ArchcalcError as exc:
        assert "\n" not in str(exc)
        return "one-line error"
    return "report" if outcome(doc) is not None else "one-line error"


def spec_structure(rng: random.Random) -> str:
    doc = copy.deepcopy(random_spec(rng) if rng.random() < 0.5 else dict(load_yaml(rng.choice(spec_texts()), "b")))
    for _ in range(rng.randint(1, 3)):
        doc = mutate_doc(rng, doc)
    return "report" if outcome(doc) is not None else "one-line error"


def onnx_bytes(rng: random.Random, folder: Path) -> str:
    data = bytearray(rng.choice(onnx_seeds()))
    op = rng.randrange(4)
    if op == 0:
        data = data[: rng.randrange(len(data))]
    elif op == 1:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif op == 2:
        pos = rng.randrange(len(data))
        data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    else:
        start = rng.randrange(len(data))
        del data[start:start + rng.randint(1, 64)]
    path = folder / "mutant.onnx"
    path.write_bytes(bytes(data))
    return "report" if outcome(str(path)) is not None else "one-line error"
