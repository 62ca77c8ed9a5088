"""Opening-gap detection (spec §2.4, §3.4): (open − previous close) / previous close, in percent.

The previous close comes from `timeframes/{SYMBOL}/daily.json` (the last daily bar before today);
the open is the session's first traded price. A gap above `opening_gap_pct` is returned so the token
pool can switch to gap mode and an alert can be raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from optbot.core.enums import Timeframe
from optbot.core.timeutil import IST
from optbot.data.store import JsonStore


@dataclass(frozen=True, slots=True)
class OpeningGap:
    symbol: str
    previous_close: float
    open: float
    gap_pct: float
    ts_utc: datetime

    @property
    def direction(self) -> str:
        return "up" if self.gap_pct > 0 else "down"


def gap_percent(open_price: float, previous_close: float) -> float:
    if previous_close <= 0 or open_price <= 0:
        raise ValueError(f"gap needs positive prices, got open={open_price} previous_close={previous_close}")
    return (open_price - previous_close) / previous_close * 100.0


def previous_close(store: JsonStore, symbol: str, before: date) -> float | None:
    """Close of the last stored daily bar dated before `before` (IST dates)."""
    for bar in reversed(store.read_bars(symbol, Timeframe.D1)):
        if bar.start_utc.astimezone(IST).date() < before:
            return bar.close
    return None


class OpeningGapDetector:
    """Checks each symbol once per session, on its first price."""

    def __init__(self, threshold_pct: float) -> None:
        self.threshold_pct = threshold_pct
        self._checked: set[tuple[str, date]] = set()
        self.last: dict[str, float] = {}

    def check(
        self, symbol: str, open_price: float, prior_close: float | None, at: datetime
    ) -> OpeningGap | None:
        day = at.astimezone(IST).date()
        if (symbol, day) in self._checked:
            return None
        self._checked.add((symbol, day))
        if prior_close is None:
            return None
        percent = gap_percent(open_price, prior_close)
        self.last[symbol] = percent
        if abs(percent) <= self.threshold_pct:
            return None
        return OpeningGap(symbol, prior_close, open_price, percent, at)
