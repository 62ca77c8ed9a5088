"""Index history the research reports read beside a backtest: NIFTY closes (benchmark, regimes), VIX.

Read from the same data root the backtest replays (its JSON bar store, through the backtest's own
`StoreHistory`), so a benchmark or a regime label can never come from different data than the trades.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from optbot.backtest.store_data import StoreHistory
from optbot.calendar import get_calendar
from optbot.core.enums import Timeframe
from optbot.core.events import Bar, daily_session_bar
from optbot.core.timeutil import IST, ist_date, parse_iso
from optbot.data.store import store_symbol
from optbot.sim.market.bars import DailyBar


@dataclass(frozen=True)
class IndexDaily:
    """Daily bars of NIFTY and INDIA VIX from the backtest's data folder."""

    nifty: Mapping[date, DailyBar]
    vix: Mapping[date, DailyBar]

    @classmethod
    def load(cls, data_dir: Path) -> IndexDaily:
        store = StoreHistory(data_dir, get_calendar()).store
        return cls(
            _daily(store.read_bars(store_symbol("NIFTY"), Timeframe.D1)),
            _daily(store.read_bars(store_symbol("INDIA VIX"), Timeframe.D1)),
        )

    def vix_closes(self) -> dict[date, float]:
        return {day: bar.close for day, bar in self.vix.items()}

    def nifty_bars(self) -> list[Bar]:
        """NIFTY daily bars as closed `Bar`s (09:15-15:30 IST), for the §10.1 regime detector."""
        return [_as_bar("NIFTY", self.nifty[day]) for day in sorted(self.nifty)]

    def benchmark(self, equity: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
        """NIFTY buy and hold on the equity curve's own dates: the last close on or before each point."""
        days = sorted(self.nifty)
        series: list[tuple[str, float]] = []
        for stamp, _value in equity:
            index = bisect_right(days, parse_iso(stamp).astimezone(IST).date()) - 1
            if index >= 0:
                series.append((stamp, self.nifty[days[index]].close))
        return series


def _daily(bars: Sequence[Bar]) -> dict[date, DailyBar]:
    return {
        ist_date(bar.start_utc): DailyBar(ist_date(bar.start_utc), bar.open, bar.high, bar.low, bar.close)
        for bar in bars
    }


def _as_bar(symbol: str, daily: DailyBar) -> Bar:
    return daily_session_bar(symbol, daily.day, (daily.open, daily.high, daily.low, daily.close))
