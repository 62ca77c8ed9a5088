"""Backups (spec §1.5 'Backup Operations', §8.3 'Backup all trading data and logs'): compressed
snapshots + manifest + checksums.

`optbot-data-<UTC>.tar.gz` holds the market data, `raw/`, `timeframes/` and `instruments/`;
`optbot-state-<UTC>.tar.gz` holds the trading data, `state/` (the journal of intents, orders, fills,
positions and the audit trail; the paper broker's books) as consistent SQLite snapshots taken while
the bot may be writing, and the recent `logs/`. Each carries `MANIFEST.json` (size and SHA-256 per
file). Restore verifies every checksum and refuses unsafe member paths before touching anything; the
current directories are kept aside as `<dir>.pre-restore-<UTC>` so a restore can itself be undone
(a state backup restores `state/` only; its logs are there to read).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from optbot.config.sections.paths import PathsSettings
from optbot.core.atomic import atomic_write_bytes, fsync_directory
from optbot.core.clock import Clock
from optbot.core.errors import UserError
from optbot.core.timeutil import iso_utc

MANIFEST = "MANIFEST.json"
PREFIX = "optbot-data-"
STATE_PREFIX = "optbot-state-"
#: IST days of log files a state backup carries (today and yesterday, by the date in the file name):
#: the daily upkeep runs after the session, so every day's complete log is in at least one backup,
#: while the older logs, already backed up, stay under logs/ without being copied again every day.
STATE_BACKUP_LOG_DAYS = 2
#: The first bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True, slots=True)
class BackupInfo:
    path: Path
    files: int
    bytes: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sources(paths: PathsSettings) -> dict[str, Path]:
    return {
        "raw": paths.resolve(paths.raw_dir),
        "timeframes": paths.resolve(paths.timeframes_dir),
        "instruments": paths.resolve(paths.instruments_dir),
    }


def _files_under(name: str, directory: Path) -> list[tuple[str, Path]]:
    """(member name, file) for every file under `directory`, less atomic-write leftovers."""
    if not directory.is_dir():
        return []
    return [
        (f"{name}/{file.relative_to(directory).as_posix()}", file)
        for file in sorted(directory.rglob("*"))
        if file.is_file() and not (file.name.startswith(".") and ".tmp-" in file.name)
    ]


def create_backup(paths: PathsSettings, clock: Clock, keep: int) -> BackupInfo:
    files = [
        member for name, directory in _sources(paths).items() for member in _files_under(name, directory)
    ]
    return _write_archive(paths, clock, keep, PREFIX, files)


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER


def _snapshot(source: Path, target: Path) -> None:
    """A consistent copy of `source` into `target`: SQLite's online backup for a database (committed
    transactions only, safe while another connection writes, WAL included), a plain copy otherwise."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not _is_sqlite(source):
        shutil.copy2(source, target)
        return
    reader = sqlite3.connect(source)
    writer = sqlite3.connect(target)
    try:
        reader.backup(writer)
    finally:
        writer.close()
        reader.close()


