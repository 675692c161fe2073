"""An unknown layer key spelt as a framework spells it (PyTorch, Keras, Caffe, ONNX, Flax) is
answered with archcalc's name for it; a near-but-wrong key is never suggested."""

from __future__ import annotations

from typing import Any

import pytest

import archcalc
from archcalc.ops import REGISTRY
from archcalc.ops._framework_keys import NOT_NEEDED, RENAMED, key_hint

CONV = {"type": "conv", "filters": 6, "kernel": 3}

#: (layer, the unknown key, what the message says after "for layer type T")
CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"type": "conv", "out_channels": 6, "kernel": 3}, "out_channels", ": archcalc calls it 'filters'"),
    ({"type": "conv", "num_output": 6, "kernel": 3}, "num_output", ": archcalc calls it 'filters'"),
    ({"type": "conv", "features": 6, "kernel": 3}, "features", ": archcalc calls it 'filters'"),
    ({"type": "conv", "filters": 6, "kernel_size": 3}, "kernel_size", ": archcalc calls it 'kernel'"),
    ({**CONV, "strides": 2}, "strides", ": archcalc calls it 'stride'"),
    ({**CONV, "dilation_rate": 2}, "dilation_rate", ": archcalc calls it 'dilation'"),
    ({**CONV, "group": 2}, "group", ": archcalc calls it 'groups'"),
    ({**CONV, "use_bias": False}, "use_bias", ": archcalc calls it 'bias'"),
    ({**CONV, "bias_term": False}, "bias_term", ": archcalc calls it 'bias'"),
    ({**CONV, "pad": 1}, "pad", ": archcalc calls it 'padding'"),
    ({**CONV, "padding_mode": "zeros"}, "padding_mode", ": archcalc pads convolutions with zeros"),
    ({**CONV, "in_channels": 1}, "in_channels", ": archcalc takes the input channels from the input shape"),
    ({**CONV, "activation": "relu"}, "activation", ": archcalc has no fused activation"),
    ({"type": "fc", "out_features": 10}, "out_features", ": archcalc calls it 'units'"),
    ({"type": "fc", "features": 10}, "features", ": archcalc calls it 'units'"),
    ({"type": "fc", "num_output": 10}, "num_output", ": archcalc calls it 'units'"),
    ({"type": "fc", "units": 10, "in_features": 400}, "in_features", ": archcalc takes the input size"),
    ({"type": "maxpool", "kernel_size": 2}, "kernel_size", ": archcalc calls it 'kernel'"),
    ({"type": "maxpool", "pool_size": 2}, "pool_size", ": archcalc calls it 'kernel'"),
    ({"type": "maxpool", "kernel": 2, "ceil_mode": True}, "ceil_mode", ": archcalc calls it 'rounding'"),
    ({"type": "adaptive_avgpool", "output_size": 1}, "output_size", ": archcalc calls it 'size'"),
    ({"type": "dropout", "p": 0.5}, "p", ": archcalc calls it 'rate'"),
    ({"type": "leaky_relu", "negative_slope": 0.1}, "negative_slope", ": archcalc calls it 'alpha'"),
    ({"type": "bn", "epsilon": 0.001}, "epsilon", ": archcalc calls it 'eps'"),
    ({"type": "bn", "num_features": 1}, "num_features", ": archcalc takes the channels from the input shape"),
    ({"type": "relu", "inplace": True}, "inplace", ": in-place is a convention"),
]


def _error(layer: dict[str, Any]) -> str:
    with pytest.raises(archcalc.SpecError) as info:
        archcalc.load({"input": [1, 32, 32], "layers": [layer]})
    return str(info.value)


@pytest.mark.parametrize(("layer", "key", "hint"), CASES, ids=[f"{c[0]['type']}-{c[1]}" for c in CASES])
def test_framework_spelling_names_the_spec_key(layer: dict[str, Any], key: str, hint: str) -> None:
    message = _error(layer)
    assert f"unknown key '{key}' for layer type " in message
    assert hint in message, message
    assert "did you mean" not in message


def test_the_message_reads_as_the_issue_asks() -> None:
    assert "unknown key 'out_channels' for layer type conv: archcalc calls it 'filters'; keys: filters" in _error(
        {"type": "conv", "out_channels": 6, "kernel": 3})


def test_no_close_but_wrong_suggestion() -> None:
    message = _error({**CONV, "activation": "relu"})
    assert "dilation" not in message.split("; keys:")[0]
    # a framework key with no counterpart in this layer type: no hint, no wrong guess
    message = _error({"type": "fc", "units": 3, "kernel_size": 3})
    assert "for layer type fc; keys: units, bias" in message
    assert key_hint("strides", ["units", "bias"]) == ""


def test_misspellings_are_still_suggested() -> None:
    assert "(did you mean 'kernel'?)" in _error({"type": "conv", "filters": 6, "kernal": 3})
    assert "(did you mean 'filters'?)" in _error({"type": "conv", "filtres": 6, "kernel": 3})
    assert key_hint("dilaton", ["dilation"]) == " (did you mean 'dilation'?)"


def test_every_mapping_points_at_a_real_key() -> None:
    keys = {key for op in REGISTRY.values() for key in op.schema}
    for framework, targets in RENAMED.items():
        assert set(targets) <= keys, framework
        assert framework not in keys and framework not in NOT_NEEDED, framework
    assert not set(NOT_NEEDED) & keys
