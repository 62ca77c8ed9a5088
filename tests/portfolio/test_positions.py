from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, Side
from optbot.core.events import PositionChanged, Tick
from optbot.persistence import FillRecord, Store
from optbot.portfolio import Greeks, Portfolio, apply_fill_to_position, closed_trades, unrealised_pnl
from optbot.portfolio.positions import empty_position

NOW = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)

FILLS = st.lists(
    st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 500), st.integers(5, 50_000)),
    min_size=1,
    max_size=30,
)


@given(FILLS, st.integers(5, 50_000))
def test_realised_plus_unrealised_equals_cash_flow_plus_mark(fills, mark_paise) -> None:
    position = empty_position(Exchange.NFO, "1", "X", NOW)
    cash = 0.0
    for side, quantity, price_paise in fills:
        price = price_paise / 100
        position = apply_fill_to_position(position, side, quantity, price, 0.0, NOW)
        cash += -side.sign * quantity * price
    mark = mark_paise / 100
    total = position.realised_pnl + unrealised_pnl(position, mark)
    assert total == pytest.approx(cash + position.net_quantity * mark, rel=1e-9, abs=1e-6)
    assert position.net_quantity == position.buy_quantity - position.sell_quantity
    if position.net_quantity == 0:
        assert position.average_price == 0


def test_flip_through_zero_opens_at_fill_price() -> None:
    position = empty_position(Exchange.NFO, "1", "X", NOW)
    position = apply_fill_to_position(position, Side.BUY, 75, 100.0, 25.0, NOW)
    position = apply_fill_to_position(position, Side.SELL, 150, 110.0, 30.0, NOW)
    assert position.net_quantity == -75 and position.average_price == 110.0
    assert position.realised_pnl == pytest.approx(750.0) and position.charges == 55.0


def _fill(fill_id: str, side: Side, quantity: int, price: float, charges: float, day: date) -> FillRecord:
    return FillRecord(
        fill_id, "O" + fill_id, None, "", Exchange.NFO, "1", "X", side, quantity, price, day, NOW, "", charges
    )


def test_closed_trades_fifo_and_win_rate(tmp_path) -> None:
    fills = [
        _fill("1", Side.BUY, 75, 100.0, 30.0, date(2026, 3, 2)),
        _fill("2", Side.SELL, 75, 110.0, 30.0, date(2026, 3, 2)),
        _fill("3", Side.SELL, 75, 50.0, 30.0, date(2026, 3, 3)),
        _fill("4", Side.BUY, 75, 52.0, 30.0, date(2026, 3, 4)),
    ]
    trades = closed_trades(fills)
    assert [round(t.net_pnl, 2) for t in trades] == [690.0, -210.0]
    clock = SimClock(NOW)
    store = Store.open(tmp_path / "s.sqlite", clock)
    portfolio = Portfolio(store, clock)
    for fill in fills:
        store.apply_fill(fill, None, portfolio.next_position(fill))
    summary = portfolio.summary(date(2026, 3, 2), date(2026, 3, 8))
    assert summary.trades == 2 and summary.win_rate == 0.5
    assert summary.net_pnl == pytest.approx(480.0)
    assert portfolio.daily_pnl(date(2026, 3, 2)) == pytest.approx(690.0)
    assert portfolio.weekly_pnl(date(2026, 3, 4)) == pytest.approx(480.0)
    assert portfolio.realised_total_net() == pytest.approx(480.0)


async def test_ticks_mark_open_positions_and_greeks(tmp_path) -> None:
    clock = SimClock(NOW)
    store = Store.open(tmp_path / "s.sqlite", clock)
    portfolio = Portfolio(
        store, clock, greeks_provider=lambda exchange, token, mark: Greeks(delta=0.5, theta=-2)
    )
    fill = _fill("1", Side.BUY, 75, 100.0, 0.0, date(2026, 3, 2))
    store.apply_fill(fill, None, portfolio.next_position(fill))
    event = await portfolio.on_tick(Tick(NOW, "1", Exchange.NFO, "X", 104.0))
    assert isinstance(event, PositionChanged) and event.unrealised_pnl == pytest.approx(300.0)
    assert portfolio.unrealised_total() == pytest.approx(300.0)
    assert portfolio.greeks() == Greeks(delta=37.5, theta=-150.0)
    assert await portfolio.on_tick(Tick(NOW, "2", Exchange.NFO, "Y", 1.0)) is None


