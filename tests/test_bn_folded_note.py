"""The "BN may have been folded" note is said only on evidence (conv biases the exporter
computed, no BatchNormalization nodes), and worded as a possibility."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.onnx_builders import analyze, make, node, weight
from tests.test_onnx_fixtures import FIXTURES

MANIFEST = yaml.safe_load((FIXTURES / "manifest.yaml").read_text())["fixtures"]
PHRASE = "may have folded it into conv"


def _notes(model: Any, **kw: Any) -> list[str]:
    return [n for n in analyze(model, **kw).notes if PHRASE in n]


def _had_bn_folded(entry: dict[str, Any]) -> bool:
    """The ground truth the manifest records: torch had BN layers and the export has no BN node."""
    return entry["torch"]["bn_layers"] > 0 and "BatchNormalization" not in entry["op_types"]


@pytest.mark.parametrize("name", list(MANIFEST))
def test_note_on_the_fixtures_exactly_where_bn_was_folded(name: str) -> None:
    entry = MANIFEST[name]
    notes = _notes(FIXTURES / entry["file"], batch=1)
    if _had_bn_folded(entry):
        assert len(notes) == 1, name
        # as many convolutions as torch had BN layers (MobileNet's SE convs keep their own biases)
        assert notes[0].startswith(f"{entry['torch']['bn_layers']} of "), notes[0]
        assert "may have had BN" in notes[0]
    else:
        assert notes == [], name


def test_resnet18_folded_says_which_evidence() -> None:
    (note,) = _notes(FIXTURES / "resnet18_tv_folded.onnx", batch=1)
    assert note.startswith("20 of 20 convolutions have biases the exporter computed (e.g. 'onnx::Conv_")


def _single_conv(bias: str, conv_name: str = "conv") -> Any:
    inits = [weight("conv.weight", [4, 3, 3, 3]), weight(bias, [4])]
    nodes = [node("Conv", ["input", "conv.weight", bias], "y", conv_name, kernel_shape=[3, 3])]
    return make(nodes, {"input": [1, 3, 8, 8]}, inits=inits)


def test_single_conv_with_its_own_bias_gets_no_note() -> None:
    assert _notes(_single_conv("conv.bias")) == []
    assert _notes(_single_conv("B")) == []


@pytest.mark.parametrize(("bias", "conv_name"), [
    ("onnx::Conv_12", "conv"),            # TorchScript's name for a folded constant
    ("conv.weight_bias", "conv"),         # the dynamo exporter's
    ("conv_bn/FusedBatchNorm:0", "conv"),  # a TF-style fused name
    ("B", "stage1/conv_bn"),              # the node's name says BN
])
def test_names_that_show_a_computed_bias_get_the_note(bias: str, conv_name: str) -> None:
    (note,) = _notes(_single_conv(bias, conv_name))
    assert note.startswith("1 of 1 convolutions")
