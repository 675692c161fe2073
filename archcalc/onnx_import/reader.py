"""Read an ONNX model without reading its weights.

Analysis needs tensor dims, never weight values. ``onnx.load`` parses (and copies) every byte of
every initializer; on a VGG-16-sized model that is ~550 MB of work for nothing. Here the file is
memory-mapped and the protobuf wire format of ModelProto -> GraphProto -> TensorProto is walked
by hand: every tensor larger than ``keep_elements`` is re-encoded with its name, data type and
dims only (its data bytes are skipped, so the OS never even reads those pages), the rest of the
model is copied as is, and the small skeleton is parsed by onnx. That is every tensor wherever it
sits: graph initializers, the value of a Constant or ConstantOfShape node (any tensor attribute),
sparse tensors, in the main graph and in every subgraph (If/Loop/Scan bodies), function and
training graph. Small tensors (shape constants, Resize scales, Pad amounts) keep their values:
constant folding needs them.

External data is never loaded (its dims are in the model), so a model whose weight file is
missing is analysed from its dims.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from archcalc.errors import OnnxFileError
from archcalc.fileio import open_regular_file
from archcalc.onnx_import.checks import check_external_paths, check_text
from archcalc.onnx_import.wire import Rebuild

if TYPE_CHECKING:
    import onnx

#: initializers with more elements than this are read as dims only
KEEP_ELEMENTS = 4096
#: the largest ONNX file read: protobuf's own limit (a larger model keeps its weights as external data)
MAX_ONNX_BYTES = 2**31


@dataclass
class ReadResult:
    model: onnx.ModelProto
    #: initializer name -> dims, for initializers of the main graph read without their data
    stripped: dict[str, tuple[int, ...]] = field(default_factory=dict)
    #: other tensors read without their data (Constant nodes, tensor attributes, subgraphs)
    stripped_other: int = 0
    #: bytes of tensor data that were not read
    skipped_bytes: int = 0
    #: initializers whose data lives in an external file (never loaded)
    external: list[str] = field(default_factory=list)
    file_bytes: int = 0


def read_model(path: str | Path, keep_elements: int = KEEP_ELEMENTS) -> ReadResult:
    """The model with large tensors reduced to their dims (data never read)."""
    path = Path(path)
    try:
        with open_regular_file(path, MAX_ONNX_BYTES, kind="an ONNX file", error=OnnxFileError) as (fd, size):
            if size == 0:
                raise OnnxFileError("empty file, not an ONNX model")
            with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as mapped:
                data = memoryview(mapped)
                try:
                    rebuild = Rebuild(data, keep_elements)
                    skeleton, saw_graph = rebuild.model(0, len(data))
                finally:
                    data.release()
    except OnnxFileError as exc:
        raise exc.located(file=str(path)) from None
    except OSError as exc:
        raise OnnxFileError(f"cannot read: {exc.strerror}", file=str(path)) from None
    if not saw_graph:
        raise OnnxFileError("not an ONNX model (no graph in it)", file=str(path))
    import onnx  # only now: a file refused above never costs the import
    from google.protobuf.message import DecodeError

    model = onnx.ModelProto()
    try:
        model.ParseFromString(skeleton)
    except DecodeError as exc:
        raise OnnxFileError(f"not an ONNX model (protobuf: {exc})", file=str(path)) from None
    except RecursionError:
        raise OnnxFileError("not an ONNX model (nesting too deep)", file=str(path)) from None
    check_text(model, path)
    check_external_paths(model, path)
    return ReadResult(model, rebuild.stripped, rebuild.stripped_other, rebuild.skipped_bytes, rebuild.external,
                      size)
