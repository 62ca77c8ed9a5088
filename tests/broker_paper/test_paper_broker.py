"""PaperBroker and FillModel: fills, limits, stops, latency, funds conservation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optbot.broker.base import Broker
from optbot.broker.errors import BrokerRejected
from optbot.broker.models import DepthLevel, OrderRequest, Quote
from optbot.broker.paper import FillModel, PaperBroker, PaperFunds
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, OptionType, OrderStatus, OrderType, ProductType, Side
from optbot.instruments.master import InstrumentMaster, MasterInfo
from tests.broker_paper.builders import nifty_24800_option

START = datetime(2025, 9, 4, 4, 0, tzinfo=UTC)
TOKEN = "45000"
OPTION = nifty_24800_option(TOKEN, OptionType.CE)


class Quotes:
    def __init__(self) -> None:
        self.latest: dict[str, Quote] = {}

    def quote(self, token: str) -> Quote | None:
        return self.latest.get(token)

    def set(self, ltp: float, at: datetime, bid: float | None = None, ask: float | None = None) -> None:
        self.latest[TOKEN] = Quote(
            exchange=Exchange.NFO,
            token=TOKEN,
            symbol=OPTION.symbol,
            ltp=ltp,
            exchange_time=at,
            bids=(DepthLevel(bid, 75, 1),) if bid else (),
            asks=(DepthLevel(ask, 75, 1),) if ask else (),
        )


def make(cash: float = 1_000_000.0, slippage: int = 1) -> tuple[PaperBroker, Quotes, SimClock]:
    clock = SimClock(START)
    quotes = Quotes()
    master = InstrumentMaster([OPTION], MasterInfo(as_of=date(2025, 9, 4), source="test"))
    model = FillModel(slippage_ticks=slippage, latency=timedelta(milliseconds=250))
    return PaperBroker(clock, quotes, model, PaperFunds(cash), master), quotes, clock


def request(
    side: Side, order_type: OrderType, price: float = 0.0, trigger: float = 0.0, qty: int = 75
) -> OrderRequest:
    return OrderRequest(
        exchange=Exchange.NFO,
        token=TOKEN,
        symbol=OPTION.symbol,
        side=side,
        quantity=qty,
        order_type=order_type,
        product=ProductType.INTRADAY,
        ordertag="t1",
        price=price,
        trigger_price=trigger,
    )


def test_is_a_broker() -> None:
    broker, _, _ = make()
    assert isinstance(broker, Broker)


async def test_market_buy_waits_for_a_print_after_latency_then_pays_ask_plus_slippage() -> None:
    broker, quotes, _ = make()
    quotes.set(100.0, START, bid=99.9, ask=100.1)
    placed = await broker.place_order(request(Side.BUY, OrderType.MARKET))
    assert broker.match() == 0  # the quote predates the order: no fill on an untraded instrument
    quotes.set(100.0, START + timedelta(milliseconds=100), bid=99.9, ask=100.1)
    assert broker.match() == 0  # inside the latency window
    quotes.set(100.0, START + timedelta(seconds=1), bid=99.9, ask=100.1)
    assert broker.match() == 1
    order = (await broker.order_book())[0]
    assert order.order_id == placed.order_id and order.status == "complete"
    assert order.average_price == pytest.approx(100.15)
    trades = await broker.trade_book()
    assert len(trades) == 1 and trades[0].quantity == 75
    funds = await broker.funds()
    assert funds.available_cash == pytest.approx(1_000_000 - 75 * 100.15 - broker.charges_paid)
    assert broker.charges_paid > 20  # flat brokerage plus exchange charges, stamp, GST


async def test_limit_fills_only_when_marketable_and_never_beyond_limit() -> None:
    broker, quotes, _ = make()
    await broker.place_order(request(Side.BUY, OrderType.LIMIT, price=99.0))
    quotes.set(99.5, START + timedelta(seconds=1), bid=99.4, ask=99.6)
    assert broker.match() == 0
    assert (await broker.order_book())[0].status == "open"
    quotes.set(98.9, START + timedelta(seconds=2), bid=98.85, ask=98.95)
    assert broker.match() == 1
    assert (await broker.order_book())[0].average_price == pytest.approx(99.0)


async def test_stop_loss_triggers_on_ltp_then_fills() -> None:
    broker, quotes, _ = make()
    quotes.set(100.0, START + timedelta(seconds=1), bid=99.9, ask=100.1)
    await broker.place_order(request(Side.BUY, OrderType.MARKET))
    broker.match()
    await broker.place_order(request(Side.SELL, OrderType.STOPLOSS_MARKET, trigger=90.0))
    quotes.set(95.0, START + timedelta(seconds=2), bid=94.9, ask=95.1)
    broker.match()
    pending = (await broker.order_book())[1]
    assert pending.status == "trigger pending" and pending.order_status is OrderStatus.OPEN
    quotes.set(89.0, START + timedelta(seconds=3), bid=88.9, ask=89.1)
    assert broker.match() == 1
    stop = (await broker.order_book())[1]
    assert stop.status == "complete" and stop.average_price == pytest.approx(88.85)
    assert stop.order_status is OrderStatus.FILLED
    positions = await broker.positions()
    assert positions[0].net_quantity == 0


async def test_rejections_name_the_problem() -> None:
    broker, _, _ = make(cash=1_000.0)
    with pytest.raises(BrokerRejected, match="lot size 75"):
        await broker.place_order(request(Side.BUY, OrderType.LIMIT, price=10.0, qty=10))
    with pytest.raises(BrokerRejected, match="tick size"):
        await broker.place_order(request(Side.BUY, OrderType.LIMIT, price=10.03))
    placed = await broker.place_order(request(Side.BUY, OrderType.LIMIT, price=100.0))
    row = (await broker.order_book())[0]
    assert row.order_id == placed.order_id and row.status == "rejected" and "insufficient funds" in row.text
    assert row.order_status is OrderStatus.REJECTED


async def test_modify_and_cancel() -> None:
    broker, quotes, _ = make()
    placed = await broker.place_order(request(Side.BUY, OrderType.LIMIT, price=90.0))
    await broker.cancel_order(placed.order_id)
    assert (await broker.order_book())[0].status == "cancelled"
    with pytest.raises(BrokerRejected, match="cancelled"):
        await broker.cancel_order(placed.order_id)
    quotes.set(95.0, START + timedelta(seconds=5), bid=94.9, ask=95.1)
    second = await broker.place_order(request(Side.BUY, OrderType.LIMIT, price=90.0))
    assert second.order_id != placed.order_id
    estimate = await broker.estimate_charges([request(Side.SELL, OrderType.LIMIT, price=100.0)])
    assert estimate.total > 0 and estimate.trade_value == pytest.approx(7500.0)


prices = st.integers(min_value=20, max_value=4000).map(lambda n: n * 0.05)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.tuples(st.sampled_from([Side.BUY, Side.SELL]), prices, prices, st.booleans(), st.integers(1, 3)),
        min_size=1,
        max_size=15,
    )
)
async def test_properties_limits_untraded_conservation(
    steps: list[tuple[Side, float, float, bool, int]],
) -> None:
    broker, quotes, clock = make(cash=5_000_000.0, slippage=2)
    moment = START
    for index, (side, limit, ltp, prints, lots) in enumerate(steps):
        moment += timedelta(seconds=1)
        clock.advance_to(moment)
        await broker.place_order(request(side, OrderType.LIMIT, price=round(limit, 2), qty=75 * lots))
        if prints:
            quotes.set(
                ltp,
                moment + timedelta(seconds=1),
                bid=max(0.05, round(ltp - 0.05, 2)),
                ask=round(ltp + 0.05, 2),
            )
        before = len(await broker.trade_book())
        broker.match()
        if not prints and index == 0:
            assert len(await broker.trade_book()) == before  # never fills an instrument that has not printed
    orders = {o.order_id: o for o in await broker.order_book()}
    for trade in await broker.trade_book():
        order = orders[trade.order_id]
        if order.side is Side.BUY:
            assert trade.price <= order.price + 1e-9
        else:
            assert trade.price >= order.price - 1e-9
    trades = await broker.trade_book()
    bought = sum(t.quantity * t.price for t in trades if t.side is Side.BUY)
    sold = sum(t.quantity * t.price for t in trades if t.side is Side.SELL)
    assert broker.cash == pytest.approx(5_000_000.0 - bought + sold - broker.charges_paid, abs=1e-6)
    net = sum(t.quantity * t.side.sign for t in trades)
    positions = await broker.positions()
    assert sum(p.net_quantity for p in positions) == net


def test_fill_model_from_settings_and_modelled_spread() -> None:
    from optbot.config.sections.backtest import BacktestSettings

    model = FillModel.from_settings(BacktestSettings(slippage_ticks=0, modelled_spread_pct=1.0, latency_ms=0))
    assert model.latency == timedelta(0)
    quote = Quote(exchange=Exchange.NFO, token=TOKEN, symbol="X", ltp=100.0, exchange_time=START)
    assert model.executable_price(Side.BUY, quote, 0.05) == pytest.approx(100.5)
    assert model.executable_price(Side.SELL, quote, 0.05) == pytest.approx(99.5)


async def test_depth_limits_each_quote_and_partial_fills_complete_on_later_quotes() -> None:
    broker, quotes, _ = make()
    updates = []
    broker.subscribe(lambda order: updates.append(PaperBroker.order_update(order)))
    await broker.place_order(request(Side.BUY, OrderType.MARKET, qty=150))
    quotes.set(100.0, START + timedelta(seconds=1), bid=99.9, ask=100.1)  # 75 on the ask
    assert broker.match() == 1
    assert broker.match() == 0  # the same quote's liquidity is used up
    row = (await broker.order_book())[0]
    assert row.filled_quantity == 75 and row.status == "open"
    quotes.set(100.0, START + timedelta(seconds=2), bid=99.9, ask=100.2)
    assert broker.match() == 1
    row = (await broker.order_book())[0]
    assert row.status == "complete" and row.average_price == pytest.approx((100.15 + 100.25) / 2)
    assert [u.status.value for u in updates] == ["OPEN", "OPEN", "FILLED"]
    assert updates[-1].filled_quantity == 150


async def test_ioc_rest_cancelled_after_first_eligible_quote_and_circuit_band_refused() -> None:
    from dataclasses import replace as dc_replace

    from optbot.core.enums import Duration

    broker, quotes, _ = make()
    ioc = dc_replace(request(Side.BUY, OrderType.LIMIT, price=99.0), duration=Duration.IOC)
    await broker.place_order(ioc)
    assert broker.match() == 0  # no quote yet: still working
    quotes.set(100.0, START + timedelta(seconds=1), bid=99.9, ask=100.1)
    assert broker.match() == 0
    row = (await broker.order_book())[0]
    assert row.status == "cancelled" and "IOC" in row.text
    quotes.latest[TOKEN] = dc_replace(quotes.latest[TOKEN], upper_circuit=150.0, lower_circuit=50.0)
    await broker.place_order(request(Side.BUY, OrderType.LIMIT, price=151.0))
    refused = (await broker.order_book())[1]
    assert refused.status == "rejected" and "upper circuit" in refused.text


async def test_funds_show_a_long_options_premium_as_used_and_a_short_blocks_span() -> None:
    broker, quotes, _ = make()
    quotes.set(100.0, START + timedelta(seconds=1), bid=99.9, ask=100.1)
    await broker.place_order(request(Side.BUY, OrderType.LIMIT, price=100.1))
    quotes.set(100.0, START + timedelta(seconds=2), bid=99.9, ask=100.1)
    broker.match()
    funds = await broker.funds()
    assert funds.utilised_margin == pytest.approx(75 * 100.1)  # the dashboard's "margin used" is not 0
    # no index quote: the strike stands in for spot -> ATM: NIFTY scan 4.5 % + exposure 2 % of 24,800
    need = await broker.margin_required([request(Side.SELL, OrderType.LIMIT, price=100.0, qty=150)])
    assert need.premium == 0 and need.span == pytest.approx(75 * 0.045 * 24_800)  # 75 close the long
    assert need.exposure == pytest.approx(75 * 0.02 * 24_800)


def test_state_files_name_moved_classes_where_they_live_now() -> None:
    """A carried paper book pickled before the day book moved to `optbot.broker.daybook` still loads."""
    import io
    import pickle

    from optbot.broker.daybook import BookPosition
    from optbot.broker.paper.broker import _StateUnpickler

    position = BookPosition(buy_quantity=75, buy_amount=7500.0, open_quantity=75, open_average=100.0)
    old = pickle.dumps(position, protocol=2).replace(b"optbot.broker.daybook", b"optbot.broker.paper.daybook")
    assert b"optbot.broker.paper.daybook" in old
    assert _StateUnpickler(io.BytesIO(old)).load() == position


async def test_a_remembered_span_margin_is_the_one_computed_afresh() -> None:
    """The margin of the same book and order is asked several times at one instant (funds, the margin
    calculator, the order's RMS check): remembered, it is what a broker with nothing remembered says,
    and a changed book is priced again."""
    from optbot.core.span import basket_margin

    broker, quotes, _ = make()
    quotes.set(100.0, START + timedelta(seconds=1), bid=99.9, ask=100.1)
    await broker.place_order(request(Side.BUY, OrderType.LIMIT, price=100.1))
    quotes.set(100.0, START + timedelta(seconds=2), bid=99.9, ask=100.1)
    broker.match()
    sell = [request(Side.SELL, OrderType.LIMIT, price=100.0, qty=150)]
    first = await broker.margin_required(sell)
    assert await broker.margin_required(sell) == first
    book = broker._book_legs()
    assert broker._span(book) == basket_margin(broker._funds.span, book)
    await broker.place_order(request(Side.BUY, OrderType.LIMIT, price=100.1))
    quotes.set(100.0, START + timedelta(seconds=3), bid=99.9, ask=100.1)
    broker.match()
    grown = broker._book_legs()
    assert grown != book and broker._span(grown) == basket_margin(broker._funds.span, grown)
    assert (await broker.margin_required(sell)).span == 0  # 150 long cover the 150 sold
