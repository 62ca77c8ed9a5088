"""Index history the research reports read beside a backtest: NIFTY closes (benchmark, regimes), VIX.

Read with the same loader and files the backtest replays (`optbot.sim.market.history.SAMPLE_FILES`,
`load_daily`), so a benchmark or a regime label can never come from different data than the trades.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path

from optbot.core.enums import Timeframe
from optbot.core.events import Bar
from optbot.core.timeutil import IST, ist_datetime, parse_iso, to_utc
from optbot.sim.market.bars import DailyBar, load_daily
from optbot.sim.market.history import SAMPLE_FILES

SESSION_OPEN = time(9, 15)
SESSION_CLOSE = time(15, 30)


@dataclass(frozen=True)
class IndexDaily:
    """Daily bars of NIFTY and INDIA VIX from the backtest's data folder."""

    nifty: Mapping[date, DailyBar]
    vix: Mapping[date, DailyBar]

    @classmethod
    def load(cls, data_dir: Path) -> IndexDaily:
        return cls(
            load_daily(data_dir / SAMPLE_FILES["NIFTY"].daily),
            load_daily(data_dir / SAMPLE_FILES["INDIA VIX"].daily),
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


def _as_bar(symbol: str, daily: DailyBar) -> Bar:
    opened = to_utc(ist_datetime(daily.day, SESSION_OPEN))
    closed = to_utc(ist_datetime(daily.day, SESSION_CLOSE))
    return Bar(
        closed,
        symbol,
        symbol,
        Timeframe.D1,
        opened,
        closed,
        daily.open,
        daily.high,
        daily.low,
        daily.close,
        0,
    )
