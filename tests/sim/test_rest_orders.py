"""Plain-HTTP tests of the order, book, position and GTT routes."""

from __future__ import annotations

from typing import Any

import httpx

from optbot.core.clock import SimClock
from optbot.sim.server import Simulator
from optbot.test_kit.sim import NIFTY_CE_TOKEN, SBIN_TOKEN, StaticMarket
from tests.sim.helpers import SECURE, client_for, headers, login, option_order

ORDERS = f"{SECURE}/order/v1"


async def post(client: httpx.AsyncClient, path: str, jwt: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = await client.post(path, headers=headers(jwt), json=body)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def get(client: httpx.AsyncClient, path: str, jwt: str) -> dict[str, Any]:
    reply = await client.get(path, headers=headers(jwt))
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def test_empty_books_are_null(sim: Simulator, sim_clock: SimClock) -> None:
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        for name in ("getOrderBook", "getTradeBook", "getPosition"):
            assert (await get(client, f"{ORDERS}/{name}?%7B%7D", jwt))["data"] is None
        holdings = await get(client, f"{SECURE}/portfolio/v1/getHolding", jwt)
        assert holdings["data"] == []


async def test_place_modify_cancel_books_and_details(
    sim: Simulator, sim_clock: SimClock, sim_market: StaticMarket
) -> None:
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        placed = await post(client, f"{ORDERS}/placeOrder", jwt, option_order(sim_market, price="140"))
        assert placed["status"] is True
        data = placed["data"]
        assert data["script"] == sim_market.symbol("NFO", NIFTY_CE_TOKEN)
        order_id, unique_id = data["orderid"], data["uniqueorderid"]
        modified = await post(
            client,
            f"{ORDERS}/modifyOrder",
            jwt,
            {
                "variety": "NORMAL",
                "orderid": order_id,
                "ordertype": "LIMIT",
                "producttype": "CARRYFORWARD",
                "duration": "DAY",
                "price": "141.00",
                "quantity": "75",
                "tradingsymbol": data["script"],
                "symboltoken": NIFTY_CE_TOKEN,
                "exchange": "NFO",
            },
        )
        assert modified["data"] == {"orderid": order_id, "uniqueorderid": unique_id}
        details = await get(client, f"{ORDERS}/details/{unique_id}", jwt)
        assert details["data"]["price"] == 141.0 and details["data"]["status"] == "open"
        assert details["data"]["quantity"] == "75"
        sim_clock.advance(1.0)
        book = (await get(client, f"{ORDERS}/getOrderBook", jwt))["data"]
        assert book[0]["price"] == "141.00" and book[0]["ordertag"] == "test1"
        cancelled = await post(
            client, f"{ORDERS}/cancelOrder", jwt, {"variety": "NORMAL", "orderid": order_id}
        )
        assert cancelled["status"] is True
        details = await get(client, f"{ORDERS}/details/{unique_id}", jwt)
        assert details["data"]["status"] == "cancelled"
        missing = await get(client, f"{ORDERS}/details/00000000-0000-4000-8000-000000000000", jwt)
        assert missing["errorcode"] == "AB1013"


async def test_fills_show_in_trades_positions_and_funds(
    sim: Simulator, sim_clock: SimClock, sim_market: StaticMarket
) -> None:
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        await post(client, f"{ORDERS}/placeOrder", jwt, option_order(sim_market, price="151"))
        trades = (await get(client, f"{ORDERS}/getTradeBook", jwt))["data"]
        assert trades[0]["fillprice"] == "150.05" and trades[0]["fillsize"] == "75"
        positions = (await get(client, f"{ORDERS}/getPosition", jwt))["data"]
        assert positions[0]["netqty"] == "75" and positions[0]["netvalue"] == "- 11253.75"
        rms = (await get(client, f"{SECURE}/user/v1/getRMS", jwt))["data"]
        assert rms["utilisedoptionpremium"] == "11253.75" and rms["net"] == "488746.25"
        converted = await post(
            client,
            f"{ORDERS}/convertPosition",
            jwt,
            {
                "exchange": "NFO",
                "symboltoken": NIFTY_CE_TOKEN,
                "oldproducttype": "CARRYFORWARD",
                "newproducttype": "INTRADAY",
                "tradingsymbol": positions[0]["tradingsymbol"],
                "transactiontype": "BUY",
                "quantity": 75,
                "type": "DAY",
            },
        )
        assert converted["status"] is True and converted["data"] is None
        failed = await post(
            client,
            f"{ORDERS}/convertPosition",
            jwt,
            {
                "exchange": "NFO",
                "symboltoken": NIFTY_CE_TOKEN,
                "oldproducttype": "CARRYFORWARD",
                "newproducttype": "INTRADAY",
                "transactiontype": "BUY",
                "quantity": 75,
                "type": "DAY",
            },
        )
        assert failed["errorcode"] == "AB1017"


async def test_order_errors_and_rejections(
    sim: Simulator, sim_clock: SimClock, sim_market: StaticMarket
) -> None:
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        long_tag = await post(
            client, f"{ORDERS}/placeOrder", jwt, option_order(sim_market, ordertag="t" * 20)
        )
        assert long_tag == {
            "status": False,
            "message": "ordertag length should be less than 20 characters",
            "errorcode": "AB4008",
            "data": None,
        }
        amo = await post(client, f"{ORDERS}/placeOrder", jwt, option_order(sim_market, variety="AMO"))
        assert amo["errorcode"] == "AB1008"
        assert amo["message"] == "Invalid Order Variety. Value should be NORMAL, STOPLOSS, ROBO."
        rejected = await post(client, f"{ORDERS}/placeOrder", jwt, option_order(sim_market, quantity="50"))
        assert rejected["status"] is True  # RMS rejections are accepted, then rejected
        sim_clock.advance(1.0)
        book = (await get(client, f"{ORDERS}/getOrderBook", jwt))["data"]
        assert book[-1]["status"] == "rejected" and "lot size 75" in book[-1]["text"]


async def test_order_apis_share_nine_per_second(
    sim: Simulator, sim_clock: SimClock, sim_market: StaticMarket
) -> None:
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        statuses = []
        for index in range(10):
            path = "placeOrder" if index % 2 == 0 else "cancelOrder"
            body = (
                option_order(sim_market, price="140")
                if path == "placeOrder"
                else {"variety": "NORMAL", "orderid": "x"}
            )
            reply = await client.post(f"{ORDERS}/{path}", headers=headers(jwt), json=body)
            statuses.append(reply.status_code)
        assert statuses == [200] * 9 + [403]
        sim_clock.advance(1.0)
        ok = await client.post(f"{ORDERS}/placeOrder", headers=headers(jwt), json=option_order(sim_market))
        assert ok.status_code == 200


async def test_gtt_routes_with_and_without_prefix(
    sim: Simulator, sim_clock: SimClock, sim_market: StaticMarket
) -> None:
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        rule = {
            "tradingsymbol": "SBIN-EQ",
            "symboltoken": SBIN_TOKEN,
            "exchange": "NSE",
            "transactiontype": "BUY",
            "producttype": "DELIVERY",
            "price": 781,
            "qty": 10,
            "triggerprice": 781,
            "disclosedqty": 0,
            "timeperiod": 365,
        }
        created = await post(client, "/gtt-service/rest/secure/angelbroking/gtt/v1/createRule", jwt, rule)
        rule_id = created["data"]["id"]
        plain = "/rest/secure/angelbroking/gtt/v1"
        details = await post(client, f"{plain}/ruleDetails", jwt, {"id": rule_id})
        assert details["data"]["status"] == "NEW" and details["data"]["expirydate"].endswith("Z")
        bad = await post(client, f"{plain}/createRule", jwt, {**rule, "exchange": "NFO"})
        assert bad["errorcode"] == "AB9010"
        sim_market.set_quote("NSE", SBIN_TOKEN, 780.5)  # crosses 781 from above
        listed = await post(client, f"{plain}/ruleList", jwt, {"status": ["FORALL"], "page": 1, "count": 10})
        assert [r["status"] for r in listed["data"]] == ["SENTTOEXCHANGE"]
        sim_clock.advance(1.0)
        book = (await get(client, f"{ORDERS}/getOrderBook", jwt))["data"]
        assert book[0]["tradingsymbol"] == "SBIN-EQ" and book[0]["status"] == "complete"
        cancelled = await post(
            client, f"{plain}/cancelRule", jwt, {"id": rule_id, "symboltoken": SBIN_TOKEN, "exchange": "NSE"}
        )
        assert cancelled["errorcode"] == "AB9013"
        page = await post(client, f"{plain}/ruleList", jwt, {"status": ["NEW"], "page": 0, "count": 10})
        assert page["errorcode"] == "AB9017"
