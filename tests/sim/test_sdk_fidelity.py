"""The official smartapi-python SDK (1.5.5) cannot tell the simulator from the real REST API.

The SDK is synchronous (requests), so each call runs in a worker thread while the server runs on the
test's event loop. Its import-time ipify lookup is refused and its ./logs land in a tmp directory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from optbot.core.clock import SimClock
from optbot.sim.server import Simulator
from optbot.test_kit.sim import NIFTY_CE_TOKEN, NIFTY_TOKEN, TEST_ACCOUNT, StaticMarket
from optbot.test_kit.smartapi_sdk import import_sdk_module
from tests.sim.conftest import totp_now
from tests.sim.helpers import option_order


@pytest.fixture(autouse=True)
def sdk_logs_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the SDK writes ./logs/<date>/app.log on construction


@pytest.fixture
def connect(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    module = import_sdk_module("smartConnect")
    # individual_order_details ignores root= and uses the class constant (reference §10 item 9).
    monkeypatch.setattr(module.SmartConnect, "_rootUrl", sim.base_url)
    return module.SmartConnect(api_key=TEST_ACCOUNT.api_key, root=sim.base_url, timeout=5)


async def sdk(clock: SimClock, function: Callable[..., Any], *args: Any) -> Any:
    """Run one SDK call off the loop, one simulated second after the previous one (rate limits)."""
    clock.advance(1.0)
    return await asyncio.to_thread(function, *args)


async def test_sdk_session_orders_books_and_market_data(
    connect: Any, sim_clock: SimClock, sim_market: StaticMarket, sim: Simulator
) -> None:
    session = await sdk(
        sim_clock, connect.generateSession, TEST_ACCOUNT.client_code, TEST_ACCOUNT.pin, totp_now(sim_clock)
    )
    assert session["status"] is True
    assert session["data"]["clientcode"] == TEST_ACCOUNT.client_code
    assert session["data"]["jwtToken"].startswith("Bearer eyJ")
    assert connect.getfeedToken().startswith("eyJ")
    profile = await sdk(sim_clock, connect.getProfile, connect.refresh_token)
    assert profile["data"]["name"] == TEST_ACCOUNT.name
    rms = await sdk(sim_clock, connect.rmsLimit)
    assert rms["data"]["net"] == "500000.00"

    assert (await sdk(sim_clock, connect.orderBook))["data"] is None
    resting = await sdk(sim_clock, connect.placeOrderFullResponse, option_order(sim_market, price="140"))
    assert resting["status"] is True
    order_id = resting["data"]["orderid"]
    unique_id = resting["data"]["uniqueorderid"]
    filled_id = await sdk(
        sim_clock, connect.placeOrder, option_order(sim_market, price="151", ordertag="fill")
    )
    assert isinstance(filled_id, str) and len(filled_id) == 15
    modified = await sdk(
        sim_clock,
        connect.modifyOrder,
        {
            "variety": "NORMAL",
            "orderid": order_id,
            "ordertype": "LIMIT",
            "producttype": "CARRYFORWARD",
            "duration": "DAY",
            "price": "142",
            "quantity": "75",
            "tradingsymbol": resting["data"]["script"],
            "symboltoken": NIFTY_CE_TOKEN,
            "exchange": "NFO",
        },
    )
    assert modified["status"] is True
    details = await sdk(sim_clock, connect.individual_order_details, unique_id)
    assert details["data"]["price"] == 142.0 and details["data"]["status"] == "open"
    cancelled = await sdk(sim_clock, connect.cancelOrder, order_id, "NORMAL")
    assert cancelled["data"]["orderid"] == order_id
    book = (await sdk(sim_clock, connect.orderBook))["data"]
    assert [row["status"] for row in book] == ["cancelled", "complete"]
    trades = (await sdk(sim_clock, connect.tradeBook))["data"]
    assert trades[0]["orderid"] == filled_id
    positions = (await sdk(sim_clock, connect.position))["data"]
    assert positions[0]["netqty"] == "75"

    ltp = await sdk(sim_clock, connect.ltpData, "NFO", resting["data"]["script"], NIFTY_CE_TOKEN)
    assert ltp["data"]["ltp"] == 150.0
    quote = await sdk(sim_clock, connect.getMarketData, "FULL", {"NFO": [NIFTY_CE_TOKEN]})
    assert quote["data"]["fetched"][0]["depth"]["buy"][0]["price"] == 149.95
    found = await sdk(sim_clock, connect.searchScrip, "NFO", "24400CE")
    assert found["data"][0]["symboltoken"] == NIFTY_CE_TOKEN

    from datetime import datetime

    from optbot.core.timeutil import IST

    sim_market.add_minute_candles("NSE", NIFTY_TOKEN, datetime(2026, 11, 18, 9, 15, tzinfo=IST), 5, 24400.0)
    candles = await sdk(
        sim_clock,
        connect.getCandleData,
        {
            "exchange": "NSE",
            "symboltoken": NIFTY_TOKEN,
            "interval": "ONE_MINUTE",
            "fromdate": "2026-11-18 09:15",
            "todate": "2026-11-18 09:19",
        },
    )
    assert len(candles["data"]) == 5 and candles["data"][0][0] == "2026-11-18T09:15:00+05:30"

    out = await sdk(sim_clock, connect.terminateSession, TEST_ACCOUNT.client_code)
    assert out["data"] == "Logout Successfully"
    after = await sdk(sim_clock, connect.rmsLimit)
    assert after == {"success": False, "message": "Invalid Token", "errorCode": "AG8001", "data": ""}


async def test_sdk_error_dialects_rate_limit_text_and_lost_reply(
    connect: Any, sim_clock: SimClock, sim_market: StaticMarket, sim: Simulator
) -> None:
    failed = await sdk(
        sim_clock, connect.generateSession, TEST_ACCOUNT.client_code, "0000", totp_now(sim_clock)
    )
    assert failed["status"] is False and failed["errorcode"] == "AB1007"
    await sdk(
        sim_clock, connect.generateSession, TEST_ACCOUNT.client_code, TEST_ACCOUNT.pin, totp_now(sim_clock)
    )
    bad_interval = {
        "exchange": "NSE",
        "symboltoken": NIFTY_TOKEN,
        "interval": "BOGUS",
        "fromdate": "2026-11-18 09:15",
        "todate": "2026-11-18 09:19",
    }
    with pytest.raises(Exception, match="Couldn't parse the JSON response"):
        await sdk(sim_clock, connect.getCandleData, bad_interval)
    sim.faults.forbid_storm(count=1)
    with pytest.raises(Exception, match="Couldn't parse the JSON response"):
        await sdk(sim_clock, connect.rmsLimit)  # 403 text body, exactly as users hit it live
    rejected = await sdk(
        sim_clock, connect.placeOrderFullResponse, option_order(sim_market, ordertag="z" * 20)
    )
    assert rejected["errorcode"] == "AB4008"
    sim.faults.lose_order_replies(1)
    with pytest.raises(Exception):  # noqa: B017 - requests raises ConnectionError for the dropped reply
        await sdk(sim_clock, connect.placeOrderFullResponse, option_order(sim_market, ordertag="lostreply"))
    book = (await sdk(sim_clock, connect.orderBook))["data"]
    assert [row["ordertag"] for row in book] == ["lostreply"]


async def test_sdk_refresh_and_gtt(connect: Any, sim_clock: SimClock, sim: Simulator) -> None:
    session = await sdk(
        sim_clock, connect.generateSession, TEST_ACCOUNT.client_code, TEST_ACCOUNT.pin, totp_now(sim_clock)
    )
    renewed = await sdk(sim_clock, connect.generateToken, session["data"]["refreshToken"])
    assert renewed["status"] is True and renewed["data"]["jwtToken"] != session["data"]["jwtToken"]
    assert (await sdk(sim_clock, connect.rmsLimit))["status"] is True  # SDK switched to the new jwt
    rule_id = await sdk(
        sim_clock,
        connect.gttCreateRule,
        {
            "tradingsymbol": "SBIN-EQ",
            "symboltoken": "3045",
            "exchange": "NSE",
            "transactiontype": "SELL",
            "producttype": "DELIVERY",
            "price": 900,
            "qty": 5,
            "triggerprice": 899,
            "disclosedqty": 0,
            "timeperiod": 365,
        },
    )
    assert isinstance(rule_id, str)
    listed = await sdk(sim_clock, connect.gttLists, ["NEW"], 1, 10)
    assert listed["data"][0]["id"] == rule_id
