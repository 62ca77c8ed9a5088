from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from optbot.core.clock import SimClock
from optbot.core.timeutil import IST
from optbot.sim.contracts import OrderEvent
from optbot.sim.exchange import OrderRequestError, OrderStatus, SimExchange
from optbot.test_kit.sim import (
    NIFTY_CE_TOKEN,
    NIFTY_PE_TOKEN,
    SBIN_TOKEN,
    SECOND_ACCOUNT,
    TEST_ACCOUNT,
    StaticMarket,
    market_hours_start,
    static_scrip_master,
)

CLIENT = TEST_ACCOUNT.client_code


@pytest.fixture
def clock() -> SimClock:
    return SimClock(market_hours_start())


@pytest.fixture
def market(clock: SimClock) -> StaticMarket:
    return StaticMarket(clock, static_scrip_master(with_hedge=True))


@pytest.fixture
def events() -> list[OrderEvent]:
    return []


@pytest.fixture
def exchange(market: StaticMarket, clock: SimClock, events: list[OrderEvent]) -> SimExchange:
    sim_exchange = SimExchange(market, clock, [TEST_ACCOUNT, SECOND_ACCOUNT], seed=7)
    sim_exchange.start()
    sim_exchange.add_listener(events.append)
    return sim_exchange


def order(
    market: StaticMarket, token: str = NIFTY_CE_TOKEN, exchange: str = "NFO", **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "variety": "NORMAL",
        "tradingsymbol": market.symbol(exchange, token),
        "symboltoken": token,
        "exchange": exchange,
        "transactiontype": "BUY",
        "ordertype": "LIMIT",
        "producttype": "CARRYFORWARD",
        "duration": "DAY",
        "quantity": "75",
        "price": "150.05",
    }
    body.update(overrides)
    return body


def codes(events: list[OrderEvent]) -> list[str]:
    return [event.status_code for event in events]


def test_marketable_limit_fills_at_the_ask_with_exact_transitions(
    exchange: SimExchange, market: StaticMarket, events: list[OrderEvent]
) -> None:
    placed = exchange.place(CLIENT, order(market, price="151"))
    assert placed.status is OrderStatus.COMPLETE
    assert codes(events) == ["AB09", "AB01", "AB05"]
    assert placed.average_price == pytest.approx(150.05)
    assert re.fullmatch(r"261118\d{9}", placed.order_id)
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", placed.unique_order_id
    )
    row = events[-1].order_row
    assert row["status"] == row["orderstatus"] == "complete"
    assert row["filledshares"] == "75" and row["unfilledshares"] == "0"
    assert row["exchorderupdatetime"] == "18-Nov-2026 10:00:00"
    trades = exchange.trades(CLIENT)
    assert [(t.price, t.quantity) for t in trades] == [(150.05, 75)]
    position = exchange.positions(CLIENT)[0]
    assert position.net_quantity == 75 and position.open_average == pytest.approx(150.05)


def test_partial_fill_walks_displayed_depth_then_rests(
    exchange: SimExchange, market: StaticMarket, events: list[OrderEvent]
) -> None:
    placed = exchange.place(CLIENT, order(market, quantity="1800", price="150.10"))
    # asks: 150.05 x 750, 150.10 x 750 within the limit -> 1500 filled, 300 resting
    assert placed.status is OrderStatus.OPEN
    assert placed.filled_quantity == 1500 and placed.pending_quantity == 300
    market.set_quote("NFO", NIFTY_CE_TOKEN, 149.0, quantity=750)
    assert placed.status is OrderStatus.COMPLETE
    assert placed.average_price == pytest.approx((750 * 150.05 + 750 * 150.10 + 300 * 149.05) / 1800)


def test_same_snapshot_depth_is_not_consumed_twice(exchange: SimExchange, market: StaticMarket) -> None:
    first = exchange.place(CLIENT, order(market, quantity="750", price="150.05"))
    second = exchange.place(CLIENT, order(market, quantity="750", price="150.05"))
    assert first.status is OrderStatus.COMPLETE
    assert second.status is OrderStatus.OPEN and second.filled_quantity == 0


