"""The session's startup heap: frozen out of the collector's scans after startup, given back at the end."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from optbot.config import Settings
from optbot.core.heap import RunHeap, StartupHeap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def _scanned(thing: object) -> bool:
    """Whether the collector's generations (not the permanent one) hold `thing`."""
    return any(candidate is thing for candidate in gc.get_objects())


def test_the_startup_heap_leaves_the_scans_and_its_garbage_is_collected_first() -> None:
    kept = _Node()
    dropped = _Node()
    dropped_ref = weakref.ref(dropped)
    del dropped
    heap = StartupHeap(enabled=True)
    frozen = heap.freeze()
    assert dropped_ref() is None  # garbage collected before the freeze, not kept frozen for the day
    assert frozen == gc.get_freeze_count() > 0
    assert not _scanned(kept)
    assert heap.freeze() == frozen  # once per session: a second call freezes nothing new
    heap.release()
    assert gc.get_freeze_count() == 0 and _scanned(kept)


def test_a_frozen_heap_makes_a_full_collection_skip_it() -> None:
    """What the setting buys: a full collection visits only what was made after the freeze."""
    startup = [_Node() for _ in range(20_000)]
    heap = StartupHeap(enabled=True)
    heap.freeze()
    later = [_Node() for _ in range(10)]
    assert len(gc.get_objects()) < len(startup)
    assert all(not _scanned(node) for node in startup[:5]) and _scanned(later[0])
    heap.release()


def test_off_by_setting_nothing_is_frozen() -> None:
    heap = StartupHeap(Settings(engine={"freeze_startup_heap": False}).engine.freeze_startup_heap)
    assert heap.freeze() == 0
    assert gc.get_freeze_count() == 0
    heap.release()
    assert Settings().engine.freeze_startup_heap is True  # on by default for live and paper sessions


def test_a_run_heap_never_unfreezes_a_heap_someone_else_froze() -> None:
    gc.freeze()
    try:
        run = RunHeap()
        assert not run.owned
        run.freeze()
        run.release()
        assert gc.get_freeze_count() > 0  # the live session's frozen heap stays frozen
    finally:
        gc.unfreeze()


def test_a_run_heap_freezes_each_session_and_releases_at_the_end() -> None:
    gc.unfreeze()  # whatever an earlier test in this process left frozen
    run = RunHeap()
    run.freeze()
    assert gc.get_freeze_count() > 0
    run.release()
    assert gc.get_freeze_count() == 0
