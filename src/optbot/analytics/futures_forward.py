"""The synthetic option model's forward from the traded near-month future, where the data has it.

An index value is an average of its constituents' last trades (its official close a 30-minute
average), while the near-month future (`NAME-I` in the store) trades with the options: on the
November 2022 data the index sat up to ~35 points off the option-implied spot, and pricing from the
future took the NIFTY OTM error from 11.3 % to 9.0 % (out of sample). So where the future has a bar
for the minute being priced, the model is handed the spot whose forward is that future
(`SyntheticOptionModel.spot_for_future`: each expiry's forward is the future carried by the fitted
carry over the difference in time); elsewhere the index and the fitted carry, as before. Which one
priced a contract is recorded for the report.

The bar backtest (`backtest.option_bars`) and the simulator's market replay (`sim.market.replay`,
what paper trading and the demo quote options from) both take the model's spot from here, so the
same contract at the same minute is quoted alike in both. Each hands in its own reader of the
store's future bars (`FutureBarSource`). This module only chooses the market input; valuation itself
is the synthetic model's.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

from optbot.analytics.synthetic import FuturePrice, SyntheticOptionModel, near_future_expiry
from optbot.core.events import Bar
from optbot.core.timeutil import IST, ist_date

#: One underlying's future bars of one IST day: (bar ends, bars, the future's expiry or None).
FutureDay = tuple[list[datetime], Sequence[Bar], date | None]

FUTURES_SUFFIX = "-I"  # the near-month future's store name: NIFTY-I, BANKNIFTY-I, ...


def futures_name(underlying: str) -> str:
    """The store name of `underlying`'s continuous near-month future (`NIFTY` -> `NIFTY-I`)."""
    return f"{underlying}{FUTURES_SUFFIX}"


class FutureBarSource(Protocol):
    """Where the near future's bars come from (a data root's store, as backtests or the replay read it)."""

    def future_bars(self, name: str, day: date) -> Sequence[Bar]:
        """`name`'s near future's finest stored intraday bars of `day` in time order, as traded (no
        basis shift); empty when there are none."""
        ...


class FuturesForward:
    """Spot levels for the option model taken from the near future's bars (see the module docstring)."""

    def __init__(self, source: FutureBarSource, model: SyntheticOptionModel) -> None:
        self.source = source
        self.model = model
        self._days: dict[tuple[str, date], FutureDay] = {}
        #: Per underlying, the IST day last asked about as its UTC span [start, end) with its bars: a
        #: held contract is valued at every bar of a day, and two comparisons find its day again.
        self._current: dict[str, tuple[datetime, datetime, FutureDay]] = {}
        #: Tokens whose model price came (at least once) from the future as the forward.
        self.used: set[str] = set()

    def _day_of(self, underlying: str, moment: datetime) -> FutureDay:
        """`_day` of the IST day holding `moment`."""
        current = self._current.get(underlying)
        if current is not None and current[0] <= moment < current[1]:
            return current[2]
        day = ist_date(moment)
        start = datetime.combine(day, time(), tzinfo=IST).astimezone(UTC)
        found = self._day(underlying, day)
        self._current[underlying] = (start, start + timedelta(days=1), found)
        return found

    def _day(self, underlying: str, day: date) -> FutureDay:
        key = (underlying, day)
        found = self._days.get(key)
        if found is None:
            bars = self.source.future_bars(underlying, day)
            expiry = near_future_expiry(self.model.calendar, underlying, day) if bars else None
            found = self._days[key] = ([bar.end_utc for bar in bars], bars, expiry)
        return found

    def _spot(self, underlying: str, price: float, expiry: date, moment: datetime) -> float:
        return self.model.spot_for_future(underlying, FuturePrice(price, expiry), moment)

    def spot_at(self, underlying: str, moment: datetime) -> float | None:
        """The model spot from the future bar that closed at `moment` or in the minute before it (a
        future that did not trade lately is no forward); None without one."""
        ends, bars, expiry = self._day_of(underlying, moment)
        if expiry is None:
            return None
        index = bisect_right(ends, moment) - 1
        if index < 0:
            return None
        bar = bars[index]
        if moment - bar.end_utc >= bar.end_utc - bar.start_utc:
            return None
        return self._spot(underlying, bar.close, expiry, moment)

    def bar_levels(
        self, underlying: str, start: datetime, end: datetime
    ) -> tuple[float, float, float, float] | None:
        """(open, high, low, close) model spots over [start, end] (an index bar's interval) from the
        future's own bars inside it; None when the future has no bar there."""
        ends, bars, expiry = self._day_of(underlying, start)
        inside = [
            bar for bar in bars[bisect_right(ends, start) : bisect_right(ends, end)] if bar.start_utc >= start
        ]
        if expiry is None or not inside:
            return None
        return (
            self._spot(underlying, inside[0].open, expiry, start),
            self._spot(underlying, max(bar.high for bar in inside), expiry, start),
            self._spot(underlying, min(bar.low for bar in inside), expiry, start),
            self._spot(underlying, inside[-1].close, expiry, end),
        )


__all__ = ["FUTURES_SUFFIX", "FutureBarSource", "FuturesForward", "futures_name"]
