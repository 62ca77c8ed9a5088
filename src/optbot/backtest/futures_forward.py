"""The synthetic option model's forward from the traded near-month future, where the store has it.

An index value is an average of its constituents' last trades (its official close a 30-minute
average), while the near-month future (`NAME-I` in the store) trades with the options: on the
November 2022 data the index sat up to ~35 points off the option-implied spot, and pricing from the
future took the NIFTY OTM error from 11.3 % to 9.0 % (out of sample). So where the future has a bar
for the minute being priced, the model is handed the spot whose forward is that future
(`SyntheticOptionModel.spot_for_future`: each expiry's forward is the future carried by the fitted
carry over the difference in time); elsewhere the index and the fitted carry, as before. Which one
priced a contract is recorded for the report.

This module only chooses the market input; valuation itself is `sim.market.options.value_options`.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, datetime

from optbot.analytics.synthetic import FuturePrice, SyntheticOptionModel, near_future_expiry
from optbot.backtest.store_data import StoreHistory
from optbot.core.events import Bar
from optbot.core.timeutil import ist_date


class FuturesForward:
    """Spot levels for the option model taken from the near future's bars (see the module docstring)."""

    def __init__(self, history: StoreHistory, model: SyntheticOptionModel) -> None:
        self.history = history
        self.model = model
        self._days: dict[tuple[str, date], tuple[list[datetime], tuple[Bar, ...], date | None]] = {}
        #: Tokens whose model price came (at least once) from the future as the forward.
        self.used: set[str] = set()

    def _day(self, underlying: str, day: date) -> tuple[list[datetime], tuple[Bar, ...], date | None]:
        key = (underlying, day)
        found = self._days.get(key)
        if found is None:
            bars = self.history.future_bars(underlying, day)
            expiry = near_future_expiry(self.model.calendar, underlying, day) if bars else None
            found = self._days[key] = ([bar.end_utc for bar in bars], bars, expiry)
        return found

    def _spot(self, underlying: str, price: float, expiry: date, moment: datetime) -> float:
        return self.model.spot_for_future(underlying, FuturePrice(price, expiry), moment)

    def spot_at(self, underlying: str, moment: datetime) -> float | None:
        """The model spot from the future bar that closed at `moment` or in the minute before it (a
        future that did not trade lately is no forward); None without one."""
        ends, bars, expiry = self._day(underlying, ist_date(moment))
        index = bisect_right(ends, moment) - 1
        if expiry is None or index < 0:
            return None
        bar = bars[index]
        if moment - bar.end_utc >= bar.end_utc - bar.start_utc:
            return None
        return self._spot(underlying, bar.close, expiry, moment)

    def bar_levels(self, underlying: str, index_bar: Bar) -> tuple[float, float, float, float] | None:
        """(open, high, low, close) model spots over `index_bar`'s interval from the future's own bars
        in it; None when the future has no bar there."""
        start, end = index_bar.start_utc, index_bar.end_utc
        ends, bars, expiry = self._day(underlying, ist_date(start))
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


__all__ = ["FuturesForward"]
