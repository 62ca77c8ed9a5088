"""The one door every order message goes through on its way to the broker (SEBI retail-algo rules).

Since April 2026 a retail algo that is not registered with the exchange may send at most 10 order
messages per second per exchange segment — new orders, freeze-quantity slices, modifications and
cancels all count — may not send MARKET or IOC orders, and must tag every order. `OrderGate` holds
those rules in front of the broker: a per-segment limiter on real (monotonic) time, a refusal of any
MARKET / SL-M / IOC request or untagged order before it leaves, and a count of what it let through.
"""

from __future__ import annotations

import asyncio
from collections import deque

from optbot.broker.base import Broker
from optbot.broker.models import ModifyRequest, OrderRequest, PlaceResult
from optbot.core.clock import Clock
from optbot.core.enums import Duration, Exchange, OrderType, Variety
from optbot.execution.throttle import sleep_monotonic

WINDOW_SECONDS = 1.0
LIMIT_ORDER_TYPES = frozenset({OrderType.LIMIT, OrderType.STOPLOSS_LIMIT})


class ForbiddenOrder(Exception):
    """An order the rules do not allow to leave (a MARKET, SL-M or IOC order, or one without a tag).

    Raised before anything is sent, so the order certainly did not reach the broker."""


class SegmentRateLimiter:
    """At most `per_second` grants in any one-second window, per exchange segment.

    A token bucket whose tokens come back exactly one second after use (a rolling log), so no window of
    one second — aligned or not — ever holds more than `per_second` messages of one segment. Waiters of
    a segment are served in arrival order; segments never wait for each other.
    """

    def __init__(self, clock: Clock, per_second: int) -> None:
        if per_second < 1:
            raise ValueError(f"per_second must be >= 1, got {per_second}")
        self._clock = clock
        self._per_second = per_second
        self._sent: dict[Exchange, deque[float]] = {}
        self._locks: dict[Exchange, asyncio.Lock] = {}
        self.waited_seconds = 0.0

    async def acquire(self, segment: Exchange) -> None:
        lock = self._locks.setdefault(segment, asyncio.Lock())
        sent = self._sent.setdefault(segment, deque())
        async with lock:
            started = self._clock.monotonic()
            while True:
                now = self._clock.monotonic()
                while sent and now - sent[0] >= WINDOW_SECONDS:
                    sent.popleft()
                if len(sent) < self._per_second:
                    sent.append(now)
                    self.waited_seconds += now - started
                    return
                await sleep_monotonic(self._clock, sent[0] + WINDOW_SECONDS - now)

    def recent(self, segment: Exchange) -> int:
        """Messages of `segment` granted within the last second."""
        now = self._clock.monotonic()
        return sum(1 for moment in self._sent.get(segment, ()) if now - moment < WINDOW_SECONDS)


class OrderGate:
    """Sends place / modify / cancel to the broker under the SEBI retail-algo rules (module docstring)."""

    def __init__(self, broker: Broker, clock: Clock, max_per_second_per_segment: int) -> None:
        self._broker = broker
        self.limiter = SegmentRateLimiter(clock, max_per_second_per_segment)
        self.sent: dict[str, int] = {"place": 0, "modify": 0, "cancel": 0}

    async def place(self, request: OrderRequest) -> PlaceResult:
        _check_limit_only(request.order_type, request.duration)
        if not request.ordertag:
            raise ForbiddenOrder(f"order for {request.symbol} has no ordertag: every order must be tagged")
        await self.limiter.acquire(request.exchange)
        self.sent["place"] += 1
        return await self._broker.place_order(request)

    async def modify(self, request: ModifyRequest) -> PlaceResult:
        """A modify keeps the order's id and tag at the broker (SmartAPI modify carries no tag)."""
        _check_limit_only(request.order_type, request.duration)
        await self.limiter.acquire(request.exchange)
        self.sent["modify"] += 1
        return await self._broker.modify_order(request)

    async def cancel(self, exchange: Exchange, order_id: str, variety: Variety) -> PlaceResult:
        await self.limiter.acquire(exchange)
        self.sent["cancel"] += 1
        return await self._broker.cancel_order(order_id, variety)


def _check_limit_only(order_type: OrderType, duration: Duration) -> None:
    if order_type not in LIMIT_ORDER_TYPES:
        raise ForbiddenOrder(f"{order_type.value} orders may not be sent (SEBI retail-algo rules)")
    if duration is not Duration.DAY:
        raise ForbiddenOrder(f"{duration.value} orders may not be sent (SEBI retail-algo rules)")


__all__ = ["ForbiddenOrder", "OrderGate", "SegmentRateLimiter"]
