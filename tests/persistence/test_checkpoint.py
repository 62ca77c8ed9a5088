"""The session store's WAL is checkpointed by a thread, never inside an order's COMMIT, and stays
bounded and crash-safe without the commit doing it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from optbot.config.sections.persistence import PersistenceSettings
from optbot.config.settings import Settings
from optbot.core.clock import SimClock
from optbot.persistence.checkpoint import WalCheckpointer, configure_wal, wal_frames
from optbot.persistence.db import open_database
from optbot.persistence.store import Store

WRITER = Path(__file__).with_name("wal_writer_process.py")
#: a thread that never looks on its own: the tests call `checkpoint_if_due` themselves
IDLE_POLL = 3600.0


def _clock() -> SimClock:
    return SimClock(datetime(2026, 1, 5, 4, tzinfo=UTC))


def _write(store: Store, rows: int) -> None:
    for index in range(rows):
        store.audit("test.row", f"row-{index}", {"padding": "x" * 1500})


def _log_frames(path: Path) -> int:
    """Frames in the log as SQLite reports them (a PASSIVE checkpoint from another connection)."""
    other = sqlite3.connect(path)
    try:
        return int(other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
    finally:
        other.close()


@pytest.fixture
def session_store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(
        tmp_path / "state.sqlite",
        _clock(),
        wal=PersistenceSettings(wal_checkpoint_pages=100, wal_checkpoint_poll_seconds=IDLE_POLL),
    )
    assert store.checkpointer is not None
    store.checkpointer.checkpoint()  # the schema's pages written back: the log starts empty
    store.checkpointer.checkpoints = 0
    yield store
    store.close()


def test_wal_frames_reads_what_sqlite_reports(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    store = Store(open_database(path), _clock())
    try:
        assert wal_frames(tmp_path / "absent.sqlite") is None
        _write(store, 25)
        frames = wal_frames(path)
        assert frames is not None and frames >= 25
        assert frames == _log_frames(path)
    finally:
        store.close()


def test_a_session_store_leaves_checkpoints_to_its_thread(session_store: Store) -> None:
    settings = PersistenceSettings()
    connection = session_store.connection
    assert connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == settings.wal_backstop_pages
    assert connection.execute("PRAGMA journal_size_limit").fetchone()[0] == settings.wal_size_limit_bytes
    assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: every commit fsynced
    path = Path(connection.execute("PRAGMA database_list").fetchone()["file"])
    # past SQLite's default threshold (1,000 pages): no commit has checkpointed
    _write(session_store, 1200)
    frames = wal_frames(path)
    assert frames is not None and frames > 1000
    checkpointer = session_store.checkpointer
    assert checkpointer is not None and checkpointer.checkpoints == 0


def test_the_thread_checkpoints_once_the_log_passes_its_threshold(session_store: Store) -> None:
    checkpointer = session_store.checkpointer
    assert checkpointer is not None
    _write(session_store, 5)
    assert checkpointer.checkpoint_if_due() is None  # under 100 pages: nothing to do
    _write(session_store, 100)
    result = checkpointer.checkpoint_if_due()
    assert result is not None and result.complete and result.log_frames >= 100


def test_a_checkpoint_keeps_the_row_caches_valid(session_store: Store) -> None:
    """A checkpoint copies pages, it changes no row: the store's data_version (its caches' key) stays."""
    checkpointer = session_store.checkpointer
    assert checkpointer is not None
    _write(session_store, 50)
    version = session_store.connection.execute("PRAGMA data_version").fetchone()[0]
    assert checkpointer.checkpoint().complete
    assert session_store.connection.execute("PRAGMA data_version").fetchone()[0] == version


def test_after_a_checkpoint_the_log_is_reused_in_place(session_store: Store) -> None:
    checkpointer = session_store.checkpointer
    assert checkpointer is not None
    path = Path(session_store.connection.execute("PRAGMA database_list").fetchone()["file"])
    wal = Path(f"{path}-wal")
    _write(session_store, 60)
    assert checkpointer.checkpoint().complete
    size = wal.stat().st_size
    frames = wal_frames(path)
    _write(session_store, 40)  # fewer writes: from the start of the log, within its length
    assert wal.stat().st_size == size
    written = wal_frames(path)
    assert frames is not None and written is not None and 40 <= written < frames


def test_without_its_thread_the_log_is_bounded_by_the_commits_backstop(tmp_path: Path) -> None:
    """A checkpointer that never runs (stopped, stuck) still leaves a WAL of bounded length."""
    path = tmp_path / "state.sqlite"
    settings = PersistenceSettings(wal_backstop_pages=60)
    connection = open_database(path)
    configure_wal(connection, settings)
    store = Store(connection, _clock())
    try:
        page = int(connection.execute("PRAGMA page_size").fetchone()[0])
        longest = 0
        for _ in range(30):
            _write(store, 20)
            longest = max(longest, Path(f"{path}-wal").stat().st_size)
        # backstop plus one transaction's frames (each a page and a 24-byte header), plus the header
        assert longest <= 32 + (60 + 10) * (page + 24)
    finally:
        store.close()


def test_the_thread_runs_and_stops_with_the_store(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    settings = PersistenceSettings(wal_checkpoint_pages=5, wal_checkpoint_poll_seconds=0.001)
    store = Store.open(path, _clock(), wal=settings)
    checkpointer = store.checkpointer
    assert checkpointer is not None
    _write(store, 20)
    for _ in range(5000):  # the thread polls every millisecond: long before the 5 s cap
        if checkpointer.checkpoints:
            break
        time.sleep(0.001)
    assert checkpointer.checkpoints > 0
    store.close()
    assert store.checkpointer is None
    with pytest.raises(sqlite3.ProgrammingError):
        checkpointer.checkpoint()  # its connection is closed


def test_an_in_memory_or_backtest_store_has_no_checkpointer(tmp_path: Path) -> None:
    memory = Store.open(":memory:", _clock(), wal=Settings().persistence)
    plain = Store.open(tmp_path / "backtest.sqlite", _clock())
    try:
        assert memory.checkpointer is None and plain.checkpointer is None
    finally:
        memory.close()
        plain.close()


def test_a_failing_checkpoint_is_logged_and_the_thread_carries_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A checkpoint that raises (disk full, I/O error) is logged and the thread keeps polling: the
    commit's backstop bounds the log meanwhile."""
    path = tmp_path / "state.sqlite"
    open_database(path).close()
    checkpointer = WalCheckpointer(path, PersistenceSettings(wal_checkpoint_poll_seconds=0.001))
    calls: list[int] = []

    def failing() -> None:
        calls.append(1)
        raise sqlite3.OperationalError("disk I/O error")

    checkpointer.checkpoint_if_due = failing  # type: ignore[method-assign]
    with caplog.at_level("WARNING", logger="optbot.persistence"):
        checkpointer.start()
        try:
            for _ in range(5000):
                if len(calls) >= 3:
                    break
                time.sleep(0.001)
        finally:
            checkpointer.stop()
    failures = [
        r for r in caplog.records if r.getMessage() == "WAL checkpoint of state.sqlite failed: disk I/O error"
    ]
    assert len(calls) >= 3 and len(failures) == len(calls)


def _committed(lines: list[str]) -> list[int]:
    return [int(line.split()[1]) for line in lines if line.startswith("COMMITTED ")]


@pytest.mark.slow
def test_a_kill_mid_checkpoint_loses_no_committed_row(tmp_path: Path) -> None:
    """SIGKILL the writer (its checkpointer running all the time) at several points; every row it
    reported committed is there after a reopen, the file passes SQLite's integrity check and the
    audit chain verifies."""
    path = tmp_path / "state.sqlite"
    reported: list[int] = []
    for rows_before_kill in (150, 400, 900):
        process = subprocess.Popen(
            [sys.executable, str(WRITER), str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:
            lines.append(line)
            if len(lines) >= rows_before_kill:
                break
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        lines += process.stdout.read().splitlines()
        assert process.returncode == -signal.SIGKILL, process.stderr.read() if process.stderr else ""
        reported += _committed(lines)
        assert os.path.exists(f"{path}-wal")  # killed with a log not yet written back
    store = Store.open(path, _clock())
    try:
        assert store.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        kept = {int(row[0]) for row in store.connection.execute("SELECT seq FROM audit")}
        assert set(reported) <= kept
        assert store.verify_chain().ok
    finally:
        store.close()
