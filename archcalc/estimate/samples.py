"""Generic, seeded samples of the shapes calibration measures (nothing from any network).
numpy is imported inside the functions that need it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from archcalc.estimate.shapes import F32, ConvShape, GemmShape

#: the least work (FLOPs) of any sampled conv, random or on the grid
CONV_MIN_FLOPS = 2e4


def conv_samples(scale: float = 1.0, seed: int = 20240611) -> list[ConvShape]:
    """A seeded, stratified sample of generic convolution shapes (nothing from any network):
    regular KxK, pointwise 1x1, few input channels with large kernels and strides, depthwise,
    grouped; channels log-uniform in 16..1024 (multiples of 16), output size log-uniform 2..112
    (to 220 for regular convs), batch 1-8. Shapes are bounded in work so each runs in at most a
    few tens of milliseconds, but for ten heavy 3x3 convs (32-256 channels, 56-220 outputs,
    batch 2-8, 4-40 GFLOP) so that large maps are measured, not extrapolated. Then the
    :func:`grid_convs` (whole, at any ``scale``)."""
    import numpy as np

    def ch(lo: float = 4.0, hi: float = 10.0) -> int:
        return max(16, int(2 ** rng.uniform(lo, hi)) // 16 * 16)

    def out(lo: float = 1.0, hi: float = 6.8) -> int:
        return max(1, round(2 ** rng.uniform(lo, hi)))

    def batch() -> int:
        return int(rng.choice([1, 1, 1, 2, 4, 8, 8]))

    plan = [("regular", 200), ("pointwise", 120), ("first", 160), ("depthwise", 160), ("grouped", 20), ("large", 10)]
    shapes: list[ConvShape] = []
    for stratum, (cls, count) in enumerate(plan):
        rng = np.random.default_rng((seed, stratum))  # one stream per stratum: resizing one leaves the others
        made = 0
        target = max(4, round(count * scale))
        while made < target:
            if cls == "regular":
                s = ConvShape(ch(), ch(), 1, int(rng.choice([3, 3, 3, 5, 7])), int(rng.choice([1, 1, 1, 2])),
                              out(1.0, 7.8), batch())
            elif cls == "large":  # heavy regular convs (big maps, several images): beyond the bound below
                s = ConvShape(ch(5, 8), ch(5, 8), 1, 3, 1, out(5.8, 7.8), int(rng.choice([2, 4, 8])))
                if 4e9 < s.flops <= 4e10:
                    shapes.append(s)
                    made += 1
                continue
            elif cls == "pointwise":  # half of them with few output channels (bottleneck reductions)
                s = ConvShape(ch(4, 11), ch(4, 11) if made % 2 else ch(4, 7), 1, 1, int(rng.choice([1, 1, 1, 2])),
                              out(), batch())
            elif cls == "first":
                k = int(rng.choice([2, 3, 5, 7, 11]))
                stride = int(rng.choice([1, 2, 4])) if k >= 5 else int(rng.choice([1, 2]))
                s = ConvShape(int(rng.choice([1, 2, 3, 4, 6, 8, 12])), int(rng.choice([6, 8, 16, 32, 64, 96, 128])), 1,
                              k, stride, out(1.5, 7.0), batch())
            elif cls == "depthwise":  # mostly whole channel blocks (run blocked), some any count (run plain)
                c = ch(4.0, 10.0) if made % 4 else int(2 ** rng.uniform(1.0, 7.0))
                s = ConvShape(c, c, c, int(rng.choice([2, 3, 3, 5, 7])), int(rng.choice([1, 1, 2])), out(), batch())
            else:
                g = int(rng.choice([2, 4, 8]))
                s = ConvShape(ch(5, 10) * g // g, ch(5, 10), g, int(rng.choice([1, 3, 5])), 1, out(), batch())
                s = ConvShape(max(16, s.cin // (16 * g)) * 16 * g, max(16, s.cout // (16 * g)) * 16 * g, g, s.kernel,
                              1, s.out, s.batch)
            if not CONV_MIN_FLOPS <= s.flops <= 4e9 or s.size_in < 1:
                continue
            shapes.append(s)
            made += 1
    return shapes + grid_convs()


#: the grid's channels (powers of two) and output sizes (7 x powers of two: the map sizes of a
#: 224-pixel input after each stride-2 stage, the same halving from any input size); 16 channels
#: and 112x112 outputs too changed nothing below and cost a third more points
GRID_CHANNELS = (32, 64, 128, 256, 512)
GRID_OUTS = (7, 14, 28, 56)
#: the grid's convs do at most this many FLOPs (larger ones cost calibration time and, left out,
#: made no difference below)
GRID_MAX_FLOPS = 2e8


def grid_convs() -> list[ConvShape]:
    """A structured grid of the convs CNN stages are made of, at batch 1 (generic: no network's
    widths): for each of :data:`GRID_CHANNELS` x :data:`GRID_OUTS`, a 3x3 conv keeping the
    channels, a 3x3 stride-2 doubling them, 1x1 convs to 4x, 1x and a quarter of the channels,
    and 3x3 and 5x5 depthwise convs at stride 1 and 2; those of :data:`GRID_MAX_FLOPS` at most.

    Between random points, the shapes networks are made of were all estimated slow: 69 shapes
    off the grid (ResNet at width 40, MobileNetV3-Large at 176 px, RegNet-like groups of 24
    channels, SqueezeNet's fire modules, ShuffleNetV2, some at batch 8; none of the models the
    estimate is scored on), timed alone right after a default calibration that measured a larger
    grid too, scored with and without parts of it on the same measurements, three calibrations on
    a quiet machine: median |log error| 0.23/0.22/0.24 with the random strata only,
    0.095/0.111/0.067 with this grid; within 10% 7/8/11 -> 35/26/41 of 69. The 1x1 convs carry
    most of it (without them 0.20/0.15/0.17), the grid's convs of more than 2e8 FLOPs none
    (``benchmarks/conv_grid_heldout.py``)."""
    shapes: list[ConvShape] = []
    for c in GRID_CHANNELS:
        for o in GRID_OUTS:
            shapes += [ConvShape(c, c, 1, 3, 1, o, 1), ConvShape(c, 2 * c, 1, 3, 2, o, 1),
                       ConvShape(c, 4 * c, 1, 1, 1, o, 1), ConvShape(c, c, 1, 1, 1, o, 1)]
            if c >= 64:
                shapes.append(ConvShape(c, c // 4, 1, 1, 1, o, 1))
            shapes += [ConvShape(c, c, c, k, stride, o, 1) for k in (3, 5) for stride in (1, 2)]
    return [s for s in shapes if CONV_MIN_FLOPS <= s.flops <= GRID_MAX_FLOPS]


def gemm_samples(scale: float = 1.0, seed: int = 7) -> list[GemmShape]:
    """Generic (M, K, N): M from 1 (matrix-vector) to 512, K and N log-uniform 16..16384, weights
    up to 128 MiB; a few large matrix-vector shapes for streaming bandwidth; and M of 512-8192
    (K, N 32-4096): before them ConvNeXt's M = 3,136 MatMuls were extrapolated."""
    import numpy as np

    rng = np.random.default_rng(seed)
    shapes: list[GemmShape] = []
    target = max(6, round(48 * scale))
    while len(shapes) < target:
        m = int(rng.choice([1, 1, 2, 4, 8, 8, 16, 32, 64, 128, 512]))
        k = int(2 ** rng.uniform(4, 14))
        n = int(2 ** rng.uniform(4, 14))
        s = GemmShape(m, k, n)
        if k * n * F32 > 128 * 2**20 or s.flops > 4e9 or s.flops < 2e3:
            continue
        shapes.append(s)
    shapes += [GemmShape(1, 8192, 4096), GemmShape(1, 4096, 8192), GemmShape(8, 8192, 4096)]
    # many rows: a MatMul over every position of a map (ConvNeXt's pointwise Linear layers, M = H x W,
    # 49-3,136 at 224 px), from a stream of its own so the shapes above stay the same
    rows = np.random.default_rng(seed + 1)
    many: list[GemmShape] = []
    while len(many) < max(2, round(8 * scale)):
        s = GemmShape(int(2 ** rows.uniform(9, 13)), int(2 ** rows.uniform(5, 12)), int(2 ** rows.uniform(5, 12)))
        if s.flops <= 2e9:
            many.append(s)
    return shapes + many


