"""Activations ORT fuses into a convolution, and the pass over the output that all but ReLU cost.

ORT's ConvActivationFusion folds a Relu, Clip (ReLU6), HardSigmoid, Sigmoid, Tanh or LeakyRelu
after a Conv into the conv (and a HardSwish, when its output goes on to a blocked consumer). Its
NCHWc conv kernel applies a ReLU as it writes each output block, for free; any other fused
activation it applies as a second pass over the output (MLAS's activation routine). Measured here
(AMD EPYC, 2 threads, 2026-12-02), that pass costs per output element, over a ReLU:
0.035-0.047 ns for Clip, 0.053-0.065 HardSigmoid, 0.06-0.10 LeakyRelu, 0.085-0.11 Tanh and
0.12-0.14 Sigmoid, nearly the same on depthwise 3x3, 5x5 and 7x7 convs, a pointwise and a dense
3x3 conv, of 14x14 to 56x56 outputs. It is little beside a dense conv's work, but a depthwise conv
is mostly its output: MobileNetV2's 144-channel 56x56 one took 50 us with a ReLU and 70 with its
Clip, and the estimator priced all 35 of its Conv+Clip kernels as Conv+ReLU.

Calibration times one depthwise conv per activation (``fused_nodes``, in ``ops_model``) and keeps
the difference from the ReLU one per output element (``fused_figures``): the cost keys are
``fused:<ONNX op>``. A plain-layout conv (ORT's non-NCHWc path) applies even a ReLU as a pass,
which calibration's conv points include, so the pass is added to blocked convs only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from archcalc.estimate.shapes import ConvShape

#: archcalc's activation functions that ORT fuses into a preceding conv or gemm
FUSABLE = frozenset({"relu", "tanh", "sigmoid", "leaky_relu", "relu6", "clip", "hardsigmoid", "hardtanh",
                     "hardswish"})
#: the ONNX op each fused function runs as (its pass costs the same whatever its constants)
FORMS = {"clip": "Clip", "relu6": "Clip", "hardtanh": "Clip", "hardswish": "HardSwish",
         "hardsigmoid": "HardSigmoid", "sigmoid": "Sigmoid", "tanh": "Tanh", "leaky_relu": "LeakyRelu"}
#: the reference: the activation the NCHWc kernel applies as it writes (no pass of its own)
REFERENCE = "Relu"
PREFIX = "fused:"
#: the conv each is timed on: depthwise 3x3, 128 channels (whole NCHWc blocks), 48x48 output
SHAPE = ConvShape(128, 128, 128, 3, 1, 48)
ELEMENTS = SHAPE.cout * SHAPE.out ** 2


def unit_of(fn: str | None) -> str | None:
    """The cost key of the pass a fused ``fn`` adds to a blocked conv (None: ReLU, or not fusable)."""
    op = FORMS.get(fn or "")
    return PREFIX + op if op else None


def pass_us(fn: str | None, elements: float, unit_ns: dict[str, float]) -> float:
    """Microseconds of the pass a fused ``fn`` makes over a blocked conv's ``elements`` outputs
    (0 for a ReLU, or with a device profile that has not measured it)."""
    key = unit_of(fn)
    return elements * unit_ns.get(key, 0.0) / 1e3 if key else 0.0


def fused_nodes() -> tuple[list[Any], list[Any], list[tuple[str, list[int]]], list[str], dict[str, tuple[str, float]]]:
    """For ``ops_model``: one depthwise conv per fused activation and the ReLU reference, each
    after a ReLU that writes its input and before a ReLU that reads its output (a HardSwish whose
    output leaves the graph, or goes to an op ORT runs plain, is not fused). Nodes, initializers,
    inputs, outputs, and units (kernel name -> (cost key, output elements))."""
    import numpy as np
    from onnx import helper, numpy_helper

    s = SHAPE
    size = (s.out - 1) * s.stride + 1
    inits = [numpy_helper.from_array(np.array(0.0, np.float32), "fa_lo"),
             numpy_helper.from_array(np.array(6.0, np.float32), "fa_hi")]
    nodes, inputs, outputs = [], [], []
    units: dict[str, tuple[str, float]] = {}
    attrs: dict[str, dict[str, Any]] = {"LeakyRelu": {"alpha": 0.01}, "HardSigmoid": {"alpha": 0.2, "beta": 0.5}}
    for op in (REFERENCE, *sorted(set(FORMS.values()))):
        tag = f"fa_{op.lower()}"
        inputs.append((f"{tag}_x", [1, s.cin, size, size]))
        inits += [numpy_helper.from_array(np.full((s.cout, 1, s.kernel, s.kernel), 1.0 / s.kernel ** 2, np.float32),
                                          f"{tag}_w"),
                  numpy_helper.from_array(np.full((s.cout,), 0.01, np.float32), f"{tag}_b")]
        nodes.append(helper.make_node("Relu", [f"{tag}_x"], [f"{tag}_in"], name=f"{tag}_in"))
        nodes.append(helper.make_node("Conv", [f"{tag}_in", f"{tag}_w", f"{tag}_b"], [f"{tag}_c"], name=f"{tag}_c",
                                      kernel_shape=[s.kernel] * 2, pads=[s.kernel // 2] * 4, group=s.groups))
        extra = ["fa_lo", "fa_hi"] if op == "Clip" else []
        nodes.append(helper.make_node(op, [f"{tag}_c", *extra], [tag], name=tag, **attrs.get(op, {})))
        nodes.append(helper.make_node("Relu", [tag], [f"{tag}_out"], name=f"{tag}_out"))
        outputs.append(f"{tag}_out")
        # ORT names the fused kernel after the activation, but a fused HardSwish's after the conv
        units[f"{tag}_c" if op == "HardSwish" else tag] = (PREFIX + op, float(ELEMENTS))
    return nodes, inits, inputs, outputs, units


def fused_figures(get: Callable[[str], float | None]) -> dict[str, float]:
    """Per fused activation, ns per output element of its pass: its conv's kernel time
    (``get("unit:fused:<op>")``, microseconds) less the ReLU conv's, never below zero."""
    ref = get(f"unit:{PREFIX}{REFERENCE}")
    out: dict[str, float] = {}
    if ref is None:
        return out
    for op in sorted(set(FORMS.values())):
        value = get(f"unit:{PREFIX}{op}")
        if value is not None:
            out[PREFIX + op] = max(value - ref, 0.0) * 1e3 / ELEMENTS
    return out
