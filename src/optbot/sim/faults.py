"""Fault injection: the failures a real broker produces, on demand (issue 4 "Fault injection").

REST faults are consumed per matching request in this order: slow reply (delay, then continue),
403 storm, 5xx, and finally "order accepted but reply lost" after the order was really placed. Feed
faults are flags and callbacks the market engineer's WebSocket handlers read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from optbot.core.clock import Clock
from optbot.core.timeutil import iso_utc

log = logging.getLogger(__name__)

ORDER_ENDPOINTS = frozenset({"placeOrder", "modifyOrder", "cancelOrder"})
RMS_REJECT_TEXT = "Your order has been rejected due to Insufficient Funds (injected fault)."


class LostReplyMode(StrEnum):
    DROP = "drop"  # close the connection without a reply
    HANG = "hang"  # never answer; the client's own timeout fires


@dataclass
class _CountedFault:
    """A fault that fires for the next `remaining` matching requests or until `until` (sim time)."""

    remaining: int | None
    until: datetime | None
    endpoints: frozenset[str] | None
    params: dict[str, Any] = field(default_factory=dict)

    def matches(self, endpoint: str, now: datetime) -> bool:
        if self.endpoints is not None and endpoint not in self.endpoints:
            return False
        if self.until is not None and now >= self.until:
            return False
        return self.remaining is None or self.remaining > 0

    def consume(self) -> None:
        if self.remaining is not None:
            self.remaining -= 1

    def exhausted(self, now: datetime) -> bool:
        return (self.remaining is not None and self.remaining <= 0) or (
            self.until is not None and now >= self.until
        )

    def describe(self) -> dict[str, Any]:
        return {
            "remaining": self.remaining,
            "until": iso_utc(self.until) if self.until else None,
            "endpoints": sorted(self.endpoints) if self.endpoints is not None else None,
            **self.params,
        }


def _window(
    clock: Clock, count: int | None, duration_seconds: float | None, endpoints: Iterable[str] | None
) -> _CountedFault:
    if count is None and duration_seconds is None:
        raise ValueError("a fault needs a count or a duration")
    if count is not None and count < 1:
        raise ValueError(f"fault count must be >= 1, got {count}")
    if duration_seconds is not None and duration_seconds <= 0:
        raise ValueError(f"fault duration must be > 0 seconds, got {duration_seconds}")
    until = clock.now_utc() + timedelta(seconds=duration_seconds) if duration_seconds is not None else None
    return _CountedFault(count, until, frozenset(endpoints) if endpoints is not None else None)


class FaultInjector:
    """Settable in-process (tests) and through the admin API (`/sim/v1/faults`)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.feed_stalled = False
        self._ws_closers: list[Callable[[], Awaitable[None]]] = []
        self._forbid: _CountedFault | None = None
        self._server_error: _CountedFault | None = None
        self._slow: _CountedFault | None = None
        self._lost: _CountedFault | None = None
        self._rms: _CountedFault | None = None
        self.injected: dict[str, int] = {
            "forbid": 0,
            "server_error": 0,
            "slow": 0,
            "lost_reply": 0,
            "rms_reject": 0,
        }

    # -- WebSocket faults ---------------------------------------------------------------------------

    def register_ws_closer(self, close: Callable[[], Awaitable[None]]) -> None:
        """A socket hub registers how to close its sockets; every drop fault calls them all."""
        self._ws_closers.append(close)

    def unregister_ws_closer(self, close: Callable[[], Awaitable[None]]) -> None:
        if close in self._ws_closers:
            self._ws_closers.remove(close)

    async def drop_ws_connections(self) -> int:
        dropped = 0
        for close in list(self._ws_closers):
            try:
                await close()
                dropped += 1
            except Exception:  # a socket that already died must not stop the others
                log.warning("closing a websocket for a drop fault failed", exc_info=True)
        return dropped

    def stall_feed(self, stalled: bool = True) -> None:
        self.feed_stalled = stalled

    # -- REST faults --------------------------------------------------------------------------------

    def forbid_storm(
        self,
        count: int | None = None,
        duration_seconds: float | None = None,
        endpoints: Iterable[str] | None = None,
    ) -> None:
        """Answer the plain-text 403 rate-limit reply regardless of the real rate."""
        self._forbid = _window(self._clock, count, duration_seconds, endpoints)

    def server_errors(
        self,
        count: int | None = None,
        status: int = 503,
        duration_seconds: float | None = None,
        endpoints: Iterable[str] | None = None,
    ) -> None:
        if not 500 <= status <= 599:
            raise ValueError(f"server error status must be 5xx, got {status}")
        self._server_error = _window(self._clock, count, duration_seconds, endpoints)
        self._server_error.params["status"] = status

    def slow_replies(
        self,
        seconds: float,
        count: int | None = None,
        duration_seconds: float | None = None,
        endpoints: Iterable[str] | None = None,
    ) -> None:
        """Delay replies by `seconds` of real time (HTTP clients time out on real time)."""
        if seconds <= 0:
            raise ValueError(f"slow reply delay must be > 0 seconds, got {seconds}")
        self._slow = _window(self._clock, count, duration_seconds, endpoints)
        self._slow.params["seconds"] = seconds

    def lose_order_replies(
        self,
        count: int = 1,
        mode: LostReplyMode | str = LostReplyMode.DROP,
        endpoints: Iterable[str] | None = None,
    ) -> None:
        """The order IS placed/modified/cancelled, but the HTTP reply never arrives."""
        chosen = set(endpoints) if endpoints is not None else set(ORDER_ENDPOINTS)
        unknown = chosen - ORDER_ENDPOINTS
        if unknown:
            raise ValueError(f"lost replies apply to order endpoints only, not {sorted(unknown)}")
        self._lost = _window(self._clock, count, None, chosen)
        self._lost.params["mode"] = str(LostReplyMode(mode))

    def rms_rejects(self, count: int = 1, message: str = RMS_REJECT_TEXT, side: str | None = None) -> None:
        """The next `count` new orders (of `side` BUY/SELL only, when given: e.g. a basket's written
        leg after its hedges) are accepted with an order id and then rejected by RMS, as Angel One does
        (the order book shows them rejected; the order-update socket says so)."""
        if side is not None and side not in ("BUY", "SELL"):
            raise ValueError(f"side must be BUY or SELL, got {side!r}")
        self._rms = _window(self._clock, count, None, {"placeOrder"})
        self._rms.params["message"] = message
        if side is not None:
            self._rms.params["side"] = side

    def clear(self) -> None:
        self._forbid = self._server_error = self._slow = self._lost = self._rms = None
        self.feed_stalled = False

    # -- consumption by the server ------------------------------------------------------------------

    def take_slow(self, endpoint: str) -> float:
        fault = self._take(endpoint, "_slow", "slow")
        return float(fault.params["seconds"]) if fault else 0.0

    def take_forbid(self, endpoint: str) -> bool:
        return self._take(endpoint, "_forbid", "forbid") is not None

    def take_server_error(self, endpoint: str) -> int | None:
        fault = self._take(endpoint, "_server_error", "server_error")
        return int(fault.params["status"]) if fault else None

    def take_lost_reply(self, endpoint: str) -> LostReplyMode | None:
        fault = self._take(endpoint, "_lost", "lost_reply")
        return LostReplyMode(fault.params["mode"]) if fault else None

    def take_rms_reject(self, endpoint: str, side: str | None = None) -> str | None:
        """The rejection text for this new order of `side`, if an RMS fault is armed for it."""
        armed = self._rms
        if armed is not None and armed.params.get("side") not in (None, side):
            return None  # armed for the other side: this order passes and the fault stays armed
        fault = self._take(endpoint, "_rms", "rms_reject")
        return str(fault.params["message"]) if fault else None

    def _take(self, endpoint: str, attribute: str, counter: str) -> _CountedFault | None:
        fault: _CountedFault | None = getattr(self, attribute)
        if fault is None:
            return None
        now = self._clock.now_utc()
        if not fault.matches(endpoint, now):
            if fault.exhausted(now):
                setattr(self, attribute, None)
            return None
        fault.consume()
        self.injected[counter] += 1
        if fault.exhausted(now):
            setattr(self, attribute, None)
        return fault

    def describe(self) -> dict[str, Any]:
        def show(fault: _CountedFault | None) -> dict[str, Any] | None:
            return fault.describe() if fault is not None else None

        return {
            "feed_stalled": self.feed_stalled,
            "ws_closers": len(self._ws_closers),
            "forbid_storm": show(self._forbid),
            "server_errors": show(self._server_error),
            "slow_replies": show(self._slow),
            "lost_order_replies": show(self._lost),
            "rms_rejects": show(self._rms),
            "injected": dict(self.injected),
        }


async def hang_forever() -> None:
    """Used by the HANG lost-reply mode: wait until the server shuts the request down."""
    await asyncio.Event().wait()
