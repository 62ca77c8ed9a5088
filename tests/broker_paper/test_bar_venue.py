"""BarVenue and the bar fill rules: next-bar open, limits through the bar, stops on the range, volume."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.broker.paper import FillModel, PaperFunds
from optbot.broker.paper.bar_venue import BarVenue
from optbot.broker.paper.fill_model import BarPrices, WorkingOrder, bar_costs, decide_on_bar
from optbot.core.clock import SimClock
from optbot.core.enums import OptionType, OrderType, Side
from optbot.instruments.master import InstrumentMaster, MasterInfo
from tests.broker_paper.builders import nifty_24800_option
from tests.broker_paper.test_paper_broker import Quotes, request

START = datetime(2025, 9, 4, 4, 0, tzinfo=UTC)
TOKEN = "45000"
OPTION = nifty_24800_option(TOKEN, OptionType.CE)
MODEL = FillModel(slippage_ticks=1, modelled_spread_ticks=2, modelled_spread_pct=0.0)


def bar(
    open_: float, high: float, low: float, close: float, volume: int | None = 7500, minute: int = 1
) -> BarPrices:
    return BarPrices(START + timedelta(minutes=minute), open_, high, low, close, volume)


def order(side: Side, kind: OrderType, price: float = 0.0, trigger: float = 0.0) -> WorkingOrder:
    return WorkingOrder(side, kind, 75, price, trigger, 0.05, START)


def test_market_orders_meet_the_next_bars_open_plus_half_the_spread_and_the_slippage() -> None:
    assert decide_on_bar(MODEL, order(Side.BUY, OrderType.MARKET), bar(100, 104, 99, 103)).price == 100.10
    assert decide_on_bar(MODEL, order(Side.SELL, OrderType.MARKET), bar(100, 104, 99, 103)).price == 99.90
    placed_later = WorkingOrder(Side.BUY, OrderType.MARKET, 75, 0, 0, 0.05, START + timedelta(minutes=2))
    assert decide_on_bar(MODEL, placed_later, bar(100, 104, 99, 103)).price is None


def test_limits_fill_only_when_the_bar_trades_through_them() -> None:
    assert decide_on_bar(MODEL, order(Side.BUY, OrderType.LIMIT, 99.0), bar(100, 104, 99, 103)).price is None
    assert decide_on_bar(MODEL, order(Side.BUY, OrderType.LIMIT, 99.5), bar(100, 104, 99, 103)).price == 99.5
    assert decide_on_bar(MODEL, order(Side.BUY, OrderType.LIMIT, 101), bar(100, 104, 99, 103)).price == 100.10
    assert decide_on_bar(MODEL, order(Side.SELL, OrderType.LIMIT, 104), bar(100, 104, 99, 103)).price is None
    assert (
        decide_on_bar(MODEL, order(Side.SELL, OrderType.LIMIT, 103.5), bar(100, 104, 99, 103)).price == 103.5
    )


def test_stops_trigger_on_the_range_and_a_gap_fills_from_the_open() -> None:
    stop = order(Side.SELL, OrderType.STOPLOSS_MARKET, trigger=99.5)
    assert decide_on_bar(MODEL, stop, bar(100, 104, 99.6, 103)).price is None
    assert decide_on_bar(MODEL, stop, bar(100, 104, 99, 103)).price == 99.40
    assert decide_on_bar(MODEL, stop, bar(97, 98, 96, 97.5)).price == 96.90  # gapped through: the open


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    low=st.integers(100, 50_000),
    span=st.integers(0, 2_000),
    open_at=st.floats(0, 1),
    side=st.sampled_from([Side.BUY, Side.SELL]),
    kind=st.sampled_from([OrderType.MARKET, OrderType.LIMIT, OrderType.STOPLOSS_MARKET]),
    level_at=st.floats(-0.2, 1.2),
)
def test_every_fill_lies_inside_the_bar_allowing_the_modelled_costs(
    low: int, span: int, open_at: float, side: Side, kind: OrderType, level_at: float
) -> None:
    low_price, high_price = low * 0.05, (low + span) * 0.05
    open_price = round((low_price + (high_price - low_price) * open_at) / 0.05) * 0.05
    level = max(0.05, round((low_price + (high_price - low_price) * level_at) / 0.05) * 0.05)
    working = order(side, kind, price=level, trigger=level)
    decision = decide_on_bar(MODEL, working, bar(open_price, high_price, low_price, open_price))
    if decision.price is None:
        return
    costs = bar_costs(MODEL, high_price, 0.05) + 0.05  # rounding against the trader: one tick at most
    assert low_price - costs - 1e-9 <= decision.price <= high_price + costs + 1e-9
    if kind is OrderType.LIMIT:
        assert decision.price <= level + 1e-9 if side is Side.BUY else decision.price >= level - 1e-9


def make_venue(share: float = 0.1, rule: str = "pessimistic") -> tuple[BarVenue, SimClock]:
    clock = SimClock(START)
    master = InstrumentMaster([OPTION], MasterInfo(as_of=date(2025, 9, 4), source="test"))
    venue = BarVenue(clock, Quotes(), MODEL, PaperFunds(1_000_000.0), master)
    venue.configure_bars(share, rule)  # type: ignore[arg-type]
    return venue, clock


async def test_a_bar_without_volume_fills_nothing_and_a_share_of_the_volume_caps_the_rest() -> None:
    venue, clock = make_venue(share=0.1)
    reports: list[str] = []
    venue.subscribe(lambda row: reports.append(row.status))
    await venue.place_order(request(Side.BUY, OrderType.MARKET, qty=300))
    assert venue.match() == 0 and venue.match_token(TOKEN) == 0  # quotes never fill here
    clock.advance_to(START + timedelta(minutes=1))
    assert venue.match_bar(TOKEN, bar(100, 101, 99, 100, volume=0)) == 0
    assert venue.match_bar(TOKEN, bar(100, 101, 99, 100, volume=1500, minute=2)) == 1  # 10 % = 150 = 2 lots
    assert [row.filled_quantity for row in await venue.order_book()] == [150]
    assert venue.match_bar(TOKEN, bar(100, 101, 99, 100, volume=None, minute=3)) == 1  # modelled: no cap
    assert [row.filled_quantity for row in await venue.order_book()] == [300]
    assert reports[0] == "open" and reports[-1] == "complete"


@pytest.mark.parametrize(("rule", "filled_at"), [("pessimistic", 98.90), ("optimistic", 102.0)])
async def test_a_stop_and_a_target_inside_one_bar_fill_one_of_them_by_the_setting(
    rule: str, filled_at: float
) -> None:
    venue, clock = make_venue(share=1.0, rule=rule)
    await venue.place_order(request(Side.BUY, OrderType.MARKET))
    clock.advance_to(START + timedelta(minutes=1))
    venue.match_bar(TOKEN, bar(100, 100, 100, 100))
    await venue.place_order(request(Side.SELL, OrderType.STOPLOSS_MARKET, trigger=99.0))
    await venue.place_order(request(Side.SELL, OrderType.LIMIT, price=102.0))
    assert venue.match_bar(TOKEN, bar(100, 103, 98, 100, minute=2)) == 1
    trades = await venue.trade_book()
    assert [trade.price for trade in trades] == [100.10, filled_at]
