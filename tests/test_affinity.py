"""Thread placement of timed sessions (archcalc.runtime.affinity): the caller on one CPU, each new
session's intra-op workers on the others, only inside ``pinned_caller``, the caller's own
affinity restored after; nothing pinned where the OS cannot, or with one CPU."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from archcalc.runtime import affinity

LINUX_2CPU = hasattr(os, "sched_setaffinity") and len(affinity.allowed_cpus()) >= 2 and bool(affinity.thread_ids())
needs_two = pytest.mark.skipif(not LINUX_2CPU, reason="needs Linux thread affinity and two CPUs")


@pytest.fixture
def idle_thread() -> Iterator[threading.Thread]:
    """A thread started inside the test, parked until the test ends."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    yield thread
    stop.set()
    if thread.is_alive():
        thread.join()


@needs_two
def test_caller_pinned_to_the_first_cpu_and_restored() -> None:
    before = os.sched_getaffinity(0)
    cpus = affinity.allowed_cpus()
    with affinity.pinned_caller() as placed:
        assert placed == cpus
        assert os.sched_getaffinity(0) == {cpus[0]}
        with affinity.pinned_caller() as inner:  # nested: the outer placement stays
            assert inner == cpus and os.sched_getaffinity(0) == {cpus[0]}
        assert os.sched_getaffinity(0) == {cpus[0]}
    assert os.sched_getaffinity(0) == before


@needs_two
def test_affinity_restored_after_an_exception() -> None:
    before = os.sched_getaffinity(0)

    def fails() -> None:
        with affinity.pinned_caller():
            assert os.sched_getaffinity(0) == {affinity.allowed_cpus()[0]}
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        fails()
    assert os.sched_getaffinity(0) == before


@needs_two
def test_new_threads_go_to_the_other_cpus_only_inside_the_block(idle_thread: threading.Thread) -> None:
    cpus = affinity.allowed_cpus()
    snapshot = affinity.thread_ids()
    idle_thread.start()
    assert idle_thread.native_id is not None
    assert affinity.pin_new_threads(snapshot) == 0  # outside the block: left to the scheduler
    assert os.sched_getaffinity(idle_thread.native_id) == set(cpus)
    with affinity.pinned_caller():
        assert affinity.pin_new_threads(snapshot) == 1
        assert os.sched_getaffinity(idle_thread.native_id) == {cpus[1]}
        assert affinity.pin_new_threads(affinity.thread_ids()) == 0  # nothing new since
    assert affinity.snapshot() is None and affinity.pin_new_threads(None) == 0  # outside: no listing at all


@needs_two
def test_a_session_opened_inside_gets_its_workers_pinned() -> None:
    from archcalc.estimate.microbench import chain_model
    from archcalc.runtime.devices import choose_device
    from archcalc.runtime.session import open_session

    cpus = affinity.allowed_cpus()
    model = chain_model("Relu", 2, (1, 16)).SerializeToString()
    with affinity.pinned_caller():
        before = affinity.thread_ids()
        session = open_session(model, choose_device("cpu"), 2)
        workers = affinity.thread_ids() - before
        assert workers  # ORT starts the pool's worker when the session is made
        assert all(os.sched_getaffinity(t) == {cpus[1]} for t in workers)
        del session
    outside = open_session(model, choose_device("cpu"), 2)  # outside: nothing pinned
    assert outside is not None


def test_one_cpu_or_no_affinity_pins_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    before = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    monkeypatch.setattr(affinity, "allowed_cpus", lambda: (0,))
    with affinity.pinned_caller() as placed:
        assert placed is None
        assert affinity.pin_new_threads(frozenset()) == 0
    if before is not None:
        assert os.sched_getaffinity(0) == before
    monkeypatch.setattr(affinity, "allowed_cpus", lambda: (0, 1))
    monkeypatch.setattr(affinity, "thread_ids", lambda: frozenset())  # no /proc/self/task
    with affinity.pinned_caller() as placed:
        assert placed is None


def test_thread_ids_are_this_process_threads() -> None:
    ids = affinity.thread_ids()
    if ids:
        assert threading.get_native_id() in ids
