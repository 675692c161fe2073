"""The shapes micro-benchmarks measure and the estimator asks about: convolutions and GEMMs."""

from __future__ import annotations

from dataclasses import dataclass

#: bytes per fp32 element
F32 = 4


@dataclass(frozen=True)
class ConvShape:
    """A convolution: input/output channels (whole layer), groups, square kernel, stride, square
    output size, batch."""

    cin: int
    cout: int
    groups: int
    kernel: int
    stride: int
    out: int
    batch: int = 1

    @property
    def size_in(self) -> int:
        return (self.out - 1) * self.stride + self.kernel - 2 * (self.kernel // 2)

    @property
    def flops(self) -> int:
        return 2 * self.batch * self.out * self.out * self.cout * (self.cin // self.groups) * self.kernel ** 2

    @property
    def weight_bytes(self) -> int:
        return F32 * self.cout * (self.cin // self.groups) * self.kernel ** 2


@dataclass(frozen=True)
class GemmShape:
    m: int
    k: int
    n: int

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n


def conv_class(shape: ConvShape) -> str:
    per_group = shape.cin // shape.groups
    if shape.groups > 1 and per_group == 1:
        return "depthwise"
    if per_group < 16 and shape.groups == 1:
        return "first"
    if shape.kernel == 1:
        return "pointwise"
    return "regular"
