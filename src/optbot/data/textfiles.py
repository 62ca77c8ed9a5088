"""Opening vendor CSV files: plain or gzip-compressed (vendors often ship `.csv.gz`), BOM-tolerant."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import TextIO

from optbot.core.errors import UserError

GZIP_MAGIC = b"\x1f\x8b"


def open_text(path: Path) -> TextIO:
    """A text handle on a CSV, gunzipped transparently whatever the file is called."""
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == GZIP_MAGIC:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def read_header(path: Path) -> list[str]:
    """The first CSV row, or a `UserError` naming the file when it cannot be read."""
    try:
        with open_text(path) as handle:
            return next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None


def read_lines(path: Path) -> list[str]:
    """Every line of a text file (plain or gzip)."""
    try:
        with open_text(path) as handle:
            return handle.read().splitlines()
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
