"""Small bar builders for strategy unit tests."""

from __future__ import annotations

from datetime import date, time, timedelta

from optbot.core.enums import Timeframe
from optbot.core.events import Bar
from optbot.core.timeutil import ist_datetime, to_utc


def daily_series(
    closes: list[float], start: date = date(2023, 1, 2), volumes: list[int] | None = None
) -> list[Bar]:
    bars = []
    previous = closes[0]
    for index, close in enumerate(closes):
        day = start + timedelta(days=index)
        opened, ended = ist_datetime(day, time(9, 15)), ist_datetime(day, time(15, 30))
        high = max(previous, close) * 1.002
        low = min(previous, close) * 0.998
        volume = volumes[index] if volumes else 0
        bars.append(
            Bar(
                to_utc(ended),
                "X",
                "X",
                Timeframe.D1,
                to_utc(opened),
                to_utc(ended),
                previous,
                high,
                low,
                close,
                volume,
            )
        )
        previous = close
    return bars
