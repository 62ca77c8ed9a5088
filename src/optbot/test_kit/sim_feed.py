"""Fakes for testing the simulator's sockets without the full server: a session store, a fault
switch and a hand-driven market whose quotes a test sets explicitly."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from optbot.sim.contracts import SimDepthLevel, SimQuote
from optbot.sim.feed.ports import strip_bearer


@dataclass(frozen=True, slots=True)
class FakeSession:
    client_code: str
    jwt: str
    feed_token: str


@dataclass
class FakeSessionStore:
    """Known sessions keyed by jwt; `expired_jwts` lets tests exercise the 403 path."""

    api_key: str = "sim-api-key"
    sessions: list[FakeSession] = field(default_factory=list)
    expired_jwts: set[str] = field(default_factory=set)

    def add(self, client_code: str, jwt: str, feed_token: str) -> FakeSession:
        session = FakeSession(client_code, jwt, feed_token)
        self.sessions.append(session)
        return session

    def session_for_jwt(self, jwt: str) -> FakeSession | None:
        token = strip_bearer(jwt)
        return next((session for session in self.sessions if session.jwt == token), None)

    def session_for_feed_token(self, client_code: str, feed_token: str) -> FakeSession | None:
        return next(
            (s for s in self.sessions if s.client_code == client_code and s.feed_token == feed_token),
            None,
        )

    def api_key_valid(self, api_key: str) -> bool:
        return api_key == self.api_key

    def jwt_expired(self, jwt: str) -> bool:
        return strip_bearer(jwt) in self.expired_jwts


@dataclass
class FakeFaults:
    feed_stalled: bool = False
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def register_ws_closer(self, close: Callable[[], Awaitable[None]]) -> None:
        self.closers.append(close)

    async def drop_connections(self) -> None:
        for close in self.closers:
            await close()


def sample_quote(
    exchange: str = "NFO", token: str = "45000", ltp: float = 101.25, sequence: int = 1, **changes: Any
) -> SimQuote:
    """A fully populated quote with five levels each side, for encoding and socket tests."""
    bids = tuple(SimDepthLevel(round(ltp - 0.05 * (i + 1), 2), 75 * (i + 1), i + 1) for i in range(5))
    asks = tuple(SimDepthLevel(round(ltp + 0.05 * (i + 1), 2), 150 * (i + 1), i + 2) for i in range(5))
    quote = SimQuote(
        exchange=exchange,
        token=token,
        symbol=f"SYM{token}",
        ltp=ltp,
        last_quantity=75,
        average_price=round(ltp - 0.5, 2),
        volume=123_450,
        open=ltp - 2.0,
        high=ltp + 3.0,
        low=ltp - 4.0,
        close=ltp - 1.0,
        open_interest=987_600,
        upper_circuit=round(ltp * 2, 2),
        lower_circuit=0.05,
        week52_high=ltp + 300.0,
        week52_low=0.05,
        bids=bids,
        asks=asks,
        exchange_time=datetime(2025, 9, 8, 4, 0, 0, 250_000, tzinfo=UTC),
        sequence=sequence,
        synthetic=exchange in ("NFO", "BFO"),
    )
    return replace(quote, **changes) if changes else quote


class HandDrivenMarket:
    """A MarketView whose quotes change only when a test calls `publish`."""

    def __init__(self) -> None:
        self.quotes: dict[tuple[str, str], SimQuote] = {}
        self.listeners: list[Callable[[SimQuote], None]] = []

    def now(self) -> datetime:
        return datetime(2025, 9, 8, 4, 0, tzinfo=UTC)

    def quote(self, exchange: str, token: str) -> SimQuote | None:
        return self.quotes.get((exchange, token))

    def scrip_master_rows(self) -> list[dict[str, Any]]:
        return []

    def candles(
        self, exchange: str, token: str, interval: str, start: datetime, end: datetime
    ) -> list[list[Any]]:
        return []

    def subscribe_quotes(self, callback: Callable[[SimQuote], None]) -> None:
        self.listeners.append(callback)

    def is_market_open(self, exchange: str) -> bool:
        return True

    def publish(self, quote: SimQuote) -> None:
        self.quotes[(quote.exchange, quote.token)] = quote
        for listener in self.listeners:
            listener(quote)
