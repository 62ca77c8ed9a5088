"""Audit retention (spec §11.1, §13.10): archive audit rows older than the horizon, then prune them.

The audit table is a hash chain. Pruning moves the oldest rows, a prefix of the chain, into a gzip
JSON-lines archive file whose first line is a header with the chain anchors (the hash before the
first archived row and the hash of the last one). The archive is written and re-verified first;
then one transaction records it (with the file's SHA-256) in the append-only `audit_archives`
table, deletes exactly those rows and appends an `audit_archive` row to the live chain. The live
chain then verifies from the archived end hash, and `verify_audit_trail` checks every archive file
(digest, header, every row hash) and the live table, so tampering with either is reported.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optbot.core.clock import Clock
from optbot.core.timeutil import to_utc
from optbot.persistence.records import AuditArchiveRecord, AuditVerification
from optbot.persistence.store import GENESIS_HASH, Store, audit_row_hash

if TYPE_CHECKING:
    from optbot.config.settings import Settings

ARCHIVE_FORMAT = "optbot-audit-archive"
ARCHIVE_FORMAT_VERSION = 1
_ROW_FIELDS = ("seq", "ts_utc", "kind", "subject", "payload", "previous_hash", "row_hash")


class RetentionError(Exception):
    """Pruning refused; the message says why. Nothing was deleted."""


@dataclass(frozen=True, slots=True)
class RetentionResult:
    cutoff_utc: datetime
    rows_archived: int
    dry_run: bool
    first_seq: int | None = None
    last_seq: int | None = None
    archive_path: Path | None = None
    archive_sha256: str = ""


def audit_archive_dir(settings: Settings) -> Path:
    return settings.paths.resolve(settings.execution.audit_archive_dir)


def archive_file_name(first_seq: int, last_seq: int) -> str:
    return f"audit-{first_seq:012d}-{last_seq:012d}.jsonl.gz"


def apply_audit_retention(
    store: Store, clock: Clock, settings: Settings, *, dry_run: bool = False
) -> RetentionResult:
    """Archive and prune audit rows older than `execution.audit_retention_days` (engine: end of day).

    Raises RetentionError (and changes nothing) if the live chain does not verify.
    """
    cutoff = clock.now_utc() - timedelta(days=settings.execution.audit_retention_days)
    seq_range = _expired_prefix(store, cutoff)
    if seq_range is None:
        return RetentionResult(cutoff, 0, dry_run)
    first_seq, last_seq = seq_range
    rows = last_seq - first_seq + 1
    if dry_run:
        return RetentionResult(cutoff, rows, True, first_seq, last_seq)
    live = store.verify_chain()
    if not live.ok:
        raise RetentionError(
            f"audit chain is broken at seq {live.first_bad_seq} ({live.problem}); nothing was pruned"
        )
    directory = audit_archive_dir(settings)
    path = directory / archive_file_name(first_seq, last_seq)
    if path.exists():
        raise RetentionError(f"archive {path} already exists; refusing to overwrite it, nothing was pruned")
    record = _write_archive(store, path, first_seq, last_seq, cutoff, clock.now_utc())
    try:
        problem = _archive_problem(path, record)
        if problem:
            raise RetentionError(
                f"archive {path} did not verify after writing ({problem}); nothing was pruned"
            )
        store.record_audit_archive(record)
    except (RetentionError, ValueError) as exc:
        path.unlink(missing_ok=True)
        raise RetentionError(str(exc)) from exc
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return RetentionResult(cutoff, rows, False, first_seq, last_seq, path, record.file_sha256)


def _expired_prefix(store: Store, cutoff: datetime) -> tuple[int, int] | None:
    """The seq range of the chain's oldest rows stamped before `cutoff` (a prefix, never a gap)."""
    first_seq: int | None = None
    last_seq: int | None = None
    for seq, moment in store.audit_times():
        if to_utc(moment) >= cutoff:
            break
        first_seq = seq if first_seq is None else first_seq
        last_seq = seq
    if first_seq is None or last_seq is None:
        return None
    return first_seq, last_seq


