"""Checks of a parsed model skeleton before anything uses it: names are text, and external data
stays inside the model's folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from archcalc.errors import OnnxFileError

if TYPE_CHECKING:
    import onnx


def check_text(model: onnx.ModelProto, path: Path) -> None:
    """Names must be text: protobuf hands back invalid UTF-8 in string fields as bytes."""
    graph = model.graph
    strings: list[Any] = [graph.name, *(o.domain for o in model.opset_import)]
    for node in graph.node:
        strings += [node.name, node.op_type, node.domain, *node.input, *node.output]
        strings += [a.name for a in node.attribute]
    for group in (graph.input, graph.output, graph.value_info):
        strings += [v.name for v in group]
        strings += [d.dim_param for v in group for d in v.type.tensor_type.shape.dim]
    strings += [t.name for t in graph.initializer]
    strings += [p.key for p in model.metadata_props] + [p.value for p in model.metadata_props]
    for value in strings:
        if not isinstance(value, str):
            shown = bytes(value)[:40].decode("utf-8", "replace") if isinstance(value, bytes) else repr(value)
            raise OnnxFileError(f"a name in the model is not valid UTF-8 ({shown!r}): a corrupt file?",
                                file=str(path))


def external_tensors(model: onnx.ModelProto) -> list[tuple[Any, Any]]:
    """(tensor name, location) of every tensor whose data lives in an external file."""
    out: list[tuple[str, str]] = []

    def visit(tensor: object) -> None:
        if getattr(tensor, "data_location", 0) == 1:
            entries = {e.key: e.value for e in tensor.external_data}  # type: ignore[attr-defined]
            out.append((tensor.name, entries.get("location", "")))  # type: ignore[attr-defined]

    for tensor in model.graph.initializer:
        visit(tensor)
    for sparse in model.graph.sparse_initializer:
        visit(sparse.values)
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                visit(attr.t)
    return out


def check_external_paths(model: onnx.ModelProto, path: str | Path) -> None:
    """Refuse external-data locations that are absolute or escape the model's folder
    (``../../etc/passwd``): nothing outside the folder is ever read on the model's behalf."""
    folder = Path(path).resolve().parent
    for name, location in external_tensors(model):
        if not isinstance(location, str) or not isinstance(name, str):  # protobuf hands back invalid UTF-8 as bytes
            raise OnnxFileError("an external-data location or tensor name is not valid UTF-8: refused", file=str(path))
        where = Path(location)
        odd = not location or "\x00" in location or "\\" in location
        if odd or where.is_absolute() or ":" in where.parts[0]:
            raise OnnxFileError(f"initializer '{name}' points at external data {location!r}, which is not a path "
                                f"inside the model's folder: refused", file=str(path))
        if not (folder / where).resolve().is_relative_to(folder):
            raise OnnxFileError(f"initializer '{name}' points at external data {location!r} outside the model's "
                                f"folder: refused", file=str(path))