def create_state_backup(paths: PathsSettings, clock: Clock, keep: int) -> BackupInfo:
    """The trading data and the recent logs (module docstring), snapshotted first so a file that is
    written meanwhile (the status file, today's log, a database in use) is archived as one moment."""
    target_dir = paths.resolve(paths.backups_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    today = clock.now_ist().date()
    stamps = {(today - timedelta(days=back)).strftime("%Y%m%d") for back in range(STATE_BACKUP_LOG_DAYS)}
    logs = [
        (member, file)
        for member, file in _files_under("logs", paths.resolve(paths.logs_dir))
        if any(stamp in file.name for stamp in stamps)
    ]
    state = [
        (member, file)
        for member, file in _files_under("state", paths.resolve(paths.state_dir))
        if not file.name.endswith(("-wal", "-shm", "-journal"))  # folded in by the SQLite snapshot
    ]
    with tempfile.TemporaryDirectory(dir=target_dir, prefix=".state-snapshot-") as scratch:
        snapshots: list[tuple[str, Path]] = []
        for member, file in [*state, *logs]:
            copy = Path(scratch) / member
            _snapshot(file, copy)
            snapshots.append((member, copy))
        return _write_archive(paths, clock, keep, STATE_PREFIX, snapshots)


def _write_archive(
    paths: PathsSettings, clock: Clock, keep: int, prefix: str, files: Iterable[tuple[str, Path]]
) -> BackupInfo:
    """`files` as `<prefix><UTC>.tar.gz` with its manifest, fsynced; only the newest `keep` of that
    prefix are kept."""
    target_dir = paths.resolve(paths.backups_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    stamp = clock.now_utc().strftime("%Y%m%dT%H%M%SZ")
    target = target_dir / f"{prefix}{stamp}.tar.gz"
    entries: list[dict[str, Any]] = []
    total = 0
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    with tarfile.open(temporary, "w:gz") as archive:
        for member, file in files:
            size = file.stat().st_size
            entries.append({"path": member, "bytes": size, "sha256": _sha256(file)})
            archive.add(file, arcname=member, recursive=False)
            total += size
        manifest = orjson.dumps(
            {"created_utc": iso_utc(clock.now_utc()), "files": entries}, option=orjson.OPT_INDENT_2
        )
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(manifest)
        archive.addfile(info, io.BytesIO(manifest))
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    atomic_write_bytes(target.with_suffix("").with_suffix(".manifest.json"), manifest)
    fsync_directory(target_dir)
    for old in list_backups(paths, prefix)[:-keep]:
        old.unlink(missing_ok=True)
        old.with_suffix("").with_suffix(".manifest.json").unlink(missing_ok=True)
    return BackupInfo(target, len(entries), total)


def list_backups(paths: PathsSettings, prefix: str = PREFIX) -> list[Path]:
    directory = paths.resolve(paths.backups_dir)
    return sorted(directory.glob(f"{prefix}*.tar.gz")) if directory.is_dir() else []


def _is_state_backup(path: Path) -> bool:
    return path.name.startswith(STATE_PREFIX)


def _members(path: Path) -> tuple[str, ...]:
    """The top-level names an archive of this kind may hold."""
    return ("state", "logs") if _is_state_backup(path) else ("raw", "timeframes", "instruments")


def _safe(member: str, roots: tuple[str, ...]) -> bool:
    pure = PurePosixPath(member)
    return (
        not pure.is_absolute()
        and ".." not in pure.parts
        and (pure.parts[:1] == (MANIFEST,) or pure.parts[:1] in {(root,) for root in roots})
    )


def verify_backup(path: Path) -> list[str]:
    """Every problem found; an empty list means the archive is complete and intact."""
    problems: list[str] = []
    try:
        with tarfile.open(path, "r:gz") as archive:
            members = {member.name: member for member in archive.getmembers()}
            if MANIFEST not in members:
                return [f"{path.name}: no {MANIFEST}"]
            handle = archive.extractfile(members[MANIFEST])
            assert handle is not None
            manifest = orjson.loads(handle.read())
            listed = {entry["path"] for entry in manifest["files"]}
            for name, member in members.items():
                if not _safe(name, _members(path)) or not (member.isfile() or member.isdir()):
                    problems.append(f"unsafe member {name!r}")
                elif name != MANIFEST and member.isfile() and name not in listed:
                    problems.append(f"{name}: not in the manifest")
            for entry in manifest["files"]:
                found = members.get(entry["path"])
                if found is None:
                    problems.append(f"{entry['path']}: missing from the archive")
                    continue
                data = archive.extractfile(found)
                if data is None:
                    problems.append(f"{entry['path']}: unreadable")
                    continue
                if hashlib.sha256(data.read()).hexdigest() != entry["sha256"]:
                    problems.append(f"{entry['path']}: checksum mismatch")
    except (OSError, tarfile.TarError, EOFError, orjson.JSONDecodeError, KeyError) as exc:
        problems.append(f"{path.name}: unreadable archive ({type(exc).__name__}: {exc})")
    return problems


def restore_backup(path: Path, paths: PathsSettings, clock: Clock) -> list[Path]:
    """Verify, extract next to the data, then swap directories in. Returns the set-aside copies."""
    if not path.is_file():
        raise UserError(f"backup {path} does not exist")
    problems = verify_backup(path)
    if problems:
        raise UserError(f"backup {path.name} failed verification: " + "; ".join(problems[:5]))
    root = paths.data_root
    root.mkdir(parents=True, exist_ok=True)
    stamp = clock.now_utc().strftime("%Y%m%dT%H%M%SZ")
    kept: list[Path] = []
    with tempfile.TemporaryDirectory(dir=root, prefix=".restore-") as scratch:
        with tarfile.open(path, "r:gz") as archive:
            archive.extractall(scratch, filter="data")
        restored = {"state": paths.resolve(paths.state_dir)} if _is_state_backup(path) else _sources(paths)
        for name, directory in restored.items():
            extracted = Path(scratch) / name
            if not extracted.is_dir():
                continue
            if directory.exists():
                aside = directory.with_name(f"{directory.name}.pre-restore-{stamp}")
                os.replace(directory, aside)
                kept.append(aside)
            directory.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(extracted), str(directory))
        fsync_directory(root)
    return kept