def test_market_order_becomes_protected_limit(exchange: SimExchange, market: StaticMarket) -> None:
    placed = exchange.place(CLIENT, order(market, ordertype="MARKET", price="0", transactiontype="BUY"))
    assert placed.status is OrderStatus.COMPLETE
    assert placed.limit_price == pytest.approx(153.0)  # 150 * 1.02 rounded up to the 0.05 tick
    assert placed.average_price == pytest.approx(150.05)


def test_ioc_remainder_is_cancelled(
    exchange: SimExchange, market: StaticMarket, events: list[OrderEvent]
) -> None:
    placed = exchange.place(CLIENT, order(market, quantity="1500", price="150.05", duration="IOC"))
    assert placed.status is OrderStatus.CANCELLED
    assert placed.filled_quantity == 750 and placed.cancelled_quantity == 750
    assert codes(events)[-1] == "AB02"


def test_stop_loss_waits_in_trigger_pending_then_fires(
    exchange: SimExchange, market: StaticMarket, events: list[OrderEvent]
) -> None:
    exchange.place(CLIENT, order(market, price="151"))
    events.clear()
    stop = exchange.place(
        CLIENT,
        order(
            market,
            variety="STOPLOSS",
            ordertype="STOPLOSS_LIMIT",
            transactiontype="SELL",
            price="139",
            triggerprice="140",
        ),
    )
    assert stop.status is OrderStatus.TRIGGER_PENDING
    assert codes(events) == ["AB09", "AB10"]
    market.set_quote("NFO", NIFTY_CE_TOKEN, 141.0)
    assert stop.status is OrderStatus.TRIGGER_PENDING
    market.set_quote("NFO", NIFTY_CE_TOKEN, 139.5)
    assert stop.status is OrderStatus.COMPLETE
    assert codes(events)[-2:] == ["AB01", "AB05"]
    assert exchange.positions(CLIENT)[0].net_quantity == 0


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"quantity": "70"}, "not a multiple of the lot size 75"),
        ({"quantity": "1875"}, "exceeds the freeze quantity 1800"),
        ({"price": "150.03"}, "not a multiple of the tick size 0.05"),
        ({"price": "190.00"}, "outside the price band 120.00 - 180.00"),
        (
            {"variety": "STOPLOSS", "ordertype": "STOPLOSS_MARKET", "triggerprice": "149"},
            "should be higher than LTP",
        ),
    ],
)
def test_rms_rejections_have_realistic_texts(
    exchange: SimExchange,
    market: StaticMarket,
    events: list[OrderEvent],
    overrides: dict[str, str],
    fragment: str,
) -> None:
    placed = exchange.place(CLIENT, order(market, **overrides))
    assert placed.status is OrderStatus.REJECTED
    assert fragment in placed.text
    assert codes(events) == ["AB03"]
    assert events[0].error_message == placed.text
    assert exchange.trades(CLIENT) == []


def test_insufficient_funds_for_option_sell_uses_span_margin(
    exchange: SimExchange, market: StaticMarket
) -> None:
    buy = exchange.place(SECOND_ACCOUNT.client_code, order(market, price="151"))  # 11,253.75 > 10,000
    assert buy.status is OrderStatus.REJECTED
    assert buy.text.startswith("Your order has been rejected due to Insufficient Funds.")
    sell = exchange.place(CLIENT, order(market, transactiontype="SELL", quantity="75", price="149"))
    assert sell.status is OrderStatus.COMPLETE  # one lot short: 75 * (4.5 % NIFTY scan + 2 %) of 24,500
    rms = exchange.rms(CLIENT)
    assert float(rms["utilisedspan"]) == pytest.approx(75 * 0.045 * 24500)
    assert float(rms["utilisedexposure"]) == pytest.approx(75 * 0.02 * 24500)
    big = exchange.place(CLIENT, order(market, transactiontype="SELL", quantity="300", price="149"))
    assert big.status is OrderStatus.REJECTED and "Insufficient Funds" in big.text


def test_closing_a_long_needs_no_margin_and_realises_pnl(exchange: SimExchange, market: StaticMarket) -> None:
    exchange.place(CLIENT, order(market, price="151"))
    market.set_quote("NFO", NIFTY_CE_TOKEN, 160.0)
    exchange.place(CLIENT, order(market, transactiontype="SELL", price="159"))
    rms = exchange.rms(CLIENT)
    assert float(rms["m2mrealized"]) == pytest.approx(75 * (159.95 - 150.05))
    assert rms["utilisedoptionpremium"] == "0.00"
    assert rms["utilisedholdingsales"] is None
    row = exchange.positions(CLIENT)[0].row(160.0)
    assert row["netqty"] == "0" and row["buyqty"] == "75" and row["sellqty"] == "75"


