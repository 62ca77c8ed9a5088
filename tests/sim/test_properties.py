"""Properties: order entry never crashes on any body; position P&L always reconciles with cash flows."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optbot.core.clock import SimClock
from optbot.sim.exchange import OrderRequestError, SimExchange
from optbot.sim.exchange.instruments import InstrumentIndex
from optbot.sim.exchange.ledger import SimPosition
from optbot.test_kit.sim import (
    NIFTY_CE_TOKEN,
    TEST_ACCOUNT,
    StaticMarket,
    market_hours_start,
    static_scrip_master,
)

FIELD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=25),
    st.sampled_from(
        [
            "NORMAL",
            "STOPLOSS",
            "LIMIT",
            "MARKET",
            "STOPLOSS_LIMIT",
            "BUY",
            "SELL",
            "NFO",
            "DAY",
            "IOC",
            "CARRYFORWARD",
            NIFTY_CE_TOKEN,
            "75",
            "150.05",
            "0",
        ]
    ),
    st.lists(st.integers(), max_size=2),
)
VALID_BODY: dict[str, Any] = {
    "variety": "NORMAL",
    "symboltoken": NIFTY_CE_TOKEN,
    "exchange": "NFO",
    "transactiontype": "BUY",
    "ordertype": "LIMIT",
    "producttype": "CARRYFORWARD",
    "duration": "DAY",
    "quantity": "75",
    "price": "150.05",
}
FIELDS = [
    "variety",
    "tradingsymbol",
    "symboltoken",
    "exchange",
    "transactiontype",
    "ordertype",
    "producttype",
    "duration",
    "quantity",
    "price",
    "triggerprice",
    "disclosedquantity",
    "ordertag",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FIELDS), FIELD_VALUES, max_size=len(FIELDS)))
def test_any_order_body_is_accepted_or_refused_with_an_ab_code(overrides: dict[str, Any]) -> None:
    clock = SimClock(market_hours_start())
    market = StaticMarket(clock)
    exchange = SimExchange(market, clock, [TEST_ACCOUNT])
    exchange.start()
    body = {**VALID_BODY, "tradingsymbol": market.symbol("NFO", NIFTY_CE_TOKEN), **overrides}
    try:
        order = exchange.place(TEST_ACCOUNT.client_code, body)
    except OrderRequestError as error:
        assert error.code.startswith("AB") and error.message
        return
    row = order.row("book")
    assert row["status"] in {"open", "complete", "rejected", "trigger pending", "cancelled"}
    assert int(row["filledshares"]) + int(row["cancelsize"]) <= int(row["quantity"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.booleans(), st.integers(min_value=1, max_value=20), st.integers(min_value=1, max_value=40000)
        ),
        min_size=1,
        max_size=30,
    ),
    st.integers(min_value=1, max_value=40000),
)
def test_position_pnl_reconciles_with_cash_flows(fills: list[tuple[bool, int, int]], mark_ticks: int) -> None:
    spec = InstrumentIndex(static_scrip_master()).get("NFO", NIFTY_CE_TOKEN)
    assert spec is not None
    position = SimPosition(spec, "CARRYFORWARD")
    for is_buy, lots, price_ticks in fills:
        position.apply_fill(is_buy, lots * 75, price_ticks * 0.05)
    mark = mark_ticks * 0.05
    cash = position.sell_amount - position.buy_amount
    total = position.realised + position.unrealised(mark)
    assert total == pytest.approx(cash + position.net_quantity * mark, abs=1e-6 * max(1.0, abs(cash)))
    assert position.open_quantity == position.net_quantity
