"""Pieces shared by the two SmartAPI sockets: credentials, handshake headers, jittered backoff and the
reconnect circuit breaker."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect

from optbot.broker.angelone.rest import check_base_url, is_loopback_host
from optbot.config.sections.engine import EngineSettings

#: websockets logs handshake headers (incl. Authorization) at DEBUG; this logger never goes below
#: INFO, so a debug log configuration cannot leak the jwt or feed token.
WIRE_LOG = logging.getLogger("optbot.broker.angelone.wire")
WIRE_LOG.setLevel(logging.INFO)


@dataclass(frozen=True, slots=True)
class FeedCredentials:
    """What both sockets authenticate with. Secret fields never appear in repr."""

    client_code: str
    api_key: str = field(repr=False)
    jwt_token: str = field(repr=False)
    feed_token: str = field(repr=False)


CredentialsProvider = Callable[[], FeedCredentials]


def handshake_headers(credentials: FeedCredentials) -> dict[str, str]:
    """Reference §5/§6: Authorization (Bearer jwt), x-api-key, x-client-code, x-feed-token."""
    jwt_token = credentials.jwt_token.removeprefix("Bearer ")
    return {
        "Authorization": f"Bearer {jwt_token}",
        "x-api-key": credentials.api_key,
        "x-client-code": credentials.client_code,
        "x-feed-token": credentials.feed_token,
    }


class Backoff:
    """Jittered exponential delays: attempt n waits uniform(base/2, min(cap, base * 2**n))."""

    def __init__(self, initial_seconds: float, max_seconds: float, rng: random.Random | None = None) -> None:
        self._initial = initial_seconds
        self._max = max(max_seconds, initial_seconds)
        self._rng = rng or random.Random()
        self.attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self._max, self._initial * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return self._rng.uniform(min(self._initial / 2, ceiling), ceiling)

    def reset(self) -> None:
        self.attempt = 0


@dataclass(frozen=True, slots=True)
class ReconnectCircuitPolicy:
    """When reconnecting stops being worth a fast retry (spec §13.6 "cap retries with circuit breaker")."""

    max_attempts: int
    cooldown_seconds: float

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> ReconnectCircuitPolicy:
        return cls(settings.max_reconnect_attempts, settings.reconnect_circuit_cooldown_seconds)


@dataclass(frozen=True, slots=True)
class CircuitChange:
    """The breaker of one socket opened (`opened`) or, having been open, closed again."""

    opened: bool
    connection: int
    failed_attempts: int
    down_seconds: float
    cooldown_seconds: float


class ReconnectCircuitBreaker:
    """Counts consecutive failed connects of one socket; after `max_attempts` it opens and each further
    attempt waits `cooldown_seconds` instead of the backoff's delay, so an outage does not turn into a
    stream of handshakes against the broker's per-client connection limit. It never stops the
    retrying (a trading day is worth reconnecting for); the first working connect closes it again.

    Times are seconds of the caller's transport clock (`clock.realtime()`)."""

    def __init__(self, policy: ReconnectCircuitPolicy) -> None:
        self.policy = policy
        self.failures = 0
        self.open = False
        self.opens = 0
        #: When the socket was last seen working (lost) or first failed; None while it works.
        self.down_since: float | None = None

    def lost(self, now: float) -> None:
        """A working socket dropped: the outage is measured from here."""
        if self.down_since is None:
            self.down_since = now

    def failed(self, now: float) -> bool:
        """One more attempt that got no working socket; True when this one opened the breaker."""
        self.lost(now)
        self.failures += 1
        if self.open or self.failures < self.policy.max_attempts:
            return False
        self.open = True
        self.opens += 1
        return True

    def down_seconds(self, now: float) -> float:
        return 0.0 if self.down_since is None else max(0.0, now - self.down_since)

    def succeeded(self, now: float) -> tuple[int, float] | None:
        """A working socket again: reset. Returns (failed attempts, seconds down) if the breaker was
        open, so the caller can say the outage is over; None after an ordinary short drop."""
        report = (self.failures, self.down_seconds(now)) if self.open else None
        self.failures = 0
        self.open = False
        self.down_since = None
        return report

    def next_delay(self, backoff: Backoff) -> float:
        """The wait before the next attempt: the cool-down while open, else the jittered backoff."""
        return self.policy.cooldown_seconds if self.open else backoff.next_delay()


def open_socket(url: str, headers: dict[str, str], open_timeout: float, what: str, **kwargs: Any) -> connect:
    """A websockets connect() for `url`; ws:// only to loopback, never through a proxy there."""
    checked = check_base_url(url, what)
    host = urlsplit(checked).hostname or ""
    return connect(
        checked,
        additional_headers=headers,
        open_timeout=open_timeout,
        proxy=None if is_loopback_host(host) else True,
        compression=None,
        logger=WIRE_LOG,
        **kwargs,
    )


__all__ = [
    "Backoff",
    "CircuitChange",
    "ClientConnection",
    "CredentialsProvider",
    "FeedCredentials",
    "ReconnectCircuitBreaker",
    "ReconnectCircuitPolicy",
    "handshake_headers",
    "open_socket",
]
