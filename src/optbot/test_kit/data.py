"""Builders for ticks, bars and a bar collector, for tests of anything downstream of market data."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from optbot.broker.models import Candle
from optbot.calendar import NseCalendar, Segment
from optbot.core.enums import Exchange, Timeframe
from optbot.core.events import Bar, Tick
from optbot.core.timeutil import IST, to_utc


def ist(year: int, month: int, day: int, hour: int, minute: int, second: float = 0.0) -> datetime:
    whole = int(second)
    return datetime(year, month, day, hour, minute, whole, int((second - whole) * 1e6), tzinfo=IST)


def make_tick(
    token: str,
    ltp: float,
    at: datetime,
    symbol: str = "NIFTY",
    volume: int | None = None,
    exchange: Exchange = Exchange.NSE,
    open_interest: int | None = None,
) -> Tick:
    return Tick(
        ts_utc=to_utc(at),
        token=token,
        exchange=exchange,
        symbol=symbol,
        ltp=ltp,
        ts_exchange=at,
        volume=volume,
        open_interest=open_interest,
    )


def random_walk_ticks(
    token: str, start: datetime, seconds: int, per_second: int, price: float = 24500.0, seed: int = 1
) -> Iterator[Tick]:
    """Deterministic ticks, `per_second` of them each second, as a random walk."""
    generator = random.Random(seed)
    volume = 0
    for second in range(seconds):
        for index in range(per_second):
            price = max(0.05, price + generator.uniform(-1.0, 1.0))
            volume += generator.randint(1, 50)
            at = start + timedelta(seconds=second + index / per_second)
            yield make_tick(token, round(price, 2), at, volume=volume)


def make_bar(
    start: datetime,
    close: float,
    token: str = "99926000",
    symbol: str = "NIFTY",
    timeframe: Timeframe = Timeframe.M1,
    volume: int = 0,
) -> Bar:
    start_utc = to_utc(start)
    end_utc = start_utc + timedelta(seconds=timeframe.seconds)
    return Bar(
        ts_utc=end_utc,
        token=token,
        symbol=symbol,
        timeframe=timeframe,
        start_utc=start_utc,
        end_utc=end_utc,
        open=close - 1,
        high=close + 2,
        low=close - 3,
        close=close,
        volume=volume,
    )


def make_range_bar(
    start: datetime, low: float, high: float, volume: int = 0, token: str = "99926000", symbol: str = "NIFTY"
) -> Bar:
    """A 1-minute bar spanning [low, high], rising (open at the low, close at the high): a profile's input."""
    start_utc = to_utc(start)
    end_utc = start_utc + timedelta(minutes=1)
    return Bar(end_utc, token, symbol, Timeframe.M1, start_utc, end_utc, low, high, low, high, volume)


@dataclass
class BarCollector:
    """An `on_bar` callback that remembers what it was given."""

    bars: list[Bar] = field(default_factory=list)

    def __call__(self, bar: Bar) -> None:
        self.bars.append(bar)

    def of(self, timeframe: Timeframe, token: str | None = None) -> list[Bar]:
        return [b for b in self.bars if b.timeframe is timeframe and (token is None or b.token == token)]


class FakeCandleSource:
    """`Broker.candles` over a deterministic minute series; fails the first `fail_first` calls."""

    def __init__(self, calendar: NseCalendar, fail_first: int = 0, error: Exception | None = None) -> None:
        self.calendar = calendar
        self.calls: list[tuple[str, datetime, datetime]] = []
        self.fail_first = fail_first
        self.error = error

    async def candles(
        self, exchange: Exchange, token: str, interval: str, start: datetime, end: datetime
    ) -> list[Candle]:
        self.calls.append((interval, start, end))
        if len(self.calls) <= self.fail_first and self.error is not None:
            raise self.error
        step = {"ONE_MINUTE": 60, "FIVE_MINUTE": 300, "FIFTEEN_MINUTE": 900, "ONE_HOUR": 3600}.get(interval)
        candles: list[Candle] = []
        day = start.astimezone(IST).date()
        while day <= end.astimezone(IST).date():
            session = self.calendar.session(day, Segment.EQUITY) if self.calendar.covers(day) else None
            if session is not None:
                moments = [session.open] if step is None else []
                if step is not None:
                    moment = session.open
                    while moment < session.close:
                        moments.append(moment)
                        moment += timedelta(seconds=step)
                for moment in moments:
                    if start <= moment <= end:
                        price = 20000.0 + (moment.timestamp() % 86400) / 60.0
                        candles.append(Candle(moment, price, price + 5, price - 5, price + 1, 100))
            day += timedelta(days=1)
        return candles
