"""Spec §1.6 (WebSocket connection capability): the startup stage 'market data socket' passes only once
a socket has connected and subscribed; a socket the broker refuses is a non-critical FAIL that leaves
the session running (the feed keeps reconnecting, entries stay paused until data flows)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from optbot.broker.angelone.factory import AngelOneStack, build_stack
from optbot.broker.angelone.feed import MarketFeed
from optbot.broker.angelone.wsbase import FeedCredentials
from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange
from optbot.ops.session import SessionRunner
from optbot.sim.server import Simulator
from optbot.test_kit.sim import NIFTY_CE_TOKEN, TEST_ACCOUNT, StaticMarket, market_hours_start
from tests.broker.angelone.conftest import pumping, secret_store


@dataclass
class Rig:
    runner: SessionRunner
    stack: AngelOneStack
    clock: SimClock
    sim: Simulator


@pytest.fixture
async def rig(tmp_path) -> AsyncIterator[Rig]:  # type: ignore[no-untyped-def]
    clock = SimClock(market_hours_start())
    sim = Simulator(StaticMarket(clock), clock, [TEST_ACCOUNT])
    await sim.start()
    settings = Settings(
        paths={"data_root": tmp_path},
        broker={
            "client_code": TEST_ACCOUNT.client_code,
            "rest_base_url": sim.base_url,
            "market_ws_url": sim.market_ws_url,
        },
        engine={"startup_socket_wait_seconds": 0.5},
    )
    stack = build_stack(settings, clock, secret_store())
    runner = SessionRunner(settings, clock, stack, get_calendar(), paper=True, serve_operations=False)
    try:
        yield Rig(runner, stack, clock, sim)
    finally:
        await stack.aclose()
        await sim.stop()


async def _checked(rig: Rig, feed: MarketFeed) -> None:
    await feed.subscribe([(Exchange.NFO, NIFTY_CE_TOKEN)])
    await feed.start()
    try:
        await rig.runner._check_market_socket(feed)
    finally:
        await feed.stop()


async def test_a_connected_socket_passes_the_stage(rig: Rig) -> None:
    async with pumping(rig.clock):
        await rig.stack.auth.login()
        await _checked(rig, rig.stack.market_feed(rig.clock))
    stage = rig.runner.outcome.stages[-1]
    assert stage.name == "market data socket" and stage.passed, stage
    assert stage.detail == "connected 1 socket(s), subscribed 0 instrument(s)"


async def test_a_refused_socket_is_a_non_critical_fail(rig: Rig) -> None:
    async with pumping(rig.clock):
        tokens = await rig.stack.auth.login()
        refused = FeedCredentials(TEST_ACCOUNT.client_code, rig.stack.rest.api_key, tokens.jwt_token, "wrong")
        feed = MarketFeed(rig.stack.settings, rig.clock, lambda: refused)
        await _checked(rig, feed)  # no StageFailed: the day goes on
    assert feed.stats.auth_failures >= 1  # the simulator refused the handshake (401)
    stage = rig.runner.outcome.stages[-1]
    assert stage.name == "market data socket" and not stage.passed and not stage.critical
    assert "no socket connected within 0.5 s (engine.startup_socket_wait_seconds" in stage.detail
    assert "new entries stay paused in market hours until the socket delivers data" in stage.detail