def test_market_closed_means_amo_then_release_at_open(market: StaticMarket, events: list[OrderEvent]) -> None:
    clock = SimClock(datetime(2026, 11, 18, 8, 0, tzinfo=IST))
    closed_market = StaticMarket(clock)
    exchange = SimExchange(closed_market, clock, [TEST_ACCOUNT])
    exchange.start()
    exchange.add_listener(events.append)
    placed = exchange.place(CLIENT, order(closed_market, price="151"))
    assert placed.status is OrderStatus.AMO_RECEIVED
    assert placed.row()["status"] == "after market order req received"
    assert events == []  # no postbacks before the order goes to the exchange
    clock.advance_to(datetime(2026, 11, 18, 9, 15, tzinfo=IST))
    closed_market.set_quote("NFO", NIFTY_CE_TOKEN, 150.0)
    assert placed.status is OrderStatus.COMPLETE
    assert codes(events) == ["AB09", "AB01", "AB05"]


def test_amo_cancel_and_day_orders_cancelled_at_close(
    exchange: SimExchange, market: StaticMarket, clock: SimClock
) -> None:
    resting = exchange.place(CLIENT, order(market, price="140"))
    assert resting.status is OrderStatus.OPEN
    clock.advance_to(datetime(2026, 11, 18, 15, 31, tzinfo=IST))
    exchange.sweep()
    assert resting.status is OrderStatus.CANCELLED and "market close" in resting.text
    amo = exchange.place(CLIENT, order(market, price="140"))
    assert amo.status is OrderStatus.AMO_RECEIVED
    cancelled = exchange.cancel(CLIENT, {"variety": "NORMAL", "orderid": amo.order_id})
    assert cancelled.status is OrderStatus.AMO_CANCELLED


def test_modify_and_cancel_flow(
    exchange: SimExchange, market: StaticMarket, events: list[OrderEvent]
) -> None:
    resting = exchange.place(CLIENT, order(market, price="140", ordertag="keep-me"))
    events.clear()
    exchange.modify(
        CLIENT,
        {
            "variety": "NORMAL",
            "orderid": resting.order_id,
            "ordertype": "LIMIT",
            "price": "145",
            "quantity": "150",
        },
    )
    assert codes(events) == ["AB11", "AB04", "AB01"]
    assert resting.price == 145 and resting.quantity == 150 and resting.order_tag == "keep-me"
    with pytest.raises(OrderRequestError) as bad:
        exchange.modify(CLIENT, {"variety": "NORMAL", "orderid": resting.order_id, "price": "145.01"})
    assert bad.value.code == "AB1007" and "tick size" in bad.value.message
    assert resting.price == 145  # a refused modify leaves the order as it was
    exchange.cancel(CLIENT, {"variety": "NORMAL", "orderid": resting.order_id})
    assert resting.status is OrderStatus.CANCELLED
    with pytest.raises(OrderRequestError) as again:
        exchange.cancel(CLIENT, {"variety": "NORMAL", "orderid": resting.order_id})
    assert again.value.code == "AB1007"
    with pytest.raises(OrderRequestError) as missing:
        exchange.cancel(CLIENT, {"variety": "NORMAL", "orderid": "261118999999999"})
    assert missing.value.code == "AB1013"
    with pytest.raises(OrderRequestError) as amo_variety:
        exchange.cancel(CLIENT, {"variety": "AMO", "orderid": resting.order_id})
    assert amo_variety.value.code == "AB1008"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"ordertag": "x" * 20}, "AB4008"),
        ({"variety": "AMO"}, "AB1008"),
        ({"variety": "ROBO"}, "AB2002"),
        ({"producttype": "WHATEVER"}, "AB1012"),
        ({"symboltoken": "123456"}, "AB1009"),
        ({"quantity": "abc"}, "AB1007"),
        ({"ordertype": "STOPLOSS_LIMIT", "triggerprice": "140"}, "AB1008"),
    ],
)
def test_synchronous_request_errors(
    exchange: SimExchange, market: StaticMarket, overrides: dict[str, str], code: str
) -> None:
    with pytest.raises(OrderRequestError) as error:
        exchange.place(CLIENT, order(market, **overrides))
    assert error.value.code == code
    assert exchange.orders(CLIENT) == []


