"""Simulated SmartAPI accounts and sessions (reference §1).

Login checks client code, PIN and a real RFC 6238 TOTP against the account's secret. Sessions end at
midnight IST (or after a configured TTL, for tests); logout and token refresh invalidate tokens. The
TOTP is checked on its own clock: a historical replay runs on a simulated clock, while a person's
authenticator app (or a script using `pyotp.TOTP(secret).now()`) runs on wall time.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum

import orjson
import pyotp

from optbot.core.clock import Clock
from optbot.core.timeutil import IST, to_ist

BEARER_PREFIX = "Bearer "
_BEARER = re.compile(r"^bearer(?:\s+|$)", re.IGNORECASE)


@dataclass(frozen=True)
class HoldingSeed:
    """Shares an account starts with (accounts file `holdings`, or `POST /sim/v1/holdings`)."""

    exchange: str  # NSE or BSE
    tradingsymbol: str  # e.g. SBIN-EQ, as in the scrip master
    quantity: int
    average_price: float  # rupees
    isin: str = ""  # '' = a synthetic, well-formed ISIN is made up from the token
    symboltoken: str = ""  # needed only for an equity the replayed market does not list


@dataclass(frozen=True)
class SimAccount:
    """A simulator-only throwaway account. Its secrets are demo values, never real credentials."""

    client_code: str
    pin: str
    totp_secret: str
    api_key: str
    name: str = "SIM TRADER"
    funds: float = 500000.0
    email: str = ""
    mobile: str = ""
    holdings: tuple[HoldingSeed, ...] = ()
    pan: str = "ABCDE1234F"  # demo PAN; EDIS generateTPIN checks it


@dataclass
class SimSession:
    client_code: str
    jwt: str
    refresh_token: str
    feed_token: str
    expires_at: datetime
    logged_in_at: datetime | None = None
    valid: bool = True


class LoginFailure(StrEnum):
    """Why a login failed, as the SmartAPI error code it maps to."""

    BAD_CREDENTIALS = "AB1007"
    BAD_TOTP = "AB1050"


class RefreshFailure(StrEnum):
    INVALID = "AB8050"
    EXPIRED = "AB8051"


class TokenProblem(StrEnum):
    """Gateway-dialect failures for a secure call (reference §8)."""

    MISSING = "AG8003"
    INVALID = "AG8001"
    EXPIRED = "AG8002"


def strip_bearer(value: str) -> str:
    """The token from an Authorization value given with or without `Bearer ` (reference §10)."""
    return _BEARER.sub("", value.strip())


def _jwt_like(claims: dict[str, object]) -> str:
    """An `eyJ...` token: real SmartAPI tokens are JWTs; clients must treat them as opaque."""

    def part(payload: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()

    signature = base64.urlsafe_b64encode(secrets.token_bytes(48)).rstrip(b"=").decode()
    return f"{part({'alg': 'HS512', 'typ': 'JWT'})}.{part(claims)}.{signature}"


def next_midnight_ist(moment: datetime) -> datetime:
    local = to_ist(moment)
    return datetime.combine(local.date() + timedelta(days=1), time(0, 0), tzinfo=IST)


@dataclass
class SessionStore:
    """All accounts and live sessions of one simulator."""

    clock: Clock
    accounts: list[SimAccount]
    session_ttl: timedelta | None = None
    totp_clock: Clock | None = None
    totp_valid_window: int = 1
    refresh_rotates_tokens: bool = True
    _by_jwt: dict[str, SimSession] = field(default_factory=dict, init=False)
    _by_refresh: dict[str, SimSession] = field(default_factory=dict, init=False)
    _by_client: dict[str, list[SimSession]] = field(default_factory=dict, init=False)
    _last_login: dict[str, datetime] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        codes = [account.client_code for account in self.accounts]
        if len(set(codes)) != len(codes):
            raise ValueError("simulator accounts must have distinct client codes")
        self._accounts = {account.client_code: account for account in self.accounts}
        self._api_keys = {account.api_key for account in self.accounts}

    # -- lookups the feed handlers and REST layer use -------------------------------------------

    def account(self, client_code: str) -> SimAccount | None:
        return self._accounts.get(client_code)

    def api_key_valid(self, api_key: str) -> bool:
        return api_key in self._api_keys

    def session_for_jwt(self, jwt: str) -> SimSession | None:
        session = self._by_jwt.get(strip_bearer(jwt))
        if session is None or not self._alive(session):
            return None
        return session

    def session_for_feed_token(self, client_code: str, feed_token: str) -> SimSession | None:
        for session in self._by_client.get(client_code, []):
            if session.feed_token == feed_token and self._alive(session):
                return session
        return None

    def jwt_expired(self, jwt: str) -> bool:
        """True for a known, not logged-out jwt whose session has ended (order socket answers 403)."""
        session = self._by_jwt.get(strip_bearer(jwt))
        return session is not None and session.valid and not self._alive(session)

    def check_jwt(self, authorization: str | None) -> SimSession | TokenProblem:
        """The session for an Authorization header, or the gateway error it earns."""
        if authorization is None or not strip_bearer(authorization):
            return TokenProblem.MISSING
        session = self._by_jwt.get(strip_bearer(authorization))
        if session is None or not session.valid:
            return TokenProblem.INVALID
        if not self._alive(session):
            return TokenProblem.EXPIRED
        return session

    def last_login(self, client_code: str) -> datetime | None:
        return self._last_login.get(client_code)

    # -- state changes ----------------------------------------------------------------------------

    def login(self, client_code: str, pin: str, totp: str) -> SimSession | LoginFailure:
        account = self._accounts.get(client_code)
        if account is None or not secrets.compare_digest(account.pin.encode(), pin.encode()):
            return LoginFailure.BAD_CREDENTIALS
        totp_time = (self.totp_clock or self.clock).now_utc()
        if not pyotp.TOTP(account.totp_secret).verify(
            totp, for_time=totp_time, valid_window=self.totp_valid_window
        ):
            return LoginFailure.BAD_TOTP
        session = self._new_session(client_code)
        self._last_login[client_code] = self.clock.now_utc()
        return session

    def refresh(self, refresh_token: str) -> SimSession | RefreshFailure:
        old = self._by_refresh.get(refresh_token)
        if old is None or not old.valid:
            return RefreshFailure.INVALID
        if not self._alive(old):
            return RefreshFailure.EXPIRED
        new = self._new_session(old.client_code, expires_at=old.expires_at)
        if self.refresh_rotates_tokens:
            self._invalidate(old)
        return new

    def logout(self, session: SimSession) -> None:
        self._invalidate(session)

    def sessions(self, client_code: str) -> list[SimSession]:
        return [session for session in self._by_client.get(client_code, []) if self._alive(session)]

    # -- internals --------------------------------------------------------------------------------

    def _alive(self, session: SimSession) -> bool:
        return session.valid and self.clock.now_utc() < session.expires_at

    def _new_session(self, client_code: str, expires_at: datetime | None = None) -> SimSession:
        now = self.clock.now_utc()
        if expires_at is None:
            expires_at = now + self.session_ttl if self.session_ttl is not None else next_midnight_ist(now)
        claims: dict[str, object] = {"username": client_code, "iat": int(now.timestamp())}
        claims["exp"] = int(expires_at.timestamp())
        session = SimSession(
            client_code=client_code,
            jwt=_jwt_like({**claims, "token": "access"}),
            refresh_token=_jwt_like({**claims, "token": "refresh"}),
            feed_token=_jwt_like({**claims, "token": "feed"}),
            expires_at=expires_at,
            logged_in_at=now,
        )
        self._by_jwt[session.jwt] = session
        self._by_refresh[session.refresh_token] = session
        self._by_client.setdefault(client_code, []).append(session)
        self._prune(client_code)
        return session

    def _invalidate(self, session: SimSession) -> None:
        session.valid = False
        self._by_jwt.pop(session.jwt, None)
        self._by_refresh.pop(session.refresh_token, None)

    def _prune(self, client_code: str) -> None:
        """Forget expired sessions so a long replay does not grow memory without bound."""
        now = self.clock.now_utc()
        kept = []
        for session in self._by_client.get(client_code, []):
            if session.valid and now < session.expires_at:
                kept.append(session)
            else:
                self._by_jwt.pop(session.jwt, None)
                self._by_refresh.pop(session.refresh_token, None)
        self._by_client[client_code] = kept


def demo_account() -> SimAccount:
    """The throwaway account `optbot sim serve` prints; valid only against the simulator."""
    return SimAccount(
        client_code="S1234567",
        pin="1234",
        totp_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        api_key="simapikey01",
        name="SIM DEMO TRADER",
        email="demo@sim.invalid",
        mobile="9999999999",
    )
