"""The opening-gap rule's first bar of the day: the first recent bar whose IST start date is the
current bar's, found by comparing with the day's bounds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import cast

from optbot.core.enums import Timeframe
from optbot.core.events import Bar
from optbot.core.timeutil import ist_date
from optbot.strategy.context import StrategyContext
from optbot.strategy.directional import DirectionalOptionStrategy


class _Recent:
    def __init__(self, bars: list[Bar]) -> None:
        self.held = bars

    def bars(self, symbol: str, timeframe: Timeframe, count: int) -> Sequence[Bar]:
        return self.held[-count:]


def _bar(start: datetime) -> Bar:
    end = start + timedelta(minutes=15)
    return Bar(end, "1", "NIFTY", Timeframe.M15, start, end, 1.0, 1.0, 1.0, 1.0)


def _by_ist_date(bars: list[Bar], bar: Bar) -> Bar | None:
    """The definition: the first of the last 100 bars whose IST start date is `bar`'s."""
    todays = [b for b in bars[-100:] if ist_date(b.start_utc) == ist_date(bar.start_utc)]
    return todays[0] if todays else None


def test_the_days_first_bar_is_the_first_recent_bar_of_its_ist_date() -> None:
    midnight = datetime(2024, 6, 3, 18, 30, tzinfo=UTC)  # 00:00 IST on 4 June
    starts = [midnight + timedelta(minutes=15 * step) for step in range(-120, 120)]
    bars = [_bar(start) for start in starts]
    first_bar = DirectionalOptionStrategy._today_first_bar
    for index in (0, 100, 119, 120, 121, 200, len(bars) - 1):
        recent = bars[: index + 1]
        found = first_bar(
            cast(DirectionalOptionStrategy, None), cast(StrategyContext, _Recent(recent)), bars[index]
        )
        assert found == _by_ist_date(recent, bars[index])
    assert (
        first_bar(cast(DirectionalOptionStrategy, None), cast(StrategyContext, _Recent(bars)), bars[-1])
        is bars[216]  # 00:00 IST on 5 June
    )
    lone = _bar(midnight + timedelta(days=3))  # no recent bar of its day
    assert (
        first_bar(cast(DirectionalOptionStrategy, None), cast(StrategyContext, _Recent(bars)), lone) is None
    )
