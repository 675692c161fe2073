"""ORT's NCHWc layout on this CPU: the channel block, and how a convolution runs in it.

Callers look :func:`nchwc_block` up on the module (``layout.nchwc_block()``), so tests can set the
block of another CPU.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

from archcalc.estimate.shapes import ConvShape


@functools.lru_cache(maxsize=1)
def nchwc_block() -> int:
    """Channel block of ORT's NCHWc kernels on this CPU (16 with AVX-512, else 8)."""
    with contextlib.suppress(OSError):
        flags = Path("/proc/cpuinfo").read_text()
        if " avx512f" in flags:
            return 16
    return 8


def executed_conv(shape: ConvShape, block: int, blocked_in: bool) -> tuple[ConvShape, bool]:
    """The convolution ORT's CPU provider runs, and whether in the NCHWc layout: a dense conv
    runs blocked with output channels padded to the block (input channels too when it reads a
    blocked tensor or has at least a block of them); a depthwise conv runs blocked with its
    channels padded to the block (ORT 1.31's NCHWc transformer: 4, 8, 24, 40, 72 channels checked);
    grouped convs run blocked only when their channels per group fill whole blocks."""
    cin, cout, groups = shape.cin, shape.cout, shape.groups
    per_group_in = cin // groups
    if groups == 1:
        def pad(c: int) -> int:
            return -(-c // block) * block

        cin_x = pad(cin) if cin >= block or blocked_in else cin
        return ConvShape(cin_x, pad(cout), 1, shape.kernel, shape.stride, shape.out, shape.batch), True
    if per_group_in == 1 and groups == cin == cout:  # depthwise: ORT 1.31 pads any channel count
        c = -(-cin // block) * block
        return ConvShape(c, c, c, shape.kernel, shape.stride, shape.out, shape.batch), True
    return shape, per_group_in % block == 0 and (cout // groups) % block == 0
