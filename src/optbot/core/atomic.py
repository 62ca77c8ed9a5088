"""Crash-safe file writes: temp file in the same directory, fsync, rename, fsync the directory.

A reader never sees a half-written file: it sees the old content or the new, never a mix.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

#: What a write interrupted by a crash (or a kill -9) leaves behind: `atomic_write_bytes`'s
#: `.NAME.tmp-PID`, the calendar cache's `NAME.PID.tmp`, and the scratch directories of backups and
#: restores (`.state-snapshot-*`, `.restore-*`).
LEFTOVER = re.compile(r"^\..+\.tmp-\d+$|^.+\.\d+\.tmp$|^\.(state-snapshot|restore)-")


def fsync_directory(directory: Path) -> None:
    """Make a rename durable; some filesystems refuse to open directories, which is harmless."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with temporary.open("wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    fsync_directory(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def clear_leftovers(root: Path, now: datetime, older_than: timedelta) -> list[Path]:
    """Spec §1.5/§8.3 'clean up temporary files': remove what interrupted writes left under `root`
    (`LEFTOVER`), only when last modified more than `older_than` before `now`, so a write another
    optbot process is doing right now is never touched. Returns what was removed."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    cutoff = (now - older_than).timestamp()
    for path in sorted(root.rglob("*")):
        if not LEFTOVER.match(path.name) or not path.exists():
            continue
        with contextlib.suppress(OSError):
            if path.stat().st_mtime >= cutoff:
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed
