"""Loaders for the sample index bars the replay is built from (`data/sample/`).

Minimal but strict: every row is checked, timestamps become aware UTC datetimes, and intraday days
that are not a clean session (wrong bar count, times off the grid, impossible OHLC) are reported and
left out rather than trusted, so the replay falls back to the next coarser source for that day.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from optbot.core.errors import UserError
from optbot.core.timeutil import IST, ist_date

SESSION_OPEN_IST = time(9, 15)
SESSION_CLOSE_IST = time(15, 30)


class BarDataError(UserError):
    """A bar file is missing or unreadable; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class SourceBar:
    """One historical bar; `start` is aware UTC, `seconds` its length."""

    start: datetime
    seconds: int
    open: float
    high: float
    low: float
    close: float
    volume: int = 0

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)


@dataclass(frozen=True, slots=True)
class DailyBar:
    day: date
    open: float
    high: float
    low: float
    close: float


@dataclass
class IntradaySeries:
    """Clean intraday sessions keyed by IST date, plus the days rejected and why."""

    bar_seconds: int
    days: dict[date, tuple[SourceBar, ...]] = field(default_factory=dict)
    rejected: dict[date, str] = field(default_factory=dict)


def _read_rows(path: Path, skip: int) -> list[tuple[int, list[str]]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise BarDataError(f"{path}: bar file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BarDataError(f"{path}: cannot read bar file: {exc}") from None
    return [(number, row) for number, row in enumerate(rows, start=1) if number > skip and any(row)]


def _ohlc(path: Path, line: int, values: list[str]) -> tuple[float, float, float, float]:
    try:
        open_, high, low, close = (float(value) for value in values)
    except ValueError:
        raise BarDataError(f"{path}:{line}: OHLC values must be numbers, got {values}") from None
    # Vendor float noise can put the open or close a hair outside the range; widen, never shrink.
    return open_, max(high, open_, close), min(low, open_, close), close


def load_daily(path: Path) -> dict[date, DailyBar]:
    """`date,open,high,low,close[,...]` files (the `*_daily_merged_*` samples)."""
    rows = _read_rows(path, skip=0)
    if not rows or [name.strip().lower() for name in rows[0][1][:5]] != [
        "date",
        "open",
        "high",
        "low",
        "close",
    ]:
        raise BarDataError(f"{path}: expected header date,open,high,low,close")
    bars: dict[date, DailyBar] = {}
    for line, row in rows[1:]:
        try:
            day = date.fromisoformat(row[0].strip())
        except ValueError:
            raise BarDataError(f"{path}:{line}: bad date {row[0]!r}") from None
        open_, high, low, close = _ohlc(path, line, row[1:5])
        bars[day] = DailyBar(day, open_, high, low, close)
    return dict(sorted(bars.items()))


def load_yahoo_intraday(path: Path, bar_seconds: int = 60) -> IntradaySeries:
    """Yahoo multi-header CSV (Price/Ticker/Datetime lines; columns Close,High,Low,Open,Volume; UTC)."""
    rows = _read_rows(path, skip=0)
    if len(rows) < 4 or rows[0][1][:6] != ["Price", "Close", "High", "Low", "Open", "Volume"]:
        raise BarDataError(f"{path}: expected Yahoo header Price,Close,High,Low,Open,Volume")
    bars: list[SourceBar] = []
    for line, row in rows[3:]:
        try:
            start = datetime.fromisoformat(row[0].strip()).astimezone(UTC)
        except ValueError:
            raise BarDataError(f"{path}:{line}: bad timestamp {row[0]!r}") from None
        close, high, low, open_ = row[1:5]
        ohlc = _ohlc(path, line, [open_, high, low, close])
        volume = int(float(row[5] or 0))
        bars.append(SourceBar(start, bar_seconds, *ohlc, volume=volume))
    return _group_sessions(bars, bar_seconds, allow_missing=True)


def load_ist_intraday(path: Path, bar_seconds: int = 900) -> IntradaySeries:
    """`date,open,high,low,close,volume` with naive IST timestamps (the 15-minute samples)."""
    rows = _read_rows(path, skip=1)
    bars: list[SourceBar] = []
    for line, row in rows:
        try:
            start = datetime.fromisoformat(row[0].strip()).replace(tzinfo=IST).astimezone(UTC)
        except ValueError:
            raise BarDataError(f"{path}:{line}: bad timestamp {row[0]!r}") from None
        ohlc = _ohlc(path, line, row[1:5])
        bars.append(SourceBar(start, bar_seconds, *ohlc, volume=int(float(row[5] or 0))))
    return _group_sessions(bars, bar_seconds, allow_missing=False)


def _group_sessions(bars: list[SourceBar], bar_seconds: int, allow_missing: bool) -> IntradaySeries:
    """Keep days whose bars sit on the 09:15..15:30 grid, once each; report the rest."""
    by_day: dict[date, list[SourceBar]] = defaultdict(list)
    for bar in bars:
        by_day[ist_date(bar.start)].append(bar)
    expected = int((_minutes(SESSION_CLOSE_IST) - _minutes(SESSION_OPEN_IST)) * 60 // bar_seconds)
    series = IntradaySeries(bar_seconds)
    for day, day_bars in sorted(by_day.items()):
        problem = _session_problem(day, day_bars, bar_seconds, expected, allow_missing)
        if problem is None:
            series.days[day] = tuple(sorted(day_bars, key=lambda bar: bar.start))
        else:
            series.rejected[day] = problem
    return series


def _minutes(clock_time: time) -> int:
    return clock_time.hour * 60 + clock_time.minute


def _session_problem(
    day: date, bars: list[SourceBar], bar_seconds: int, expected: int, allow_missing: bool
) -> str | None:
    open_utc = datetime.combine(day, SESSION_OPEN_IST, tzinfo=IST).astimezone(UTC)
    slots: set[int] = set()
    for bar in bars:
        offset = (bar.start - open_utc).total_seconds()
        if offset < 0 or offset % bar_seconds or offset >= expected * bar_seconds:
            return f"bar at {bar.start.astimezone(IST).time()} IST is off the session grid"
        slot = int(offset // bar_seconds)
        if slot in slots:
            return f"duplicate bar at {bar.start.astimezone(IST).time()} IST"
        slots.add(slot)
    missing = expected - len(slots)
    # A feed that drops a bar or two is still a usable session; a half day is not.
    if missing and (not allow_missing or missing > max(1, expected // 20)):
        return f"{len(slots)} of {expected} bars"
    return None
