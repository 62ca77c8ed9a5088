"""The assembled simulator: REST orders reach the order-update socket; quotes reach the WS V2 feed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from optbot.core.clock import SimClock
from optbot.sim.feed import decode_frame
from optbot.sim.server import Simulator
from optbot.test_kit.sim import NIFTY_CE_TOKEN, TEST_ACCOUNT, StaticMarket
from tests.sim.helpers import SECURE, client_for, headers, login, option_order


async def next_text(socket: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message = await asyncio.wait_for(socket.receive(), timeout=5)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    return dict(json.loads(message.data))


async def test_rest_order_events_reach_the_order_socket(
    sim: Simulator, sim_clock: SimClock, sim_market: StaticMarket
) -> None:
    async with client_for(sim) as client:
        tokens = await login(client, sim_clock)
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(
                sim.order_ws_url, headers={"Authorization": f"Bearer {tokens['jwtToken']}"}
            ) as socket:
                greeting = await next_text(socket)
                assert greeting["order-status"] == "AB00" and greeting["user-id"] == TEST_ACCOUNT.client_code
                reply = await client.post(
                    f"{SECURE}/order/v1/placeOrder",
                    headers=headers(tokens["jwtToken"]),
                    json=option_order(sim_market, price="151"),
                )
                order_id = reply.json()["data"]["orderid"]
                updates = [await next_text(socket) for _ in range(3)]
                assert [u["order-status"] for u in updates] == ["AB09", "AB01", "AB05"]
                assert all(u["orderData"]["orderid"] == order_id for u in updates)
                assert updates[-1]["orderData"]["status"] == "complete"
            bad = await session.get(
                sim.order_ws_url,
                headers={
                    "Authorization": "Bearer nope",
                    "Upgrade": "websocket",
                    "Connection": "Upgrade",
                    "Sec-WebSocket-Version": "13",
                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                },
            )
            assert bad.status == 401


async def test_market_feed_authenticates_with_sim_sessions_and_streams_quotes(
    sim: Simulator, sim_clock: SimClock, sim_market: StaticMarket
) -> None:
    async with client_for(sim) as client:
        tokens = await login(client, sim_clock)
    feed_headers = {
        "Authorization": tokens["jwtToken"],
        "x-api-key": TEST_ACCOUNT.api_key,
        "x-client-code": TEST_ACCOUNT.client_code,
        "x-feed-token": tokens["feedToken"],
    }
    async with aiohttp.ClientSession() as session:
        rejected = await session.get(
            sim.market_ws_url,
            headers={
                **feed_headers,
                "x-feed-token": "wrong",
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        )
        assert rejected.status == 401
        assert rejected.headers["x-error-message"] == "Invalid Header - Invalid Feed Token"
        async with session.ws_connect(sim.market_ws_url, headers=feed_headers) as socket:
            await socket.send_str(
                json.dumps(
                    {
                        "correlationID": "abc",
                        "action": 1,
                        "params": {"mode": 2, "tokenList": [{"exchangeType": 2, "tokens": [NIFTY_CE_TOKEN]}]},
                    }
                )
            )
            await asyncio.sleep(0.05)
            sim_market.set_quote("NFO", NIFTY_CE_TOKEN, 151.25)
            prices = []
            while 15125 not in prices:  # a snapshot of the current quote may come first
                message = await asyncio.wait_for(socket.receive(), timeout=5)
                assert message.type == aiohttp.WSMsgType.BINARY
                tick = decode_frame(message.data)
                assert tick.token == NIFTY_CE_TOKEN
                prices.append(tick.last_traded_price)
            dropped = await sim.faults.drop_ws_connections()
            assert dropped >= 1
            closing = await asyncio.wait_for(socket.receive(), timeout=5)
            assert closing.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.CLOSING,
            )


async def test_drop_fault_also_closes_order_update_sockets(sim: Simulator, sim_clock: SimClock) -> None:
    async with client_for(sim) as client:
        tokens = await login(client, sim_clock)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            sim.order_ws_url, headers={"Authorization": f"Bearer {tokens['jwtToken']}"}
        ) as socket,
    ):
        assert (await next_text(socket))["order-status"] == "AB00"
        assert await sim.faults.drop_ws_connections() >= 1
        closing = await asyncio.wait_for(socket.receive(), timeout=5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
