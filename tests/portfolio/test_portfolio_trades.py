"""Round trips by date: one day's are answered from the per-date index, a range by filtering."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, Side
from optbot.persistence import FillRecord, Store
from optbot.portfolio.portfolio import Portfolio

START = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


def _fill(number: int, side: Side, day: date, price: float) -> FillRecord:
    return FillRecord(
        f"F{number}",
        f"B{number}",
        None,
        "",
        Exchange.NFO,
        "1",
        "NIFTY",
        side,
        75,
        price,
        day,
        START + timedelta(days=(day - START.date()).days, minutes=number),
    )


def test_one_days_trades_are_the_range_filter_of_that_day_in_the_same_order() -> None:
    clock = SimClock(START)
    store = Store.open(":memory:", clock)
    portfolio = Portfolio(store, clock)
    days = [START.date() + timedelta(days=offset) for offset in range(3)]
    number = 0
    for day in days:
        for round_trip in range(3):
            for side, price in ((Side.BUY, 100.0 + round_trip), (Side.SELL, 101.0 - round_trip)):
                number += 1
                fill = _fill(number, side, day, price)
                store.apply_fill(fill, None, portfolio.next_position(fill))
        every = portfolio.trades_between(days[0], days[-1])
        for seen in days:
            assert portfolio.trades_between(seen, seen) == [t for t in every if t.exit_date == seen]
    assert [len(portfolio.trades_between(day, day)) for day in days] == [3, 3, 3]
    assert portfolio.daily_pnl(days[1]) == sum(t.net_pnl for t in portfolio.trades_between(days[1], days[1]))