def test_ordertag_of_19_chars_is_kept(exchange: SimExchange, market: StaticMarket) -> None:
    placed = exchange.place(CLIENT, order(market, ordertag="y" * 19))
    assert placed.row("book")["ordertag"] == "y" * 19


def test_equity_order_and_convert_position(exchange: SimExchange, market: StaticMarket) -> None:
    body = order(
        market,
        token=SBIN_TOKEN,
        exchange="NSE",
        tradingsymbol="SBIN-EQ",
        quantity="10",
        price="800.05",
        producttype="INTRADAY",
    )
    assert exchange.place(CLIENT, body).status is OrderStatus.COMPLETE
    exchange.convert_position(
        CLIENT,
        {
            "exchange": "NSE",
            "symboltoken": SBIN_TOKEN,
            "oldproducttype": "INTRADAY",
            "newproducttype": "DELIVERY",
            "transactiontype": "BUY",
            "quantity": 10,
            "tradingsymbol": "SBIN-EQ",
            "type": "DAY",
        },
    )
    by_product = {p.product_type: p.open_quantity for p in exchange.positions(CLIENT)}
    assert by_product == {"INTRADAY": 0, "DELIVERY": 10}
    with pytest.raises(OrderRequestError) as error:
        exchange.convert_position(
            CLIENT,
            {
                "exchange": "NSE",
                "symboltoken": SBIN_TOKEN,
                "oldproducttype": "INTRADAY",
                "newproducttype": "DELIVERY",
                "transactiontype": "BUY",
                "quantity": 10,
            },
        )
    assert error.value.code == "AB1017"


def test_replay_is_deterministic(clock: SimClock) -> None:
    def run() -> list[tuple[str, str, str]]:
        local_clock = SimClock(market_hours_start())
        market = StaticMarket(local_clock)
        exchange = SimExchange(market, local_clock, [TEST_ACCOUNT], seed=3)
        exchange.start()
        for price in ("151", "140", "149"):
            exchange.place(CLIENT, order(market, price=price))
            local_clock.advance(1)
            market.set_quote("NFO", NIFTY_PE_TOKEN, 61.0)
            market.set_quote("NFO", NIFTY_CE_TOKEN, 148.0)
        return [(o.order_id, o.unique_order_id, str(o.status)) for o in exchange.orders(CLIENT)]

    assert run() == run()


def test_rate_cards_are_dated() -> None:
    from datetime import date

    from optbot.sim.exchange.charges import charges_for, rate_card_for
    from optbot.sim.exchange.instruments import InstrumentIndex
    from optbot.test_kit.sim import static_scrip_master

    spec = InstrumentIndex(static_scrip_master()).get("NFO", NIFTY_CE_TOKEN)
    assert spec is not None
    stt = [
        charges_for(rate_card_for(day), spec, "CARRYFORWARD", False, 100, 100.0).stt
        for day in (date(2024, 9, 30), date(2024, 10, 1), date(2026, 4, 1))
    ]
    assert stt == pytest.approx([6.25, 10.0, 15.0])
    buy = charges_for(rate_card_for(date(2024, 10, 1)), spec, "CARRYFORWARD", True, 100, 100.0)
    assert buy.stt == 0.0 and buy.stamp == pytest.approx(0.3) and buy.brokerage == 20.0


def test_quotes_published_during_an_operation_apply_after_it(
    clock: SimClock, events: list[OrderEvent]
) -> None:
    class CatchingUpMarket(StaticMarket):
        """Like ReplayMarket: asking for a quote may first publish ticks the clock already passed."""

        pending: list[float] = []

        def quote(self, exchange: str, token: str) -> Any:
            while self.pending:
                self.set_quote("NFO", NIFTY_CE_TOKEN, self.pending.pop(0))
            return super().quote(exchange, token)

    market = CatchingUpMarket(clock)
    exchange = SimExchange(market, clock, [TEST_ACCOUNT])
    exchange.start()
    exchange.add_listener(events.append)
    resting = exchange.place(CLIENT, order(market, price="140"))
    events.clear()
    market.pending.append(139.0)  # would fill the resting order mid-modify without deferral
    exchange.modify(
        CLIENT, {"variety": "NORMAL", "orderid": resting.order_id, "price": "141", "quantity": "150"}
    )
    assert codes(events) == ["AB11", "AB04", "AB01", "AB05"]  # modify completes first, then the fill
    assert resting.filled_quantity == 150


