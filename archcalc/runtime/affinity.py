"""Where a timed session's threads run, on request: inside :func:`pinned_caller`, the calling
thread on one CPU and each new session's intra-op workers on the others. Not the default of
``profile`` or ``calibrate``; the accuracy benchmark's ``--pin`` and ``benchmarks/session_modes.py``
use it.

Why it exists: left to the scheduler, a small network's session keeps its threads wherever they
started, and the placement sets the speed. On these 2-CPU virtual machines a session whose worker
shared the caller's CPU ran LeNet-5 in 15.6 us and the ConvNeXt stage fixture in 146 us; one whose
worker sat on the other CPU ran them in 27.3 and 245 us, every pooled kernel paying a hand-over
between CPUs (MobileNetV2, with real work, ran 2.8x slower on one CPU). Pinning removes that draw,
but not the machine's phases, in which every hand-over costs more: pinned runs still moved
with them (docs/runtime.md, Limits).

Linux only (``os.sched_setaffinity`` on thread ids read from ``/proc/self/task``); elsewhere, or
with fewer than two CPUs allowed, nothing is pinned. The caller's own affinity is restored on exit.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

#: the CPUs of the placement in force (the caller's first), or None outside ``pinned_caller``
_active: list[tuple[int, ...] | None] = [None]


def allowed_cpus() -> tuple[int, ...]:
    """The CPUs this thread may run on, sorted (empty where the OS does not say)."""
    getter = getattr(os, "sched_getaffinity", None)
    if getter is None:
        return ()
    try:
        return tuple(sorted(getter(0)))
    except OSError:
        return ()


def thread_ids() -> frozenset[int]:
    """This process's thread ids (empty where ``/proc/self/task`` does not exist)."""
    try:
        return frozenset(int(t) for t in os.listdir("/proc/self/task"))
    except (OSError, ValueError):
        return frozenset()


@contextlib.contextmanager
def pinned_caller() -> Iterator[tuple[int, ...] | None]:
    """The calling thread pinned to the first allowed CPU for the block (its affinity restored
    after), and sessions opened inside the block get their workers pinned to the others
    (:func:`pin_new_threads`). Yields the CPUs (caller's first), or None where nothing is pinned.
    Nested blocks keep the outer placement."""
    if _active[0] is not None:
        yield _active[0]
        return
    cpus = allowed_cpus()
    setter = getattr(os, "sched_setaffinity", None)
    if len(cpus) < 2 or setter is None or not thread_ids():
        yield None
        return
    try:
        setter(0, {cpus[0]})
    except OSError:
        yield None
        return
    _active[0] = cpus
    try:
        yield cpus
    finally:
        _active[0] = None
        with contextlib.suppress(OSError):
            setter(0, set(cpus))


def snapshot() -> frozenset[int] | None:
    """The thread ids to compare a new session's against, inside :func:`pinned_caller`; None
    outside it (nothing will be pinned: no need to list the threads)."""
    return thread_ids() if _active[0] is not None else None


def pin_new_threads(before: frozenset[int] | None) -> int:
    """Inside :func:`pinned_caller`, pin the threads started since ``before`` was read (a new
    session's intra-op workers) one per CPU other than the caller's, in turn; outside it, nothing
    (a worker pinned beside a caller the scheduler may move onto its CPU would be the slow case).
    Returns how many were pinned."""
    cpus = _active[0]
    setter = getattr(os, "sched_setaffinity", None)
    if cpus is None or setter is None or before is None:
        return 0
    others = cpus[1:]
    count = 0
    for tid in sorted(thread_ids() - before):
        with contextlib.suppress(OSError):  # a thread that has ended meanwhile
            setter(tid, {others[count % len(others)]})
            count += 1
    return count
