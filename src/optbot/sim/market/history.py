"""Per-index history for the replay: which bars drive a day, previous close, 52-week range, tick paths.

Each day uses the finest clean source available (1-minute, then 15-minute, then the daily bar
spread over the session), so the sample data's gaps and malformed days degrade gracefully.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from optbot.calendar import NseCalendar, Segment
from optbot.sim.market.bars import (
    DailyBar,
    IntradaySeries,
    SourceBar,
    load_daily,
    load_ist_intraday,
    load_yahoo_intraday,
)
from optbot.sim.market.paths import bar_tick_path

WEEK52_DAYS = 365
_PATH_CACHE_DAYS = 8


@dataclass(frozen=True, slots=True)
class IndexFiles:
    """Sample files for one index, relative to the replay data directory."""

    daily: str
    intraday_1m: str | None = None
    intraday_15m: str | None = None


SAMPLE_FILES: dict[str, IndexFiles] = {
    "NIFTY": IndexFiles(
        daily="daily/nifty50_daily_merged_2016-09-15_to_2025-09-10.csv",
        intraday_1m="intraday/nifty50_1min_yf_2025-09-04_to_2025-09-10.csv",
        intraday_15m="intraday/nifty50_15min_2015-01-09_to_2024-12-31.csv",
    ),
    "BANKNIFTY": IndexFiles(daily="daily/banknifty_daily_merged_2016-09-15_to_2025-09-10.csv"),
    "INDIA VIX": IndexFiles(
        daily="daily/indiavix_daily_merged_2015-01-01_to_2025-09-10.csv",
        intraday_15m="intraday/indiavix_15min_2015-01-09_to_2024-12-31.csv",
    ),
}


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
    def from_sample(
        cls, name: str, data_dir: Path, calendar: NseCalendar, seed: int, tick_seconds: float, noise: float
    ) -> IndexHistory:
        files = SAMPLE_FILES[name]
        intraday: list[tuple[str, IntradaySeries]] = []
        if files.intraday_1m:
            intraday.append(("1m", load_yahoo_intraday(data_dir / files.intraday_1m, 60)))
        if files.intraday_15m:
            intraday.append(("15m", load_ist_intraday(data_dir / files.intraday_15m, 900)))
        daily = load_daily(data_dir / files.daily)
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
