"""Opening the state database: WAL, synchronous=FULL, foreign keys, versioned migrations.

synchronous=FULL makes every committed intent/order survive a power cut, which is the point of
persisting them before anything reaches the broker.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from optbot.persistence.migrations import MIGRATIONS

if TYPE_CHECKING:
    from optbot.config.settings import Settings

STATE_DB_NAME = "optbot.sqlite"
#: a paper session's journal sits beside the live one under this suffix, so paper fills and
#: reconciliations never mix with the live account's books
PAPER_JOURNAL_SUFFIX = "-paper"
#: every commit fsyncs the WAL before it returns (a store may relax one commit: `Store.transaction`)
SYNCHRONOUS = "FULL"


class DatabaseError(Exception):
    """The state database cannot be opened or migrated (the message names the file and the reason)."""


def state_db_path(settings: Settings, *, paper: bool = False) -> Path:
    """The state database of a mode: the live journal (`state/optbot.sqlite`), or with `paper` the
    paper session's (`state/optbot-paper.sqlite`). Every command that opens a mode's journal resolves
    it here, so `optbot run --mode paper` and `optbot reconcile --mode paper` read the same file."""
    live = settings.paths.resolve(settings.paths.state_dir) / STATE_DB_NAME
    if not paper:
        return live
    return live.with_name(live.stem + PAPER_JOURNAL_SUFFIX + live.suffix)


def schema_version(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def migrate(connection: sqlite3.Connection) -> int:
    """Apply every migration newer than the file's `user_version`, each in its own transaction."""
    current = schema_version(connection)
    if current > len(MIGRATIONS):
        raise DatabaseError(
            f"state database schema version {current} is newer than this optbot ({len(MIGRATIONS)})"
        )
    for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
        try:
            script_text = f"BEGIN IMMEDIATE;\n{script};\nPRAGMA user_version = {version};\nCOMMIT;"
            connection.executescript(script_text)
        except Exception:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    return schema_version(connection)


def open_database(path: Path | str, *, create: bool = True) -> sqlite3.Connection:
    """Open (and migrate) the state DB. `path=":memory:"` is allowed for tests."""
    target = str(path)
    if target != ":memory:":
        file_path = Path(target)
        if not create and not file_path.exists():
            raise DatabaseError(f"state database {file_path} does not exist")
        file_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        connection = sqlite3.connect(target, isolation_level=None, check_same_thread=False, timeout=10.0)
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot open state database {target}: {exc}") from exc
    connection.row_factory = sqlite3.Row
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA busy_timeout=10000")
        migrate(connection)
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise DatabaseError(f"state database {target} is not usable: {exc}") from exc
    return connection
