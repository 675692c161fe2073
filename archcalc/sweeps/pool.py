"""The local process pool of a sweep, and its workers' lifetime: they die with the process that
started them, and an interrupt stops them at once.

- Each worker asks the kernel for SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``, Linux),
  and runs a watchdog thread that exits the worker when its parent changes or the sweeping process
  is gone (every other POSIX system; also covers Linux if the prctl call is unavailable).
- Workers ignore SIGINT: Ctrl-C (sent to the whole process group) is handled by the sweeping
  process alone, which cancels the queued chunks and kills the workers (:func:`abandon`) instead of
  waiting for the work in flight.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor

from archcalc.errors import OptionError

#: the most worker processes a sweep starts (more only adds memory and start-up time)
MAX_WORKERS = 4 * (os.cpu_count() or 1)

#: how often (seconds) a worker's watchdog looks at its parent
WATCHDOG_PERIOD_S = 0.5

_PR_SET_PDEATHSIG = 1


def check_workers(workers: object, name: str = "workers") -> int:
    """``workers`` as an int from 1 to :data:`MAX_WORKERS`, else an OptionError naming the range."""
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise OptionError(f"{name} must be an integer from 1 to {MAX_WORKERS:,} (4 x the cores), got {brief(workers)}")
    return workers


def brief(value: object) -> str:
    """``repr(value)`` for a message: at most 40 characters (an integer of any size included)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"an integer of about {int(abs(value).bit_length() * 0.30103) + 1:,} digits"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def local_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool whose workers die with this process (see the module docstring)."""
    return ProcessPoolExecutor(max_workers=workers, initializer=worker_init, initargs=(os.getpid(),))


def worker_init(sweeper: int) -> None:
    """Runs first in every worker: ``sweeper`` is the pid of the sweeping process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no libc prctl: the watchdog still runs
            pass
    if parent == 1 or not _alive(sweeper):  # it died before prctl took effect
        os._exit(1)
    threading.Thread(target=_watchdog, args=(parent, sweeper), name="archcalc-watchdog", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else (cannot be ours, but do not guess)
        return True
    return True


def _watchdog(parent: int, sweeper: int) -> None:
    while True:
        time.sleep(WATCHDOG_PERIOD_S)
        if os.getppid() != parent or not _alive(sweeper):
            os._exit(1)


def abandon(pool: Executor, owned: bool) -> None:
    """Stop a sweep now: queued work is cancelled; an owned process pool's workers are killed
    (work in flight is lost, it is not waited for). A caller's executor is left running."""
    if not owned:
        return
    processes = dict(getattr(pool, "_processes", None) or {})
    for process in processes.values():
        with contextlib.suppress(OSError, AttributeError, ValueError):
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes.values():
        with contextlib.suppress(OSError, AttributeError, ValueError, AssertionError):
            process.join(timeout=1.0)
