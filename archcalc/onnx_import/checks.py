"""Checks of a parsed model (``view``) before anything uses it (and before ONNX Runtime is given
the file): names are text, and external data is a byte range of a regular file inside the model's
folder. Both look at every graph of the model: the main graph, every subgraph (If branches, Loop
and Scan bodies, at any depth), every function and training graph.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from math import prod
from pathlib import Path
from typing import Any

from archcalc.errors import OnnxFileError
from archcalc.onnx_import.view import Graph, Model, Tensor

#: bytes per element of each TensorProto data type (4-bit types are packed two to a byte)
_DTYPE_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16, 16: 2,
                17: 1, 18: 1, 19: 1, 20: 1}
_HALF_BYTE = frozenset({21, 22, 23})
#: an offset or length with more digits than this is no byte count of any file
_MAX_DIGITS = 19


def graphs(model: Model) -> Iterator[tuple[Graph, bool]]:
    """``(graph, is_main)`` for every graph of the model, nested ones included (no recursion)."""
    stack: list[tuple[Graph, bool]] = [(model.graph, True)]
    stack += [(g, False) for g in model.training_graphs]
    nodes = [n for f in model.functions for n in f.node]
    while stack or nodes:
        if stack:
            graph, main = stack.pop()
            yield graph, main
            nodes.extend(graph.node)
            continue
        node = nodes.pop()
        for attr in node.attribute:
            stack.extend((g, False) for g in attr.graphs)


def check_text(model: Model) -> None:
    """Names must be text (the parser refuses invalid UTF-8 in names; metadata is checked here)."""
    for entry in model.metadata_props:
        for value in (entry.key, entry.value):
            if not isinstance(value, str):
                shown = bytes(value)[:40].decode("utf-8", "replace")
                raise OnnxFileError(f"a name in the model is not valid UTF-8 ({shown!r}): a corrupt file?")


def _tensors(model: Model) -> Iterator[tuple[Tensor, Any]]:
    """Every tensor of every graph, with what makes the words saying where it sits (``_label``:
    built only for the few tensors a message is about)."""
    functions = [("", n) for f in model.functions for n in f.node]
    for graph, main in graphs(model):
        where = "" if main else f" (in subgraph '{graph.name}')"
        for tensor in graph.initializer:
            yield tensor, ("initializer", tensor.name, where)
        for sparse in graph.sparse_initializer:
            yield sparse.values, ("sparse initializer", sparse.values.name, where)
            yield sparse.indices, ("sparse initializer", sparse.values.name, where)
        functions += [(where, n) for n in graph.node]
    for where, node in functions:
        for attr in node.attribute:
            for t in attr.tensors:
                yield t, (node, attr.name, where)


def _label(place: Any) -> str:
    owner, name, where = place
    if isinstance(owner, str):
        return f"{owner} '{name}'{where}"
    return f"the {name} of node '{owner.name or owner.op_type}'{where}"


def check_external_paths(model: Model, path: str | Path) -> None:
    """Every external-data reference, in every graph, must be a byte range of a regular file inside
    the model's folder: a location that is absolute, escapes the folder (``../../etc/passwd``) or is
    the folder itself, a FIFO or device, an offset or length that is no byte count or runs past the
    end of the file, or a length that is not the tensor's size, is refused here, before anything
    (ONNX Runtime included) reads a byte of it. A missing file is fine: the analysis needs dims."""
    file = os.fspath(path)
    places: dict[str, str | os.stat_result | None] = {}  # one look at each file, however many tensors it holds
    for tensor, place in _tensors(model):
        if tensor.data_location == 1:
            _check_one(tensor, place, file, places)


def _place(location: str, file: str) -> str | os.stat_result | None:
    """Why an external-data location is refused; else its file's stat (None: the file is missing)."""
    odd = not location or "\x00" in location or "\\" in location or ":" in location.split("/")[0]
    if not odd and "/" not in location and location not in (".", "..") and not os.path.islink(file):
        # the common case, a plain file name beside a model that is no symlink, in one lstat: such
        # an entry of the model's folder is inside it unless it is itself a symlink (then, as for
        # any other location, every component is resolved below)
        try:
            st = os.lstat(os.path.join(os.path.dirname(file), location))
        except FileNotFoundError:
            return None  # analysed from its dims; never loaded
        except OSError:
            st = None  # the full check below says why
        if st is not None and not stat.S_ISLNK(st.st_mode):
            return st if stat.S_ISREG(st.st_mode) else \
                f"points at external data {location!r}, which is not a regular file"
    folder = Path(file).resolve().parent
    where = Path(location)
    if odd or where.is_absolute():
        return f"points at external data {location!r}, which is not a path inside the model's folder"
    target = (folder / where).resolve()
    if not target.is_relative_to(folder):
        return f"points at external data {location!r} outside the model's folder"
    if target == folder:
        return f"points at external data {location!r}, which is the model's folder, not a file"
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return None  # analysed from its dims; never loaded
    except OSError as exc:
        return f"points at external data {location!r}, which cannot be read ({exc.strerror})"
    if not stat.S_ISREG(st.st_mode):
        return f"points at external data {location!r}, which is not a regular file"
    return st


def _check_one(tensor: Any, place: Any, file: str, places: dict[str, str | os.stat_result | None]) -> None:
    def refuse(why: str) -> OnnxFileError:
        return OnnxFileError(f"{_label(place)} {why}: refused", file=file)

    entries = {e.key: e.value for e in tensor.external_data}
    location = entries.get("location", "")
    for v in (*entries, *entries.values(), tensor.name):
        if not isinstance(v, str):  # invalid UTF-8 is kept as bytes by the parser
            raise OnnxFileError("an external-data location or tensor name is not valid UTF-8: refused", file=file)
    if location not in places:
        places[location] = _place(location, file)
    st = places[location]
    if isinstance(st, str):
        raise refuse(st)
    offset = _byte_count(entries.get("offset", "0"), "offset", refuse)
    length = _byte_count(entries.get("length"), "length", refuse)
    expected = _data_bytes(tensor)
    if length is not None and expected is not None and length != expected:
        raise refuse(f"has an external-data length of {length:,} bytes, but its dims and type make "
                     f"{expected:,}")
    if st is None:
        return  # analysed from its dims; never loaded
    needed = length if length is not None else expected
    if offset is not None and (offset > st.st_size or (needed is not None and offset + needed > st.st_size)):
        raise refuse(f"reads bytes {offset:,} to {offset + (needed or 0):,} of {location!r}, which has "
                     f"{st.st_size:,}")


def _byte_count(text: str | None, key: str, refuse: Any) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or not text.isascii() or len(text) > _MAX_DIGITS:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise refuse(f"has an external-data {key} of {shown!r}, which is not a byte count")
    return int(text)


def _data_bytes(tensor: Any) -> int | None:
    count = prod(tensor.dims)  # ints (the parser reads dims as varints)
    if tensor.data_type in _HALF_BYTE:
        return (count + 1) // 2
    size = _DTYPE_BYTES.get(tensor.data_type)
    return None if size is None else count * size
