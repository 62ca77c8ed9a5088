"""Per-index history for the replay: which bars drive a day, previous close, 52-week range, tick paths.

Each day uses the finest clean source a data root's JSON store holds (1-minute, 5-minute, 15-minute,
then the daily bar spread over the session), so gaps and malformed days degrade gracefully. The near
futures' bars (`NIFTY-I`, ...) are read here too, as traded, for the option model's forward
(`StoredFutures`, handed to `optbot.analytics.futures_forward.FuturesForward`).
"""

from __future__ import annotations

import zlib
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, timedelta

import numpy as np
from numpy.typing import NDArray

from optbot.analytics.futures_forward import futures_name
from optbot.analytics.synthetic import last_week_return
from optbot.calendar import NseCalendar, Segment
from optbot.core.enums import Timeframe
from optbot.core.events import Bar
from optbot.core.timeutil import ist_date
from optbot.data.store import JsonStore, store_symbol
from optbot.sim.market.bars import DailyBar, IntradaySeries, SourceBar, group_sessions
from optbot.sim.market.paths import bar_tick_path

WEEK52_DAYS = 365
STORE_INTRADAY = (Timeframe.M1, Timeframe.M3, Timeframe.M5, Timeframe.M15)  # finest first
_PATH_CACHE_DAYS = 8


@dataclass(frozen=True, slots=True)
class DayPath:
    """One day's ticks for an index: epoch-second times (UTC) and prices, plus the bars they honour."""

    day: date
    times: NDArray[np.float64]
    prices: NDArray[np.float64]
    bars: tuple[SourceBar, ...]
    source: str  # "1m", "15m" or "daily"


class IndexHistory:
    """Everything the replay needs to know about one index's past."""

    def __init__(
        self,
        name: str,
        daily: dict[date, DailyBar],
        intraday: tuple[tuple[str, IntradaySeries], ...],
        calendar: NseCalendar,
        seed: int,
        tick_seconds: float,
        noise_fraction: float,
    ) -> None:
        self.name = name
        self.daily = daily
        self.intraday = intraday
        self.calendar = calendar
        self.seed = seed
        self.tick_seconds = tick_seconds
        self.noise_fraction = noise_fraction
        self._days = sorted(daily)
        self._paths: OrderedDict[date, DayPath | None] = OrderedDict()

    @classmethod
    def from_store(
        cls, name: str, store: JsonStore, calendar: NseCalendar, seed: int, tick_seconds: float, noise: float
    ) -> IndexHistory:
        """The index's bars as a data root's JSON store holds them (imported, downloaded or recorded):
        the daily bars, and each intraday timeframe stored, finest first."""
        symbol = store_symbol(name)
        daily = {
            ist_date(bar.start_utc): DailyBar(ist_date(bar.start_utc), bar.open, bar.high, bar.low, bar.close)
            for bar in store.read_bars(symbol, Timeframe.D1)
        }
        intraday: list[tuple[str, IntradaySeries]] = []
        for timeframe in STORE_INTRADAY:
            if not store.bar_path(symbol, timeframe).exists():
                continue
            bars = [
                SourceBar(
                    bar.start_utc, timeframe.seconds, bar.open, bar.high, bar.low, bar.close, bar.volume
                )
                for bar in store.read_bars(symbol, timeframe)
            ]
            series = group_sessions(bars, timeframe.seconds, allow_missing=timeframe is Timeframe.M1)
            intraday.append((timeframe.value, series))
        return cls(name, daily, tuple(intraday), calendar, seed, tick_seconds, noise)

    def previous_close(self, day: date) -> float | None:
        """The official close of the last session before `day`."""
        index = np.searchsorted(np.array(self._days, dtype="datetime64[D]"), np.datetime64(day)) - 1
        return self.daily[self._days[int(index)]].close if index >= 0 else None

    def week52_range(self, day: date) -> tuple[float, float] | None:
        """High and low of the daily bars in the year before `day` (today's range is added live)."""
        first = day - timedelta(days=WEEK52_DAYS)
        window = [bar for bar_day, bar in self.daily.items() if first <= bar_day < day]
        if not window:
            return None
        return max(bar.high for bar in window), min(bar.low for bar in window)

    def source_bars(self, day: date) -> tuple[str, tuple[SourceBar, ...]] | None:
        """The finest clean bars for the day, or the daily bar spread over the equity session."""
        for label, series in self.intraday:
            bars = series.days.get(day)
            if bars:
                return label, bars
        daily = self.daily.get(day)
        if daily is None or not self.calendar.covers(day):
            return None
        session = self.calendar.session(day, Segment.EQUITY)
        if session is None:
            return None
        start = session.open.astimezone(UTC)
        seconds = int((session.close - session.open).total_seconds())
        return "daily", (SourceBar(start, seconds, daily.open, daily.high, daily.low, daily.close),)

    def day_path(self, day: date) -> DayPath | None:
        if day in self._paths:
            self._paths.move_to_end(day)
            return self._paths[day]
        path = self._build_path(day)
        self._paths[day] = path
        while len(self._paths) > _PATH_CACHE_DAYS:
            self._paths.popitem(last=False)
        return path

    def _build_path(self, day: date) -> DayPath | None:
        found = self.source_bars(day)
        if found is None:
            return None
        label, bars = found
        rng = np.random.default_rng([self.seed, zlib.crc32(self.name.encode()), day.toordinal()])
        times: list[NDArray[np.float64]] = []
        prices: list[NDArray[np.float64]] = []
        for bar in bars:
            ticks = max(4, round(bar.seconds / self.tick_seconds))
            step = bar.seconds / ticks
            start = bar.start.timestamp()
            times.append(start + step * np.arange(ticks, dtype=np.float64))
            prices.append(
                bar_tick_path(
                    round(bar.open, 2),
                    round(bar.high, 2),
                    round(bar.low, 2),
                    round(bar.close, 2),
                    ticks,
                    rng,
                    self.noise_fraction,
                )
            )
        return DayPath(day, np.concatenate(times), np.concatenate(prices), bars, label)


