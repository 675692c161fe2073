"""Per-element costs of layers whose ONNX Runtime kernels take far longer than their bytes:
normalisations, transcendental activations, and pixel and channel shuffles.

Each is timed on a one-layer spec exported as archcalc exports it (the forms PyTorch's exporters
write: GELU as Div/Erf/Add/Mul/Mul, a GroupNorm as Reshape/InstanceNormalization/Reshape/Mul/Add,
a LayerNorm over the channels of an NCHW map between two transposes), so ORT's fusions of that
form (GeluFusion, QuickGeluFusion, ...) apply as they do in a network; at two sizes, 200k elements
and 16x fewer (:func:`unit_figures`: the slope, and the form's fixed cost). Measured here:
LayerNorm ~0.5 ns, GELU ~0.45 ns per element, where their bytes take ~0.06 ns: priced by their
traffic, ConvNeXt-T's LayerNorms were estimated at 0.11x of their profiled time, its GELUs at 0.5x.
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


#: the small model of each unit: its map 4x smaller on both spatial axes (1/16 of the elements)
SMALL = "@small"


def _small(shape: tuple[int, int, int], last: bool) -> tuple[int, int, int]:
    a, b, c = shape
    return (a // 4, b // 4, c) if last else (a, b // 4, c // 4)


def unit_shapes(key: str) -> dict[str, tuple[int, int, int]]:
    """The unit's two models' inputs: ``key`` and ``key@small``."""
    _, shape = LAYER_UNITS[key]
    return {key: shape, key + SMALL: _small(shape, key.endswith(":last"))}


def unit_counts() -> dict[str, tuple[str, float]]:
    """Each unit's two models as ``ops_model``'s units are given (name -> (cost key, elements))."""
    return {f"layer:{name}": (name, float(prod(shape))) for key in LAYER_UNITS
            for name, shape in unit_shapes(key).items()}


def unit_figures(get: Callable[[str], float | None], profiler_us: float,
                 kernel_us: float = 0.05) -> tuple[dict[str, float], dict[str, float]]:
    """Per unit, from its two models' kernel times (``get("unit:<name>")``, microseconds per
    run, all kernels of the form): the cost per element (ns), the slope between the two, and the
    fixed cost of the form's kernels (us), what the small one took beyond its elements (less the
    profiler's cost). Two sizes because a form runs 1-8 kernels (GELU-tanh as exported: 8),
    each with its fixed cost: spread over one model's elements they priced a small layer at
    0.26-0.4x of its time."""
    unit_ns: dict[str, float] = {}
    fixed_us: dict[str, float] = {}
    for key in LAYER_UNITS:
        shapes = unit_shapes(key)
        big, small = get(f"unit:{key}"), get(f"unit:{key}{SMALL}")
        if big is None or small is None:
            continue
        n_big, n_small = prod(shapes[key]), prod(shapes[key + SMALL])
        per_us = max(big - small, 0.0) / (n_big - n_small)
        unit_ns[key] = per_us * 1e3
        # never below one kernel's fixed cost (``kernel_us``): the slope between a map in cache and
        # one out of it can leave nothing, or less than nothing, for the small one's fixed cost
        fixed_us[f"unit:{key}"] = max(small - profiler_us - n_small * per_us, kernel_us)
    return unit_ns, fixed_us


def unit_model(name: str) -> Any:
    """The ONNX model (batch 1, random weights) of a unit's one-layer spec (``key`` or ``key@small``)."""
    from archcalc.language.loader import load_spec
    from archcalc.onnx_export.export import export_onnx

    key = name.removesuffix(SMALL)
    layer, _ = LAYER_UNITS[key]
    shape = unit_shapes(key)[name]
    graph = load_spec({"name": key.replace(":", "_"), "input": list(shape), "layers": [dict(layer, name="unit")]})
    return export_onnx(graph, weights="random").model


def measure_units(units: Mapping[str, tuple[str, float]], kernel_runs: Callable[[Any], Mapping[str, Sequence[float]]],
                  add: Callable[[str, float, list[float]], None]) -> None:
    """Time the unit models among ``units`` (see :func:`unit_counts`): per profiled run, the sum of
    all its kernels (microseconds)."""
    for key in [key for name, (key, _) in units.items() if name.startswith("layer:")]:
        runs = kernel_runs(unit_model(key))
        width = max((len(v) for v in runs.values()), default=0)
        got = [sum(v[i] for v in runs.values() if i < len(v)) for i in range(width)]
        if got:
            add(f"unit:{key}", statistics.median(got), got)
