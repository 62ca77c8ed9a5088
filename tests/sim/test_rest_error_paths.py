"""Every route's error path over plain HTTP: the AB code a client sees for each kind of bad input."""

from __future__ import annotations

from typing import Any

import pytest

from optbot.core.clock import SimClock
from optbot.sim.server import Simulator
from optbot.test_kit.sim import NIFTY_CE_TOKEN, NIFTY_TOKEN, SBIN_TOKEN, TEST_ACCOUNT, StaticMarket
from tests.sim.helpers import client_for, headers, login

S = "/rest/secure/angelbroking"
GTT = f"{S}/gtt/v1"
CANDLE = {
    "exchange": "NSE",
    "symboltoken": NIFTY_TOKEN,
    "interval": "ONE_MINUTE",
    "fromdate": "2026-11-18 09:15",
    "todate": "2026-11-18 09:20",
}
RULE = {
    "tradingsymbol": "SBIN-EQ",
    "symboltoken": SBIN_TOKEN,
    "exchange": "NSE",
    "transactiontype": "BUY",
    "producttype": "DELIVERY",
    "price": 700,
    "qty": 1,
    "triggerprice": 701,
    "disclosedqty": 0,
}

CASES: list[tuple[str, str, dict[str, Any], str, str]] = [
    # (name, path, body, expected errorcode, fragment of the message)
    ("refresh-missing", "/rest/auth/angelbroking/jwt/v1/generateTokens", {}, "AB8050", "refresh"),
    (
        "refresh-unknown",
        "/rest/auth/angelbroking/jwt/v1/generateTokens",
        {"refreshToken": "x"},
        "AB8050",
        "refresh",
    ),
    ("logout-other-client", f"{S}/user/v1/logout", {"clientcode": "SOMEONE"}, "AB1007", "clientcode"),
    (
        "modify-unknown",
        f"{S}/order/v1/modifyOrder",
        {"variety": "NORMAL", "orderid": "1"},
        "AB1013",
        "not found",
    ),
    ("cancel-no-variety", f"{S}/order/v1/cancelOrder", {"orderid": "1"}, "AB1007", "variety"),
    (
        "convert-nothing",
        f"{S}/order/v1/convertPosition",
        {
            "exchange": "NFO",
            "symboltoken": NIFTY_CE_TOKEN,
            "oldproducttype": "CARRYFORWARD",
            "newproducttype": "INTRADAY",
            "transactiontype": "BUY",
            "quantity": 75,
        },
        "AB1017",
        "no open position",
    ),
    ("ltp-missing", f"{S}/order/v1/getLtpData", {"exchange": "NSE"}, "AB1007", "symboltoken"),
    ("quote-no-tokens", f"{S}/market/v1/quote", {"mode": "LTP"}, "AB1007", "exchangeTokens"),
    (
        "quote-too-many",
        f"{S}/market/v1/quote",
        {"mode": "LTP", "exchangeTokens": {"NSE": [str(i) for i in range(51)]}},
        "AB1007",
        "at most 50",
    ),
    ("search-empty", f"{S}/order/v1/searchScrip", {"exchange": "NSE"}, "AB1007", "searchscrip"),
    (
        "candle-bad-date",
        f"{S}/historical/v1/getCandleData",
        {**CANDLE, "fromdate": "18-11-2026"},
        "AB1007",
        "yyyy-MM-dd HH:mm",
    ),
    (
        "candle-reversed",
        f"{S}/historical/v1/getCandleData",
        {**CANDLE, "todate": "2026-11-18 09:00"},
        "AB1007",
        "before fromdate",
    ),
    (
        "candle-unknown-token",
        f"{S}/historical/v1/getCandleData",
        {**CANDLE, "symboltoken": "1"},
        "AB1009",
        "Symbol",
    ),
    ("margin-empty", f"{S}/margin/v1/batch", {"positions": []}, "AB1007", "positions"),
    (
        "margin-bad-side",
        f"{S}/margin/v1/batch",
        {"positions": [{"exchange": "NFO", "qty": 75, "token": NIFTY_CE_TOKEN, "tradeType": "HOLD"}]},
        "AB1007",
        "tradeType",
    ),
    (
        "margin-unknown",
        f"{S}/margin/v1/batch",
        {"positions": [{"exchange": "NFO", "qty": 75, "token": "1", "tradeType": "BUY"}]},
        "AB1009",
        "Symbol",
    ),
    ("charges-empty", f"{S}/brokerage/v1/estimateCharges", {"orders": "x"}, "AB1007", "orders"),
    (
        "charges-bad-qty",
        f"{S}/brokerage/v1/estimateCharges",
        {
            "orders": [
                {
                    "product_type": "CARRYFORWARD",
                    "transaction_type": "BUY",
                    "quantity": "x",
                    "price": "1",
                    "exchange": "NFO",
                    "token": NIFTY_CE_TOKEN,
                }
            ]
        },
        "AB1007",
        "quantity",
    ),
    ("greek-missing", f"{S}/marketData/v1/optionGreek", {"name": "NIFTY"}, "AB1007", "expirydate"),
    (
        "greek-no-contracts",
        f"{S}/marketData/v1/optionGreek",
        {"name": "NIFTY", "expirydate": "01JAN2020"},
        "AB1009",
        "No option contracts",
    ),
    (
        "gainers-bad",
        f"{S}/marketData/v1/gainersLosers",
        {"datatype": "Up", "expirytype": "NEAR"},
        "AB1007",
        "datatype",
    ),
    ("gtt-side", f"{GTT}/createRule", {**RULE, "transactiontype": "HOLD"}, "AB9014", "side"),
    ("gtt-product", f"{GTT}/createRule", {**RULE, "producttype": "INTRADAY"}, "AB9015", "product"),
    ("gtt-qty", f"{GTT}/createRule", {**RULE, "qty": 0}, "AB9006", "qty"),
    ("gtt-disclosed", f"{GTT}/createRule", {**RULE, "disclosedqty": 5}, "AB9007", "disclosed"),
    ("gtt-price", f"{GTT}/createRule", {**RULE, "price": -1}, "AB9008", "price"),
    ("gtt-trigger", f"{GTT}/createRule", {**RULE, "triggerprice": "x"}, "AB9009", "trigger"),
    ("gtt-token", f"{GTT}/createRule", {**RULE, "symboltoken": "1"}, "AB9011", "token"),
    ("gtt-symbol", f"{GTT}/createRule", {**RULE, "tradingsymbol": "TCS-EQ"}, "AB9012", "symbol"),
    ("gtt-period", f"{GTT}/createRule", {**RULE, "timeperiod": 400}, "AB9016", "period"),
    ("gtt-modify-unknown", f"{GTT}/modifyRule", {"id": "42"}, "AB9013", "rule id"),
    ("gtt-details-unknown", f"{GTT}/ruleDetails", {"id": "42"}, "AB9013", "rule id"),
    ("gtt-list-status", f"{GTT}/ruleList", {"status": [], "page": 1, "count": 1}, "AB9004", "status"),
    ("gtt-list-count", f"{GTT}/ruleList", {"status": ["NEW"], "page": 1, "count": 0}, "AB9018", "count"),
]


