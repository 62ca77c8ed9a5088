"""getCandleData rows (reference §4) aggregated from the replay's own tick paths.

Rows are `[iso_start_with_+05:30, open, high, low, close, volume]`, buckets anchored at the 09:15
session open, both request bounds inclusive on the candle start. Because the tick paths hit every
source bar's O/H/L/C exactly, candles at the source resolution reproduce the source bars and
coarser candles aggregate them exactly; finer candles are the replay's own synthetic detail.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optbot.core.errors import UserError
from optbot.core.timeutil import IST

INTERVAL_SECONDS: dict[str, int] = {
    "ONE_MINUTE": 60,
    "THREE_MINUTE": 180,
    "FIVE_MINUTE": 300,
    "TEN_MINUTE": 600,
    "FIFTEEN_MINUTE": 900,
    "THIRTY_MINUTE": 1800,
    "ONE_HOUR": 3600,
    "ONE_DAY": 86400,
}


class CandleRequestError(UserError):
    """An interval or range the real API refuses (the REST layer answers HTTP 400 / AB codes)."""


def interval_seconds(interval: str) -> int:
    try:
        return INTERVAL_SECONDS[interval]
    except KeyError:
        known = ", ".join(INTERVAL_SECONDS)
        raise CandleRequestError(f"unknown candle interval {interval!r}; expected one of {known}") from None


def candle_timestamp(moment_epoch: float) -> str:
    """ISO-8601 with the +05:30 offset, as the API stamps candle starts."""
    return datetime.fromtimestamp(moment_epoch, tz=UTC).astimezone(IST).isoformat()


def aggregate_ticks(
    times: NDArray[np.float64],
    prices: NDArray[np.float64],
    session_open_epoch: float,
    bucket_seconds: int,
) -> list[tuple[float, float, float, float, float]]:
    """(start_epoch, open, high, low, close) for every bucket that has ticks, in time order."""
    if times.size == 0:
        return []
    buckets = np.floor((times - session_open_epoch) / bucket_seconds).astype(np.int64)
    change = np.flatnonzero(np.diff(buckets)) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [times.size]))
    highs = np.maximum.reduceat(prices, starts)
    lows = np.minimum.reduceat(prices, starts)
    return [
        (
            session_open_epoch + float(buckets[first]) * bucket_seconds,
            float(prices[first]),
            float(highs[index]),
            float(lows[index]),
            float(prices[last - 1]),
        )
        for index, (first, last) in enumerate(zip(starts, ends, strict=True))
    ]


def candle_row(
    start_epoch: float, open_: float, high: float, low: float, close: float, volume: int
) -> list[Any]:
    return [
        candle_timestamp(start_epoch),
        round(open_, 2),
        round(high, 2),
        round(low, 2),
        round(close, 2),
        volume,
    ]
