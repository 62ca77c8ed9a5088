"""The directional strategies' entry timeframe adapts to a day's bars: 15m on a day of 15-minute bars,
the configured 5m on a day with finer bars (the same code live, where 1-minute bars always come)."""

from __future__ import annotations

from datetime import date, time, timedelta

from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import Timeframe
from optbot.core.events import Bar
from optbot.core.timeutil import ist_datetime, to_utc
from optbot.strategy.builtin.adx_trend import AdxTrendStrategy
from optbot.strategy.context import BarHistoryContext

DAY = date(2024, 6, 4)


def _bar(timeframe: Timeframe, end_ist: time, day: date = DAY) -> Bar:
    end = to_utc(ist_datetime(day, end_ist))
    start = end - timedelta(seconds=timeframe.seconds)
    return Bar(end, "NIFTY", "NIFTY", timeframe, start, end, 100.0, 101.0, 99.0, 100.5, 0)


def _strategy(**strategy: object) -> tuple[AdxTrendStrategy, BarHistoryContext]:
    settings = Settings(strategy={"entry_timeframe": "5m", **strategy})  # type: ignore[arg-type]
    ctx = BarHistoryContext(SimClock(to_utc(ist_datetime(DAY, time(9, 30)))))
    return AdxTrendStrategy(settings), ctx


def test_a_day_of_15_minute_bars_enters_on_them_and_says_so() -> None:
    strategy, ctx = _strategy()
    assert strategy.decision_timeframe_adapts()
    assert strategy._day_timeframe(ctx, _bar(Timeframe.M15, time(9, 30)), Timeframe.M5) is Timeframe.M15
    assert strategy._day_timeframe(ctx, _bar(Timeframe.H1, time(10, 15)), Timeframe.M5) is Timeframe.M15
    assert [line for line in strategy.journal if "entering on 15m bars" in line]
    # the next day has 1-minute bars: back to 5m as soon as its first 5-minute bar closes
    next_day = date(2024, 6, 5)
    finer_day = ((Timeframe.M1, time(9, 16)), (Timeframe.M5, time(9, 20)), (Timeframe.M15, time(9, 30)))
    for timeframe, end in finer_day:
        bar = _bar(timeframe, end, next_day)
        assert strategy._day_timeframe(ctx, bar, Timeframe.M5) is Timeframe.M5


def test_without_adapting_the_configured_timeframe_stays() -> None:
    strategy, ctx = _strategy(entry_timeframe_adapts=False)
    assert not strategy.decision_timeframe_adapts()
    assert strategy._day_timeframe(ctx, _bar(Timeframe.M15, time(9, 30)), Timeframe.M5) is Timeframe.M5
    assert not strategy.journal
