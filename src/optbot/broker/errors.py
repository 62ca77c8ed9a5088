"""Broker errors. Messages never contain secrets (PIN, TOTP, tokens, API key)."""

from __future__ import annotations


class BrokerError(Exception):
    """Base class for every broker failure."""


class TokenExpired(BrokerError):
    """The session (jwt/feed token) is invalid or expired; log in again."""


class AuthenticationFailed(BrokerError):
    """Login was refused (wrong client code, PIN or TOTP)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class RateLimited(BrokerError):
    """The broker answered 'Access denied because of exceeding access rate'."""


class BrokerRejected(BrokerError):
    """A business failure (`status:false`, `ABxxxx`) — the request reached the broker and was refused."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class TransientError(BrokerError):
    """Network or server trouble where nothing can have changed at the broker (safe to retry reads)."""


class UnresolvedOrder(BrokerError):
    """An order was sent but its outcome is unknown (timeout, disconnect, 5xx, unparsable reply).

    Never resend: settle it from the order-update socket, order details or the order book by ordertag.
    """

    def __init__(self, ordertag: str, reason: str) -> None:
        super().__init__(f"order with tag {ordertag} unresolved: {reason}")
        self.ordertag = ordertag
        self.reason = reason
