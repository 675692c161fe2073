"""Per-element costs of layers whose ONNX Runtime kernels take far longer than their bytes:
normalisations, transcendental activations, and pixel and channel shuffles.

Each is timed on a one-layer spec exported as archcalc exports it (the forms PyTorch's exporters
write: GELU as Div/Erf/Add/Mul/Mul, a GroupNorm as Reshape/InstanceNormalization/Reshape/Mul/Add,
a LayerNorm over the channels of an NCHW map between two transposes), so ORT's fusions of that
form (GeluFusion, QuickGeluFusion, ...) apply as they do in a network. Measured here on maps of
200k elements: LayerNorm ~0.5 ns, GELU ~0.45 ns per element, where their bytes take ~0.06 ns:
ConvNeXt-T's LayerNorms were estimated at 0.11x of their profiled time, its GELUs at 0.5x.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from math import prod
from typing import TYPE_CHECKING, Any

from archcalc.ops.activation import UNIT_FNS

if TYPE_CHECKING:
    from archcalc.ir import Layer

#: unit key -> (the layer, its input (channels, height, width) or (height, width, channels))
LAYER_UNITS: dict[str, tuple[dict[str, Any], tuple[int, int, int]]] = {
    **{f"act:{fn}": ({"type": "activation", "fn": fn}, (64, 56, 56)) for fn in sorted(UNIT_FNS)},
    "norm:layernorm:last": ({"type": "layernorm", "over": "last"}, (56, 56, 64)),
    "norm:layernorm:channels": ({"type": "layernorm", "over": "channels"}, (64, 56, 56)),
    "norm:groupnorm": ({"type": "groupnorm", "groups": 8}, (64, 56, 56)),
    "norm:instancenorm": ({"type": "instancenorm"}, (64, 56, 56)),
    # DepthToSpace, and the 6-D and 5-D transposes between reshapes PyTorch writes for the others
    "move:pixel_shuffle": ({"type": "pixel_shuffle", "factor": 2}, (64, 56, 56)),
    "move:pixel_unshuffle": ({"type": "pixel_unshuffle", "factor": 2}, (16, 112, 112)),
    "move:channel_shuffle": ({"type": "channel_shuffle", "groups": 4}, (64, 56, 56)),
}


def unit_key(layer: Layer) -> str | None:
    """The layer unit that prices ``layer`` (its op says which), or None."""
    from archcalc.ops import REGISTRY

    key = REGISTRY[layer.kind].cost_unit(layer.attrs)
    return key if key in LAYER_UNITS else None


def unit_counts() -> dict[str, tuple[str, float]]:
    """Each unit as ``ops_model``'s units are given (name -> (cost key, elements it is divided by))."""
    return {f"layer:{key}": (key, float(prod(shape))) for key, (_, shape) in LAYER_UNITS.items()}


def unit_traffic_bytes() -> dict[str, float]:
    """What each unit model's layer reads and writes once (fp32): the estimator adds that much
    traffic to the unit, so the unit is stored net of it."""
    return {key: 4.0 * 2 * prod(shape) for key, (_, shape) in LAYER_UNITS.items()}


def unit_model(key: str) -> Any:
    """The ONNX model (batch 1, random weights) of the unit's one-layer spec."""
    from archcalc.language.loader import load_spec
    from archcalc.onnx_export.export import export_onnx

    layer, shape = LAYER_UNITS[key]
    graph = load_spec({"name": key.replace(":", "_"), "input": list(shape), "layers": [dict(layer, name="unit")]})
    return export_onnx(graph, weights="random").model


def measure_units(units: Mapping[str, tuple[str, float]], kernel_runs: Callable[[Any], Mapping[str, Sequence[float]]],
                  add: Callable[[str, float, list[float]], None]) -> None:
    """Time the unit models among ``units`` (see :func:`unit_counts`): per profiled run, the sum of
    all its kernels (microseconds)."""
    for key in [key for name, (key, _) in units.items() if name.startswith("layer:") and key in LAYER_UNITS]:
        runs = kernel_runs(unit_model(key))
        width = max((len(v) for v in runs.values()), default=0)
        got = [sum(v[i] for v in runs.values() if i < len(v)) for i in range(width)]
        if got:
            add(f"unit:{key}", statistics.median(got), got)
