"""SEBI (2026): API sessions are logged out before each trading day. A session issued on an earlier day
is logged out before the day's login, even while it is still valid; the same day's session is kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from optbot.broker.angelone.factory import AngelOneStack, build_stack
from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.ops.session import SessionRunner
from optbot.sim.server import Simulator
from optbot.test_kit.sim import TEST_ACCOUNT, StaticMarket, market_hours_start
from tests.broker.angelone.conftest import pumping, secret_store


@pytest.fixture
async def runner(tmp_path: Path) -> AsyncIterator[tuple[SessionRunner, AngelOneStack, SimClock]]:
    clock = SimClock(market_hours_start())
    sim = Simulator(StaticMarket(clock), clock, [TEST_ACCOUNT])
    await sim.start()
    settings = Settings(
        paths={"data_root": tmp_path},
        broker={"client_code": TEST_ACCOUNT.client_code, "rest_base_url": sim.base_url},
    )
    stack = build_stack(settings, clock, secret_store())
    try:
        yield SessionRunner(settings, clock, stack, get_calendar(), paper=True), stack, clock
    finally:
        await stack.aclose()
        await sim.stop()


async def test_yesterdays_session_is_logged_out_before_todays_login(
    runner: tuple[SessionRunner, AngelOneStack, SimClock],
) -> None:
    session, stack, clock = runner
    async with pumping(clock):
        old = await stack.auth.login()
        yesterday = replace(old, issued_at=old.issued_at - timedelta(days=1))  # still valid until midnight
        stack.secrets.save_tokens(yesterday)
        stack.auth.tokens = None  # a new process: only the stored copy is known
        detail = await session._login()
        assert "yesterday's session logged out first" in detail
        assert stack.auth.tokens is not None and stack.auth.tokens.jwt_token != old.jwt_token
        stack.rest.set_access_token(old.jwt_token)
        assert not await stack.auth._profile_ok()  # the broker no longer accepts the old token


async def test_todays_session_is_reused_after_a_restart(
    runner: tuple[SessionRunner, AngelOneStack, SimClock],
) -> None:
    session, stack, clock = runner
    async with pumping(clock):
        first = await stack.auth.login()
        stack.auth.tokens = None
        detail = await session._login()
    assert "logged out" not in detail
    assert stack.auth.tokens is not None and stack.auth.tokens.jwt_token == first.jwt_token
