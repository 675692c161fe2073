"""ORT's NCHWc layout on this CPU: the channel block, and how a convolution runs in it.

Callers look :func:`nchwc_block` up on the module (``layout.nchwc_block()``), so tests can set the
block of another CPU.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from archcalc.estimate.shapes import ConvShape
from archcalc.ops.facts import KernelClass


@functools.lru_cache(maxsize=1)
def nchwc_block() -> int:
    """Channel block of ORT's NCHWc kernels on this CPU (16 with AVX-512, else 8)."""
    with contextlib.suppress(OSError):
        flags = Path("/proc/cpuinfo").read_text()
        if " avx512f" in flags:
            return 16
    return 8


#: ORT's NCHWc transformer takes a dense conv of a block of input channels or more, and a
#: depthwise conv, only when the channels are a multiple of this (measured, ORT 1.31, block 16: dense
#: convs of 18 and 43 input channels and depthwise convs of 15, 18 and 43 channels run plain, at
#: up to 10x the time of the blocked 16 and 48; 4, 8, 12, 20, 24, 40, 72, 96 and 100 run blocked)
CHANNEL_ALIGNMENT = 4


def executed_conv(shape: ConvShape, block: int, blocked_in: bool) -> tuple[ConvShape, bool]:
    """The convolution ORT's CPU provider runs, and whether in the NCHWc layout: a dense conv of
    fewer input channels than a block runs blocked from its plain input (output channels padded to
    the block); one of more runs blocked, input channels padded too, when they are a multiple of
    :data:`CHANNEL_ALIGNMENT`, whatever the layout of its input; a depthwise conv runs blocked,
    channels padded to the block, when they are a multiple of :data:`CHANNEL_ALIGNMENT`; grouped
    convs run blocked only when their channels per group fill whole blocks. A conv that does not
    run blocked runs as it is."""
    cin, cout, groups = shape.cin, shape.cout, shape.groups
    per_group_in = cin // groups

    def pad(c: int) -> int:
        return -(-c // block) * block

    if groups == 1:
        if cin >= block and cin % CHANNEL_ALIGNMENT:
            return shape, False
        cin_x = pad(cin) if cin >= block or blocked_in else cin
        return ConvShape(cin_x, pad(cout), 1, shape.kernel, shape.stride, shape.out, shape.batch), True
    if per_group_in == 1 and groups == cin == cout:  # depthwise
        if cin % CHANNEL_ALIGNMENT:
            return shape, False
        c = pad(cin)
        return ConvShape(c, c, c, shape.kernel, shape.stride, shape.out, shape.batch), True
    return shape, per_group_in % block == 0 and (cout // groups) % block == 0


def tapped_conv(shape: ConvShape, size_in: Sequence[int], size_out: Sequence[int]) -> ConvShape:
    """The conv ORT runs on maps of these input and output sizes: its kernel cut to the taps that
    meet the input at some output position, on each spatial axis. ORT's convolutions skip a tap
    that only ever reads padding: a 3x3 conv of a 1x1 map works (and reads its weights) as a 1x1
    conv. Measured (ORT 1.31, chains of 16 such convs), a 3x3 conv of 512 channels on a 1x1 map
    took 25 us against 12 us for the 1x1 conv of the same channels, not 9x."""
    used = [_taps_used(shape.kernel, shape.stride, n_in, n_out) for n_in, n_out in zip(size_in, size_out,
                                                                                        strict=False)]
    taps = math.prod(used)
    if not used or taps == shape.kernel ** len(used):
        return shape
    return dataclasses.replace(shape, kernel=max(1, round(taps ** (1.0 / len(used)))))


def timed_conv(shape: ConvShape) -> ConvShape:
    """A calibration conv as ORT ran it (its input ``size_in``, padded by half the kernel, as
    ``microbench.conv_model`` builds it): :func:`tapped_conv` of its own maps, the shape its
    point's FLOPs and features are taken from, as the estimator asks for a layer's."""
    return tapped_conv(shape, (shape.size_in, shape.size_in), (shape.out, shape.out))


def _taps_used(kernel: int, stride: int, n_in: int, n_out: int) -> int:
    """Taps of a kernel on one axis that read the input at some output position (the padding
    split evenly, the extra one at the end, as "same" padding puts it)."""
    pad = max(((n_out - 1) * stride + kernel - n_in) // 2, 0)
    used = 0
    for t in range(kernel):
        first = max(0, -(-(pad - t) // stride))  # the first output whose tap t is past the padding before
        used += first < n_out and first * stride + t - pad < n_in
    return used


def pad_fuses(attrs: Mapping[str, Any], readers: Sequence[KernelClass]) -> bool:
    """ORT's PadFusion, for a data-movement layer of these ``attrs`` whose output the layers of
    kernel classes ``readers`` read: a Pad of the spatial axes by zeros (the only padding archcalc
    imports is spatial, never negative) that one Conv alone reads becomes that conv's padding, and
    runs no kernel of its own; the conv then reads the Pad's input, blocked where that is blocked
    (measured, ORT 1.31: misc_ops' asymmetric zero Pad between a blocked Conv+LeakyRelu and a conv
    of 8 channels left no node and no reorder in ORT's optimised graph on a CPU of 8-channel blocks)."""
    return ("padding" in attrs and attrs.get("mode") == "constant" and not attrs.get("value")
            and list(readers) == [KernelClass.CONV])


def whole_blocks(shape: Sequence[int], block: int) -> bool:
    """Whether a (C, H, W) tensor has whole NCHWc channel blocks."""
    return len(shape) == 3 and shape[0] % block == 0


def integer_scale(src: Sequence[int], out: Sequence[int]) -> bool:
    """Whether ``out`` scales ``src``'s spatial axes by whole factors (channels unchanged)."""
    return len(src) == len(out) == 3 and src[0] == out[0] and all(o % i == 0 for i, o in zip(src[1:], out[1:],
                                                                                          strict=True))


def doubles(src: Sequence[int], out: Sequence[int]) -> bool:
    """Whether ``out`` is ``src`` (C, H, W) twice as high and twice as wide."""
    return len(src) == len(out) == 3 and src[0] == out[0] and out[1] == 2 * src[1] and out[2] == 2 * src[2]
