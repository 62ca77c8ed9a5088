"""Opening-gap detection (spec §2.4, §3.4): (open − previous close) / previous close, in percent.

The previous close comes from `timeframes/{SYMBOL}/daily.json` (the last daily bar before today);
the open is the session's first traded price. A gap above `opening_gap_pct` is returned so the feed's
strike window can widen around the new ATM (`optbot.engine.subscriptions.GapWindows`) and an alert can
be raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from optbot.core.enums import AlertPriority, Timeframe
from optbot.core.events import Alert, Tick
from optbot.core.timeutil import IST
from optbot.data.store import JsonStore

log = logging.getLogger("optbot.data.opening_gap")


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
        self.checked: set[tuple[str, date]] = set()
        self.last: dict[str, float] = {}

    def check(
        self, symbol: str, open_price: float, prior_close: float | None, at: datetime
    ) -> OpeningGap | None:
        day = at.astimezone(IST).date()
        if (symbol, day) in self.checked:
            return None
        self.checked.add((symbol, day))
        if prior_close is None:
            return None
        percent = gap_percent(open_price, prior_close)
        self.last[symbol] = percent
        if abs(percent) <= self.threshold_pct:
            return None
        return OpeningGap(symbol, prior_close, open_price, percent, at)


def opening_gap_alert(gap: OpeningGap, now: datetime) -> Alert:
    """The warning line and the alert every mode raises for an opening gap: the live pipeline publishes
    it on the session's bus, a replay or backtest on its engine's bus (what a subscriber - the notifier,
    the dashboard - receives is the same). One alert per underlying and session (`dedupe_key`)."""
    log.warning("opening gap %s %.2f%% (%s -> %s)", gap.symbol, gap.gap_pct, gap.previous_close, gap.open)
    day = gap.ts_utc.astimezone(IST).date()
    return Alert(
        ts_utc=now,
        priority=AlertPriority.IMPORTANT,
        title=f"{gap.symbol} opened with a {gap.gap_pct:+.2f}% gap",
        message=f"open {gap.open} vs previous close {gap.previous_close}",
        action_required="check the strikes in play: the chain has moved away from yesterday's",
        dedupe_key=f"opening-gap:{gap.symbol}:{day.isoformat()}",
    )


#: The previous session's close of an underlying before an IST date (None when unknown).
PreviousClose = Callable[[str, date], float | None]


class OpeningGapCheck:
    """The one opening-gap check of every mode: the first price of each tracked underlying at or after
    the session's open is compared with its previous daily close. The live market-data pipeline and the
    replay feed it their index ticks; each supplies the previous close from what it has (the bar store,
    the engine's daily history)."""

    def __init__(self, threshold_pct: float, previous_close_of: PreviousClose) -> None:
        self.detector = OpeningGapDetector(threshold_pct)
        self.previous_close_of = previous_close_of
        self._symbols: dict[str, str] = {}  # tracked token -> the underlying's name

    def track(self, token: str, symbol: str) -> None:
        self._symbols[token] = symbol

    def untrack(self, token: str) -> None:
        self._symbols.pop(token, None)

    def tracks(self, token: str) -> bool:
        return token in self._symbols

    def on_tick(self, tick: Tick, session_open_utc: datetime | None) -> OpeningGap | None:
        """The gap this tick reveals: only a tracked underlying's first positive price of the day at or
        after the open is checked (later ticks cost one lookup)."""
        symbol = self._symbols.get(tick.token)
        if symbol is None or tick.ltp <= 0 or session_open_utc is None:
            return None
        moment = tick.ts_exchange or tick.ts_utc
        if moment < session_open_utc:
            return None
        day = moment.astimezone(IST).date()
        if (symbol, day) in self.detector.checked:
            return None
        return self.detector.check(symbol, tick.ltp, self.previous_close_of(symbol, day), moment)
