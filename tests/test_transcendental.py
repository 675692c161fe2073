"""Issue 12: the latency estimator costs every transcendental activation (gelu_tanh included) at
the device's transcendental rate; every activation function is decided one way or the other."""

from __future__ import annotations

import pytest

from archcalc.estimate import estimate_latency
from archcalc.language.loader import load_spec
from archcalc.ops.activation import FUNCTIONS, NOT_TRANSCENDENTAL, TRANSCENDENTAL
from tests.test_estimate import block16, synthetic  # noqa: F401  (block16: the autouse fixture)


def test_every_activation_is_decided_transcendental_or_not() -> None:
    assert not TRANSCENDENTAL & NOT_TRANSCENDENTAL
    assert set(FUNCTIONS) == TRANSCENDENTAL | NOT_TRANSCENDENTAL
    assert {"gelu_tanh", "gelu", "tanh", "erf"} <= TRANSCENDENTAL


@pytest.mark.parametrize("fn", ["gelu_tanh", "tanh", "sigmoid"])
def test_a_transcendental_activation_costs_the_transcendental_rate(fn: str) -> None:
    """One unfused activation of 16x8x8 = 1,024 elements against abs (the same kernel, arithmetic):
    the difference is 1,024 x 3 ns (the synthetic profile's transcendental cost)."""
    def ms(name: str) -> float:
        graph = load_spec({"name": "a", "input": [16, 8, 8], "layers": [{"name": "a", "type": "activation",
                                                                           "fn": name}]})
        return estimate_latency(graph, synthetic(), batch=1).layers["a"].ms
    assert (ms(fn) - ms("abs")) * 1e3 == pytest.approx(1024 * 3.0 / 1e3)
