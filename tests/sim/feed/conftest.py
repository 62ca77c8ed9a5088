from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from optbot.sim.contracts import OrderEventListener
from optbot.sim.feed import register_market_feed, register_order_socket
from optbot.test_kit.sim_feed import FakeFaults, FakeSessionStore, HandDrivenMarket

API_KEY = "sim-api-key"


@dataclass
class FeedRig:
    client: TestClient[web.Request, web.Application]
    market: HandDrivenMarket
    sessions: FakeSessionStore
    faults: FakeFaults
    order_listeners: list[OrderEventListener] = field(default_factory=list)

    def feed_headers(
        self, jwt: str = "jwt-a", client_code: str = "A111", feed: str = "feed-a"
    ) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {jwt}",
            "x-api-key": API_KEY,
            "x-client-code": client_code,
            "x-feed-token": feed,
        }


def build_app(
    market: HandDrivenMarket,
    sessions: FakeSessionStore,
    faults: FakeFaults,
    subscribe: Callable[[OrderEventListener], None],
    max_tokens: int = 1000,
) -> web.Application:
    app = web.Application()
    register_market_feed(app, market, sessions, faults, max_tokens_per_connection=max_tokens)
    register_order_socket(app, sessions, subscribe, faults=faults)
    return app


@pytest.fixture
async def rig() -> AsyncIterator[FeedRig]:
    market = HandDrivenMarket()
    sessions = FakeSessionStore(api_key=API_KEY)
    sessions.add("A111", "jwt-a", "feed-a")
    sessions.add("B222", "jwt-b", "feed-b")
    faults = FakeFaults()
    listeners: list[OrderEventListener] = []
    app = build_app(market, sessions, faults, listeners.append, max_tokens=5)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield FeedRig(client, market, sessions, faults, listeners)
    finally:
        await client.close()


from tests.sim.market.conftest import histories, make_market, replay_settings  # noqa: E402

__all__ = ["histories", "make_market", "replay_settings"]
