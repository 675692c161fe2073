"""Memory: parameter bytes, peak activation memory by liveness, training memory. Hand arithmetic."""

from __future__ import annotations

import archcalc

CHAIN = {
    "input": [1, 8, 8],
    "layers": [
        {"name": "conv", "type": "conv", "filters": 4, "kernel": 3, "padding": 1},   # 4x8x8 = 256
        {"name": "relu", "type": "relu"},                                             # 256
        {"name": "pool", "type": "maxpool", "kernel": 2},                             # 4x4x4 = 64
        {"name": "flat", "type": "flatten"},                                          # a view
        {"name": "fc", "type": "fc", "units": 10},                                    # 10
    ],
}


def test_liveness_of_a_chain() -> None:
    r = archcalc.analyze(archcalc.load(CHAIN))
    # fp32: input 64*4 = 256 B, conv 1024 B, relu 1024 B, pool 256 B, fc 40 B
    assert [x.live_bytes for x in r] == [
        256,            # input
        256 + 1024,     # conv runs: its input and output are alive
        1024 + 1024,    # relu: conv output and relu output (not in place)
        1024 + 256,     # pool
        256,            # flatten is a view of pool's buffer
        256 + 40,       # fc
    ]
    assert r.totals.peak_activation_bytes == 2048
    assert r.totals.inference_bytes == r.totals.param_bytes + 2048
    inplace = archcalc.analyze(archcalc.load(CHAIN), overrides={"inplace": True})
    assert inplace["relu"].live_bytes == 1024
    assert inplace.totals.peak_activation_bytes == 1280


def test_liveness_keeps_a_residual_input_alive() -> None:
    spec = {"input": [4, 8, 8], "layers": [
        {"name": "a", "type": "conv", "filters": 4, "kernel": 1},
        {"name": "b", "type": "relu"},
        {"name": "s", "type": "add", "inputs": ["b", "input"]},
    ]}
    r = archcalc.analyze(archcalc.load(spec))
    # 1024 B each: input stays alive until the add consumes it
    assert [x.live_bytes for x in r] == [1024, 2048, 3072, 3072]
    assert r.totals.peak_activation_bytes == 3072
    # in place, relu overwrites 'a' (its only consumer); the add still needs a new buffer
    inplace = archcalc.analyze(archcalc.load(spec), overrides={"inplace": True})
    assert [x.live_bytes for x in inplace] == [1024, 2048, 2048, 3072]


def test_training_memory_is_the_sum_of_its_named_parts() -> None:
    r = archcalc.analyze(archcalc.load(CHAIN))
    params = (4 * 9 + 4) + (64 * 10 + 10)
    assert r.totals.params == params == 690
    assert r.totals.param_bytes == 4 * params
    stored = 64 + 256 + 256 + 64 + 10  # every output but the flatten view
    t = r.totals
    assert t.stored_activation_bytes == 4 * stored
    assert t.gradient_bytes == 4 * params
    assert t.optimizer_bytes == 2 * 4 * params  # adam: two state copies
    assert t.training_bytes == 4 * params + 4 * stored + 4 * params + 8 * params == 13640
    sgd = archcalc.analyze(archcalc.load(CHAIN), overrides={"optimizer": "sgd"}).totals
    assert sgd.optimizer_bytes == 0 and sgd.training_bytes == 13640 - 8 * params


def test_batch_and_dtype_scale_what_they_should() -> None:
    base = archcalc.analyze(archcalc.load(CHAIN))
    big = archcalc.analyze(archcalc.load(CHAIN), overrides={"batch": 8, "dtype": "fp16"})
    assert big.totals.params == base.totals.params and big.totals.connections == base.totals.connections
    assert big.totals.macs == 8 * base.totals.macs and big.totals.flops == 8 * base.totals.flops
    assert big.totals.activation_bytes == base.totals.activation_bytes * 8 // 2
    assert big.totals.peak_activation_bytes == base.totals.peak_activation_bytes * 8 // 2
    assert big.totals.param_bytes == base.totals.param_bytes // 2


def test_buffers_are_stored_but_not_parameters() -> None:
    r = archcalc.analyze(archcalc.load({"input": [16, 4, 4], "layers": [{"name": "bn", "type": "bn"}]}))
    assert (r["bn"].params, r["bn"].buffers) == (32, 32)
    assert r["bn"].param_bytes == 4 * 64
    frozen = archcalc.analyze(archcalc.load({"input": [16, 4, 4], "layers": [{"name": "bn", "type": "bn"}]}),
                              overrides={"bn_affine_params": False})
    assert frozen["bn"].params == 0 and frozen["bn"].param_bytes == 4 * 64
