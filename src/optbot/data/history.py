"""History download through `Broker.candles` (getCandleData, spec §2.1-2.2, reference §4 and §7).

A request range is cut into windows no longer than the interval's per-request maximum; windows are
fetched under a rate limiter (3/s, 180/min by default) on the Clock and merged into the store
idempotently (same start = replaced, so re-running never duplicates). A checkpoint next to the bars
records the last finished window, so an interrupted download resumes where it stopped. Rate-limit and
transient errors back off and retry; a refused window is recorded and the rest continue.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import orjson

from optbot.broker.base import CandleInterval
from optbot.broker.errors import BrokerRejected, RateLimited, TransientError
from optbot.broker.models import Candle
from optbot.calendar import NseCalendar, Segment
from optbot.config.sections.data import DataSettings
from optbot.core.clock import Clock
from optbot.core.enums import Exchange, Timeframe
from optbot.core.events import Bar
from optbot.core.timeutil import ist_date, parse_iso, to_utc
from optbot.data.atomic import atomic_write_bytes
from optbot.data.store import JsonStore, store_symbol

log = logging.getLogger("optbot.data.history")

INTERVALS: dict[Timeframe, CandleInterval] = {
    Timeframe.M1: "ONE_MINUTE",
    Timeframe.M3: "THREE_MINUTE",
    Timeframe.M5: "FIVE_MINUTE",
    Timeframe.M15: "FIFTEEN_MINUTE",
    Timeframe.H1: "ONE_HOUR",
    Timeframe.D1: "ONE_DAY",
}
#: Reference §4: maximum days per getCandleData request, per interval.
MAX_DAYS_PER_REQUEST: dict[CandleInterval, int] = {
    "ONE_MINUTE": 30,
    "THREE_MINUTE": 60,
    "FIVE_MINUTE": 100,
    "TEN_MINUTE": 100,
    "FIFTEEN_MINUTE": 200,
    "THIRTY_MINUTE": 200,
    "ONE_HOUR": 400,
    "ONE_DAY": 2000,
}
MAX_ATTEMPTS = 5


class CandleSource(Protocol):
    """The one `Broker` method history needs (any `Broker` satisfies it)."""

    async def candles(
        self, exchange: Exchange, token: str, interval: CandleInterval, start: datetime, end: datetime
    ) -> list[Candle]: ...


class RateLimiter:
    """Sliding-window limits (per second and per minute) that wait on the Clock."""

    def __init__(self, clock: Clock, per_second: float, per_minute: int) -> None:
        self.clock = clock
        self.per_second = per_second
        self.per_minute = per_minute
        self._sent: deque[float] = deque()

    async def acquire(self) -> None:
        # `per_second` may be fractional: 0.5/s means one request per 2-second window.
        burst = max(1, int(self.per_second))
        window = burst / self.per_second
        while True:
            now = self.clock.monotonic()
            while self._sent and now - self._sent[0] >= 60.0:
                self._sent.popleft()
            recent = [moment for moment in self._sent if now - moment < window]
            wait = 0.0
            if len(recent) >= burst:
                wait = window - (now - recent[-burst])
            if len(self._sent) >= self.per_minute:
                wait = max(wait, 60.0 - (now - self._sent[0]))
            if wait <= 0:
                self._sent.append(now)
                return
            await self.clock.sleep(wait)


@dataclass(frozen=True, slots=True)
class DownloadJob:
    symbol: str
    exchange: Exchange
    token: str
    timeframe: Timeframe
    start: datetime
    end: datetime

    def windows(self) -> list[tuple[datetime, datetime]]:
        span = timedelta(days=MAX_DAYS_PER_REQUEST[INTERVALS[self.timeframe]])
        windows: list[tuple[datetime, datetime]] = []
        cursor = self.start
        while cursor < self.end:
            stop = min(cursor + span, self.end)
            windows.append((cursor, stop))
            cursor = stop
        return windows


@dataclass(frozen=True, slots=True)
class DownloadProgress:
    job: DownloadJob
    windows_done: int
    windows_total: int
    bars: int


@dataclass
class DownloadResult:
    job: DownloadJob
    windows: int = 0
    skipped_windows: int = 0
    bars_received: int = 0
    added: int = 0
    replaced: int = 0
    failures: list[str] = field(default_factory=list)


def candle_to_bar(candle: Candle, symbol: str, token: str, timeframe: Timeframe) -> Bar:
    start = to_utc(candle.start)
    end = start + timedelta(seconds=timeframe.seconds)
    return Bar(
        ts_utc=end,
        token=token,
        symbol=symbol,
        timeframe=timeframe,
        start_utc=start,
        end_utc=end,
        open=candle.open,
        high=candle.high,
        low=candle.low,
        close=candle.close,
        volume=candle.volume,
    )


def candles_to_bars(
    candles: Iterable[Candle], symbol: str, token: str, timeframe: Timeframe, calendar: NseCalendar
) -> list[Bar]:
    """Closed bars from broker candles; a daily candle spans its equity session (it closes with it,
    not 24 h after midnight), so it is never offered to a strategy before the session ended."""
    bars = [candle_to_bar(candle, symbol, token, timeframe) for candle in candles]
    if timeframe is not Timeframe.D1:
        return bars
    return [_daily_bar_in_session(bar, calendar) for bar in bars]


def _daily_bar_in_session(bar: Bar, calendar: NseCalendar) -> Bar:
    day = ist_date(bar.start_utc)
    session = calendar.session(day, Segment.EQUITY) if calendar.covers(day) else None
    if session is None:
        return bar
    close = session.close_utc
    return replace(bar, ts_utc=close, start_utc=session.open_utc, end_utc=close)


class HistoryDownloader:
    def __init__(
        self,
        broker: CandleSource,
        store: JsonStore,
        clock: Clock,
        settings: DataSettings,
        on_progress: Callable[[DownloadProgress], None] | None = None,
    ) -> None:
        self.broker = broker
        self.store = store
        self.clock = clock
        self.settings = settings
        self.on_progress = on_progress
        self.limiter = RateLimiter(  # the broker counts requests per real second (Clock.realtime)
            clock.realtime(), settings.download_requests_per_second, settings.download_requests_per_minute
        )

    def checkpoint_path(self, job: DownloadJob) -> Path:
        folder = self.store.bar_path(job.symbol, job.timeframe).parent
        return folder / f".download-{job.timeframe.value}.json"

    def _resume_from(self, job: DownloadJob) -> datetime | None:
        path = self.checkpoint_path(job)
        try:
            state = orjson.loads(path.read_bytes())
            if state.get("token") != job.token or parse_iso(state["start"]) != job.start:
                return None
            return parse_iso(state["completed_until"])
        except (FileNotFoundError, orjson.JSONDecodeError, KeyError, ValueError):
            return None

    def _checkpoint(self, job: DownloadJob, completed_until: datetime) -> None:
        state = {
            "token": job.token,
            "start": job.start.isoformat(),
            "end": job.end.isoformat(),
            "completed_until": completed_until.isoformat(),
        }
        atomic_write_bytes(self.checkpoint_path(job), orjson.dumps(state))

    async def _fetch(self, job: DownloadJob, start: datetime, end: datetime) -> list[Candle]:
        delay = 1.0
        for attempt in range(1, MAX_ATTEMPTS + 1):
            await self.limiter.acquire()
            try:
                return await self.broker.candles(
                    job.exchange, job.token, INTERVALS[job.timeframe], start, end
                )
            except (RateLimited, TransientError) as exc:
                if attempt == MAX_ATTEMPTS:
                    raise
                log.warning("candles %s %s: %s; retry %d in %.0fs", job.symbol, start, exc, attempt, delay)
                await self.clock.sleep(delay)
                delay = min(delay * 2, 30.0)
        return []

    async def download(self, job: DownloadJob) -> DownloadResult:
        symbol = store_symbol(job.symbol)
        result = DownloadResult(job)
        windows = job.windows()
        resume = self._resume_from(job)
        for index, (start, end) in enumerate(windows, start=1):
            result.windows += 1
            if resume is not None and end <= resume:
                result.skipped_windows += 1
                continue
            try:
                candles = await self._fetch(job, start, end)
            except (BrokerRejected, RateLimited, TransientError) as exc:
                message = f"{start.isoformat()}..{end.isoformat()}: {type(exc).__name__}: {exc}"
                log.error("history window failed for %s %s", symbol, message)
                result.failures.append(message)
                continue
            bars = [candle_to_bar(candle, symbol, job.token, job.timeframe) for candle in candles]
            result.bars_received += len(bars)
            if bars:
                merged = self.store.merge_bars(symbol, job.timeframe, bars)
                result.added += merged.added
                result.replaced += merged.replaced
            if not result.failures:
                self._checkpoint(job, end)
            if self.on_progress is not None:
                self.on_progress(DownloadProgress(job, index, len(windows), result.bars_received))
        return result
