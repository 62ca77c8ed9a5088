"""Session tokens and the raw login / refresh / logout calls (reference §1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from optbot.broker.angelone.ratelimit import Priority
from optbot.broker.angelone.rest import AngelOneRestClient
from optbot.broker.errors import TransientError
from optbot.core.timeutil import IST, to_ist


@dataclass(frozen=True, slots=True)
class SessionTokens:
    """What a login yields. Token fields are excluded from repr so they never reach a log line."""

    client_code: str
    issued_at: datetime
    expires_at: datetime
    jwt_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    feed_token: str = field(repr=False)

    def valid_at(self, moment: datetime) -> bool:
        """Only the expiry matters: a wall-clock step back must not invalidate a fresh session."""
        return moment < self.expires_at


def session_expiry(issued_at: datetime, expiry_time_ist: time) -> datetime:
    """The first `expiry_time_ist` (default midnight IST) strictly after `issued_at`."""
    local = to_ist(issued_at)
    candidate = datetime.combine(local.date(), expiry_time_ist, tzinfo=IST)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate


def _tokens_from(data: Any, client_code: str, issued_at: datetime, expiry_time_ist: time) -> SessionTokens:
    if not isinstance(data, dict):
        raise TransientError("login reply carried no token object")
    jwt_token = str(data.get("jwtToken") or "")
    if jwt_token.startswith("Bearer "):
        jwt_token = jwt_token[len("Bearer ") :]
    refresh_token = str(data.get("refreshToken") or "")
    feed_token = str(data.get("feedToken") or "")
    if not jwt_token or not feed_token:
        raise TransientError("login reply is missing jwtToken or feedToken")
    return SessionTokens(
        client_code=client_code,
        issued_at=issued_at,
        expires_at=session_expiry(issued_at, expiry_time_ist),
        jwt_token=jwt_token,
        refresh_token=refresh_token,
        feed_token=feed_token,
    )


async def login_by_password(
    rest: AngelOneRestClient,
    client_code: str,
    pin: str,
    totp: str,
    issued_at: datetime,
    expiry_time_ist: time,
) -> SessionTokens:
    """Raises AuthenticationFailed for wrong credentials; installs the jwt on the client on success."""
    data = await rest.call(
        "login", {"clientcode": client_code, "password": pin, "totp": totp}, priority=Priority.EXIT
    )
    tokens = _tokens_from(data, client_code, issued_at, expiry_time_ist)
    rest.set_access_token(tokens.jwt_token)
    return tokens


async def generate_tokens(
    rest: AngelOneRestClient, current: SessionTokens, issued_at: datetime, expiry_time_ist: time
) -> SessionTokens:
    """Refresh with the refresh token (the SDK's working `generateToken`, not `renewAccessToken`)."""
    rest.set_access_token(current.jwt_token)
    data = await rest.call("generate_tokens", {"refreshToken": current.refresh_token}, priority=Priority.EXIT)
    tokens = _tokens_from(data, current.client_code, issued_at, expiry_time_ist)
    if not tokens.refresh_token:
        tokens = SessionTokens(
            tokens.client_code,
            tokens.issued_at,
            tokens.expires_at,
            tokens.jwt_token,
            current.refresh_token,
            tokens.feed_token,
        )
    rest.set_access_token(tokens.jwt_token)
    return tokens


async def logout(rest: AngelOneRestClient, client_code: str) -> None:
    await rest.call("logout", {"clientcode": client_code}, priority=Priority.EXIT)
    rest.set_access_token(None)
