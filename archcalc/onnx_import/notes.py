"""The notes an import adds to the graph: what it saw (folded, passed through, skipped weight
bytes, shared initializers, BN folded by the exporter) and counting conventions the exporter
recorded."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from archcalc.errors import ArchcalcError
from archcalc.ir import Layer


def exported_conventions(model: Any, notes: list[str]) -> dict[str, Any]:
    """The spec's own counting conventions, when archcalc exported the model (metadata)."""
    raw = next((p.value for p in model.metadata_props if p.key == "archcalc.conventions"), None)
    if not raw:
        return {}
    import json  # only for a model that has the entry (the import statement costs on every call)

    from archcalc.conventions import resolve
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


#: a bias the exporter computed, not a module parameter: TorchScript names folded constants
#: ``onnx::Conv_N``, the dynamo exporter ``<weight>_bias``; TF/Keras fused names say BN
_COMPUTED = re.compile(r"^onnx::Conv_\d+$|weight_bias$")
_BN_WORD = re.compile(r"(?:^|[^a-z])(?:bn|batchnorm|batch_norm|fusedbatchnorm)(?:[^a-z]|$)", re.IGNORECASE)


def bn_folded_note(model: Any, op_counts: Counter[str]) -> str | None:
    """A possibility, said only on evidence: no BatchNormalization nodes, and conv biases whose
    names show the exporter computed them (folding BN) rather than read a layer's own bias.
    A network that had conv biases of its own (AlexNet, a single Conv+bias) gets no note."""
    if op_counts.get("BatchNormalization", 0):
        return None
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    evidence = [n.input[2] for n in convs if len(n.input) > 2 and n.input[2]
                and (_COMPUTED.search(n.input[2]) or _BN_WORD.search(n.input[2]) or _BN_WORD.search(n.name))]
    if not evidence:
        return None
    return (f"{len(evidence)} of {len(convs)} convolutions have biases the exporter computed (e.g. "
            f"'{evidence[0]}', not a layer's own bias) and there are no BatchNormalization nodes: the network "
            f"may have had BN, and the exporter may have folded it into conv weights and biases "
            f"(counted here as conv biases)")


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
    folded_note = bn_folded_note(model, op_counts)
    if folded_note:
        lines.append(folded_note)
    if unknown:
        lines.append("not counted (unknown ops, shapes from ONNX shape inference): "
                     + ", ".join(f"{k} x{v}" for k, v in unknown.most_common()))
    return lines
