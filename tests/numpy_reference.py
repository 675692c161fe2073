"""A plain numpy forward pass of an archcalc graph, written from the layer definitions (not from the
exporter's ONNX mapping), used to check that exported models compute what the spec says.

Weights come from the exported model's initializers by name (``LAYER.weight``, ``.bias``,
``.coefficient``, ``.centres``, ``.scale``, ``.shift``, ``.running_mean``, ``.running_var``,
``.slope``). Two spatial axes; the layer kinds of LeNet-sized nets.
"""

from __future__ import annotations

from math import prod
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import archcalc
from archcalc.ops._formulas import per_axis
from archcalc.ops._window import geometry


def _windows(x: np.ndarray, k: tuple[int, ...], s: tuple[int, ...], d: tuple[int, ...], out: tuple[int, ...]) -> np.ndarray:
    """[N, C, oh, ow, kh, kw] windows of a padded [N, C, H, W] array."""
    span = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d, strict=True))
    v = sliding_window_view(x, span, axis=(2, 3))[..., :: d[0], :: d[1]]
    return v[:, :, : out[0] * s[0] : s[0], : out[1] * s[1] : s[1]][:, :, : out[0], : out[1]]


def _pad(x: np.ndarray, pads: Any, out: tuple[int, ...], k_eff: tuple[int, ...], s: tuple[int, ...],
         value: float) -> np.ndarray:
    widths = [(0, 0), (0, 0)]
    for i in range(2):
        before, after = pads[i]
        need = (out[i] - 1) * s[i] + k_eff[i] - (x.shape[2 + i] + before)  # ceil rounding may need more
        widths.append((before, max(after, need)))
    return np.pad(x, widths, constant_values=value)


