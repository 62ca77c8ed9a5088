"""Random order campaigns against the exchange: every order walks legal transitions, books reconcile."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta

import pytest

from optbot.core.clock import SimClock
from optbot.sim.exchange import OrderRequestError, OrderStatus, SimExchange
from optbot.test_kit.sim import (
    NIFTY_CE_TOKEN,
    NIFTY_PE_TOKEN,
    TEST_ACCOUNT,
    StaticMarket,
    market_hours_start,
)

S = OrderStatus
START = "start"
LEGAL: dict[object, set[OrderStatus]] = {
    START: {S.OPEN_PENDING, S.REJECTED, S.AMO_RECEIVED},
    S.OPEN_PENDING: {S.OPEN, S.TRIGGER_PENDING},
    S.TRIGGER_PENDING: {S.OPEN, S.CANCELLED, S.MODIFY_PENDING},
    S.OPEN: {S.OPEN, S.COMPLETE, S.CANCELLED, S.MODIFY_PENDING},
    S.MODIFY_PENDING: {S.MODIFIED},
    S.MODIFIED: {S.OPEN, S.TRIGGER_PENDING},
    S.AMO_RECEIVED: {S.OPEN_PENDING, S.REJECTED, S.AMO_CANCELLED, S.AMO_MODIFY_RECEIVED},
    S.AMO_MODIFY_RECEIVED: {S.OPEN_PENDING, S.REJECTED, S.AMO_CANCELLED, S.AMO_MODIFY_RECEIVED},
}
TOKENS = (NIFTY_CE_TOKEN, NIFTY_PE_TOKEN)


def run_campaign(seed: int, steps: int) -> None:
    rng = random.Random(seed)
    clock = SimClock(market_hours_start())
    market = StaticMarket(clock)
    exchange = SimExchange(market, clock, [TEST_ACCOUNT], seed=seed)
    exchange.start()
    client = TEST_ACCOUNT.client_code
    prices = {NIFTY_CE_TOKEN: 150.0, NIFTY_PE_TOKEN: 60.0}
    for _ in range(steps):
        action = rng.random()
        token = rng.choice(TOKENS)
        if action < 0.45:
            kind = rng.choice(["LIMIT", "LIMIT", "MARKET", "STOPLOSS_LIMIT", "STOPLOSS_MARKET"])
            side = rng.choice(["BUY", "SELL"])
            ltp = prices[token]
            price = round(round((ltp + rng.uniform(-3, 3)) / 0.05) * 0.05, 2)
            trigger = round(ltp + (1.0 if side == "BUY" else -1.0) * rng.choice([0.5, 1.0, 2.0]), 2)
            body = {
                "variety": "STOPLOSS" if kind.startswith("STOPLOSS") else "NORMAL",
                "tradingsymbol": market.symbol("NFO", token),
                "symboltoken": token,
                "exchange": "NFO",
                "transactiontype": side,
                "ordertype": kind,
                "producttype": "CARRYFORWARD",
                "duration": rng.choice(["DAY", "DAY", "IOC"]),
                "quantity": str(75 * rng.randint(1, 12)),
                "price": str(max(price, 0.05)) if kind in ("LIMIT", "STOPLOSS_LIMIT") else "0",
                "triggerprice": str(trigger),
            }
            if kind == "STOPLOSS_LIMIT":
                body["price"] = str(round(trigger + (0.5 if side == "BUY" else -0.5), 2))
            try:
                exchange.place(client, body)
            except OrderRequestError as error:
                assert error.code.startswith("AB")
        elif action < 0.6:
            working = [o for o in exchange.orders(client) if o.working]
            if working:
                target = rng.choice(working)
                try:
                    exchange.cancel(client, {"variety": target.variety, "orderid": target.order_id})
                except OrderRequestError as error:
                    assert error.code == "AB1007"
        elif action < 0.7:
            working = [o for o in exchange.orders(client) if o.working and o.order_type == "LIMIT"]
            if working:
                target = rng.choice(working)
                new_price = round(round((prices[target.spec.token] + rng.uniform(-2, 2)) / 0.05) * 0.05, 2)
                try:
                    exchange.modify(
                        client,
                        {"variety": "NORMAL", "orderid": target.order_id, "price": str(max(new_price, 0.05))},
                    )
                except OrderRequestError as error:
                    assert error.code == "AB1007"
        else:
            prices[token] = max(1.0, round(prices[token] + rng.choice([-1.5, -0.5, 0.5, 1.5]), 2))
            clock.advance(rng.choice([0.2, 1.0, 5.0]))
            market.set_quote("NFO", token, prices[token])
        if rng.random() < 0.002:
            clock.advance(timedelta(hours=1).total_seconds())
            exchange.sweep()
    check_invariants(exchange, client)


def check_invariants(exchange: SimExchange, client: str) -> None:
    orders = exchange.orders(client)
    for order in orders:
        previous: object = START
        for status in order.history:
            assert status in LEGAL.get(previous, set()), (order.order_id, previous, status, order.history)
            previous = status
        assert order.filled_quantity + order.cancelled_quantity <= order.quantity
        if order.status is S.COMPLETE:
            assert order.filled_quantity == order.quantity
        if not order.working:
            assert order.blocked_margin == 0.0
    filled: dict[tuple[str, str], int] = defaultdict(int)
    for trade in exchange.trades(client):
        filled[(trade.spec.token, trade.product_type)] += trade.quantity * (
            1 if trade.transaction_type == "BUY" else -1
        )
        assert trade.quantity % 75 == 0
    for position in exchange.positions(client):
        # today's trades explain everything beyond what was carried in from earlier sessions
        assert (
            position.net_quantity - position.cf_quantity
            == filled[(position.spec.token, position.product_type)]
        )
        assert position.net_quantity == position.open_quantity
    by_order: dict[str, int] = defaultdict(int)
    for trade in exchange.trades(client):
        by_order[trade.order_id] += trade.quantity
    for order in orders:
        assert by_order.get(order.order_id, 0) == order.filled_quantity


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_campaign_keeps_invariants(seed: int) -> None:
    run_campaign(seed, steps=400)


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(10, 20))
def test_long_random_campaign_keeps_invariants(seed: int) -> None:
    run_campaign(seed, steps=5000)
