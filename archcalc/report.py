"""The analysis result: per-layer records and totals, exact integers, queryable, ``to_dict()``.

Per-network counts (``units``, ``weights``, ``biases``, ``params``, ``fixed_params``,
``buffers``, ``connections``) do not depend on the batch; ``macs``, ``flops`` and every
``*_bytes`` figure of activations are for the whole batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from archcalc.conventions import OPTIMIZER_STATE, Conventions
from archcalc.frozen import quick_init
from archcalc.receptive import Field

if TYPE_CHECKING:
    from archcalc.explain import LayerExplanation
    from archcalc.ir import Graph

SCHEMA_VERSION = 1

#: per-layer integer columns, in report order, with what each means
COLUMNS: dict[str, str] = {
    "units": "output elements of layers whose family counts as units (conventions)",
    "weights": "trainable weights (kernels, matrices, subsampling coefficients, PReLU slopes)",
    "biases": "bias parameters (counted in params only if biases_as_params)",
    "params": "trainable parameters under the conventions (weights + counted biases + BN scale/shift)",
    "fixed_params": "parameters that are not trained (RBF centres)",
    "buffers": "stored statistics that are not parameters (BN running mean and variance)",
    "connections": "input-to-output edges (units x fan-in; + 1 per biased unit if bias_is_connection)",
    "macs": "multiply-accumulates of weights (x batch)",
    "flops": "forward FLOPs = flops_per_mac x MACs + counted cheap ops (x batch)",
    "param_bytes": "bytes to store weights, biases, BN parameters, fixed parameters and buffers",
    "activation_bytes": "bytes of the layer's output tensor(s) (x batch)",
    "live_bytes": "activation bytes alive while the layer runs (inference liveness, x batch)",
}


@quick_init
@dataclass(frozen=True, slots=True)
class LayerRecord:
    name: str
    kind: str
    family: str
    inputs: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    units: int
    weights: int
    biases: int
    params: int
    fixed_params: int
    buffers: int
    connections: int
    macs: int
    flops: int
    param_bytes: int
    activation_bytes: int
    live_bytes: int
    rf: Field
    file: str | None = None
    line: int | None = None
    notes: tuple[str, ...] = ()

    @property
    def shape(self) -> tuple[int, ...]:
        return self.shapes[0]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "family": self.family,
            "inputs": list(self.inputs),
            "shape": list(self.shapes[0]),
        }
        if len(self.shapes) > 1:
            out["shapes"] = [list(s) for s in self.shapes]
        for key in COLUMNS:
            out[key] = getattr(self, key)
        out["receptive_field"] = self.rf.to_dict()
        if self.file is not None or self.line is not None:
            out["where"] = f"{self.file or ''}:{self.line}" if self.line else self.file
        if self.notes:
            out["notes"] = list(self.notes)
        return out


@dataclass(frozen=True, slots=True)
class Totals:
    units: int
    weights: int
    biases: int
    params: int
    fixed_params: int
    buffers: int
    connections: int
    macs: int
    flops: int
    #: forward + 2 x backward (the backward pass costs twice the forward pass)
    training_flops: int
    param_bytes: int
    activation_bytes: int
    #: most activation bytes alive at once during inference (liveness over execution order)
    peak_activation_bytes: int
    #: param_bytes + peak_activation_bytes
    inference_bytes: int
    #: every activation kept for the backward pass (no recomputation)
    stored_activation_bytes: int
    #: trainable parameters x dtype bytes
    gradient_bytes: int
    #: optimizer state copies x trainable parameters x dtype bytes
    optimizer_bytes: int
    #: param_bytes + stored activations + gradients + optimizer state
    training_bytes: int

    def to_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Report:
    name: str
    conventions: Conventions
    layers: tuple[LayerRecord, ...]
    totals: Totals
    outputs: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    #: FLOPs by origin: "N x MACs" and each counted cheap-op category (sums to totals.flops)
    flops_breakdown: Mapping[str, int] = field(default_factory=dict)
    #: cheap-op FLOPs the conventions leave out, by category (for comparing counters)
    flops_not_counted: Mapping[str, int] = field(default_factory=dict)
    #: what an import saw (folded nodes, skipped weight bytes, BN folded by the exporter, ...)
    notes: tuple[str, ...] = ()
    #: layers that were not counted (unknown ONNX ops let through with --allow-unknown)
    uncounted: tuple[str, ...] = ()
    source: str | None = None
    file: str | None = None
    #: the analysed graph (what ``explain`` re-derives each figure from); not part of equality
    graph: Graph | None = field(default=None, compare=False, repr=False)

    def explain(self, layer: str, figure: str | None = None) -> LayerExplanation:
        """How each figure of ``layer`` (or the one named ``figure``) comes out: the formula in
        words and symbols, the numbers substituted, and the conventions that chose each term."""
        from archcalc.explain import explain

        return explain(self, layer, figure)

    def __getitem__(self, name: str) -> LayerRecord:
        for record in self.layers:
            if record.name == name:
                return record
        raise KeyError(name)

    def __iter__(self) -> Iterator[LayerRecord]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def sum(self, column: str) -> int:
        """Sum of a per-layer column (equals the total for every additive column)."""
        return sum(int(getattr(r, column)) for r in self.layers)

    @property
    def receptive_field(self) -> dict[str, Field]:
        index = {r.name: r for r in self.layers}
        return {name: index[name].rf for name in self.outputs}

    def conventions_line(self) -> str:
        return "conventions: " + self.conventions.describe()

    def to_dict(self) -> dict[str, Any]:
        conv = self.conventions.to_dict()
        conv["optimizer_state_copies"] = OPTIMIZER_STATE[self.conventions.optimizer]
        conv["described"] = self.conventions.describe()
        return {
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "file": self.file,
            "source": self.source,
            "conventions": conv,
            "columns": dict(COLUMNS),
            "layers": [r.to_dict() for r in self.layers],
            "totals": self.totals.to_dict(),
            "flops_breakdown": dict(self.flops_breakdown),
            "flops_not_counted": dict(self.flops_not_counted),
            "outputs": list(self.outputs),
            "receptive_field": {k: v.to_dict() for k, v in self.receptive_field.items()},
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "uncounted": list(self.uncounted),
        }
