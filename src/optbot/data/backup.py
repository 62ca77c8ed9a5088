"""Data backups (spec §1.5 'Backup Operations', §8.3): compressed snapshot + manifest + checksums.

`optbot-data-<UTC>.tar.gz` holds `raw/`, `timeframes/` and `instruments/` plus `MANIFEST.json`
(size and SHA-256 per file). Restore verifies every checksum and refuses unsafe member paths before
touching anything; the current directories are kept aside as `<dir>.pre-restore-<UTC>` so a restore
can itself be undone.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
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


def create_backup(paths: PathsSettings, clock: Clock, keep: int) -> BackupInfo:
    target_dir = paths.resolve(paths.backups_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    stamp = clock.now_utc().strftime("%Y%m%dT%H%M%SZ")
    target = target_dir / f"{PREFIX}{stamp}.tar.gz"
    entries: list[dict[str, Any]] = []
    total = 0
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    with tarfile.open(temporary, "w:gz") as archive:
        for name, directory in _sources(paths).items():
            if not directory.is_dir():
                continue
            for file in sorted(directory.rglob("*")):
                if not file.is_file() or (file.name.startswith(".") and ".tmp-" in file.name):
                    continue
                member = f"{name}/{file.relative_to(directory).as_posix()}"
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
    for old in list_backups(paths)[:-keep]:
        old.unlink(missing_ok=True)
        old.with_suffix("").with_suffix(".manifest.json").unlink(missing_ok=True)
    return BackupInfo(target, len(entries), total)


def list_backups(paths: PathsSettings) -> list[Path]:
    directory = paths.resolve(paths.backups_dir)
    return sorted(directory.glob(f"{PREFIX}*.tar.gz")) if directory.is_dir() else []


def _safe(member: str) -> bool:
    pure = PurePosixPath(member)
    return (
        not pure.is_absolute()
        and ".." not in pure.parts
        and pure.parts[:1]
        in (
            ("raw",),
            ("timeframes",),
            ("instruments",),
            (MANIFEST,),
        )
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
                if not _safe(name) or not (member.isfile() or member.isdir()):
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
        for name, directory in _sources(paths).items():
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
