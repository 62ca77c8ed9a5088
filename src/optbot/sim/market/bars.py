"""Loaders for the sample index bars the replay is built from (`data/sample/`).

Minimal but strict: every row is checked, timestamps become aware UTC datetimes, and intraday days
that are not a clean session (wrong bar count, times off the grid, impossible OHLC) are reported and
left out rather than trusted, so the replay falls back to the next coarser source for that day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

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


def group_sessions(bars: list[SourceBar], bar_seconds: int, allow_missing: bool) -> IntradaySeries:
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
