"""Client-side rate limits for SmartAPI (reference §7), with priorities.

The gateway answers an excess request with a plain-text 403, and users report 403s even near the
limits, so the client never relies on the server to say no. Each limit is a *rolling* window (a log
of recent send times): whatever window alignment the server uses, no window of the documented width
holds more than the documented count. A small guard widens every window to absorb network jitter.

Waiters are granted in priority order (exits, then cancels, then entries, then reads). A blocked
higher-priority waiter reserves the windows it needs, so a stream of reads or entries can never
starve an exit that shares the cumulative order limit.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum

from optbot.core.clock import Clock, TimerHandle


class Priority(IntEnum):
    """Lower value = served first."""

    EXIT = 0
    CANCEL = 1
    ENTRY = 2
    READ = 3


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Documented limits of one endpoint; None = not published."""

    per_second: int
    per_minute: int | None = None
    per_hour: int | None = None


#: Reference §7. Endpoints whose limits are not published get 1/s (the strictest published value).
ENDPOINT_LIMITS: dict[str, RateLimit] = {
    "login": RateLimit(1),
    "generate_tokens": RateLimit(1, None, 1000),
    "profile": RateLimit(3, None, 1000),
    "logout": RateLimit(1),
    "rms": RateLimit(2),
    "place_order": RateLimit(9, 500, 1000),
    "modify_order": RateLimit(9, 500, 1000),
    "cancel_order": RateLimit(9, 500, 1000),
    "order_book": RateLimit(1),
    "trade_book": RateLimit(1),
    "position": RateLimit(1),
    "ltp": RateLimit(10, 500, 5000),
    "convert_position": RateLimit(10, 500, 5000),
    "search_scrip": RateLimit(1),
    "order_details": RateLimit(10, 500, 5000),
    "holding": RateLimit(1),
    "all_holding": RateLimit(1),
    "quote": RateLimit(10, 500, 5000),
    "margin": RateLimit(10, 500, 5000),
    "gtt_create": RateLimit(9, 500, 5000),
    "gtt_modify": RateLimit(9, 500, 5000),
    "gtt_cancel": RateLimit(9, 500, 5000),
    "gtt_details": RateLimit(10, 500, 5000),
    "gtt_list": RateLimit(10, 500, 5000),
    "candles": RateLimit(3, 180, 5000),
    "option_greek": RateLimit(1),
    "oi_data": RateLimit(1),
    "estimate_charges": RateLimit(1),
    "gainers_losers": RateLimit(1),
    "put_call_ratio": RateLimit(1),
    "oi_buildup": RateLimit(1),
    "verify_dis": RateLimit(1),
    "generate_tpin": RateLimit(1),
    "edis_status": RateLimit(1),
    "cautionary_scrips": RateLimit(1),
}

#: Order APIs are additionally capped cumulatively at 9/s (reference §7).
ORDER_GROUP = "orders"
ORDER_GROUP_LIMIT = RateLimit(9)
ORDER_ENDPOINTS = frozenset({"place_order", "modify_order", "cancel_order"})


@dataclass(slots=True)
class RollingWindow:
    """At most `limit` grants in any interval of `width_seconds` (monotonic clock seconds)."""

    limit: int
    width_seconds: float
    sent: deque[float] = field(default_factory=deque)

    def _expire(self, now: float) -> None:
        while self.sent and self.sent[0] <= now - self.width_seconds:
            self.sent.popleft()

    def available_at(self, now: float) -> float:
        """Earliest monotonic time at which one more grant fits."""
        self._expire(now)
        if len(self.sent) < self.limit:
            return now
        return self.sent[len(self.sent) - self.limit] + self.width_seconds

    def record(self, now: float) -> None:
        self.sent.append(now)


@dataclass(slots=True)
class _Waiter:
    priority: Priority
    sequence: int
    windows: tuple[RollingWindow, ...]
    future: asyncio.Future[None]

    @property
    def order_key(self) -> tuple[int, int]:
        return (int(self.priority), self.sequence)