async def test_cached_trades_and_positions_follow_every_store_write(tmp_path) -> None:
    """The portfolio answers from caches on the tick path; any fill or position write is seen at once,
    including one committed through another connection to the same database."""
    clock = SimClock(NOW)
    store = Store.open(tmp_path / "s.sqlite", clock)
    portfolio = Portfolio(store, clock)
    day = date(2026, 3, 2)
    assert portfolio.trades_between(day, day) == []
    assert await portfolio.on_tick(Tick(NOW, "1", Exchange.NFO, "X", 100.0)) is None
    buy = _fill("1", Side.BUY, 75, 100.0, 0.0, day)
    store.apply_fill(buy, None, portfolio.next_position(buy))
    event = await portfolio.on_tick(Tick(NOW, "1", Exchange.NFO, "X", 102.0))
    assert event is not None and event.net_quantity == 75 and event.unrealised_pnl == pytest.approx(150.0)
    assert portfolio.trades_between(day, day) == []
    sell = _fill("2", Side.SELL, 75, 110.0, 0.0, day)
    store.apply_fill(sell, None, portfolio.next_position(sell))
    assert [trade.net_pnl for trade in portfolio.trades_between(day, day)] == [pytest.approx(750.0)]
    assert await portfolio.on_tick(Tick(NOW, "1", Exchange.NFO, "X", 104.0)) is None  # flat now
    assert portfolio.open_positions() == [] and portfolio.realised_total_net() == pytest.approx(750.0)
    other = Store.open(tmp_path / "s.sqlite", clock)  # e.g. a recovery tool on the same file
    rebuy = _fill("3", Side.BUY, 150, 50.0, 0.0, day)
    other.apply_fill(rebuy, None, Portfolio(other, clock).next_position(rebuy))
    other.close()
    event = await portfolio.on_tick(Tick(NOW, "1", Exchange.NFO, "X", 51.0))
    assert event is not None and event.net_quantity == 150
    assert [position.net_quantity for position in portfolio.open_positions()] == [150]
    resell = _fill("4", Side.SELL, 150, 52.0, 0.0, day)
    store.apply_fill(resell, None, portfolio.next_position(resell))
    assert [round(trade.net_pnl) for trade in portfolio.trades_between(day, day)] == [750, 300]
    assert portfolio.daily_pnl(day) == pytest.approx(1050.0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["1", "2"]),
            st.sampled_from([Side.BUY, Side.SELL]),
            st.integers(1, 4),
            st.integers(1, 400),
            st.integers(0, 3),  # day offset
            st.integers(-3, 30),  # minutes after the previous fill: negative inserts one out of order
        ),
        max_size=24,
    )
)
def test_incremental_trades_equal_closed_trades_of_all_fills(tmp_path_factory, steps) -> None:
    clock = SimClock(NOW)
    store = Store.open(tmp_path_factory.mktemp("p") / "s.sqlite", clock)
    portfolio = Portfolio(store, clock)
    when = NOW
    day = date(2026, 3, 2)
    for number, (token, side, lots, price, day_step, minutes) in enumerate(steps):
        day = date.fromordinal(max(date(2026, 3, 2).toordinal(), day.toordinal() + day_step - 1))
        when = when + timedelta(minutes=minutes)
        fill = FillRecord(
            str(number),
            f"O{number}",
            None,
            "",
            Exchange.NFO,
            token,
            "X" + token,
            side,
            lots * 75,
            float(price),
            day,
            when,
            "",
            7.5 * lots,
        )
        store.apply_fill(fill, None, portfolio.next_position(fill))
        expected = closed_trades(store.fills())
        assert portfolio.trades_between(date(2026, 1, 1), date(2026, 12, 31)) == expected
        assert portfolio.trades_between(day, day) == [trade for trade in expected if trade.exit_date == day]
    store.close()
