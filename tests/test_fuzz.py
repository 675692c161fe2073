"""Property-based and mutation fuzzing with a fixed corpus (hypothesis, derandomized).

Contract: every input gives a report or an ArchcalcError whose message is one line; never another
exception, a hang, or a traceback from the CLI. Invariants on valid specs: layer sums equal totals,
the analysis is deterministic, receptive fields never shrink through a single-input layer, and
spec -> ONNX -> import gives the same per-layer counts. The cases live in tests/fuzz_cases.py; the
long run is benchmarks/fuzz_long.py.
"""

from __future__ import annotations

import io
import random
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archcalc
from archcalc.cli import main
from tests import fuzz_cases
from tests.fuzz_strategies import mutate_text


def fuzz(examples: int) -> settings:
    """A fixed corpus: derandomized, no example database, no deadline (CI machines are noisy)."""
    return settings(derandomize=True, deadline=None, database=None, max_examples=examples,
                    suppress_health_check=list(HealthCheck))


RNG = st.randoms(use_true_random=False)


@fuzz(250)
@given(rng=RNG)
def test_generated_specs(rng: random.Random) -> None:
    fuzz_cases.generated(rng)


@fuzz(80)
@given(rng=RNG)
def test_spec_onnx_import_round_trip(rng: random.Random, tmp_path_factory: Any) -> None:
    fuzz_cases.round_trip(rng, tmp_path_factory.mktemp("rt"))


@fuzz(250)
@given(rng=RNG)
def test_mutated_spec_text(rng: random.Random) -> None:
    fuzz_cases.spec_text(rng)


@fuzz(250)
@given(rng=RNG)
def test_mutated_spec_structure(rng: random.Random) -> None:
    fuzz_cases.spec_structure(rng)


@fuzz(150)
@given(rng=RNG)
def test_mutated_onnx_bytes(rng: random.Random, tmp_path_factory: Any) -> None:
    fuzz_cases.onnx_bytes(rng, tmp_path_factory.mktemp("mut"))


def test_cli_never_shows_a_traceback(tmp_path: Path) -> None:
    rng = random.Random(1234)
    texts = fuzz_cases.spec_texts()
    for i in range(60):
        text = mutate_text(rng, rng.choice(texts))
        path = tmp_path / f"m{i}.yaml"
        path.write_text(text)
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["report", str(path), "-f", "json"])
        assert code in (0, 2), (code, err.getvalue())
        if code == 2:
            assert err.getvalue().count("\n") == 1 and "Traceback" not in err.getvalue()


@pytest.mark.parametrize("shape", [[3, 2**40, 2**40], [2**40, 8, 8], [1, 10**12]])
def test_absurd_sizes_are_exact_and_quick(shape: list[int]) -> None:
    import time
    import tracemalloc

    spec = {"input": shape, "layers": [
        {"name": "c", "type": "conv1d" if len(shape) == 2 else "conv", "filters": 2**20, "kernel": 3,
         "padding": 1},
        {"name": "p", "type": "global_avgpool"}, {"name": "fc", "type": "fc", "units": 10}]}
    tracemalloc.start()
    t0 = time.perf_counter()
    report = archcalc.analyze(archcalc.load(spec))
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    positions = 1
    for d in shape[1:]:
        positions *= d
    assert report["c"].macs == positions * 2**20 * shape[0] * 3 ** (len(shape) - 1)
    assert elapsed < 1.0 and peak < 20 * 2**20
