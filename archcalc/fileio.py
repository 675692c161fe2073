"""Reading inputs without hanging, and writing outputs without destroying anything.

Reading (:func:`open_regular_file`, :func:`read_regular_file`, :func:`read_regular_text`): only a
regular file is read (also through a symlink). It is opened without blocking (a FIFO with no
writer is refused at once, never waited on), checked with ``fstat`` on the open descriptor (a
character device such as ``/dev/zero`` or ``/dev/urandom``, a FIFO, a socket or a folder is
refused by name), and its size is checked against the caller's cap before a byte is read; a file
that grows while it is read stops at the cap. Every refusal is one line of the caller's error
class (``SpecError``, ``OnnxFileError``) naming the file.

Writing:

- A regular file (or a path not there yet) is written atomically: a temporary file in the
  target's folder, then one rename. A failure leaves the target as it was and no partial file.
  A new file gets the mode the umask gives (as any program's would); a file that is replaced
  keeps its mode. A symlink to a regular file stays a symlink: the file it points to is replaced.
- A character device (``/dev/null``, a terminal) or a FIFO is written straight through: it is
  never replaced by a regular file. A FIFO nobody reads is refused rather than waited on.
- Anything else (a folder, a block device, a socket) is refused with the reason, and so is an
  output that is one of the command's inputs (also through ``./``, another spelling or a link).
- Temporary files are named ``.archcalc.PID.RANDOM.tmp``; a run that was killed leaves one
  behind, and the next write into that folder removes those whose process is gone.

Every failure is one :class:`~archcalc.errors.OutputError` line: ``cannot write OUT: REASON``.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from archcalc.errors import ArchcalcError, OutputError

#: the longest file name most file systems take (bytes)
MAX_NAME_BYTES = 255
_TEMP = re.compile(r"^\.archcalc\.(\d+)\.[0-9a-f]+\.tmp$")


def _not_regular(st: os.stat_result) -> str | None:
    """What a non-regular file is, in words (None for a regular file)."""
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return None
    for test, words in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                        (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                        (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return words
    return "not a regular file"


def _limit(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20)):
        if n % size == 0:
            return f"{n // size:,} {unit}"
    return f"{n:,} bytes"


@contextlib.contextmanager
def open_regular_file(path: str | os.PathLike[str], max_bytes: int, *, kind: str = "an input file",
                      error: type[ArchcalcError] = ArchcalcError,
                      shown: str | None = None) -> Iterator[tuple[int, int]]:
    """``(descriptor, size)`` of a regular file of at most ``max_bytes``, or one line of ``error``
    (``kind`` names what was expected: "a spec file", "an ONNX file"). Nothing is read here."""
    fd, size = open_regular_fd(path, max_bytes, kind=kind, error=error, shown=shown)
    try:
        yield fd, size
    finally:
        os.close(fd)


def open_regular_fd(path: str | os.PathLike[str], max_bytes: int, *, kind: str = "an input file",
                    error: type[ArchcalcError] = ArchcalcError, shown: str | None = None,
                    blocking: bool = True) -> tuple[int, int]:
    """:func:`open_regular_file` without the context manager: ``(descriptor, size)``, which the
    caller closes. ``blocking=False`` leaves ``O_NONBLOCK`` set (it has no effect on reading a
    regular file, open(2); a caller that reads the file at once saves the two ``fcntl`` calls)."""
    shown = shown if shown is not None else os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise error("no such file", file=shown) from None
    except OSError as exc:
        raise error(f"cannot read: {_reason(exc)}", file=shown) from None
    try:
        st = os.fstat(fd)
        what = _not_regular(st)
        if what is not None:
            raise error(f"is {what}, not {kind}" + ("" if what == "a directory" else ": archcalc reads regular "
                                                                                     "files only"), file=shown)
        if st.st_size > max_bytes:
            raise error(f"is {st.st_size:,} bytes, larger than {kind} may be ({_limit(max_bytes)})", file=shown)
        if blocking and hasattr(os, "O_NONBLOCK"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


def read_regular_file(path: str | os.PathLike[str], max_bytes: int, *, kind: str = "an input file",
                      error: type[ArchcalcError] = ArchcalcError, shown: str | None = None) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (see :func:`open_regular_file`)."""
    shown = shown if shown is not None else os.fspath(path)
    with open_regular_file(path, max_bytes, kind=kind, error=error, shown=shown) as (fd, size):
        chunks, total = [], 0
        try:
            while total <= max_bytes:
                chunk = os.read(fd, min(max(size - total, 0), max_bytes + 1 - total) or 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
        except OSError as exc:
            raise error(f"cannot read: {_reason(exc)}", file=shown) from None
    if total > max_bytes:
        raise error(f"is larger than {kind} may be ({_limit(max_bytes)})", file=shown)
    return b"".join(chunks)


def read_regular_text(path: str | os.PathLike[str], max_bytes: int, *, kind: str = "an input file",
                      error: type[ArchcalcError] = ArchcalcError, shown: str | None = None) -> str:
    """The UTF-8 text of a regular file of at most ``max_bytes`` (see :func:`open_regular_file`)."""
    data = read_regular_file(path, max_bytes, kind=kind, error=error, shown=shown)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise error("not a text file (it is not UTF-8)",
                    file=shown if shown is not None else os.fspath(path)) from None


class OutputKind(enum.Enum):
    """How an output path is written."""

    REPLACE = "replace"  # a regular file, written beside and renamed over
    STREAM = "stream"  # a character device or FIFO, written straight through


@dataclass(frozen=True, slots=True)
class OutputTarget:
    """A checked output: where the bytes go and how."""

    shown: str  # the path as the user wrote it, for messages
    path: str  # the file actually written (a symlink's target)
    kind: OutputKind
    mode: int | None  # the mode to keep (a file being replaced), or None for a new file
    fifo: bool = False
    append: bool = False  # a regular file reached through /proc or /dev/fd (a redirected stdout)


def _fail(shown: str, reason: str) -> OutputError:
    return OutputError(f"cannot write {shown}: {reason}")


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENAMETOOLONG:
        return "file name too long"
    text = exc.strerror or os.strerror(exc.errno or 0)
    return text[:1].lower() + text[1:]


def check_output(path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]] = ()) -> OutputTarget:
    """Check that ``path`` may be written (before any long work); raises :class:`OutputError`."""
    shown = os.fspath(path)
    if not shown:
        raise OutputError("cannot write an output with an empty name")
    try:
        st = os.stat(shown)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise _fail(shown, _reason(exc)) from None
    if st is not None:
        _refuse_inputs(shown, st, inputs)
        if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            return OutputTarget(shown, shown, OutputKind.STREAM, None, fifo=stat.S_ISFIFO(st.st_mode))
        if stat.S_ISDIR(st.st_mode):
            raise _fail(shown, "it is a folder")
        if not stat.S_ISREG(st.st_mode):
            what = "a block device" if stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) \
                else "not a regular file"
            raise _fail(shown, f"it is {what}; archcalc writes regular files, character devices and FIFOs")
        real = os.path.realpath(shown)
        if _under_proc(real):  # /dev/stdout redirected to a file: write through, never rename over it
            return OutputTarget(shown, shown, OutputKind.STREAM, None, append=True)
        return OutputTarget(shown, real, OutputKind.REPLACE, stat.S_IMODE(st.st_mode))
    real = os.path.realpath(shown)
    folder = os.path.dirname(real) or "."
    name = os.path.basename(real)
    if len(os.fsencode(name)) > MAX_NAME_BYTES:
        raise _fail(shown, f"file name too long ({len(os.fsencode(name))} bytes; the limit is {MAX_NAME_BYTES})")
    if not os.path.exists(folder):
        raise _fail(shown, f"folder {os.path.dirname(shown) or folder} does not exist")
    if not os.path.isdir(folder):
        raise _fail(shown, f"{os.path.dirname(shown) or folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _fail(shown, "permission denied")
    return OutputTarget(shown, real, OutputKind.REPLACE, None)


def _under_proc(real: str) -> bool:
    return real.startswith(("/proc/", "/dev/fd/"))


def _refuse_inputs(shown: str, st: os.stat_result, inputs: Iterable[str | os.PathLike[str]]) -> None:
    for given in inputs:
        try:
            other = os.stat(given)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino) and stat.S_ISREG(st.st_mode):
            raise _fail(shown, f"it is the input {os.fspath(given)}; choose another output")


