"""AuthService against the simulator: validity until the close, proactive re-login, health, pause/resume."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, time, timedelta

import pytest

from optbot.broker.angelone.auth import AuthService, AuthState, totp_code
from optbot.broker.angelone.session import session_expiry
from optbot.core.errors import UserError
from optbot.core.timeutil import IST
from optbot.test_kit.sim import TEST_ACCOUNT

from .conftest import Live, pumping


def test_session_expiry_is_next_midnight_ist() -> None:
    issued = datetime(2026, 11, 18, 10, 0, tzinfo=IST)
    assert session_expiry(issued, time(0, 0)) == datetime(2026, 11, 19, 0, 0, tzinfo=IST)
    assert session_expiry(datetime(2026, 11, 18, 0, 0, tzinfo=IST), time(0, 0)) == datetime(
        2026, 11, 19, 0, 0, tzinfo=IST
    )


def test_totp_is_rfc6238_for_the_clock_time() -> None:
    moment = datetime(2026, 11, 18, 4, 30, tzinfo=IST)
    assert totp_code(TEST_ACCOUNT.totp_secret, moment) == totp_code(TEST_ACCOUNT.totp_secret, moment)
    assert len(totp_code(TEST_ACCOUNT.totp_secret, moment)) == 6
    with pytest.raises(UserError, match="TOTP secret"):
        totp_code("not base32!", moment)


async def test_stored_session_is_reused_when_it_covers_the_close(live: Live) -> None:
    async with pumping(live.clock):
        await live.auth.ensure_session_until()
        assert live.rest.counters["login:sent"] == 1
        # A new service (a restart) finds the stored tokens, proves them, and does not log in again.
        again = AuthService(live.settings, live.secrets, live.clock, live.rest)
        tokens = await again.ensure_session_until()
        assert live.rest.counters["login:sent"] == 1 and again.state is AuthState.ACTIVE
        assert again.status().valid_until_close
        assert tokens.jwt_token == live.auth.tokens.jwt_token  # type: ignore[union-attr]


async def test_session_expiring_before_close_is_renewed_proactively(live: Live) -> None:
    async with pumping(live.clock):
        tokens = await live.auth.login()
        close = live.auth.close_time()
        assert close is not None
        short = replace(tokens, expires_at=close - timedelta(minutes=5))
        live.secrets.save_tokens(short)
        live.auth.tokens = short
        assert not live.auth.status().valid_until_close
        renewed = await live.auth.ensure_session_until()
        assert live.rest.counters["login:sent"] == 2
        assert renewed.expires_at >= close + timedelta(minutes=live.settings.relogin_margin_minutes)


async def test_rejected_stored_token_leads_to_login(live: Live) -> None:
    async with pumping(live.clock):
        tokens = await live.auth.login()
        live.secrets.save_tokens(replace(tokens, jwt_token="eyJrevoked"))
        fresh = AuthService(live.settings, live.secrets, live.clock, live.rest)
        renewed = await fresh.ensure_session_until()
        assert renewed.jwt_token != "eyJrevoked" and live.rest.counters["login:sent"] == 2


async def test_health_check_pauses_and_resumes_on_auth_loss(live: Live) -> None:
    events: list[str] = []
    auth = AuthService(
        live.settings,
        live.secrets,
        live.clock,
        live.rest,
        on_auth_lost=lambda reason: events.append(f"lost: {reason}"),
        on_auth_restored=lambda reason: events.append(f"restored: {reason}"),
    )
    async with pumping(live.clock):
        await auth.login()
        assert await auth.check_health()
        # The broker stops accepting our jwt (session ended server-side).
        session = live.sim.sessions.session_for_jwt(auth.tokens.jwt_token)  # type: ignore[union-attr]
        assert session is not None
        live.sim.sessions.logout(session)
        assert await auth.check_health()
        assert events[0].startswith("lost") and events[1].startswith("restored")
        assert auth.state is AuthState.ACTIVE


async def test_unrecoverable_auth_loss_keeps_trading_paused(live: Live) -> None:
    events: list[str] = []
    auth = AuthService(
        live.settings, live.secrets, live.clock, live.rest, on_auth_lost=lambda reason: events.append(reason)
    )
    async with pumping(live.clock):
        tokens = await auth.login()
        auth.tokens = replace(tokens, refresh_token="bad-refresh")
        live.secrets.set("pin", "0000")
        session = live.sim.sessions.session_for_jwt(tokens.jwt_token)
        assert session is not None
        live.sim.sessions.logout(session)
        assert not await auth.check_health()
        assert auth.state is AuthState.LOST and len(events) == 1
        assert not await auth.check_health()
        assert len(events) == 1  # not re-announced while still lost


async def test_health_monitor_runs_on_the_clock_interval(live: Live) -> None:
    settings = live.settings.model_copy(update={"session_health_interval_minutes": 0.05})
    auth = AuthService(settings, live.secrets, live.clock, live.rest)
    stop = asyncio.Event()
    async with pumping(live.clock, step=0.5):
        await auth.login()
        monitor = asyncio.create_task(auth.run_health_monitor(stop))
        for _ in range(500):
            if auth.health_checks >= 2:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(monitor, 5)
    assert auth.health_checks >= 2


async def test_manual_tokens_are_stored_and_validated(live: Live) -> None:
    async with pumping(live.clock):
        real = await live.auth.login()
        manual = AuthService(live.settings, live.secrets, live.clock, live.rest)
        manual.set_manual_tokens(f"Bearer {real.jwt_token}", real.feed_token)
        assert (await live.broker.profile()).client_code == TEST_ACCOUNT.client_code
        stored = live.secrets.load_tokens()
        assert stored is not None and stored.jwt_token == real.jwt_token
        with pytest.raises(UserError, match="required"):
            manual.set_manual_tokens("", "x")


def test_missing_client_code_is_a_clear_error(live: Live) -> None:
    auth = AuthService(
        live.settings.model_copy(update={"client_code": ""}), live.secrets, live.clock, live.rest
    )
    with pytest.raises(UserError, match="client_code"):
        _ = auth.client_code


async def test_refused_socket_handshake_triggers_an_immediate_check(live: Live) -> None:
    async with pumping(live.clock):
        await live.auth.login()
        before = live.auth.health_checks
        live.auth.report_auth_failure("Invalid Header - Invalid Feed Token")
        live.auth.report_auth_failure("again")  # coalesced while one check is pending
        for _ in range(300):
            if live.auth.health_checks > before:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert live.auth.health_checks == before + 1
