"""What the sockets need from the server's session store and fault injector.

Structural protocols, so the feed does not depend on `optbot.sim.auth` / `optbot.sim.faults`
import order; the real `SessionStore` and `FaultInjector` satisfy them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol


class SocketSession(Protocol):
    @property
    def client_code(self) -> str: ...


class SocketSessionStore(Protocol):
    def session_for_jwt(self, jwt: str) -> SocketSession | None:
        """The live session for a jwt given with or without the `Bearer ` prefix."""
        ...

    def session_for_feed_token(self, client_code: str, feed_token: str) -> SocketSession | None: ...

    def api_key_valid(self, api_key: str) -> bool: ...


class FeedFaults(Protocol):
    @property
    def feed_stalled(self) -> bool:
        """While true the feed keeps sockets open but sends no frames."""
        ...

    def register_ws_closer(self, close: Callable[[], Awaitable[None]]) -> None: ...


def strip_bearer(authorization: str) -> str:
    """The jwt from an Authorization value, accepted with or without `Bearer ` (reference §5)."""
    value = authorization.strip()
    if value[:7].lower() == "bearer ":
        return value[7:].strip()
    return value
