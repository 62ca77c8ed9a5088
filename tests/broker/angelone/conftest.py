"""Fixtures for client <-> simulator round trips: one SimClock shared by both sides, pumped in real time."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from optbot.broker.angelone.auth import AuthService
from optbot.broker.angelone.broker import AngelOneBroker
from optbot.broker.angelone.rest import AngelOneRestClient
from optbot.broker.angelone.secrets import SecretStore
from optbot.broker.angelone.wsbase import FeedCredentials
from optbot.config.sections.broker import BrokerSettings
from optbot.core.clock import SimClock
from optbot.sim.server import Simulator
from optbot.test_kit.broker import MemoryKeyring
from optbot.test_kit.sim import SECOND_ACCOUNT, TEST_ACCOUNT, StaticMarket, market_hours_start


async def _pump(clock: SimClock, step: float, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        clock.advance(step)


@contextlib.asynccontextmanager
async def pumping(clock: SimClock, step: float = 0.02, interval: float = 0.002) -> AsyncIterator[None]:
    """Advance simulated time ~10x faster than real time while the body runs."""
    task = asyncio.create_task(_pump(clock, step, interval))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass
class Live:
    clock: SimClock
    market: StaticMarket
    sim: Simulator
    settings: BrokerSettings
    secrets: SecretStore
    rest: AngelOneRestClient
    broker: AngelOneBroker
    auth: AuthService

    def credentials(self) -> FeedCredentials:
        assert self.auth.tokens is not None
        tokens = self.auth.tokens
        return FeedCredentials(tokens.client_code, self.rest.api_key, tokens.jwt_token, tokens.feed_token)


def secret_store(account=TEST_ACCOUNT) -> SecretStore:  # type: ignore[no-untyped-def]
    store = SecretStore(MemoryKeyring(), "optbot-test", environ={})
    store.set("api_key", account.api_key)
    store.set("pin", account.pin)
    store.set("totp_secret", account.totp_secret)
    return store


@pytest.fixture
def sim_clock() -> SimClock:
    return SimClock(market_hours_start())


@pytest.fixture
async def live(sim_clock: SimClock) -> AsyncIterator[Live]:
    market = StaticMarket(sim_clock)
    sim = Simulator(market, sim_clock, [TEST_ACCOUNT, SECOND_ACCOUNT])
    await sim.start()
    settings = BrokerSettings(
        client_code=TEST_ACCOUNT.client_code,
        rest_base_url=sim.base_url,
        market_ws_url=sim.market_ws_url,
        order_ws_url=sim.order_ws_url,
        http_timeout_seconds=2.0,
    )
    secrets = secret_store()
    rest = AngelOneRestClient(settings, sim_clock, TEST_ACCOUNT.api_key, rng=random.Random(3))
    broker = AngelOneBroker(rest, sim_clock, settings)
    auth = AuthService(settings, secrets, sim_clock, rest)
    try:
        yield Live(sim_clock, market, sim, settings, secrets, rest, broker, auth)
    finally:
        await rest.aclose()
        await sim.stop()
