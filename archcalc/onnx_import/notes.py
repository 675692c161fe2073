"""The notes an import adds to the graph: what it saw (folded, passed through, skipped weight
bytes, shared initializers, BN folded by the exporter) and counting conventions the exporter
recorded."""

from __future__ import annotations

from collections import Counter
from typing import Any

from archcalc.errors import ArchcalcError
from archcalc.ir import Layer


def exported_conventions(model: Any, notes: list[str]) -> dict[str, Any]:
    """The spec's own counting conventions, when archcalc exported the model (metadata)."""
    import json

    from archcalc.conventions import resolve

    raw = next((p.value for p in model.metadata_props if p.key == "archcalc.conventions"), None)
    if not raw:
        return {}
    try:
        conventions = json.loads(raw)
        if not isinstance(conventions, dict):
            raise ValueError("not a mapping")
        resolve(None, conventions)
    except (ValueError, ArchcalcError):
        notes.append("metadata archcalc.conventions is malformed: ignored")
        return {}
    if conventions:
        notes.append("counting conventions of the exported spec restored from the metadata: "
                     + ", ".join(f"{k}={v}" for k, v in conventions.items()))
    return {k: v for k, v in conventions.items() if k != "batch"}


def summary(model: Any, read: Any, op_counts: Counter[str], folded: Counter[str], aliased: Counter[str],
             unknown: Counter[str], layers: list[Layer], claimed: dict[str, str]) -> list[str]:
    lines = [
        f"ONNX: {sum(op_counts.values())} nodes -> {len(layers)} layers (inputs included); "
        f"{sum(folded.values())} folded as constants"
        + (f" ({', '.join(f'{k} x{v}' for k, v in folded.most_common())})" if folded else "")
        + (f"; {sum(aliased.values())} passed through ({', '.join(f'{k} x{v}' for k, v in aliased.most_common())})"
           if aliased else "")
    ]
    if read.skipped_bytes:
        others = f", {read.stripped_other} tensors of Constant nodes or subgraphs" if read.stripped_other else ""
        lines.append(f"weights read as dims only: {len(read.stripped)} initializers{others}, "
                     f"{read.skipped_bytes:,} bytes of data not read")
    if read.external:
        lines.append(f"{len(read.external)} initializers hold external data: analysed from their dims, never loaded")
    shared = [layer.name for layer in layers if "shared_params" in layer.attrs]
    if shared:
        lines.append(f"shared initializers counted once: {', '.join(shared)} reuse parameters of earlier layers")
    convs = [layer for layer in layers if layer.kind == "conv"]
    if convs and op_counts.get("BatchNormalization", 0) == 0 and all(layer.attrs.get("bias") != "none"
                                                                      for layer in convs):
        lines.append(f"no BatchNormalization nodes and all {len(convs)} convolutions have biases: if the network "
                     f"was trained with BN, the exporter folded it into conv weights and biases")
    if unknown:
        lines.append("not counted (unknown ops, shapes from ONNX shape inference): "
                     + ", ".join(f"{k} x{v}" for k, v in unknown.most_common()))
    return lines
