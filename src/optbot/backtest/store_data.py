"""What a data root holds for a backtest: index and INDIA VIX bars from the §2.1 JSON store.

Whatever is in the store drives the replay (imported files, `optbot data download`, bars the live bot
recorded), whatever its source file was called. Each instrument and day uses the finest intraday
timeframe stored for that day (1m, then 5m, then 15m); a day with only a daily bar is replayed as one
bar spanning the session, a declared last resort the coverage table flags. Higher timeframes the
strategies read (5m, 15m, 1h, daily) are rolled up from the day's base bars on the session grid, as
the live bar pipeline builds them from 1-minute bars.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from optbot.calendar import NseCalendar, Segment
from optbot.config.sections.data import DataSettings
from optbot.config.sections.paths import PathsSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Timeframe
from optbot.core.events import Bar
from optbot.core.timeutil import ist_date
from optbot.data.store import JsonStore, store_symbol

#: Finest first. The store has no 3-minute timeframe (§2.1 lists 1m, 5m, 15m, 1h, daily).
INTRADAY_TIMEFRAMES: tuple[Timeframe, ...] = (Timeframe.M1, Timeframe.M5, Timeframe.M15)
ROLLED_TIMEFRAMES: tuple[Timeframe, ...] = (Timeframe.M5, Timeframe.M15, Timeframe.H1)
DAILY_SOURCE = "daily"


@dataclass(frozen=True, slots=True)
class IndexDay:
    """One instrument's bars for one session: the base bars that drive it and where they came from."""

    source: str  # "1m", "5m", "15m" or "daily"
    bars: tuple[Bar, ...]

    @property
    def is_daily_fallback(self) -> bool:
        return self.source == DAILY_SOURCE


