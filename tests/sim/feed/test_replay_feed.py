"""End to end: the replayed market streams through /smart-stream and decodes to the quotes it published."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from optbot.core.timeutil import IST
from optbot.sim.contracts import SimQuote
from optbot.sim.feed import decode_frame, register_market_feed
from optbot.sim.market import ReplayMarket
from optbot.test_kit.sim_feed import FakeFaults, FakeSessionStore
from tests.sim.feed.conftest import API_KEY


async def test_replayed_option_and_index_ticks_reach_a_subscriber(
    make_market: Callable[..., ReplayMarket],
) -> None:
    market = make_market(datetime(2025, 9, 8, 9, 14, tzinfo=IST))
    option = next(c for c in market.contracts() if c.symbol == "NIFTY09SEP2524750CE")
    sessions = FakeSessionStore(api_key=API_KEY)
    sessions.add("A111", "jwt-a", "feed-a")
    app = web.Application()
    register_market_feed(app, market, sessions, FakeFaults())
    published: dict[tuple[str, int], SimQuote] = {}
    market.subscribe_quotes(lambda q: published.__setitem__((q.token, q.sequence), q))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    headers = {
        "Authorization": "jwt-a",
        "x-api-key": API_KEY,
        "x-client-code": "A111",
        "x-feed-token": "feed-a",
    }
    try:
        async with client.ws_connect("/smart-stream", headers=headers) as ws:
            request = {
                "correlationID": "e2e",
                "action": 1,
                "params": {
                    "mode": 3,
                    "tokenList": [
                        {"exchangeType": 2, "tokens": [option.token]},
                        {"exchangeType": 1, "tokens": ["99926000"]},
                    ],
                },
            }
            await ws.send_str(json.dumps(request))
            await ws.send_str("ping")
            frames = []
            while True:
                message = await asyncio.wait_for(ws.receive(), 2)
                if message.type == WSMsgType.TEXT:
                    assert message.data == "pong"
                    break
                frames.append(decode_frame(message.data))
            assert {frame.token for frame in frames} == {option.token, "99926000"}  # snapshots
            await market.run(market.now(), datetime(2025, 9, 8, 9, 15, 30, tzinfo=IST))
            received = []
            for _ in range(40):
                received.append(decode_frame((await asyncio.wait_for(ws.receive(), 2)).data))
    finally:
        await client.close()
    option_frames = [frame for frame in received if frame.token == option.token]
    assert option_frames and all(frame.exchange_type == 2 for frame in option_frames)
    for frame in received:
        quote = published[(frame.token, frame.sequence)]
        assert frame.last_traded_price == round(quote.ltp * 100)
        assert frame.open_interest == quote.open_interest
        assert [level.price for level in frame.asks] == [round(level.price * 100) for level in quote.asks]
