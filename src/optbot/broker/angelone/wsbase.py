"""Pieces shared by the two SmartAPI sockets: credentials, handshake headers, jittered backoff."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect

from optbot.broker.angelone.rest import check_base_url, is_loopback_host

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
    "ClientConnection",
    "CredentialsProvider",
    "FeedCredentials",
    "handshake_headers",
    "open_socket",
]