def write_atomic(
    path: str | os.PathLike[str], data: str | bytes, *, inputs: Iterable[str | os.PathLike[str]] = ()
) -> None:
    """Write ``data`` to ``path`` as this module's docstring says; raises :class:`OutputError`."""
    target = check_output(path, inputs)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if target.kind is OutputKind.STREAM:
        _write_through(target, payload)
    else:
        _replace(target, payload)


def _write_through(target: OutputTarget, payload: bytes) -> None:
    flags = os.O_WRONLY | (os.O_NONBLOCK if target.fifo else 0) | (os.O_APPEND if target.append else 0)
    try:
        fd = os.open(target.path, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise _fail(target.shown, "no process is reading this FIFO") from None
        raise _fail(target.shown, _reason(exc)) from None
    try:
        os.set_blocking(fd, True)
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            raise _fail(target.shown, "the reader closed it") from None
        raise _fail(target.shown, _reason(exc)) from None
    finally:
        os.close(fd)


def _replace(target: OutputTarget, payload: bytes) -> None:
    folder = os.path.dirname(target.path) or "."
    remove_stale_temps(folder)
    tmp = os.path.join(folder, f".archcalc.{os.getpid()}.{os.urandom(6).hex()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise _fail(target.shown, _reason(exc)) from None
    try:
        try:
            if target.mode is not None:
                os.fchmod(fd, target.mode)
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target.path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _fail(target.shown, _reason(exc)) from None
        raise


def remove_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files that killed archcalc runs left in ``folder``; returns them.

    Only names archcalc makes (``.archcalc.PID.HEX.tmp``), only regular files, only when that
    process no longer exists."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP.match(entry.name)
        if not m or int(m.group(1)) == os.getpid() or _alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
