"""Fixtures for the simulator's server tests: a SimClock inside market hours, a StaticMarket, a server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pyotp
import pytest

from optbot.core.clock import SimClock
from optbot.sim.server import Simulator
from optbot.test_kit.sim import (
    SECOND_ACCOUNT,
    TEST_ACCOUNT,
    StaticMarket,
    market_hours_start,
    static_scrip_master,
)


@pytest.fixture
def sim_clock() -> SimClock:
    return SimClock(market_hours_start())


@pytest.fixture
def sim_market(sim_clock: SimClock) -> StaticMarket:
    return StaticMarket(sim_clock, static_scrip_master(with_hedge=True))


@pytest.fixture
async def sim(sim_clock: SimClock, sim_market: StaticMarket) -> AsyncIterator[Simulator]:
    simulator = Simulator(sim_market, sim_clock, [TEST_ACCOUNT, SECOND_ACCOUNT])
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


def totp_now(clock: SimClock, secret: str = TEST_ACCOUNT.totp_secret) -> str:
    return pyotp.TOTP(secret).at(clock.now_utc())
