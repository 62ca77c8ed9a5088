"""A session-like writer for the checkpoint crash test: one audit row per commit, forever.

Usage: python wal_writer_process.py DB_PATH
Opens the store as a session does (its WAL checkpointed by a thread), with the checkpointer's
threshold at one page and its poll at a millisecond, so a SIGKILL lands mid-checkpoint often. Prints
`COMMITTED <seq>` (flushed) after each commit returns: those rows must survive the kill.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from optbot.config.sections.persistence import PersistenceSettings
from optbot.core.clock import SimClock
from optbot.persistence.store import Store

EAGER = PersistenceSettings(wal_checkpoint_pages=1, wal_checkpoint_poll_seconds=0.001)


def main(db_path: str) -> None:
    clock = SimClock(datetime(2026, 1, 5, 4, tzinfo=UTC))
    store = Store.open(db_path, clock, wal=EAGER)
    while True:
        seq = store.audit("crash.test", "row", {"padding": "x" * 2000})  # ~1 page a row
        print(f"COMMITTED {seq}", flush=True)
        clock.advance(1)


if __name__ == "__main__":
    main(sys.argv[1])
