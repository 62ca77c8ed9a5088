"""End to end over the real replay market: login before the open, an AMO released and filled at the
open (seen on the order-update socket), live ticks on the market feed, candles and OI from the replay."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime
from pathlib import Path

import pytest

from optbot.broker.angelone.auth import AuthService
from optbot.broker.angelone.broker import AngelOneBroker
from optbot.broker.angelone.feed import MarketFeed
from optbot.broker.angelone.feed_codec import MODE_LTP, MODE_QUOTE
from optbot.broker.angelone.order_socket import OrderUpdateSocket
from optbot.broker.angelone.rest import AngelOneRestClient
from optbot.broker.angelone.status_map import map_broker_status
from optbot.broker.angelone.wsbase import FeedCredentials
from optbot.broker.models import OrderRequest
from optbot.config.sections.broker import BrokerSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, OrderStatus, OrderType, ProductType, Side
from optbot.core.events import OrderUpdate, Tick
from optbot.core.timeutil import IST
from optbot.sim.server import Simulator
from optbot.test_kit.sim import NIFTY_TOKEN, TEST_ACCOUNT

from .conftest import secret_store
from .test_sim_sockets import wait_for

replay = pytest.importorskip("optbot.sim.market")
replay_settings = pytest.importorskip("optbot.config.sections.replay")


async def test_amo_fill_ticks_candles_over_the_replay(sample_data: Path) -> None:
    clock = SimClock(datetime(2025, 9, 10, 9, 5, tzinfo=IST), speed=600)
    market = replay.ReplayMarket(clock, replay_settings.ReplaySettings(data_dir=sample_data / "store"))
    sim = Simulator(market, clock, [TEST_ACCOUNT])
    await sim.start()
    settings = BrokerSettings(client_code=TEST_ACCOUNT.client_code, rest_base_url=sim.base_url)
    rest = AngelOneRestClient(settings, clock, TEST_ACCOUNT.api_key, rng=random.Random(5))
    broker = AngelOneBroker(rest, clock, settings)
    auth = AuthService(settings, secret_store(), clock, rest)
    updates: list[OrderUpdate] = []
    ticks: list[Tick] = []
    feed: MarketFeed | None = None
    socket: OrderUpdateSocket | None = None
    try:
        tokens = await auth.ensure_session_until()

        def credentials() -> FeedCredentials:
            return FeedCredentials(
                tokens.client_code, TEST_ACCOUNT.api_key, tokens.jwt_token, tokens.feed_token
            )

        matches = await broker.search_scrip(Exchange.NFO, "NIFTY")
        spot = await broker.ltp(Exchange.NSE, "Nifty 50", NIFTY_TOKEN)
        calls = [m for m in matches if m.symbol.endswith("CE") and m.symbol[5:7].isdigit()]  # NIFTY only
        assert calls and spot > 0
        socket = OrderUpdateSocket(
            settings, clock, credentials, on_update=updates.append, url=sim.order_ws_url
        )
        feed = MarketFeed(settings, clock, credentials, on_tick=ticks.append, url=sim.market_ws_url)
        await socket.start()
        await wait_for(lambda: socket.greetings >= 1)
        quotes = await broker.quotes("LTP", {Exchange.NFO: [c.token for c in calls[:50]]})
        atm = min(quotes, key=lambda q: abs(q.ltp - 150))
        lot = 75
        placed = await broker.place_order(
            OrderRequest(
                Exchange.NFO,
                atm.token,
                atm.symbol,
                Side.BUY,
                lot,
                OrderType.MARKET,
                ProductType.CARRYFORWARD,
                "replay-amo",
            )
        )
        await feed.subscribe([(Exchange.NSE, NIFTY_TOKEN)], MODE_LTP)
        await feed.subscribe([(Exchange.NFO, atm.token)], MODE_QUOTE)
        await feed.start()
        # Reference §6: no order-update messages for an AMO until it goes to the exchange.
        amo = await broker.order_details(placed.unique_order_id)
        assert amo is not None and map_broker_status(amo.status) is OrderStatus.SUBMITTED, amo
        assert not [u for u in updates if u.order_id == placed.order_id]

        await market.run(clock.now_utc(), datetime(2025, 9, 10, 9, 20, tzinfo=IST))
        await wait_for(
            lambda: any(u.order_id == placed.order_id and u.status is OrderStatus.FILLED for u in updates)
        )
        index_ticks = [t for t in ticks if t.token == NIFTY_TOKEN]
        assert len(index_ticks) > 10 and all(t.exchange is Exchange.NSE and t.ltp > 0 for t in index_ticks)
        assert any(t.token == atm.token for t in ticks)
        positions = await broker.positions()
        assert any(p.token == atm.token and p.net_quantity == lot for p in positions)
        candles = await broker.candles(
            Exchange.NSE,
            NIFTY_TOKEN,
            "ONE_MINUTE",
            datetime(2025, 9, 10, 9, 15, tzinfo=IST),
            datetime(2025, 9, 10, 9, 19, tzinfo=IST),
        )
        assert [c.start.minute for c in candles] == [15, 16, 17, 18, 19]
        points = await broker.oi_data(
            Exchange.NFO,
            atm.token,
            "ONE_MINUTE",
            datetime(2025, 9, 10, 9, 15, tzinfo=IST),
            datetime(2025, 9, 10, 9, 19, tzinfo=IST),
        )
        assert points and all(p.open_interest >= 0 for p in points)
    finally:
        for item in (feed, socket):
            if item is not None:
                await item.stop()
        await rest.aclose()
        await sim.stop()
        await asyncio.sleep(0)


async def test_a_paused_replay_holds_its_clock_until_the_admin_api_releases_it(sample_data: Path) -> None:
    import httpx

    start = datetime(2025, 9, 10, 9, 14, tzinfo=IST)
    clock = SimClock(start, speed=0)
    market = replay.ReplayMarket(clock, replay_settings.ReplaySettings(data_dir=sample_data / "store"))
    sim = Simulator(market, clock, [TEST_ACCOUNT])
    await sim.start()
    market.pause()
    end = datetime(2025, 9, 10, 9, 20, tzinfo=IST)
    running = asyncio.create_task(market.run(start, end))
    try:
        async with httpx.AsyncClient(base_url=sim.base_url) as client:
            for _ in range(20):
                await asyncio.sleep(0.01)
            held = (await client.get("/sim/v1/clock")).json()
            assert held["paused"] is True and clock.now_utc() == start and not running.done()
            assert (await client.post("/sim/v1/clock", json={"paused": "no"})).status_code == 400
            released = await client.post("/sim/v1/clock", json={"paused": False})
            assert released.json()["paused"] is False
            await asyncio.wait_for(running, 30)
        assert clock.now_utc() == end
    finally:
        running.cancel()
        await sim.stop()