def roll_up(bars: Sequence[Bar], timeframe: Timeframe, open_utc: datetime, close_utc: datetime) -> list[Bar]:
    """`bars` (one session, one finer timeframe, in order) rolled up to `timeframe` on the session grid
    (buckets from the open; the last one ends at the close). A bucket with a missing part is marked
    incomplete (the strategies' context refuses it, as it refuses the live pipeline's)."""
    if not bars:
        return []
    unit = bars[0].end_utc - bars[0].start_utc
    span = timedelta(seconds=timeframe.seconds)
    if unit >= span or span % unit:
        return []
    buckets: dict[int, list[Bar]] = {}
    for bar in bars:
        buckets.setdefault(int((bar.start_utc - open_utc) / span), []).append(bar)
    rolled: list[Bar] = []
    for index in sorted(buckets):
        parts = buckets[index]
        start = open_utc + index * span
        end = min(start + span, close_utc)
        expected = -(-(end - start) // unit)
        rolled.append(
            Bar(
                ts_utc=end,
                token=parts[0].token,
                symbol=parts[0].symbol,
                timeframe=timeframe,
                start_utc=start,
                end_utc=end,
                open=parts[0].open,
                high=max(part.high for part in parts),
                low=min(part.low for part in parts),
                close=parts[-1].close,
                volume=sum(part.volume for part in parts),
                open_interest=parts[-1].open_interest,
                complete=len(parts) == expected and all(part.complete for part in parts),
            )
        )
    return rolled


#: Parsed series by bar file, with the file's (mtime, size) when parsed: a changed file is read again.
_PARSED: dict[Path, tuple[tuple[int, int], dict[date, tuple[Bar, ...]]]] = {}


#: Sessions' bars (base, rolled up, daily) by data root, instrument and day, with the files' identity.
FilesIdentity = tuple[tuple[int, int], ...]
SessionBars = tuple[IndexDay, tuple[Bar, ...]]
_SESSIONS: dict[tuple[Path, str, date], tuple[FilesIdentity, SessionBars | None]] = {}


class StoreHistory:
    """Index/VIX bars of one data root, loaded once per instrument and timeframe, grouped by IST day."""

    def __init__(self, data_root: Path, calendar: NseCalendar, data: DataSettings | None = None) -> None:
        self.data_root = data_root
        self.calendar = calendar
        # The clock only stamps a quarantined corrupt file's name; reading never needs the wall clock.
        self.store = JsonStore(
            PathsSettings(data_root=data_root),
            data or DataSettings(),
            SimClock(datetime(2000, 1, 1, tzinfo=UTC)),
        )
        self._series: dict[tuple[str, Timeframe], dict[date, tuple[Bar, ...]]] = {}
        self._days: dict[str, list[date]] = {}

    def has(self, name: str) -> bool:
        return bool(self.store.timeframes(store_symbol(name)))

    def _by_day(self, name: str, timeframe: Timeframe) -> dict[date, tuple[Bar, ...]]:
        key = (store_symbol(name), timeframe)
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = self._load_by_day(key[0], timeframe)
        return found

    def _load_by_day(self, symbol: str, timeframe: Timeframe) -> dict[date, tuple[Bar, ...]]:
        """One stored series grouped by IST day, parsed once per process while the file is unchanged
        (an optimisation runs hundreds of backtests over the same data root: parsing the JSON store
        was over half of each one). Bars are frozen, so every reader can share them."""
        path = self.store.bar_path(symbol, timeframe)
        try:
            status = path.stat()
        except FileNotFoundError:
            return {}
        identity = (status.st_mtime_ns, status.st_size)
        cached = _PARSED.get(path.resolve())
        if cached is not None and cached[0] == identity:
            return cached[1]
        grouped: dict[date, list[Bar]] = {}
        bars, _report = self.store.load(symbol, timeframe)
        for bar in bars:
            # An import flags every bar of a day that misses some as incomplete; each stored
            # bar is still a whole bar (a missing one shows as an incomplete roll-up).
            whole = bar if bar.complete else replace(bar, complete=True)
            grouped.setdefault(ist_date(bar.start_utc), []).append(whole)
        found = {day: tuple(items) for day, items in grouped.items()}
        _PARSED[path.resolve()] = (identity, found)
        return found

    def days(self, name: str) -> list[date]:
        """Every day the store holds any bar for `name` (intraday or daily), in order."""
        found = self._days.get(name)
        if found is None:
            held: set[date] = set()
            for timeframe in (*INTRADAY_TIMEFRAMES, Timeframe.D1):
                held.update(self._by_day(name, timeframe))
            found = self._days[name] = sorted(held)
        return found

    def day(self, name: str, day: date) -> IndexDay | None:
        """The finest stored bars of `day`, else its daily bar spread over the session, else None."""
        for timeframe in INTRADAY_TIMEFRAMES:
            bars = self._by_day(name, timeframe).get(day)
            if bars:
                return IndexDay(timeframe.value, bars)
        daily = self._by_day(name, Timeframe.D1).get(day)
        session = self.calendar.session(day, Segment.EQUITY) if self.calendar.covers(day) else None
        if not daily or session is None:
            return None
        spread = replace(
            daily[-1], start_utc=session.open_utc, end_utc=session.close_utc, ts_utc=session.close_utc
        )
        return IndexDay(DAILY_SOURCE, (spread,))

    def daily_bar(self, name: str, day: date) -> Bar | None:
        """The stored daily bar (official OHLC) of `day`, if any."""
        found = self._by_day(name, Timeframe.D1).get(day)
        return found[-1] if found else None

    def previous_close(self, name: str, day: date) -> float | None:
        """The close of the last stored session before `day` (daily bar, else the last intraday bar)."""
        held = self.days(name)
        for earlier in reversed(held[: bisect_left(held, day)]):
            bar = self.daily_bar(name, earlier)
            if bar is not None:
                return bar.close
            found = self.day(name, earlier)
            if found is not None:
                return found.bars[-1].close
        return None

    def files_identity(self, name: str) -> FilesIdentity | None:
        """(mtime, size) of every bar file of `name`: what a cached session was built from. None
        means "do not cache" (a view that hides some of the files' bars, e.g. a bias check's cut)."""
        identity: list[tuple[int, int]] = []
        for timeframe in (*INTRADAY_TIMEFRAMES, Timeframe.D1):
            try:
                status = self.store.bar_path(store_symbol(name), timeframe).stat()
            except FileNotFoundError:
                identity.append((0, 0))
                continue
            identity.append((status.st_mtime_ns, status.st_size))
        return tuple(identity)

    def session_bars(self, name: str, day: date) -> tuple[IndexDay, list[Bar]] | None:
        """The day's base bars and every bar the strategies get from them (base, rolled-up
        intraday timeframes, and the daily bar), in close-time order. Built once per process while
        the files are unchanged (every trial of a search replays the same sessions)."""
        identity = self.files_identity(name)
        key = (self.data_root.resolve(), store_symbol(name), day)
        cached = _SESSIONS.get(key) if identity is not None else None
        if cached is not None and cached[0] == identity:
            built = cached[1]
        else:
            built = self._build_session_bars(name, day)
            if identity is not None:
                _SESSIONS[key] = (identity, built)
        return None if built is None else (built[0], list(built[1]))

    def _build_session_bars(self, name: str, day: date) -> SessionBars | None:
        found = self.day(name, day)
        session = self.calendar.session(day, Segment.EQUITY) if self.calendar.covers(day) else None
        if found is None or session is None:
            return None
        bars: list[Bar] = [] if found.is_daily_fallback else list(found.bars)
        if not found.is_daily_fallback:
            for timeframe in ROLLED_TIMEFRAMES:
                bars.extend(roll_up(found.bars, timeframe, session.open_utc, session.close_utc))
        daily = self.daily_bar(name, day)
        if daily is None:
            last = found.bars
            daily = Bar(
                ts_utc=session.close_utc,
                token=last[0].token,
                symbol=last[0].symbol,
                timeframe=Timeframe.D1,
                start_utc=session.open_utc,
                end_utc=session.close_utc,
                open=last[0].open,
                high=max(bar.high for bar in last),
                low=min(bar.low for bar in last),
                close=last[-1].close,
                volume=sum(bar.volume for bar in last),
            )
        else:
            daily = replace(
                daily, start_utc=session.open_utc, end_utc=session.close_utc, ts_utc=session.close_utc
            )
        bars.append(daily)
        bars.sort(key=lambda bar: (bar.end_utc, bar.timeframe.seconds))
        return found, tuple(bars)


__all__ = [
    "DAILY_SOURCE",
    "INTRADAY_TIMEFRAMES",
    "IndexDay",
    "StoreHistory",
    "roll_up",
]