def last_level_cache_bytes(default: int = 32 << 20) -> int:
    """The size of this CPU's largest cache (Linux sysfs), or ``default`` where it cannot be read."""
    from pathlib import Path

    sizes = []
    for f in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        try:
            text = f.read_text().strip().upper()
        except OSError:
            continue
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        digits = text.rstrip("KMG")
        if digits.isdigit():
            sizes.append(int(digits) * scale)
    return max(sizes) if sizes else default


def stream_shapes(llc_bytes: int, most_bytes: int = 256 << 20) -> list[GemmShape]:
    """Matrix-vector products (M = 1, square weights) whose weights sit in cache (an eighth and half
    of the last-level cache) and come from memory (four times the cache, at least 64 MiB, at most
    ``most_bytes``: at twice the cache a part still hits, on a VM whose host cache is larger than
    the one it reports): the speed at which a GEMV streams its weights, by working set. A
    network's fully connected layers at small batch are such GEMVs, their weights read once per
    run from wherever the model's weights fit."""
    sizes = [min(size, most_bytes) for size in (max(llc_bytes // 8, 1 << 20), max(llc_bytes // 2, 4 << 20),
                                                max(4 * llc_bytes, 64 << 20))]
    shapes: list[GemmShape] = []
    for size in sizes:
        side = max(16, int((size / F32) ** 0.5) // 16 * 16)
        if GemmShape(1, side, side) not in shapes:
            shapes.append(GemmShape(1, side, side))
    return shapes


def conv_working_set_bytes(s: ConvShape) -> int:
    """Bytes a conv micro-benchmark touches: its input (and the op writing it), output, weights,
    and ORT's im2col buffer for one image of a non-pointwise conv."""
    acts = 2 * s.batch * s.cin * s.size_in ** 2 + 2 * s.batch * s.cout * s.out ** 2
    im2col = s.cin // s.groups * s.kernel ** 2 * s.out ** 2 if s.kernel > 1 else 0
    return F32 * (acts + im2col) + s.weight_bytes


def gemm_working_set_bytes(s: GemmShape) -> int:
    """Bytes a GEMM micro-benchmark touches: input, weights (and ORT's pre-packed copy), output."""
    return F32 * (s.m * s.k + 2 * s.k * s.n + 2 * s.m * s.n)


@dataclass(frozen=True)
class SuitePlan:
    """How much a calibration measures: shapes sampled, repeats, and the working set of every
    micro-benchmark model (one session at a time, so it bounds the calibration's memory)."""

    name: str
    conv_scale: float
    gemm_scale: float
    repeats: int
    #: no micro-benchmark model (all its shapes together) touches more than this
    max_model_bytes: int
    copy_sizes: tuple[int, ...]
    #: the largest weights of a streaming GEMV (see :func:`stream_shapes`; its own cap: measured once,
    #: alone, it may exceed ``max_model_bytes``)
    stream_bytes: int
    #: what the announcement says it takes
    about: str
    #: rounds of the fixed costs, op costs and conv and GEMM blocks in each repeat, seconds apart: a
    #: point's figure is the median of its rounds (on a machine whose CPUs switch speed several times
    #: a second one block is a snapshot: the same points of two default calibrations a minute apart,
    #: each with one round, differed by a median 3-23% by kernel size once their overall shift was
    #: set aside; docs/runtime.md, Calibration)
    kernel_rounds: int = 1


COPY_SIZES = (1 << 12, 1 << 15, 1 << 18, 1 << 21, 1 << 24, 1 << 25)

#: the calibrations ``calibrate`` offers: ``default`` stays under ~30 s and 1 GiB on a small
#: machine; ``thorough`` is the full suite (minutes, several GiB); ``quick`` is for smoke runs
PLANS = {
    "quick": SuitePlan("quick", 0.1, 0.25, 1, 32 << 20, (1 << 12, 1 << 16, 1 << 20, 1 << 22), 16 << 20,
                       "about 10 s"),
    "default": SuitePlan("default", 0.25, 0.5, 1, 64 << 20, (1 << 12, 1 << 15, 1 << 18, 1 << 21, 1 << 22),
                         256 << 20, "about 25 s", kernel_rounds=3),
    "thorough": SuitePlan("thorough", 1.0, 1.0, 3, 1 << 40, COPY_SIZES, 256 << 20, "a few minutes"),
}


def chunks_by_bytes(order: Sequence[int], sizes: Sequence[int], most: int, cap: int) -> list[list[int]]:
    """Consecutive indices, at most ``most`` per chunk and at most ``cap`` bytes together."""
    chunks: list[list[int]] = []
    used = 0
    for i in order:
        if chunks and len(chunks[-1]) < most and used + sizes[i] <= cap:
            chunks[-1].append(i)
            used += sizes[i]
        else:
            chunks.append([i])
            used = sizes[i]
    return chunks
