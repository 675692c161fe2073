"""Atomic file writing: a temporary file in the target's folder, then one rename.
A failure leaves the target as it was and no partial file behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from archcalc.errors import ArchcalcError


def write_atomic(path: str | Path, data: str | bytes) -> None:
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ArchcalcError(f"cannot write {target}: folder {folder} does not exist")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ArchcalcError(f"cannot write {target}: {exc.strerror}") from None
        raise
