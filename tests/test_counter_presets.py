"""Presets that reproduce what popular counters report for torchvision's ResNet-18 (batch 1, 224).

Source: figures measured with each tool on torchvision resnet18 (recorded in the project's issue
on the reference library): torchinfo 1,814,083,944 "mult-adds"; fvcore 1,819,065,856 "flops";
torch FlopCounterMode exactly 2 x the conv+linear MACs 1,814,073,344. The breakdown shows why.
"""

from __future__ import annotations

import archcalc
from tests.conftest import SPECS

CONV_LINEAR_MACS = 1_814_073_344
BN_CHANNELS = 64 + 4 * 64 + 5 * 128 + 5 * 256 + 5 * 512       # every BN layer's channels
BN_ELEMENTS = (64 * 112 * 112 + 4 * 64 * 56 * 56 + 5 * 128 * 28 * 28 + 5 * 256 * 14 * 14 + 5 * 512 * 7 * 7)


def resnet18(preset: str) -> archcalc.Report:
    return archcalc.analyze(archcalc.load(SPECS / "resnet18.yaml"), preset=preset)


def test_hand_counts() -> None:
    assert BN_CHANNELS == 4800 and BN_ELEMENTS == 2_483_712


def test_paper_macs() -> None:
    assert resnet18("paper_macs").totals.macs == CONV_LINEAR_MACS


def test_torchinfo() -> None:
    r = resnet18("torchinfo")
    # conv and linear MACs + the fc bias (1,000) + BN scale and shift once per channel
    assert r.totals.macs == CONV_LINEAR_MACS + 1000 + 2 * BN_CHANNELS == 1_814_083_944


def test_fvcore() -> None:
    r = resnet18("fvcore")
    # one "flop" per MAC + 2 per BN output element + the adaptive pool's 512x7x7 inputs
    assert r.totals.flops == CONV_LINEAR_MACS + 2 * BN_ELEMENTS + 512 * 7 * 7 == 1_819_065_856
    assert r.flops_breakdown == {"1 x MACs": CONV_LINEAR_MACS, "norm": 2 * BN_ELEMENTS, "pool": 512 * 49}
    assert r.flops_not_counted["pool"] == 64 * 56 * 56 * 9  # the max pool, which fvcore does not count


def test_flopcounter() -> None:
    assert resnet18("flopcounter").totals.flops == 2 * CONV_LINEAR_MACS == 3_628_146_688


def test_breakdown_sums_to_the_total() -> None:
    for preset in archcalc.PRESETS:
        r = resnet18(preset)
        assert sum(r.flops_breakdown.values()) == r.totals.flops, preset