def test_rms_gives_hedge_benefit_to_a_covered_short(exchange: SimExchange, market: StaticMarket) -> None:
    from optbot.test_kit.sim import NIFTY_CE_HEDGE_TOKEN

    second = SECOND_ACCOUNT.client_code  # 10,000 rupees
    naked = exchange.place(second, order(market, transactiontype="SELL", price="149"))
    assert naked.status is OrderStatus.REJECTED and "Insufficient Funds" in naked.text
    hedge = exchange.place(second, order(market, token=NIFTY_CE_HEDGE_TOKEN, price="60.05"))
    assert hedge.status is OrderStatus.COMPLETE  # 75 x 60.05 = 4,503.75 premium
    covered = exchange.place(second, order(market, transactiontype="SELL", price="149"))
    # the 24400/24600 call spread risks 200/unit = 15,000 > what is left -> still rejected, with the number
    assert covered.status is OrderStatus.REJECTED and "You require Rs. 15000.00" in covered.text
    rich = TEST_ACCOUNT.client_code
    exchange.place(rich, order(market, token=NIFTY_CE_HEDGE_TOKEN, price="60.05"))
    spread = exchange.place(rich, order(market, transactiontype="SELL", price="149"))
    assert spread.status is OrderStatus.COMPLETE
    rms = exchange.rms(rich)
    assert float(rms["utilisedspan"]) == pytest.approx(75 * 200.0)
    assert float(rms["utilisedexposure"]) == 0.0


def test_new_session_carries_positions_settles_expiry_and_clears_books(
    exchange: SimExchange, market: StaticMarket, clock: SimClock
) -> None:
    from optbot.test_kit.sim import NIFTY_FUT_TOKEN

    exchange.place(CLIENT, order(market, price="151"))  # long 75 CE @150.05, CARRYFORWARD
    fut = exchange.place(
        CLIENT,
        order(
            market,
            token=NIFTY_FUT_TOKEN,
            price="24561.00",
            producttype="INTRADAY",
            transactiontype="SELL",
            quantity="75",
        ),
    )
    assert fut.status is OrderStatus.OPEN  # bids are below 24561: it rests
    market.set_quote("NFO", NIFTY_FUT_TOKEN, 24580.0)
    assert fut.status is OrderStatus.COMPLETE  # sold at the best bid 24579.95
    resting = exchange.place(CLIENT, order(market, price="120"))
    clock.advance_to(datetime(2026, 11, 19, 9, 0, tzinfo=IST))
    market.set_quote("NFO", NIFTY_FUT_TOKEN, 24600.0, publish=False)
    books = exchange.orders(CLIENT)
    assert books == [] and resting.status is OrderStatus.CANCELLED
    assert exchange.trades(CLIENT) == []
    (carried,) = exchange.positions(CLIENT)  # the INTRADAY future was squared off at 24600
    row = carried.row(150.0)
    assert row["cfbuyqty"] == "75" and row["buyqty"] == "0" and row["netqty"] == "75"
    assert row["cfbuyamount"] == f"{75 * 150.05:.2f}"
    rms = exchange.rms(CLIENT)
    assert float(rms["availablecash"]) == pytest.approx(500000 + 75 * (24579.95 - 24600.0))
    assert rms["m2mrealized"] == "0.00"
    new_order = exchange.place(CLIENT, order(market, price="120"))
    assert new_order.order_id == "261119000000001"


def test_expired_options_settle_at_intrinsic_value(clock: SimClock) -> None:
    market = StaticMarket(clock, static_scrip_master(expiry="18NOV2026"))
    exchange = SimExchange(market, clock, [TEST_ACCOUNT])
    exchange.start()
    exchange.place(CLIENT, order(market, price="151"))  # 24400 CE, index at 24500 -> intrinsic 100
    clock.advance_to(datetime(2026, 11, 19, 9, 0, tzinfo=IST))
    assert exchange.positions(CLIENT) == []
    assert float(exchange.rms(CLIENT)["availablecash"]) == pytest.approx(500000 + 75 * (100 - 150.05))
