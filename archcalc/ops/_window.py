"""Sliding-window geometry shared by convolution, pooling and subsampling."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from math import prod
from typing import Any

from archcalc.errors import ShapeError
from archcalc.frozen import quick_init
from archcalc.ops._derive import Step
from archcalc.ops._formulas import Pads, Shape, axis_name, dropped_input, per_axis, resolve_padding, window_output
from archcalc.ops.base import Window

ROUNDING = ("exact", "floor", "ceil")
SAME = ("same", "same_upper", "same_lower")


@quick_init
@dataclass(frozen=True, slots=True)
class Geometry:
    out: Shape  # output spatial sizes
    kernel: tuple[int, ...]
    k_eff: tuple[int, ...]
    stride: tuple[int, ...]
    pads: Pads
    #: where flooring leaves input pixels unread (one note per axis)
    notes: tuple[str, ...] = ()

    @property
    def taps(self) -> int:
        return prod(self.kernel)

    @property
    def positions(self) -> int:
        return prod(self.out)

    def rf(self) -> Window:
        axes = [(k, s, (k - 1) - 2 * p[0]) for k, s, p in zip(self.k_eff, self.stride, self.pads, strict=True)]
        if len(axes) == 2 and axes[0] == axes[1]:  # a square window: one tuple for both axes (equal values)
            return Window((axes[0], axes[0]))
        return Window(tuple(axes))


def spatial_of(shape: Shape, kind: str) -> Shape:
    if len(shape) < 2:
        raise ShapeError(
            f"{kind} needs an input with spatial axes (C, H, W...), got shape {format_shape(shape)}"
        )
    return shape[1:]


def geometry(attrs: Mapping[str, Any], spatial: Shape, kernel: Any | None = None) -> Geometry:
    """Output sizes and per-axis window parameters from kernel/stride/padding/dilation/rounding."""
    n = len(spatial)
    k = per_axis(kernel if kernel is not None else attrs["kernel"], n, "kernel")
    stride_attr = attrs.get("stride")
    s = per_axis(stride_attr if stride_attr is not None else k, n, "stride")
    d = per_axis(attrs.get("dilation") or 1, n, "dilation")
    k_eff = k if d.count(1) == n else tuple([di * (ki - 1) + 1 for ki, di in zip(k, d, strict=True)])
    padding = attrs.get("padding", 0)
    pads = resolve_padding(padding, n, spatial, k_eff, s)
    # "same" pads so that the output is ceil(N/s); when the stride is larger than the kernel no
    # padding is needed and the last stride is left incomplete, as in ONNX/TF: never an error
    rounding = "floor" if padding in SAME else attrs.get("rounding") or "floor"
    sizes: list[int] = []
    drops = False  # whether some axis has a floor note (``dropped_input``'s test, without the words)
    for i in range(n):
        size, k_i, s_i, pad = spatial[i], k_eff[i], s[i], pads[i]
        span = size + pad[0] + pad[1] - k_i
        if span >= 0 and (rounding == "floor" or span % s_i == 0):
            sizes.append(span // s_i + 1)  # window_output's result, named axes only for its errors
            drops = drops or span % s_i - pad[1] > max(s_i - k_i, 0)
        else:
            sizes.append(window_output(size, k_i, s_i, pad, rounding, axis_name(i, n)))
            drops = drops or _drops(size, k_i, s_i, pad)
    out = tuple(sizes)
    notes: tuple[str, ...] = ()
    if drops and rounding == "floor" and padding not in SAME:
        axes_of: dict[tuple[int, int, int, tuple[int, int]], list[str]] = {}
        for i in range(n):  # axes with the same arithmetic share one note ("along H and W")
            axes_of.setdefault((spatial[i], k_eff[i], s[i], pads[i]), []).append(axis_name(i, n))
        found = (dropped_input(*key, " and ".join(names)) for key, names in axes_of.items())
        notes = tuple(note for note in found if note is not None)
    return Geometry(out=out, kernel=k, k_eff=k_eff, stride=s, pads=pads, notes=notes)


def _drops(size: int, k_eff: int, stride: int, pads: tuple[int, int]) -> bool:
    """Whether ``dropped_input`` has a note for this axis (its test, without writing the note)."""
    span = size + pads[0] + pads[1] - k_eff
    rest = span % stride if span >= 0 else 0
    return rest - pads[1] > max(stride - k_eff, 0)


def format_shape(shape: Shape) -> str:
    return "x".join(str(v) for v in shape) if shape else "scalar"


def window_numbers(spatial: Shape, geo: Geometry, rounding: str) -> str:
    """The output length per axis with the numbers in: ``H, W: (14 + 0 - 5)/1 + 1 = 10``."""
    n = len(spatial)
    by_text: dict[str, list[str]] = {}
    for i in range(n):
        pad = geo.pads[i][0] + geo.pads[i][1]
        k = geo.k_eff[i]
        text = f"{rounding}(({spatial[i]} + {pad} - {k})/{geo.stride[i]}) + 1 = {geo.out[i]}"
        by_text.setdefault(text, []).append(axis_name(i, n))
    return "; ".join(f"{', '.join(axes)}: {text}" for text, axes in by_text.items())


WINDOW_SYMBOLS = "out = rounding((N + P - K_eff)/S) + 1 per axis, K_eff = d(K-1)+1"


def window_output_step(attrs: Mapping[str, Any], c_out: int, spatial: Shape, geo: Geometry) -> Step:
    """The output shape of a sliding-window layer as a Step: maps, then the window rule per axis."""
    rounding = "floor" if attrs.get("padding") in SAME else attrs.get("rounding") or "floor"
    out = "x".join(str(v) for v in (c_out, *geo.out))
    return Step(out, f"{c_out} maps; each spatial axis by the sliding-window rule ({rounding})",
                f"C_out x out_axes; {WINDOW_SYMBOLS}", window_numbers(spatial, geo, rounding))