def forward(graph: archcalc.Graph, weights: dict[str, np.ndarray], x: np.ndarray) -> dict[str, np.ndarray]:
    report = archcalc.analyze(graph)
    records = {r.name: r for r in report.layers}
    values: dict[tuple[str, int], np.ndarray] = {}
    for layer in graph.layers.values():
        a = layer.attrs
        ins = [values[r] for r in layer.inputs]
        out_shape = records[layer.name].shape
        w = lambda suffix, name=layer.name: weights[f"{name}.{suffix}"]  # noqa: E731
        kind = layer.kind
        if kind == "input":
            y = x
        elif kind == "conv":
            geo = geometry(a, ins[0].shape[2:])
            xp = _pad(ins[0], geo.pads, out_shape[1:], geo.k_eff, geo.stride, 0.0)
            dil = per_axis(a["dilation"], 2, "dilation")
            win = _windows(xp, geo.kernel, geo.stride, dil, out_shape[1:])  # N C oh ow kh kw
            weight = w("weight")
            c_in, c_out = ins[0].shape[1], out_shape[0]
            if a["connections"] is not None:
                mask = np.zeros((c_out, c_in, 1, 1), np.float32)
                for m, maps in enumerate(a["connections"]):
                    mask[m, list(maps)] = 1
                y = np.einsum("nchwij,mcij->nmhw", win, weight * mask)
            else:
                groups = c_in if a["depthwise"] else a["groups"]
                gi, go = c_in // groups, c_out // groups
                y = np.concatenate([
                    np.einsum("nchwij,mcij->nmhw", win[:, g * gi:(g + 1) * gi], weight[g * go:(g + 1) * go])
                    for g in range(groups)], axis=1)
            if a["bias"] == "per_map":
                y = y + w("bias").reshape(1, -1, 1, 1)
            elif a["bias"] == "per_unit":
                y = y + w("bias")[None]
        elif kind == "subsample":
            geo = geometry(a, ins[0].shape[2:])
            xp = _pad(ins[0], geo.pads, out_shape[1:], geo.k_eff, geo.stride, 0.0)
            sums = _windows(xp, geo.kernel, geo.stride, (1, 1), out_shape[1:]).sum(axis=(-1, -2))
            coef = w("coefficient")[:, 0, 0, 0]
            y = sums * coef.reshape(1, -1, 1, 1)
            if a["bias"] != "none":
                y = y + w("bias").reshape(1, -1, 1, 1)
        elif kind in ("maxpool", "avgpool"):
            geo = geometry(a, ins[0].shape[2:])
            fill = -np.inf if kind == "maxpool" else 0.0
            xp = _pad(ins[0], geo.pads, out_shape[1:], geo.k_eff, geo.stride, fill)
            dil = per_axis(a.get("dilation") or 1, 2, "dilation")
            win = _windows(xp, geo.kernel, geo.stride, dil, out_shape[1:])
            if kind == "maxpool":
                y = win.max(axis=(-1, -2))
            else:
                ones = _pad(np.ones_like(ins[0]), geo.pads, out_shape[1:], geo.k_eff, geo.stride, 0.0)
                count = _windows(ones, geo.kernel, geo.stride, dil, out_shape[1:]).sum(axis=(-1, -2))
                if a["count_include_pad"]:
                    count = np.full_like(count, prod(geo.kernel))
                y = win.sum(axis=(-1, -2)) / count
        elif kind == "global_avgpool":
            y = ins[0].mean(axis=(2, 3), keepdims=True)
        elif kind == "global_maxpool":
            y = ins[0].max(axis=(2, 3), keepdims=True)
        elif kind == "fc":
            flat = ins[0].reshape(ins[0].shape[0], -1)
            y = flat @ w("weight").T
            if a["bias"] != "none":
                y = y + w("bias")
        elif kind == "rbf":
            flat = ins[0].reshape(ins[0].shape[0], -1)
            y = ((flat[:, None, :] - w("centres")[None]) ** 2).sum(axis=2)
        elif kind == "activation":
            y = _activation(a["fn"], ins[0], layer.name, weights)
        elif kind == "batchnorm":
            shape = (1, -1) + (1,) * (ins[0].ndim - 2)
            mean, var = w("running_mean").reshape(shape), w("running_var").reshape(shape)
            y = (ins[0] - mean) / np.sqrt(var + a["eps"]) * w("scale").reshape(shape) + w("shift").reshape(shape)
        elif kind == "lrn":  # ONNX / Krizhevsky across channels
            size = a["size"]
            sq = ins[0] ** 2
            c = ins[0].shape[1]
            acc = np.zeros_like(ins[0])
            for ch in range(c):
                lo, hi = max(0, ch - (size - 1) // 2), min(c - 1, ch + -(-(size - 1) // 2))
                acc[:, ch] = sq[:, lo:hi + 1].sum(axis=1)
            y = ins[0] / (a["k"] + a["alpha"] / size * acc) ** a["beta"]
        elif kind == "add":
            y = sum(ins[1:], ins[0])
        elif kind == "mul":
            y = ins[0]
            for other in ins[1:]:
                y = y * other
        elif kind == "concat":
            y = np.concatenate(ins, axis=a["axis"] + 1)
        elif kind == "flatten":
            y = ins[0].reshape(ins[0].shape[0], -1)
        elif kind in ("dropout", "identity"):
            y = ins[0]
        elif kind == "pad":
            pads = a["padding"]
            pads = [(pads, pads)] * 2 if isinstance(pads, int) else [(p, p) if isinstance(p, int) else p for p in pads]
            y = np.pad(ins[0], [(0, 0), (0, 0), *pads], constant_values=a["value"])
        elif kind == "upsample" and a["mode"] == "nearest":
            rows = (np.arange(out_shape[1]) * ins[0].shape[2] // out_shape[1])
            cols = (np.arange(out_shape[2]) * ins[0].shape[3] // out_shape[2])
            y = ins[0][:, :, rows][:, :, :, cols]
        else:
            raise NotImplementedError(kind)
        values[(layer.name, 0)] = np.asarray(y, dtype=np.float32)
    return {name: values[(name, 0)] for name in report.outputs}


def _activation(fn: str, x: np.ndarray, name: str, weights: dict[str, np.ndarray]) -> np.ndarray:
    if fn == "relu":
        return np.maximum(x, 0)
    if fn == "relu6":
        return np.clip(x, 0, 6)
    if fn == "tanh":
        return np.tanh(x)
    if fn == "lecun_tanh":
        return 1.7159 * np.tanh(2.0 / 3.0 * x)
    if fn == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if fn == "softmax":
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if fn == "leaky_relu":
        return np.where(x > 0, x, 0.01 * x)
    if fn == "prelu":
        slope = weights[f"{name}.slope"]
        return np.where(x > 0, x, x * (slope if slope.size > 1 else slope.reshape(())))
    raise NotImplementedError(fn)
