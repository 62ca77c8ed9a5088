"""Audit retention: archive old rows to a verifiable file, prune them, keep the chain verifiable."""

from __future__ import annotations

import gzip
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optbot.cli.main import app
from optbot.config.settings import Settings
from optbot.core.clock import SimClock
from optbot.persistence import RetentionError, Store, apply_audit_retention, verify_audit_trail
from optbot.persistence.db import state_db_path
from optbot.persistence.retention import audit_archive_dir

START = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
DAY = 86_400.0


def _settings(tmp_path: Path, days: int = 30) -> Settings:
    return Settings(paths={"data_root": tmp_path / "root"}, execution={"audit_retention_days": days})


def _populated(tmp_path: Path, old_rows: int = 5, new_rows: int = 3) -> tuple[Store, SimClock, Settings]:
    """`old_rows` audit rows at START, then `new_rows` 31 days later (retention 30 days)."""
    settings = _settings(tmp_path)
    clock = SimClock(START)
    store = Store.open(state_db_path(settings), clock)
    for index in range(old_rows):
        store.audit("test", f"old-{index}", {"n": index})
    clock.advance(31 * DAY)
    for index in range(new_rows):
        store.audit("test", f"new-{index}", {"n": index})
    return store, clock, settings


def test_old_rows_are_archived_pruned_and_the_chain_still_verifies(tmp_path: Path) -> None:
    store, clock, settings = _populated(tmp_path)
    result = apply_audit_retention(store, clock, settings)
    assert (result.rows_archived, result.first_seq, result.last_seq) == (5, 1, 5)
    assert result.archive_path is not None and result.archive_path.exists()
    live = [row["subject"] for row in store.audit_rows()]
    assert live == ["new-0", "new-1", "new-2", result.archive_path.name]
    verification = verify_audit_trail(store, audit_archive_dir(settings))
    assert verification.ok and verification.rows == 9 and verification.archived_rows == 5
    assert store.verify_chain().ok
    store.audit("test", "after-prune", {})  # the chain continues past the archive
    assert verify_audit_trail(store, audit_archive_dir(settings)).ok
    with gzip.open(result.archive_path, "rt") as handle:
        lines = [json.loads(line) for line in handle]
    assert lines[0]["format"] == "optbot-audit-archive" and lines[0]["start_previous_hash"] == "0" * 64
    assert [line["subject"] for line in lines[1:]] == [f"old-{index}" for index in range(5)]


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    store, clock, settings = _populated(tmp_path)
    before = store.audit_rows()
    result = apply_audit_retention(store, clock, settings, dry_run=True)
    assert result.dry_run and result.rows_archived == 5 and result.archive_path is None
    assert store.audit_rows() == before and not audit_archive_dir(settings).exists()


def test_nothing_to_prune_inside_the_horizon(tmp_path: Path) -> None:
    store, clock, settings = _populated(tmp_path, old_rows=0)
    assert apply_audit_retention(store, clock, settings).rows_archived == 0
    assert store.audit_archives() == []


def test_successive_prunes_chain_archives_and_a_fully_archived_table_continues(tmp_path: Path) -> None:
    store, clock, settings = _populated(tmp_path)
    apply_audit_retention(store, clock, settings)
    clock.advance(31 * DAY)
    second = apply_audit_retention(store, clock, settings)
    assert (second.first_seq, second.last_seq) == (6, 9)
    assert [row["kind"] for row in store.audit_rows()] == ["audit_archive"]
    clock.advance(31 * DAY)
    third = apply_audit_retention(store, clock, settings)  # archives the whole live table
    assert third.rows_archived == 1 and len(store.audit_rows()) == 1
    assert [archive.first_seq for archive in store.audit_archives()] == [1, 6, 10]
    verification = verify_audit_trail(store, audit_archive_dir(settings))
    assert verification.ok and verification.archived_rows == 10 and verification.rows == 11