@dataclass
class RateLimiterStats:
    granted: int = 0
    waited: int = 0
    total_wait_seconds: float = 0.0


class RateLimiter:
    """Per-endpoint rolling windows on the injected clock, granted in priority order."""

    def __init__(
        self,
        clock: Clock,
        limits: dict[str, RateLimit] | None = None,
        *,
        safety_fraction: float = 1.0,
        guard_seconds: float = 0.05,
    ) -> None:
        if not 0 < safety_fraction <= 1:
            raise ValueError(f"safety_fraction must be in (0, 1], got {safety_fraction}")
        self._clock = clock
        self._limits = dict(ENDPOINT_LIMITS if limits is None else limits)
        self._fraction = safety_fraction
        self._guard = guard_seconds
        self._windows: dict[str, tuple[RollingWindow, ...]] = {}
        self._order_group = self._build(ORDER_GROUP_LIMIT)
        self._waiters: list[_Waiter] = []
        self._sequence = itertools.count()
        self._timer: TimerHandle | None = None
        self.stats = RateLimiterStats()

    def _build(self, limit: RateLimit) -> tuple[RollingWindow, ...]:
        windows = [RollingWindow(limit.per_second, 1.0 / self._fraction + self._guard)]
        if limit.per_minute is not None:
            windows.append(RollingWindow(limit.per_minute, 60.0 / self._fraction + self._guard))
        if limit.per_hour is not None:
            windows.append(RollingWindow(limit.per_hour, 3600.0 / self._fraction + self._guard))
        return tuple(windows)

    def windows_for(self, endpoint: str) -> tuple[RollingWindow, ...]:
        if endpoint not in self._windows:
            limit = self._limits.get(endpoint)
            if limit is None:
                raise KeyError(f"no rate limit known for endpoint {endpoint!r}")
            own = self._build(limit)
            self._windows[endpoint] = own + self._order_group if endpoint in ORDER_ENDPOINTS else own
        return self._windows[endpoint]

    def documented_rate_per_second(self, endpoint: str) -> int:
        return self._limits[endpoint].per_second

    async def acquire(self, endpoint: str, priority: Priority = Priority.READ) -> None:
        """Wait until `endpoint` may be called without exceeding any documented limit."""
        windows = self.windows_for(endpoint)
        started = self._clock.monotonic()
        if not self._waiters and all(window.available_at(started) <= started for window in windows):
            # nobody queued and every window has room: granted now, as the dispatch would grant it
            for window in windows:
                window.record(started)
            self.stats.granted += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(priority, next(self._sequence), windows, future)
        self._waiters.append(waiter)
        self._waiters.sort(key=lambda w: w.order_key)
        self._dispatch()
        try:
            await future
        except asyncio.CancelledError:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                self._dispatch()
            raise
        waited = self._clock.monotonic() - started
        if waited > 0:
            self.stats.waited += 1
            self.stats.total_wait_seconds += waited

    def _dispatch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = self._clock.monotonic()
        blocked: set[int] = set()
        next_wake: float | None = None
        remaining: list[_Waiter] = []
        for waiter in self._waiters:
            if waiter.future.done():
                continue
            ids = {id(window) for window in waiter.windows}
            if ids & blocked:
                remaining.append(waiter)
                continue
            ready_at = max(window.available_at(now) for window in waiter.windows)
            if ready_at <= now:
                for window in waiter.windows:
                    window.record(now)
                self.stats.granted += 1
                waiter.future.set_result(None)
                continue
            blocked |= ids
            remaining.append(waiter)
            next_wake = ready_at if next_wake is None else min(next_wake, ready_at)
        self._waiters = remaining
        if next_wake is not None:
            # Round up to the microsecond so the timer never fires a hair before the window opens.
            delay = math.ceil((next_wake - now) * 1_000_000) / 1_000_000
            self._timer = self._clock.call_later(delay, self._dispatch)
