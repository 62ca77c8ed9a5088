"""WAL checkpoints off the order path: a thread with its own connection writes the log back.

In WAL mode SQLite checkpoints inside the COMMIT that takes the log past `wal_autocheckpoint` pages:
that commit also copies ~1,000 pages into the database file and fsyncs it, while the order that made
the commit waits to be sent (measured: ~2 % of the journal's commits, 1.4-1.6 ms against 0.26 ms).
A session's store therefore raises the commit's own threshold to a backstop and lets
`WalCheckpointer` do the work from a thread: SQLite runs a checkpoint with the GIL released, and a
PASSIVE checkpoint never takes the write lock, so the loop keeps committing and sending meanwhile.

Durability is SQLite's, unchanged: every commit is still fsynced (synchronous=FULL) before it
returns, except one made with `Store.transaction(durable=False)` (what the broker can re-supply after
a restart); a checkpoint only copies committed pages and is safe to interrupt at any point (a kill -9
mid-checkpoint leaves the log to be replayed on the next open). The log stays bounded without the
thread too: a commit checkpoints itself past the backstop. Once a checkpoint has written back the
whole log, the next commit starts it again from the beginning, overwriting the file in place (an
fsync of a file that grew costs more than one of an overwrite); `journal_size_limit` only cuts back
a log a burst left longer than that.
"""

from __future__ import annotations

import logging
import sqlite3
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

from optbot.config.sections.persistence import PersistenceSettings

log = logging.getLogger("optbot.persistence")

#: Offset of `mxFrame` (frames in the log, a native-order u32) in the wal-index header at the start
#: of the `-shm` file (https://www.sqlite.org/walformat.html, "The WAL-Index Header"). The format is
#: shared by every SQLite version that may open the file at once, so it does not move.
_MX_FRAME = struct.Struct("=I")
_MX_FRAME_OFFSET = 16
#: PASSIVE checkpoints in a row while each still leaves frames behind (a commit landed meanwhile):
#: the last few frames take one short pass, after which the next commit can restart the log.
_PASSES = 3


def configure_wal(connection: sqlite3.Connection, settings: PersistenceSettings) -> None:
    """The store's connection: checkpoints itself only past the backstop; the log reused in place."""
    connection.execute(f"PRAGMA wal_autocheckpoint={int(settings.wal_backstop_pages)}")
    connection.execute(f"PRAGMA journal_size_limit={int(settings.wal_size_limit_bytes)}")


def wal_frames(database: Path) -> int | None:
    """Frames in `database`'s write-ahead log now, from its wal-index; None if there is none.

    Read without a lock, so it may be one commit stale: it only decides whether to checkpoint."""
    try:
        with open(f"{database}-shm", "rb") as index:
            header = index.read(_MX_FRAME_OFFSET + _MX_FRAME.size)
    except FileNotFoundError:
        return None
    if len(header) < _MX_FRAME_OFFSET + _MX_FRAME.size:
        return None
    return int(_MX_FRAME.unpack_from(header, _MX_FRAME_OFFSET)[0])


@dataclass(frozen=True, slots=True)
class CheckpointResult:
    """One checkpoint: frames in the log and frames written back (equal: the log can restart)."""

    log_frames: int
    written_back: int

    @property
    def complete(self) -> bool:
        return self.written_back >= self.log_frames


class WalCheckpointer:
    """Checkpoints `database` from a thread of its own once its log passes `wal_checkpoint_pages`."""

    def __init__(self, database: Path, settings: PersistenceSettings) -> None:
        self._database = database
        self._settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # its own connection, FULL like the store's: a checkpoint fsyncs the log before copying it
        # and the database file after (synchronous=OFF would skip both)
        self._connection = sqlite3.connect(
            str(database), isolation_level=None, check_same_thread=False, timeout=0.0
        )
        self._connection.execute("PRAGMA synchronous=FULL")
        #: checkpoints run (each up to `_PASSES` passes) and the last one's result, for the session's
        #: health line and the tests
        self.checkpoints = 0
        self.last: CheckpointResult | None = None

    def start(self) -> WalCheckpointer:
        thread = threading.Thread(target=self._run, name="optbot-wal-checkpointer", daemon=True)
        self._thread = thread
        thread.start()
        return self

    def stop(self) -> None:
        """Ends the thread (after a checkpoint it is running) and closes its connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._connection.close()

    def _run(self) -> None:
        while not self._stop.wait(self._settings.wal_checkpoint_poll_seconds):
            try:
                self.checkpoint_if_due()
            except sqlite3.Error as exc:  # the commit's backstop keeps the log bounded meanwhile
                log.warning("WAL checkpoint of %s failed: %s", self._database.name, exc)

    def checkpoint_if_due(self) -> CheckpointResult | None:
        frames = wal_frames(self._database)
        if frames is None or frames < self._settings.wal_checkpoint_pages:
            return None
        return self.checkpoint()

    def checkpoint(self) -> CheckpointResult:
        """PASSIVE: copies what no reader still needs, never waits for (or blocks) a writer."""
        result = CheckpointResult(0, 0)
        for _ in range(_PASSES):
            _busy, log_frames, written_back = self._connection.execute(
                "PRAGMA wal_checkpoint(PASSIVE)"
            ).fetchone()
            result = CheckpointResult(int(log_frames), int(written_back))
            if result.complete:
                break
        self.checkpoints += 1
        self.last = result
        return result
