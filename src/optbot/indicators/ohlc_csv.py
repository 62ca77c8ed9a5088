"""Read an OHLC(V) CSV in any of the sample layouts, for `optbot indicators` and tests.

Recognised by header, not by file name: NSE history (`Date,Open,High,Low,Close,Volume`), the merged
files (`date,open,high,low,close,source`), Yahoo's column order (`Date,Close,High,Low,Open,Volume`),
Yahoo's multi-index download (`Price,...` / `Ticker,...` / `Datetime,...` header lines) and the
intraday files (`date,open,high,low,close,volume`). Column order never matters; names do.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from optbot.core.errors import UserError

_DATE_COLUMNS = ("date", "datetime", "timestamp", "time", "price")
_REQUIRED = ("open", "high", "low", "close")
_YAHOO_EXTRA_HEADER_FIRST_CELLS = ("ticker", "datetime", "date")


@dataclass(frozen=True, slots=True)
class OhlcSeries:
    """Columns as arrays; `dates` keeps the file's own text (dates or timestamps)."""

    dates: tuple[str, ...]
    open: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]
    volume: npt.NDArray[np.float64]
    has_volume: bool

    def __len__(self) -> int:
        return len(self.dates)


def _parse_number(text: str, column: str, line_number: int, path: Path) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{path}: line {line_number}: column {column!r} is not a number: {text!r}") from None
    if not math.isfinite(value):
        raise UserError(f"{path}: line {line_number}: column {column!r} is not finite: {text!r}")
    return value


def read_ohlc_csv(path: Path) -> OhlcSeries:
    """Parse the file; any problem is a `UserError` naming the file, the line and the column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, expected a CSV file") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text CSV file (not UTF-8)") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise UserError(f"{path}: file is empty")
    header = [cell.strip().lower() for cell in rows[0]]
    first_data_line = 1
    # Yahoo multi-index: the first header cell is "Price" and extra header lines follow.
    while (
        first_data_line < len(rows)
        and rows[first_data_line]
        and rows[first_data_line][0].strip().lower() in _YAHOO_EXTRA_HEADER_FIRST_CELLS
        and not any(cell.strip() and _is_number(cell) for cell in rows[first_data_line][1:])
    ):
        first_data_line += 1
    missing = [name for name in _REQUIRED if name not in header]
    if missing:
        raise UserError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(rows[0]) or 'no columns'}"
        )
    date_index = next((header.index(name) for name in _DATE_COLUMNS if name in header), 0)
    indices = {name: header.index(name) for name in _REQUIRED}
    volume_index = header.index("volume") if "volume" in header else None
    dates: list[str] = []
    columns: dict[str, list[float]] = {name: [] for name in (*_REQUIRED, "volume")}
    for offset, row in enumerate(rows[first_data_line:], start=first_data_line + 1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise UserError(f"{path}: line {offset}: expected {len(header)} columns, found {len(row)}")
        stamp = row[date_index].strip()
        if dates and stamp <= dates[-1]:
            raise UserError(
                f"{path}: line {offset}: date {stamp!r} does not follow {dates[-1]!r}; expected one price "
                "series in increasing time order (an option chain or unsorted/duplicated rows?)"
            )
        dates.append(stamp)
        for name, index in indices.items():
            columns[name].append(_parse_number(row[index], name, offset, path))
        volume = _parse_number(row[volume_index], "volume", offset, path) if volume_index is not None else 0.0
        columns["volume"].append(volume)
        high, low = columns["high"][-1], columns["low"][-1]
        if high < low:
            raise UserError(f"{path}: line {offset}: high {high} is below low {low}")
    if not dates:
        raise UserError(f"{path}: no data rows")
    return OhlcSeries(
        dates=tuple(dates),
        open=np.asarray(columns["open"]),
        high=np.asarray(columns["high"]),
        low=np.asarray(columns["low"]),
        close=np.asarray(columns["close"]),
        volume=np.asarray(columns["volume"]),
        has_volume=volume_index is not None,
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
