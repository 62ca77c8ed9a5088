"""Login, session validity until the close, health monitoring and recovery (spec §1.2–1.3, §10.8).

Why: a session that dies at 14:50 with positions open is the worst time to find out. Before trading
the service proves the session will outlive today's close (sessions end at midnight IST), re-logs in
proactively otherwise, checks health every few minutes, and pauses trading through a callback the
moment authentication is lost, resuming only after a successful recovery.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

import pyotp

from optbot.broker.angelone.rest import AngelOneRestClient
from optbot.broker.angelone.secrets import SecretStore, register_with_redactor
from optbot.broker.angelone.session import (
    SessionTokens,
    generate_tokens,
    login_by_password,
    logout,
    session_expiry,
)
from optbot.broker.errors import AuthenticationFailed, BrokerError, TokenExpired
from optbot.config.sections.broker import BrokerSettings
from optbot.core.clock import Clock
from optbot.core.errors import UserError
from optbot.core.timeutil import IST, to_utc

log = logging.getLogger("optbot.broker.angelone.auth")

CloseTimeProvider = Callable[[date], datetime | None]
AuthCallback = Callable[[str], Awaitable[None] | None]


class AuthState(StrEnum):
    LOGGED_OUT = "logged_out"
    ACTIVE = "active"
    LOST = "lost"  # authentication failed during the session: trading is paused


@dataclass(frozen=True, slots=True)
class SessionStatus:
    state: AuthState
    client_code: str
    expires_at: datetime | None
    close_time: datetime | None
    valid_until_close: bool
    detail: str = ""


def totp_code(secret: str, moment: datetime) -> str:
    """The 6-digit RFC 6238 code for `moment` (from the Clock, never the wall clock directly)."""
    try:
        return pyotp.TOTP(secret.replace(" ", "").upper()).at(to_utc(moment))
    except (binascii.Error, ValueError):
        raise UserError(
            "the stored TOTP secret is unusable (must be the base32 key of at least 112 bits); "
            "set it again with `optbot auth set-secret totp_secret`"
        ) from None


class AuthService:
    """Owns the session tokens and keeps them valid; see the module docstring."""

    def __init__(
        self,
        settings: BrokerSettings,
        secrets: SecretStore,
        clock: Clock,
        rest: AngelOneRestClient,
        close_time_provider: CloseTimeProvider | None = None,
        *,
        on_auth_lost: AuthCallback | None = None,
        on_auth_restored: AuthCallback | None = None,
        totp_clock: Clock | None = None,
    ) -> None:
        """`totp_clock` generates TOTP codes when the bot's clock follows a replay (codes use wall time)."""
        self._settings = settings
        self._totp_clock = totp_clock or clock
        self._secrets = secrets
        self._clock = clock
        self._rest = rest
        self._close_time_provider = close_time_provider
        self._on_auth_lost = on_auth_lost
        self._on_auth_restored = on_auth_restored
        self._lock = asyncio.Lock()
        self.tokens: SessionTokens | None = None
        self.state = AuthState.LOGGED_OUT
        self.health_checks = 0
        self.health_failures = 0
        self._pending_check: asyncio.Task[bool] | None = None
        self._busy = 0

    # -- helpers ----------------------------------------------------------------------------------

    @property
    def client_code(self) -> str:
        code = self._settings.client_code.strip()
        if not code:
            raise UserError(
                'broker.client_code is not set in the config file (e.g. client_code = "A1234567")'
            )
        return code

    def close_time(self, day: date | None = None) -> datetime | None:
        """Today's market close: from the calendar if given, else broker.market_close_time_ist."""
        trading_day = day or self._clock.now_ist().date()
        if self._close_time_provider is not None:
            return self._close_time_provider(trading_day)
        return datetime.combine(trading_day, self._settings.market_close_time_ist, tzinfo=IST)

    def covers(self, tokens: SessionTokens, close_time: datetime | None) -> bool:
        """True if the session is valid now and stays valid past the close plus the safety margin."""
        now = self._clock.now_utc()
        if not tokens.valid_at(now):
            return False
        if close_time is None:
            return True
        margin = timedelta(minutes=self._settings.relogin_margin_minutes)
        return tokens.expires_at >= close_time + margin

    def _install(self, tokens: SessionTokens) -> SessionTokens:
        for value in (tokens.jwt_token, tokens.refresh_token, tokens.feed_token):
            register_with_redactor(value)
        self.tokens = tokens
        self._rest.set_access_token(tokens.jwt_token)
        self._secrets.save_tokens(tokens)
        return tokens

    async def _notify(self, callback: AuthCallback | None, reason: str) -> None:
        if callback is None:
            return
        result = callback(reason)
        if inspect.isawaitable(result):
            await result

    # -- login / refresh / logout -----------------------------------------------------------------

    async def login(self) -> SessionTokens:
        """Client code + PIN + TOTP. Wrong credentials raise AuthenticationFailed (no secret in it)."""
        with self._owning():
            api_key = self._secrets.require("api_key")
            pin = self._secrets.require("pin")
            code = totp_code(self._secrets.require("totp_secret"), self._totp_clock.now_utc())
            self._rest.set_api_key(api_key)
            tokens = await login_by_password(
                self._rest,
                self.client_code,
                pin,
                code,
                self._clock.now_utc(),
                self._settings.session_expiry_time_ist,
            )
            log.info(
                "logged in as %s; session valid until %s", tokens.client_code, tokens.expires_at.isoformat()
            )
            self.state = AuthState.ACTIVE
            return self._install(tokens)

    async def refresh(self) -> SessionTokens:
        with self._owning():
            if self.tokens is None or not self.tokens.refresh_token:
                raise TokenExpired("no refresh token: log in again")
            tokens = await generate_tokens(
                self._rest, self.tokens, self._clock.now_utc(), self._settings.session_expiry_time_ist
            )
            # A refresh does not extend the daily session beyond midnight IST.
            tokens = SessionTokens(
                tokens.client_code,
                tokens.issued_at,
                min(tokens.expires_at, self.tokens.expires_at),
                tokens.jwt_token,
                tokens.refresh_token,
                tokens.feed_token,
            )
            return self._install(tokens)

    async def logout(self) -> None:
        with self._owning():
            tokens = self.tokens or self._secrets.load_tokens()
            try:
                if tokens is not None and tokens.valid_at(self._clock.now_utc()):
                    self._rest.set_access_token(tokens.jwt_token)
                    await logout(self._rest, tokens.client_code)
            finally:
                self._secrets.clear_tokens()
                self._rest.set_access_token(None)
                self.tokens = None
                self.state = AuthState.LOGGED_OUT

    def set_manual_tokens(self, jwt_token: str, feed_token: str, refresh_token: str = "") -> SessionTokens:
        """Fallback when automated login fails: tokens from the publisher login (spec §1.3)."""
        jwt_token = jwt_token.strip().removeprefix("Bearer ").strip()
        if not jwt_token or not feed_token.strip():
            raise UserError("both the jwt token and the feed token are required")
        now = self._clock.now_utc()
        tokens = SessionTokens(
            client_code=self.client_code,
            issued_at=now,
            expires_at=session_expiry(now, self._settings.session_expiry_time_ist),
            jwt_token=jwt_token,
            refresh_token=refresh_token.strip(),
            feed_token=feed_token.strip(),
        )
        self.state = AuthState.ACTIVE
        return self._install(tokens)

    # -- validity ---------------------------------------------------------------------------------

    async def _profile_ok(self) -> bool:
        try:
            await self._rest.call("profile")
        except TokenExpired:
            return False
        return True

    async def restore(self) -> SessionTokens | None:
        """Load stored tokens and prove them with getProfile; None if absent, expired or refused."""
        with self._owning():
            tokens = self.tokens or self._secrets.load_tokens()
            if tokens is None or not tokens.valid_at(self._clock.now_utc()):
                return None
            if tokens.client_code != self.client_code:
                return None
            api_key = self._secrets.get("api_key")
            if api_key:
                self._rest.set_api_key(api_key)
            self._rest.set_access_token(tokens.jwt_token)
            if not await self._profile_ok():
                self._rest.set_access_token(None)
                return None
            self.tokens = tokens
            self.state = AuthState.ACTIVE
            return tokens

    async def ensure_session_until(self, close_time: datetime | None = None) -> SessionTokens:
        """Spec §1.3: keep the stored session if it is valid past the close, else log in again."""
        async with self._lock:
            close = close_time if close_time is not None else self.close_time()
            tokens = await self.restore()
            if tokens is not None and self.covers(tokens, close):
                return tokens
            if tokens is not None:
                log.info("session expires at %s, before close %s: re-login", tokens.expires_at, close)
            tokens = await self.login()
            if not self.covers(tokens, close):
                raise UserError(
                    f"a new session expires at {tokens.expires_at.isoformat()}, before the close "
                    f"{close.isoformat() if close else ''} plus the re-login margin; check the clock and "
                    "broker.session_expiry_time_ist"
                )
            return tokens

    def status(self) -> SessionStatus:
        tokens = self.tokens or self._secrets.load_tokens()
        close = self.close_time()
        if tokens is None:
            return SessionStatus(
                AuthState.LOGGED_OUT, self._settings.client_code, None, close, False, "no session"
            )
        now = self._clock.now_utc()
        if not tokens.valid_at(now):
            return SessionStatus(
                AuthState.LOGGED_OUT, tokens.client_code, tokens.expires_at, close, False, "session expired"
            )
        state = self.state if self.state is not AuthState.LOGGED_OUT else AuthState.ACTIVE
        return SessionStatus(state, tokens.client_code, tokens.expires_at, close, self.covers(tokens, close))

    # -- monitoring -------------------------------------------------------------------------------

    async def check_health(self) -> bool:
        """getProfile; on auth loss try refresh, then a full login; pause trading if both fail."""
        with self._owning():
            self.health_checks += 1
            try:
                if await self._profile_ok():
                    if self.state is AuthState.LOST:
                        self.state = AuthState.ACTIVE
                        await self._notify(self._on_auth_restored, "session accepted again")
                    return True
            except BrokerError as exc:
                # Network / rate-limit trouble is not an auth loss; the next check decides.
                self.health_failures += 1
                log.warning("session health check inconclusive: %s", type(exc).__name__)
                return False
            self.health_failures += 1
            log.error("session health check: authentication lost; recovering")
            was_active = self.state is AuthState.ACTIVE
            self.state = AuthState.LOST
            if was_active:
                await self._notify(self._on_auth_lost, "broker session rejected (token invalid or expired)")
            for recover in (self.refresh, self.login):
                try:
                    await recover()
                except (BrokerError, UserError) as exc:
                    reason = exc.code if isinstance(exc, AuthenticationFailed) else type(exc).__name__
                    log.warning("session recovery via %s failed: %s", recover.__name__, reason)
                    continue
                if await self._profile_ok():
                    self.state = AuthState.ACTIVE
                    await self._notify(self._on_auth_restored, f"session recovered via {recover.__name__}")
                    return True
            self.state = AuthState.LOST
            return False

    def report_auth_failure(self, reason: str) -> None:
        """A refused socket handshake or a TokenExpired on a REST call (spec §1.3: REST and feed-token
        health) triggers an immediate session check instead of waiting for the timer. Ignored while
        the service itself is logging in or checking (its own probes fail on purpose)."""
        if self._busy:
            return
        log.warning("broker refused our credentials (%s): checking the session now", reason)
        if self._pending_check is None or self._pending_check.done():
            self._pending_check = asyncio.get_running_loop().create_task(self.check_health())

    @contextlib.contextmanager
    def _owning(self) -> Iterator[None]:
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1

    async def run_health_monitor(self, stop: asyncio.Event) -> None:
        """Check every `session_health_interval_minutes` until `stop` is set."""
        interval = self._settings.session_health_interval_minutes * 60.0
        while not stop.is_set():
            await self._clock.sleep(interval)
            if stop.is_set():
                return
            await self.check_health()
