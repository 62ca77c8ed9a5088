from __future__ import annotations

import asyncio

import pytest

from optbot.broker.angelone.factory import build_stack
from optbot.broker.angelone.secrets import SecretStore
from optbot.broker.angelone.wsbase import CircuitChange, ReconnectCircuitPolicy
from optbot.broker.errors import TokenExpired
from optbot.config.sections.engine import EngineSettings
from optbot.config.settings import Settings
from optbot.core.clock import SimClock
from optbot.test_kit.broker import MemoryKeyring

from .conftest import Live, pumping
from .helpers import START


async def test_stack_wires_sockets_to_the_session(live: Live) -> None:
    settings = Settings(broker=live.settings)
    stack = build_stack(settings, live.clock, live.secrets)
    try:
        with pytest.raises(TokenExpired):
            stack.credentials()
        async with pumping(live.clock):
            await stack.auth.login()
        credentials = stack.credentials()
        assert credentials.client_code == live.settings.client_code and credentials.api_key
        feed = stack.market_feed(live.clock)
        assert feed.url == live.sim.market_ws_url and feed.quote_fallback is not None
        assert feed.circuit_policy == ReconnectCircuitPolicy.from_settings(EngineSettings())
        changes: list[CircuitChange] = []
        policy = ReconnectCircuitPolicy(max_attempts=2, cooldown_seconds=5.0)
        feed = stack.market_feed(live.clock, on_circuit=changes.append, circuit=policy)
        assert feed.circuit_policy == policy and feed.on_circuit == changes.append
        assert stack.order_socket(live.clock).url == live.sim.order_ws_url
    finally:
        await stack.aclose()


async def test_stack_without_api_key_still_builds() -> None:
    stack = build_stack(Settings(), SimClock(START), SecretStore(MemoryKeyring(), environ={}))
    assert stack.rest.api_key == ""
    await stack.aclose()


async def test_token_expired_on_a_rest_call_recovers_the_session(live: Live) -> None:
    from optbot.broker.angelone.auth import AuthState

    lost: list[str] = []
    stack = build_stack(Settings(broker=live.settings), live.clock, live.secrets)
    stack.auth._on_auth_lost = lost.append  # the lifecycle passes this at construction
    try:
        async with pumping(live.clock):
            tokens = await stack.auth.login()
            session = live.sim.sessions.session_for_jwt(tokens.jwt_token)
            assert session is not None
            live.sim.sessions.logout(session)  # the broker ends our session
            with pytest.raises(TokenExpired):
                await stack.broker.order_book()
            for _ in range(500):
                if stack.auth.health_checks and stack.auth.state is AuthState.ACTIVE and lost:
                    break
                await asyncio.sleep(0.01)
            assert lost and stack.auth.state is AuthState.ACTIVE
            assert stack.auth.tokens is not None and stack.auth.tokens.jwt_token != tokens.jwt_token
            assert await stack.broker.order_book() == []
    finally:
        await stack.aclose()