class StoredFutures:
    """The near futures' stored intraday bars by IST day, each file read once (a `FutureBarSource`).

    A day's bars are those of the finest timeframe stored for it, whole or partial: the forward is
    taken only from a bar that closed within one bar's length of the moment priced, so a gap in a
    future's day leaves those minutes to the index, as in a backtest of the same data root.
    """

    def __init__(self, store: JsonStore) -> None:
        self.store = store
        self._series: dict[tuple[str, Timeframe], dict[date, tuple[Bar, ...]]] = {}

    def _by_day(self, symbol: str, timeframe: Timeframe) -> dict[date, tuple[Bar, ...]]:
        key = (symbol, timeframe)
        found = self._series.get(key)
        if found is None:
            grouped: dict[date, list[Bar]] = {}
            if self.store.bar_path(symbol, timeframe).exists():
                for bar in self.store.read_bars(symbol, timeframe):
                    grouped.setdefault(ist_date(bar.start_utc), []).append(bar)
            found = self._series[key] = {day: tuple(bars) for day, bars in grouped.items()}
        return found

    def future_bars(self, name: str, day: date) -> tuple[Bar, ...]:
        symbol = store_symbol(futures_name(name))
        for timeframe in STORE_INTRADAY:
            bars = self._by_day(symbol, timeframe).get(day)
            if bars:
                return bars
        return ()


class HistoryReturns:
    """The underlyings' recent returns (`optbot.analytics.synthetic.RecentReturns`) over the replay's
    index histories, by the bar backtest's rule (`StoreHistory.recent_return`): ln(last close before
    the day / the close `RECENT_RETURN_SESSIONS` stored sessions before it), each close the index's
    daily bar, else its last clean intraday bar. So the simulator quotes an option as a backtest of
    the same data root values it, after a fall as on a quiet week."""

    def __init__(self, histories: Mapping[str, IndexHistory], source: str) -> None:
        self._histories = {name.upper(): history for name, history in histories.items()}
        self._source = source
        self._days: dict[str, list[date]] = {}

    @property
    def identity(self) -> str:
        return f"replay {self._source}"

    def recent_return(self, underlying: str, day: date) -> float | None:
        history = self._histories.get(underlying.upper())
        if history is None:
            return None
        held = self._stored_days(underlying.upper(), history)
        return last_week_return(
            _session_close(history, earlier) for earlier in reversed(held[: bisect_left(held, day)])
        )

    def _stored_days(self, name: str, history: IndexHistory) -> list[date]:
        found = self._days.get(name)
        if found is None:
            days = set(history.daily)
            for _label, series in history.intraday:
                days.update(series.days)
            found = self._days[name] = sorted(days)
        return found


def _session_close(history: IndexHistory, day: date) -> float | None:
    daily = history.daily.get(day)
    if daily is not None:
        return daily.close
    for _label, series in history.intraday:  # finest first
        bars = series.days.get(day)
        if bars:
            return bars[-1].close
    return None
