"""Pure integer helpers shared by the layer families."""

from __future__ import annotations

from math import prod

from archcalc.errors import ShapeError

Shape = tuple[int, ...]
Pads = tuple[tuple[int, int], ...]

AXIS_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def axis_name(axis: int, n: int) -> str:
    names = AXIS_NAMES.get(n)
    return names[axis] if names else f"axis {axis}"


def elements(shape: Shape) -> int:
    return prod(shape)


def per_axis(value: int | tuple[int, ...], n: int, what: str) -> tuple[int, ...]:
    """An int for every axis, or a tuple that must have one entry per spatial axis."""
    if isinstance(value, int):
        return (value,) * n
    if len(value) == 1:
        return (value[0],) * n
    if len(value) != n:
        raise ShapeError(f"{what} has {len(value)} entries but the input has {n} spatial axes")
    return tuple(value)


def effective_kernel(kernel: int, dilation: int) -> int:
    """Span of a dilated kernel: d(k-1)+1."""
    return dilation * (kernel - 1) + 1


def resolve_padding(
    padding: object, n: int, size: Shape, k_eff: tuple[int, ...], stride: tuple[int, ...]
) -> Pads:
    """Padding spec -> (before, after) per axis.

    ``valid`` = 0; ``same`` = TF/ONNX SAME_UPPER (output ceil(N/s), the odd pixel after);
    ``same_lower`` puts the odd pixel before; ``full`` = k_eff-1 on both sides; an int pads
    every side; a list has one entry per axis, an int (both sides) or [before, after].
    """
    if padding in ("valid", None):
        return ((0, 0),) * n
    if padding in ("same", "same_upper", "same_lower"):
        pads = []
        for i in range(n):
            out = -(-size[i] // stride[i])
            total = max((out - 1) * stride[i] + k_eff[i] - size[i], 0)
            small, big = total // 2, total - total // 2
            pads.append((big, small) if padding == "same_lower" else (small, big))
        return tuple(pads)
    if padding == "full":
        return tuple((k - 1, k - 1) for k in k_eff)
    if isinstance(padding, int):
        return ((padding, padding),) * n
    assert isinstance(padding, tuple)
    if len(padding) == 1 and n > 1:
        padding = padding * n
    if len(padding) != n:
        raise ShapeError(f"padding has {len(padding)} entries but the input has {n} spatial axes")
    return tuple([(p, p) if isinstance(p, int) else (p[0], p[1]) for p in padding])


class InputDropped(str):
    """A note that a floored window leaves real input pixels unread (``rounding: exact`` or
    ``analyze(..., strict=True)`` turn it into an error)."""


def dropped_input(size: int, k_eff: int, stride: int, pads: tuple[int, int], axes: str) -> InputDropped | None:
    """The note for a floored window that never reads the last input pixels along ``axes``, or
    None when it reads them. Padding left unread is not worth a note, nor a tail no longer than
    the gap a stride larger than the window leaves between every two windows anyway."""
    span = size + pads[0] + pads[1] - k_eff
    rest = span % stride if span >= 0 else 0
    unread = rest - pads[1]
    if unread <= max(stride - k_eff, 0):
        return None
    pad_text = f" + {pads[0] + pads[1]}" if pads[0] + pads[1] else ""
    more = stride - rest
    many = unread > 1
    return InputDropped(
        f"rounding floor along {axes}: ({size}{pad_text} - {k_eff})/{stride} + 1 = {span / stride + 1:.2f} "
        f"gives {span // stride + 1}, so the last {unread} input pixel{'s' if many else ''} "
        f"{'are' if many else 'is'} never read (pad {more} more pixel{'s' if more > 1 else ''}, "
        f"or rounding: ceil, to read {'them' if many else 'it'}; rounding: exact makes this an error)")


def window_output(
    size: int,
    k_eff: int,
    stride: int,
    pads: tuple[int, int],
    rounding: str,
    axis: str,
) -> int:
    """Output length of a sliding window: (N + P - K)/S + 1, with the rounding the layer asks for.

    ``exact`` refuses a stride that does not fit, naming the formula and a fix; ``floor`` and
    ``ceil`` round like frameworks do (ceil never starts a window in the right padding).
    """
    padded = size + pads[0] + pads[1]
    span = padded - k_eff
    if span < 0:
        raise ShapeError(
            f"window of {k_eff} does not fit along {axis}: input {size} + padding "
            f"{pads[0]}+{pads[1]} = {padded} < {k_eff}"
        )
    whole, rest = divmod(span, stride)
    if rest == 0:
        return whole + 1
    if rounding == "floor":
        return whole + 1
    if rounding == "ceil":
        out = whole + 2
        if (out - 1) * stride >= size + pads[0]:
            out -= 1
        return out
    pad_text = f" + {pads[0] + pads[1]}" if pads[0] + pads[1] else ""
    more = stride - rest
    ceil_out = window_output(size, k_eff, stride, pads, "ceil", axis)
    raise ShapeError(
        f"stride does not fit along {axis}: ({size}{pad_text} - {k_eff})/{stride} + 1 = "
        f"{span / stride + 1:.2f} is not an integer; pad {more} more pixel"
        f"{'s' if more > 1 else ''} (e.g. padding [[{pads[0]}, {pads[1] + more}]] on this axis), "
        f"or set rounding: floor (gives {whole + 1}) or rounding: ceil (gives {ceil_out})"
    )


def check_positive(value: int, what: str) -> None:
    if value <= 0:
        raise ShapeError(f"{what} must be positive, got {value}")
