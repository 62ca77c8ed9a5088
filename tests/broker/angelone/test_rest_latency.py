"""The REST client reports each request's latency and outcome to an observer (for the metrics)."""

from __future__ import annotations

import random

import pytest

from optbot.broker.angelone.rest import AngelOneRestClient
from optbot.broker.errors import BrokerError
from optbot.config.sections.broker import BrokerSettings
from optbot.core.clock import SimClock
from optbot.sim.server import Simulator
from optbot.test_kit.sim import TEST_ACCOUNT, StaticMarket, market_hours_start


async def test_every_request_is_timed_with_its_outcome() -> None:
    clock = SimClock(market_hours_start())
    sim = Simulator(StaticMarket(clock), clock, [TEST_ACCOUNT])
    await sim.start()
    settings = BrokerSettings(
        client_code=TEST_ACCOUNT.client_code, rest_base_url=sim.base_url, http_timeout_seconds=2.0
    )
    rest = AngelOneRestClient(settings, clock, TEST_ACCOUNT.api_key, rng=random.Random(1))
    seen: list[tuple[str, float, str | None]] = []
    rest.on_call = lambda endpoint, seconds, kind: seen.append((endpoint, seconds, kind))
    rest.set_access_token("not-a-session-the-simulator-issued")
    try:
        with pytest.raises(BrokerError):
            await rest.call("profile")  # a forged token: the gateway refuses it
    finally:
        await rest.aclose()
        await sim.stop()
    assert seen and seen[-1][0] == "profile"
    assert seen[-1][1] >= 0.0 and seen[-1][2] is not None
