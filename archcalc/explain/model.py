"""The data of an explanation: one figure (``FigureExplanation``) and one layer's figures
(``LayerExplanation``), frozen and JSON-able."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: the figures a layer explanation has, in order, with what each is
FIGURES: dict[str, str] = {
    "output": "output shape",
    "units": "output elements counted as units",
    "weights": "trainable weights",
    "biases": "bias parameters",
    "params": "trainable parameters under the conventions",
    "connections": "input-to-output connections",
    "macs": "multiply-accumulates (x batch)",
    "flops": "forward FLOPs (x batch)",
    "receptive_field": "receptive field (size, jump, start per axis)",
    "activation_bytes": "bytes of the output tensor(s) (x batch)",
}
#: other names a figure goes by (the report's column names)
ALIASES = {"shape": "output", "rf": "receptive_field", "act_bytes": "activation_bytes", "mac": "macs",
           "flop": "flops", "param": "params", "parameters": "params"}


@dataclass(frozen=True, slots=True)
class FigureExplanation:
    figure: str
    value: int | str
    words: str
    symbols: str
    numbers: str
    conventions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"figure": self.figure, "value": self.value, "words": self.words, "symbols": self.symbols,
                "numbers": self.numbers, "conventions": list(self.conventions)}


@dataclass(frozen=True, slots=True)
class LayerExplanation:
    layer: str
    kind: str
    figures: tuple[FigureExplanation, ...]
    #: the line naming the preset and every convention (as reports print it)
    conventions: str = ""

    def __getitem__(self, figure: str) -> FigureExplanation:
        for item in self.figures:
            if item.figure == figure:
                return item
        raise KeyError(figure)

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "kind": self.kind, "conventions": self.conventions,
                "figures": [f.to_dict() for f in self.figures]}


