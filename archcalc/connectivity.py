"""Which input maps each output map reads: dense, grouped, depthwise or an explicit table.

One abstraction, so one convolution formula covers LeNet-5's C3, AlexNet's two-GPU split and
MobileNet's depthwise layers: the kernel count is ``pairs`` (output map, input map) and every
weight/connection/MAC formula is ``pairs x kernel taps x ...``.
"""

from __future__ import annotations

from dataclasses import dataclass

from archcalc.errors import ShapeError
from archcalc.frozen import quick_init

Table = tuple[tuple[int, ...], ...]

#: LeCun et al. 1998, Table I: C3 output map -> the S2 maps it reads
LENET5_C3: Table = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)

#: tables a spec can name without defining them
BUILTIN_TABLES: dict[str, Table] = {"lenet5_c3": LENET5_C3}


@quick_init
@dataclass(frozen=True, slots=True)
class Connectivity:
    groups: int = 1
    table: Table | None = None

    @property
    def kind(self) -> str:
        if self.table is not None:
            return "table"
        return "dense" if self.groups == 1 else "grouped"

    def check(self, c_in: int, c_out: int, source: str = "the input") -> None:
        if self.table is not None:
            if len(self.table) != c_out:
                raise ShapeError(
                    f"connection table has {len(self.table)} rows but the layer has {c_out} output maps"
                )
            for row, maps in enumerate(self.table):
                for m in maps:
                    if not 0 <= m < c_in:
                        raise ShapeError(
                            f"connection table row {row} names map {m}, but {source} has maps 0-{c_in - 1}"
                        )
            return
        if c_in % self.groups or c_out % self.groups:
            raise ShapeError(
                f"groups={self.groups} must divide both input channels ({c_in}) and output channels ({c_out})"
            )

    def pairs(self, c_in: int, c_out: int) -> int:
        """Number of (output map, input map) pairs that carry a kernel."""
        if self.table is not None:
            return sum(len(maps) for maps in self.table)
        return c_out * (c_in // self.groups)

    def inputs_of(self, out_map: int, c_in: int, c_out: int) -> tuple[int, ...]:
        """The input maps output map ``out_map`` reads."""
        if self.table is not None:
            return self.table[out_map]
        per_in, per_out = c_in // self.groups, c_out // self.groups
        g = out_map // per_out
        return tuple(range(g * per_in, (g + 1) * per_in))

    def describe(self) -> str:
        if self.table is not None:
            return f"table ({sum(len(r) for r in self.table)} map pairs)"
        return "dense" if self.groups == 1 else f"{self.groups} groups"