def test_tampered_or_missing_archive_is_detected(tmp_path: Path) -> None:
    store, clock, settings = _populated(tmp_path)
    result = apply_audit_retention(store, clock, settings)
    assert result.archive_path is not None
    with gzip.open(result.archive_path, "rt") as handle:
        lines = handle.read().splitlines()
    forged = json.loads(lines[2])
    forged["payload"] = '{"n":999}'
    lines[2] = json.dumps(forged, sort_keys=True)
    with gzip.open(result.archive_path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    verification = verify_audit_trail(store, audit_archive_dir(settings))
    assert not verification.ok and "SHA-256 differs" in verification.problem
    assert verify_audit_trail(store, audit_archive_dir(settings), check_archives=False).ok
    result.archive_path.unlink()
    missing = verify_audit_trail(store, audit_archive_dir(settings))
    assert not missing.ok and "missing" in missing.problem


def test_tampered_live_row_after_pruning_is_detected(tmp_path: Path) -> None:
    store, clock, settings = _populated(tmp_path)
    apply_audit_retention(store, clock, settings)
    store.connection.execute("DROP TRIGGER audit_no_update")
    store.connection.execute("UPDATE audit SET payload = '{\"n\":7}' WHERE seq = 7")
    verification = verify_audit_trail(store, audit_archive_dir(settings))
    assert not verification.ok and verification.first_bad_seq == 7


def test_only_archived_rows_may_be_deleted_and_archive_records_are_append_only(tmp_path: Path) -> None:
    store, clock, settings = _populated(tmp_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.connection.execute("DELETE FROM audit WHERE seq = 1")
    apply_audit_retention(store, clock, settings)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.connection.execute("DELETE FROM audit WHERE seq = 6")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.connection.execute("UPDATE audit_archives SET file_sha256 = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.connection.execute("DELETE FROM audit_archives")


def test_broken_live_chain_is_never_pruned(tmp_path: Path) -> None:
    store, clock, settings = _populated(tmp_path)
    store.connection.execute("DROP TRIGGER audit_no_update")
    store.connection.execute("UPDATE audit SET kind = 'forged' WHERE seq = 2")
    before = len(store.audit_rows())
    with pytest.raises(RetentionError, match="broken at seq 2"):
        apply_audit_retention(store, clock, settings)
    assert len(store.audit_rows()) == before and store.audit_archives() == []
    assert not audit_archive_dir(settings).exists()


def test_existing_archive_file_is_not_overwritten(tmp_path: Path) -> None:
    store, clock, settings = _populated(tmp_path)
    directory = audit_archive_dir(settings)
    directory.mkdir(parents=True)
    (directory / "audit-000000000001-000000000005.jsonl.gz").write_bytes(b"someone else's file")
    with pytest.raises(RetentionError, match="refusing to overwrite"):
        apply_audit_retention(store, clock, settings)
    assert len(store.audit_rows()) == 8


def test_cli_prune_and_verify(tmp_path: Path) -> None:
    settings = Settings(paths={"data_root": tmp_path / "root"})
    store = Store.open(state_db_path(settings), SimClock(START))
    for index in range(4):
        store.audit("test", f"row-{index}", {"n": index})
    store.close()
    config = tmp_path / "optbot.toml"
    config.write_text(f'[paths]\ndata_root = "{tmp_path / "root"}"\n[execution]\naudit_retention_days = 1\n')
    runner = CliRunner()
    dry = runner.invoke(app, ["--config", str(config), "audit", "prune", "--dry-run"])
    assert dry.exit_code == 0 and "would archive and prune 4 audit rows" in dry.output
    pruned = runner.invoke(app, ["--config", str(config), "audit", "prune"])
    assert pruned.exit_code == 0 and "archived and pruned 4 audit rows" in pruned.output, pruned.output
    verified = runner.invoke(app, ["--config", str(config), "audit", "verify"])
    assert verified.exit_code == 0 and "audit chain OK: 5 rows (4 of them archived)" in verified.output
    [archive] = (tmp_path / "root" / "state" / "audit-archive").glob("*.jsonl.gz")
    archive.write_bytes(archive.read_bytes()[:-4] + b"\x00\x00\x00\x00")
    broken = runner.invoke(app, ["--config", str(config), "audit", "verify"])
    assert broken.exit_code == 1 and "BROKEN" in broken.output and archive.name in broken.output
    live = runner.invoke(app, ["--config", str(config), "audit", "verify", "--live-only"])
    assert live.exit_code == 0
    again = runner.invoke(app, ["--config", str(config), "audit", "prune"])
    assert again.exit_code == 0 and "nothing to prune" in again.output
