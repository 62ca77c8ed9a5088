"""Simulator holdings: seeds, DELIVERY buys settling T+1 on the NSE calendar, sells, funds, bad seeds."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from optbot.core.clock import SimClock
from optbot.core.errors import UserError
from optbot.core.timeutil import IST
from optbot.sim.accounts import load_accounts
from optbot.sim.auth import HoldingSeed
from optbot.sim.exchange import OrderStatus, SimExchange
from optbot.sim.exchange.holdings import is_valid_isin, synthetic_isin
from optbot.test_kit.sim import SBIN_TOKEN, TEST_ACCOUNT, StaticMarket, static_scrip_master

CLIENT = TEST_ACCOUNT.client_code
SBIN_ISIN = "INE062A01020"
HOLDING_ROW_KEYS = {
    "tradingsymbol",
    "exchange",
    "isin",
    "t1quantity",
    "realisedquantity",
    "quantity",
    "authorisedquantity",
    "product",
    "collateralquantity",
    "collateraltype",
    "haircut",
    "averageprice",
    "ltp",
    "symboltoken",
    "close",
    "profitandloss",
    "pnlpercentage",
}


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=IST)


def build(start: datetime, seeds: tuple[HoldingSeed, ...] = ()) -> tuple[SimClock, StaticMarket, SimExchange]:
    clock = SimClock(start)
    market = StaticMarket(clock, static_scrip_master())
    account = TEST_ACCOUNT if not seeds else dataclasses.replace(TEST_ACCOUNT, holdings=seeds)
    exchange = SimExchange(market, clock, [account], seed=3)
    exchange.start()
    return clock, market, exchange


def delivery(side: str, quantity: int, price: str) -> dict[str, Any]:
    return {
        "variety": "NORMAL",
        "tradingsymbol": "SBIN-EQ",
        "symboltoken": SBIN_TOKEN,
        "exchange": "NSE",
        "transactiontype": side,
        "ordertype": "LIMIT",
        "producttype": "DELIVERY",
        "duration": "DAY",
        "quantity": str(quantity),
        "price": price,
    }


def test_isin_check_digits() -> None:
    assert is_valid_isin(SBIN_ISIN) and is_valid_isin("INE081A01020") and is_valid_isin("US0378331005")
    assert not is_valid_isin("INE062A01021") and not is_valid_isin("INE062A0102")
    assert is_valid_isin(synthetic_isin(SBIN_TOKEN)) and synthetic_isin(SBIN_TOKEN).startswith("INE")


def test_seeded_holding_is_a_full_reference_row() -> None:
    _, _, exchange = build(at(18), (HoldingSeed("NSE", "SBIN-EQ", 10, 700.0, SBIN_ISIN),))
    (row,) = exchange.holding_rows(CLIENT)
    assert set(row) == HOLDING_ROW_KEYS
    assert (row["isin"], row["quantity"], row["realisedquantity"], row["t1quantity"]) == (
        SBIN_ISIN,
        10,
        10,
        0,
    )
    assert row["ltp"] == 800.0 and row["averageprice"] == 700.0 and row["product"] == "DELIVERY"
    assert row["profitandloss"] == 1000.0 and row["pnlpercentage"] == pytest.approx(14.29)
    totals = exchange.holdings_summary(CLIENT)["totalholding"]
    assert totals == {
        "totalholdingvalue": 8000.0,
        "totalinvvalue": 7000.0,
        "totalprofitandloss": 1000.0,
        "totalpnlpercentage": pytest.approx(14.29),
    }


def test_delivery_buy_is_t1_over_a_holiday_then_settles() -> None:
    # Mon 2026-11-23 buy; Tue 24th is an NSE holiday, so T+1 is Wed 25th: settled from Thu 26th.
    clock, market, exchange = build(at(23))
    bought = exchange.place(CLIENT, delivery("BUY", 5, "801"))
    assert bought.status is OrderStatus.COMPLETE
    assert exchange.holding_rows(CLIENT) == []  # today it is a position
    cash_before = float(exchange.rms(CLIENT)["availablecash"])
    for day, settled, t1 in ((24, 0, 5), (25, 0, 5), (26, 5, 0)):
        clock.advance_to(at(day, 9))
        (row,) = exchange.holding_rows(CLIENT)
        assert (row["realisedquantity"], row["t1quantity"], row["quantity"]) == (settled, t1, 5), day
    assert exchange.positions(CLIENT) == []
    paid = 5 * bought.average_price
    assert float(exchange.rms(CLIENT)["availablecash"]) == pytest.approx(cash_before - paid)
    assert row["averageprice"] == pytest.approx(round(bought.average_price, 2))


def test_delivery_sell_reduces_the_holding_and_credits_cash() -> None:
    clock, _, exchange = build(at(18), (HoldingSeed("NSE", "SBIN-EQ", 10, 700.0),))
    sold = exchange.place(CLIENT, delivery("SELL", 4, "799"))
    assert sold.status is OrderStatus.COMPLETE
    cash_before = float(exchange.rms(CLIENT)["availablecash"])
    clock.advance_to(at(19))
    (row,) = exchange.holding_rows(CLIENT)
    assert row["quantity"] == 6 and row["averageprice"] == 700.0
    assert float(exchange.rms(CLIENT)["availablecash"]) == pytest.approx(cash_before + 4 * sold.average_price)
    exchange.place(CLIENT, delivery("SELL", 6, "799"))
    clock.advance_to(at(20, 9))
    assert exchange.holding_rows(CLIENT) == []


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        (HoldingSeed("NSE", "NOSUCH-EQ", 1, 10.0), "not a cash equity"),
        (HoldingSeed("NFO", "SBIN-EQ", 1, 10.0), "NSE or BSE"),
        (HoldingSeed("NSE", "SBIN-EQ", 0, 10.0), "positive number of shares"),
        (HoldingSeed("NSE", "SBIN-EQ", 1, 10.0, "INE062A01021"), "check digit"),
    ],
)
def test_bad_seeds_are_refused_by_name(seed: HoldingSeed, message: str) -> None:
    _, _, exchange = build(at(18))
    with pytest.raises(UserError, match=message):
        exchange.seed_holding(CLIENT, seed)


def test_accounts_file_holdings(tmp_path: Path) -> None:
    entry = {
        "client_code": "S1",
        "pin": "1234",
        "totp_secret": TEST_ACCOUNT.totp_secret,
        "api_key": "k",
        "holdings": [{"exchange": "NSE", "tradingsymbol": "SBIN-EQ", "quantity": 3, "average_price": 650.5}],
    }
    path = tmp_path / "accounts.json"
    path.write_bytes(orjson.dumps([entry]))
    (account,) = load_accounts(path)
    assert account.holdings == (HoldingSeed("NSE", "SBIN-EQ", 3, 650.5),)
    entry["holdings"] = [{"exchange": "NSE", "tradingsymbol": "SBIN-EQ", "quantity": -3, "average_price": 1}]
    path.write_bytes(orjson.dumps([entry]))
    with pytest.raises(UserError, match=r"entry 0: holdings\.0\.quantity"):
        load_accounts(path)


def test_delivery_sell_beyond_the_shares_held_is_rejected() -> None:
    _, _, exchange = build(at(18), (HoldingSeed("NSE", "SBIN-EQ", 3, 700.0),))
    too_many = exchange.place(CLIENT, delivery("SELL", 4, "799"))
    assert too_many.status is OrderStatus.REJECTED
    assert "exceeds the 3 shares of SBIN-EQ available to sell" in too_many.text
    resting = exchange.place(CLIENT, delivery("SELL", 2, "805"))  # above the ask: rests, claims 2
    assert resting.status is OrderStatus.OPEN
    assert exchange.place(CLIENT, delivery("SELL", 2, "805")).status is OrderStatus.REJECTED
    bought = exchange.place(CLIENT, delivery("BUY", 1, "801"))  # today's buys are sellable too
    assert bought.status is OrderStatus.COMPLETE
    assert exchange.place(CLIENT, delivery("SELL", 2, "805")).status is OrderStatus.OPEN


def test_an_equity_the_market_does_not_list_needs_its_token_and_is_valued_at_cost() -> None:
    _, _, exchange = build(at(18))
    with pytest.raises(UserError, match="give symboltoken"):
        exchange.seed_holding(CLIENT, HoldingSeed("NSE", "INFY-EQ", 5, 1500.0))
    exchange.seed_holding(CLIENT, HoldingSeed("NSE", "INFY-EQ", 5, 1500.0, symboltoken="1594"))
    (row,) = exchange.holding_rows(CLIENT)
    assert (row["symboltoken"], row["tradingsymbol"], row["ltp"], row["close"]) == (
        "1594",
        "INFY-EQ",
        1500.0,
        0,
    )
    assert row["profitandloss"] == 0 and is_valid_isin(row["isin"])


async def test_simulator_start_names_a_bad_accounts_file_holding() -> None:
    from optbot.sim.server import Simulator

    clock = SimClock(at(18))
    account = type(TEST_ACCOUNT)(
        **{**TEST_ACCOUNT.__dict__, "holdings": (HoldingSeed("NSE", "NOPE-EQ", 1, 1.0),)}
    )
    simulator = Simulator(StaticMarket(clock, static_scrip_master()), clock, [account])
    with pytest.raises(UserError, match=rf"holding seed for {CLIENT} \(NOPE-EQ\)"):
        await simulator.start()
    assert simulator.port == 0  # nothing was left listening
