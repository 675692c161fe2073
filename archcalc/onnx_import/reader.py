"""Read an ONNX model without reading its weights, and without the onnx package.

Analysis needs tensor dims, never weight values. ``onnx.load`` parses (and copies) every byte of
every initializer; on a VGG-16-sized model that is ~550 MB of work for nothing, and ``import onnx``
alone costs about half a second. Here the file is memory-mapped and its protobuf wire format is
walked by hand (``parse``) into plain values (``view``): every tensor larger than
``keep_elements``, wherever it sits (graph initializers, the value of a Constant or
ConstantOfShape node, sparse tensors, subgraphs, functions, training graphs), is read as its
name, data type and dims only (its data bytes are skipped, so the OS never even reads those
pages). Small tensors (shape constants, Resize scales, Pad amounts) keep their values: constant
folding needs them.

External data is never loaded (its dims are in the model), so a model whose weight file is
missing is analysed from its dims. ``read_proto`` gives the model as an ``onnx.ModelProto``
(weights stripped the same way) for the one user that needs it: ONNX shape inference of unknown ops.
"""

from __future__ import annotations

import gc
import mmap
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from archcalc.errors import OnnxFileError
from archcalc.fileio import open_regular_fd, open_regular_file
from archcalc.onnx_import.checks import check_external_paths, check_text
from archcalc.onnx_import.parse import Parser
from archcalc.onnx_import.view import Model
from archcalc.onnx_import.wire import Rebuild

if TYPE_CHECKING:
    import onnx

#: initializers with more elements than this are read as dims only
KEEP_ELEMENTS = 4096
#: a file up to this size is read into memory whole: one read costs less than mapping it and the
#: page faults of walking the map (a larger file is mapped, so that weight pages are never read)
READ_WHOLE_BYTES = 1 << 20
#: the largest ONNX file read: protobuf's own limit (a larger model keeps its weights as external data)
MAX_ONNX_BYTES = 2**31


@dataclass
class ReadResult:
    model: Model
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
    file = os.fspath(path)
    try:
        raw, size = _file_bytes(file)
        data = memoryview(raw)
        try:
            parser = Parser(data, keep_elements)
            model, saw_graph = parser.model()
        finally:
            data.release()
            if isinstance(raw, mmap.mmap):
                raw.close()
        if not saw_graph:
            raise OnnxFileError("not an ONNX model (no graph in it)")
        check_text(model)
        check_external_paths(model, file)
    except OnnxFileError as exc:
        raise exc.located(file=file) from None
    except RecursionError:
        raise OnnxFileError("not an ONNX model (nesting too deep)", file=file) from None
    return ReadResult(model, parser.stripped, parser.stripped_other, parser.skipped_bytes, parser.external, size)


def _file_bytes(file: str) -> tuple[bytes | mmap.mmap, int]:
    """The file's bytes: read whole up to ``READ_WHOLE_BYTES``, else memory-mapped (the caller closes
    the map). Plain calls, not ``_mapped``'s context managers: a model is read once per import, so
    the first, cache-cold, run of this code is what an import pays."""
    try:
        fd, size = open_regular_fd(file, MAX_ONNX_BYTES, kind="an ONNX file", error=OnnxFileError, blocking=False)
        try:
            if size == 0:
                raise OnnxFileError("empty file, not an ONNX model")
            if size <= READ_WHOLE_BYTES:
                return _read_all(fd, size), size
            return mmap.mmap(fd, 0, access=mmap.ACCESS_READ), size
        finally:
            os.close(fd)
    except OSError as exc:
        raise OnnxFileError(f"cannot read: {exc.strerror}") from None


def view_of(model: onnx.ModelProto | Model, keep_elements: int = KEEP_ELEMENTS) -> Model:
    """What the reader sees of a model held in memory as an ``onnx.ModelProto`` (its bytes walked as
    a file's are); a view is returned as it is."""
    if isinstance(model, Model):
        return model
    data = memoryview(model.SerializeToString())
    try:
        return Parser(data, keep_elements).model()[0]
    finally:
        data.release()


@contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic garbage collector paused (as it was, after): reading a model builds hundreds of
    thousands of small acyclic objects, and each collection on the way would walk all of them again
    (on a 50k-node chain that makes the time per node grow with the model)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@contextmanager
def _mapped(path: Path) -> Iterator[tuple[memoryview, int]]:
    """The file's bytes, memory-mapped (a regular file of at most ``MAX_ONNX_BYTES``)."""
    try:
        with open_regular_file(path, MAX_ONNX_BYTES, kind="an ONNX file", error=OnnxFileError) as (fd, size):
            if size == 0:
                raise OnnxFileError("empty file, not an ONNX model")
            if size <= READ_WHOLE_BYTES:
                yield memoryview(_read_all(fd, size)), size
                return
            with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as mapped:
                data = memoryview(mapped)
                try:
                    yield data, size
                finally:
                    data.release()
    except OSError as exc:
        raise OnnxFileError(f"cannot read: {exc.strerror}") from None


def _read_all(fd: int, size: int) -> bytes:
    """The file's first ``size`` bytes (fewer if it is shorter now: the parser reports the cut)."""
    chunks: list[bytes] = []
    total = 0
    while total < size:
        chunk = os.read(fd, size - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def read_proto(path: str | Path, keep_elements: int = KEEP_ELEMENTS) -> onnx.ModelProto:
    """The model as an ``onnx.ModelProto``, its large tensors re-encoded as dims only (for ONNX
    shape inference; ``read_model`` has checked the file)."""
    path = Path(path)
    try:
        with _mapped(path) as (data, _):
            skeleton, _ = Rebuild(data, keep_elements).model(0, len(data))
    except OnnxFileError as exc:
        raise exc.located(file=str(path)) from None
    import onnx  # only here: reading a model never imports it
    from google.protobuf.message import DecodeError

    model = onnx.ModelProto()
    try:
        model.ParseFromString(skeleton)
    except DecodeError as exc:
        raise OnnxFileError(f"not an ONNX model (protobuf: {exc})", file=str(path)) from None
    except RecursionError:
        raise OnnxFileError("not an ONNX model (nesting too deep)", file=str(path)) from None
    return model