def _write_archive(
    store: Store, path: Path, first_seq: int, last_seq: int, cutoff: datetime, now: datetime
) -> AuditArchiveRecord:
    """Write header + rows to a temporary file, fsync, rename into place; return the archive record."""
    first_link = store.audit_link(first_seq)
    last_link = store.audit_link(last_seq)
    if first_link is None or last_link is None:
        raise RetentionError(f"audit rows {first_seq}..{last_seq} are no longer live; nothing was pruned")
    start_previous_hash, end_hash = first_link[0], last_link[1]
    expected_rows = last_seq - first_seq + 1
    header = {
        "format": ARCHIVE_FORMAT,
        "version": ARCHIVE_FORMAT_VERSION,
        "first_seq": first_seq,
        "last_seq": last_seq,
        "rows": expected_rows,
        "start_previous_hash": start_previous_hash,
        "end_hash": end_hash,
        "cutoff_utc": to_utc(cutoff).isoformat(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    try:
        written = _write_rows(store, temporary, header, last_seq)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if written != expected_rows:
        temporary.unlink(missing_ok=True)
        raise RetentionError(
            f"expected {expected_rows} audit rows to archive, read {written}; nothing pruned"
        )
    os.replace(temporary, path)
    return AuditArchiveRecord(
        first_seq=first_seq,
        last_seq=last_seq,
        start_previous_hash=start_previous_hash,
        end_hash=end_hash,
        rows=expected_rows,
        file_name=path.name,
        file_sha256=_file_sha256(path),
        cutoff_utc=cutoff,
        created_utc=now,
    )


def _write_rows(store: Store, temporary: Path, header: dict[str, Any], last_seq: int) -> int:
    """Header line then one JSON line per live row up to `last_seq`, gzip, fsynced; returns the count."""
    written = 0
    with temporary.open("wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed:
            packed.write((json.dumps(header, sort_keys=True) + "\n").encode())
            for row in store.audit_rows_through(last_seq):
                line = {name: row[name] for name in _ROW_FIELDS}
                packed.write((json.dumps(line, sort_keys=True) + "\n").encode())
                written += 1
        raw.flush()
        os.fsync(raw.fileno())
    return written


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _archive_lines(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def _archive_problem(path: Path, record: AuditArchiveRecord) -> str:
    """'' if the archive file is exactly what `record` describes and every row hash recomputes."""
    if not path.exists():
        return "archive file is missing"
    if _file_sha256(path) != record.file_sha256:
        return "file SHA-256 differs from the recorded one (altered or replaced)"
    try:
        return _archive_content_problem(_archive_lines(path), record)
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        return f"unreadable archive ({type(exc).__name__}: {exc})"


def _archive_content_problem(lines: Iterator[dict[str, Any]], record: AuditArchiveRecord) -> str:
    header = next(lines, None)
    expected_header = {
        "format": ARCHIVE_FORMAT,
        "first_seq": record.first_seq,
        "last_seq": record.last_seq,
        "start_previous_hash": record.start_previous_hash,
        "end_hash": record.end_hash,
    }
    if header is None or any(header.get(key) != value for key, value in expected_header.items()):
        return "header does not match the recorded archive"
    previous_hash = record.start_previous_hash
    expected_seq = record.first_seq
    for row in lines:
        seq = int(row["seq"])
        if seq != expected_seq or row["previous_hash"] != previous_hash:
            return f"chain broken at seq {seq}"
        recomputed = audit_row_hash(
            previous_hash, seq, row["ts_utc"], row["kind"], row["subject"], row["payload"]
        )
        if recomputed != row["row_hash"]:
            return f"row seq {seq} does not match its hash"
        previous_hash = str(row["row_hash"])
        expected_seq += 1
    if expected_seq != record.last_seq + 1 or previous_hash != record.end_hash:
        return f"archive ends at seq {expected_seq - 1}, expected {record.last_seq}"
    return ""


def verify_audit_trail(store: Store, archive_dir: Path, *, check_archives: bool = True) -> AuditVerification:
    """Verify the archives (files, anchors, rows) in order, then the live chain from the last anchor."""
    archived_rows = 0
    previous_end = GENESIS_HASH
    next_seq = 1
    for record in store.audit_archives():
        if record.first_seq != next_seq or record.start_previous_hash != previous_end:
            problem = f"archive {record.file_name} does not continue the previous archive's chain"
            return AuditVerification(False, archived_rows, record.first_seq, problem, archived_rows)
        if check_archives:
            problem = _archive_problem(archive_dir / record.file_name, record)
            if problem:
                detail = f"archive {archive_dir / record.file_name}: {problem}"
                return AuditVerification(False, archived_rows, record.first_seq, detail, archived_rows)
        archived_rows += record.rows
        previous_end = record.end_hash
        next_seq = record.last_seq + 1
    live = store.verify_chain()
    return AuditVerification(
        live.ok, live.rows + archived_rows, live.first_bad_seq, live.problem, archived_rows
    )
