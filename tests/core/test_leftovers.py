"""Spec §1.5/§8.3 'clean up temporary files': what interrupted writes left is removed once it is old;
a write in progress and every real file stay."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from optbot.core.atomic import atomic_write_text, clear_leftovers

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _aged(path: Path, age: timedelta) -> Path:
    moment = (NOW - age).timestamp()
    os.utime(path, (moment, moment))
    return path


def _file(path: Path, age: timedelta) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    return _aged(path, age)


def test_old_leftovers_go_and_everything_else_stays(tmp_path: Path) -> None:
    old, fresh = timedelta(days=3), timedelta(minutes=5)
    crashed = _file(tmp_path / "instruments" / ".scripmaster-2026-11-20.json.tmp-4242", old)
    crashed_backup = _file(tmp_path / "backups" / ".optbot-data-20261120T110000Z.tar.gz.tmp-4242", old)
    scratch = tmp_path / "backups" / ".state-snapshot-abc123"
    _file(scratch / "state" / "optbot.sqlite", old)
    _aged(scratch / "state", old)
    _aged(scratch, old)
    in_progress = _file(tmp_path / "state" / ".status.json.tmp-777", fresh)
    real = [
        _file(tmp_path / "instruments" / "scripmaster-2026-11-20.json", old),
        _file(tmp_path / "logs" / "optbot-20261120.jsonl", old),
        _file(tmp_path / "state" / "optbot.sqlite-wal", old),
    ]
    atomic_write_text(tmp_path / "state" / "status.json", "{}")
    removed = clear_leftovers(tmp_path, NOW, timedelta(days=1))
    assert sorted(removed) == sorted([crashed, crashed_backup, scratch])
    assert not crashed.exists() and not crashed_backup.exists() and not scratch.exists()
    assert in_progress.exists() and all(path.exists() for path in real)
    assert (tmp_path / "state" / "status.json").exists()


def test_a_missing_root_removes_nothing(tmp_path: Path) -> None:
    assert clear_leftovers(tmp_path / "absent", NOW, timedelta(days=1)) == []
