"""Spec §8.3 'Backup all trading data and logs': the state databases (journal, orders, fills,
positions, audit trail) are snapshotted consistently while in use, with the recent logs, verified by
checksum, rotated, and restorable."""

from __future__ import annotations

import sqlite3
import tarfile
from datetime import timedelta
from pathlib import Path

from optbot.config.sections.paths import PathsSettings
from optbot.core.enums import Exchange
from optbot.data.backup import (
    STATE_PREFIX,
    create_backup,
    create_state_backup,
    list_backups,
    restore_backup,
    verify_backup,
)
from optbot.persistence.records import PositionRecord
from optbot.persistence.store import Store
from optbot.test_kit.calendar import sim_clock_at

DAY = "2026-11-24"


def _bot_files(root: Path) -> tuple[Store, PathsSettings]:
    """A state database in use (WAL, rows not yet checkpointed), a status file and three days of logs."""
    clock = sim_clock_at(DAY, "16:30")
    paths = PathsSettings(data_root=root)
    store = Store.open(root / "state" / "optbot.sqlite", clock)
    store.save_position(
        PositionRecord(
            Exchange.NFO,
            "43210",
            "NIFTY24NOV2624000CE",
            75,
            100.0,
            0.0,
            0.0,
            75,
            0,
            7500.0,
            0.0,
            clock.now_utc(),
        )
    )
    (root / "state" / "status.json").write_text('{"running": true}\n')
    logs = root / "logs"
    logs.mkdir()
    for name in ("optbot-20261124.jsonl", "optbot-20261123.jsonl", "optbot-20261120.jsonl"):
        (logs / name).write_text('{"event": "x"}\n')
    (root / "raw").mkdir()
    (root / "raw" / "NIFTY_today.json").write_text("[]")
    return store, paths


def test_a_state_backup_holds_a_consistent_copy_of_a_database_in_use_and_the_recent_logs(
    tmp_path: Path,
) -> None:
    store, paths = _bot_files(tmp_path)
    clock = sim_clock_at(DAY, "16:30")
    info = create_state_backup(paths, clock, keep=7)
    store.close()
    assert info.path.name.startswith(STATE_PREFIX) and verify_backup(info.path) == []
    with tarfile.open(info.path, "r:gz") as archive:
        names = set(archive.getnames())
        archive.extractall(tmp_path / "out", filter="data")
    assert {"state/optbot.sqlite", "state/status.json", "logs/optbot-20261124.jsonl"} <= names
    assert "logs/optbot-20261123.jsonl" in names and "logs/optbot-20261120.jsonl" not in names
    assert not [name for name in names if name.endswith(("-wal", "-shm")) or name.startswith("raw/")]
    copy = sqlite3.connect(tmp_path / "out" / "state" / "optbot.sqlite")
    assert copy.execute("pragma integrity_check").fetchone()[0] == "ok"
    assert copy.execute("select token, net_quantity from positions").fetchall() == [("43210", 75)]
    copy.close()


def test_state_backups_rotate_on_their_own_and_leave_data_backups_alone(tmp_path: Path) -> None:
    store, paths = _bot_files(tmp_path)
    clock = sim_clock_at(DAY, "16:30")
    data = create_backup(paths, clock, keep=2)
    for _ in range(3):
        clock.advance(timedelta(days=1).total_seconds())
        create_state_backup(paths, clock, keep=2)
    store.close()
    assert len(list_backups(paths, STATE_PREFIX)) == 2
    assert list_backups(paths) == [data.path]


def test_a_state_backup_restores_state_and_keeps_the_current_one_aside(tmp_path: Path) -> None:
    store, paths = _bot_files(tmp_path)
    clock = sim_clock_at(DAY, "16:30")
    info = create_state_backup(paths, clock, keep=7)
    store.close()
    (tmp_path / "state" / "optbot.sqlite").unlink()  # lost (a broken disk, a bad edit)
    kept = restore_backup(info.path, paths, clock)
    assert [path.name for path in kept] == [f"state.pre-restore-{clock.now_utc():%Y%m%dT%H%M%SZ}"]
    restored = sqlite3.connect(tmp_path / "state" / "optbot.sqlite")
    assert restored.execute("select count(*) from positions").fetchone()[0] == 1
    restored.close()
    assert (tmp_path / "raw" / "NIFTY_today.json").read_text() == "[]"  # market data untouched
