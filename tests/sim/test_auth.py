from __future__ import annotations

from datetime import datetime, timedelta

import pyotp

from optbot.core.clock import SimClock
from optbot.core.timeutil import IST
from optbot.sim.auth import LoginFailure, RefreshFailure, SessionStore, SimSession, TokenProblem
from optbot.test_kit.sim import TEST_ACCOUNT


def store(clock: SimClock, ttl: timedelta | None = None) -> SessionStore:
    return SessionStore(clock, [TEST_ACCOUNT], session_ttl=ttl)


def code_at(clock: SimClock, offset_seconds: float = 0) -> str:
    return pyotp.TOTP(TEST_ACCOUNT.totp_secret).at(clock.now_utc() + timedelta(seconds=offset_seconds))


def login(sessions: SessionStore, clock: SimClock) -> SimSession:
    result = sessions.login(TEST_ACCOUNT.client_code, TEST_ACCOUNT.pin, code_at(clock))
    assert isinstance(result, SimSession)
    return result


def test_login_checks_pin_and_totp_within_one_step() -> None:
    clock = SimClock(datetime(2026, 11, 18, 10, 0, tzinfo=IST))
    sessions = store(clock)
    assert sessions.login("NOPE", TEST_ACCOUNT.pin, code_at(clock)) is LoginFailure.BAD_CREDENTIALS
    assert sessions.login(TEST_ACCOUNT.client_code, "0000", code_at(clock)) is LoginFailure.BAD_CREDENTIALS
    assert sessions.login(TEST_ACCOUNT.client_code, TEST_ACCOUNT.pin, "000000") in (
        LoginFailure.BAD_TOTP,
        # one in a million: 000000 is the real code; the secret/time are fixed, so it is not.
    )
    assert isinstance(
        sessions.login(TEST_ACCOUNT.client_code, TEST_ACCOUNT.pin, code_at(clock, -30)), SimSession
    )
    assert isinstance(
        sessions.login(TEST_ACCOUNT.client_code, TEST_ACCOUNT.pin, code_at(clock, 30)), SimSession
    )
    assert (
        sessions.login(TEST_ACCOUNT.client_code, TEST_ACCOUNT.pin, code_at(clock, -90))
        is LoginFailure.BAD_TOTP
    )


def test_session_expires_at_midnight_ist_by_default() -> None:
    clock = SimClock(datetime(2026, 11, 18, 23, 50, tzinfo=IST))
    sessions = store(clock)
    session = login(sessions, clock)
    assert session.expires_at == datetime(2026, 11, 19, 0, 0, tzinfo=IST)
    assert sessions.session_for_jwt("Bearer " + session.jwt) is session
    assert sessions.session_for_jwt(session.jwt) is session
    clock.advance(600)
    assert sessions.session_for_jwt(session.jwt) is None
    assert sessions.check_jwt(session.jwt) is TokenProblem.EXPIRED
    assert sessions.jwt_expired(session.jwt)
    assert sessions.refresh(session.refresh_token) is RefreshFailure.EXPIRED


def test_configurable_ttl_refresh_rotation_and_logout() -> None:
    clock = SimClock(datetime(2026, 11, 18, 10, 0, tzinfo=IST))
    sessions = store(clock, ttl=timedelta(minutes=5))
    session = login(sessions, clock)
    assert session.expires_at == clock.now_utc() + timedelta(minutes=5)
    assert sessions.check_jwt(None) is TokenProblem.MISSING
    assert sessions.check_jwt("Bearer ") is TokenProblem.MISSING
    assert sessions.check_jwt("garbage") is TokenProblem.INVALID
    renewed = sessions.refresh(session.refresh_token)
    assert isinstance(renewed, SimSession)
    assert renewed.jwt != session.jwt and renewed.expires_at == session.expires_at
    assert sessions.check_jwt(session.jwt) is TokenProblem.INVALID  # rotated away
    assert sessions.refresh(session.refresh_token) is RefreshFailure.INVALID
    assert sessions.session_for_feed_token(TEST_ACCOUNT.client_code, renewed.feed_token) is renewed
    assert sessions.session_for_feed_token("OTHER", renewed.feed_token) is None
    sessions.logout(renewed)
    assert sessions.check_jwt(renewed.jwt) is TokenProblem.INVALID
    assert sessions.session_for_feed_token(TEST_ACCOUNT.client_code, renewed.feed_token) is None


def test_tokens_look_like_jwts_and_api_keys_are_checked() -> None:
    clock = SimClock(datetime(2026, 11, 18, 10, 0, tzinfo=IST))
    sessions = store(clock)
    session = login(sessions, clock)
    for token in (session.jwt, session.refresh_token, session.feed_token):
        assert token.startswith("eyJ") and token.count(".") == 2
    assert sessions.api_key_valid(TEST_ACCOUNT.api_key)
    assert not sessions.api_key_valid("wrong")


def test_separate_totp_clock_follows_wall_time_while_replay_is_historical() -> None:
    replay = SimClock(datetime(2024, 5, 21, 10, 0, tzinfo=IST))
    wall = SimClock(datetime(2026, 11, 18, 10, 0, tzinfo=IST))
    sessions = SessionStore(replay, [TEST_ACCOUNT], totp_clock=wall)
    assert isinstance(sessions.login(TEST_ACCOUNT.client_code, TEST_ACCOUNT.pin, code_at(wall)), SimSession)
    assert (
        sessions.login(TEST_ACCOUNT.client_code, TEST_ACCOUNT.pin, code_at(replay)) is LoginFailure.BAD_TOTP
    )