@pytest.mark.parametrize(("name", "path", "body", "code", "fragment"), CASES, ids=[case[0] for case in CASES])
async def test_error_path(
    sim: Simulator, sim_clock: SimClock, name: str, path: str, body: dict[str, Any], code: str, fragment: str
) -> None:
    sim.limiter.enabled = False
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        reply = await client.post(path, headers=headers(jwt), json=body)
    assert reply.status_code == 200
    payload = reply.json()
    assert payload["status"] is False and payload["data"] is None
    assert payload["errorcode"] == code, payload
    assert fragment.lower() in payload["message"].lower()


async def test_gtt_modify_then_cancel_happy_path(
    sim: Simulator, sim_clock: SimClock, sim_market: StaticMarket
) -> None:
    sim.limiter.enabled = False
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        rule_id = (await client.post(f"{GTT}/createRule", headers=headers(jwt), json=RULE)).json()["data"][
            "id"
        ]
        modified = await client.post(
            f"{GTT}/modifyRule",
            headers=headers(jwt),
            json={
                "id": rule_id,
                "symboltoken": SBIN_TOKEN,
                "exchange": "NSE",
                "price": 690,
                "qty": 2,
                "triggerprice": 691,
                "disclosedqty": 0,
            },
        )
        assert modified.json()["data"] == {"id": rule_id}
        details = (await client.post(f"{GTT}/ruleDetails", headers=headers(jwt), json={"id": rule_id})).json()
        assert details["data"]["price"] == 690.0 and details["data"]["qty"] == 2
        cancelled = await client.post(
            f"{GTT}/cancelRule",
            headers=headers(jwt),
            json={"id": rule_id, "symboltoken": SBIN_TOKEN, "exchange": "NSE"},
        )
        assert cancelled.json()["data"] == {"id": rule_id}
        sim_market.set_quote("NSE", SBIN_TOKEN, 680.0)  # a cancelled rule never fires
        assert sim.exchange.orders(TEST_ACCOUNT.client_code) == []
        all_holdings = (await client.get(f"{S}/portfolio/v1/getAllHolding", headers=headers(jwt))).json()[
            "data"
        ]
        assert all_holdings["holdings"] == [] and all_holdings["totalholding"]["totalholdingvalue"] == 0
