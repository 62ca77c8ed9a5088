"""Rolling-window limits on the SimClock: documented rates, cumulative order cap, priorities."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optbot.broker.angelone.ratelimit import Priority, RateLimit, RateLimiter, RollingWindow
from optbot.core.clock import SimClock

START = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)


async def _run_until_done(clock: SimClock, tasks: list[asyncio.Task[object]], step: float = 0.01) -> None:
    for _ in range(100_000):
        await clock.settle()
        if all(task.done() for task in tasks):
            return
        clock.advance(step)
    raise AssertionError("tasks never finished")


async def test_candle_rate_is_three_per_second_and_180_per_minute() -> None:
    clock = SimClock(START)
    limiter = RateLimiter(clock, guard_seconds=0.0)
    grants: list[float] = []

    async def one() -> None:
        await limiter.acquire("candles")
        grants.append(clock.monotonic())

    tasks = [asyncio.create_task(one()) for _ in range(200)]
    await _run_until_done(clock, tasks)  # type: ignore[arg-type]
    grants.sort()
    for i in range(len(grants) - 3):
        assert grants[i + 3] - grants[i] >= 1.0 - 1e-9
    for i in range(len(grants) - 180):
        assert grants[i + 180] - grants[i] >= 60.0 - 1e-9
    # 180 in the first minute, the rest just after it: the documented rate, not less.
    assert grants[179] < 60.0 and grants[180] >= 60.0


async def test_order_apis_share_a_cumulative_nine_per_second() -> None:
    clock = SimClock(START)
    limiter = RateLimiter(clock, guard_seconds=0.0)
    names = ["place_order", "modify_order", "cancel_order"] * 6
    granted: list[float] = []

    async def one(name: str) -> None:
        await limiter.acquire(name, Priority.ENTRY)
        granted.append(clock.monotonic())

    tasks = [asyncio.create_task(one(name)) for name in names]
    await _run_until_done(clock, tasks)  # type: ignore[arg-type]
    assert sum(1 for t in granted if t < 1.0) == 9
    assert len(granted) == 18


async def test_exits_and_cancels_jump_the_queue() -> None:
    clock = SimClock(START)
    limiter = RateLimiter(clock, guard_seconds=0.0)
    order: list[str] = []

    async def one(name: str, endpoint: str, priority: Priority) -> None:
        await limiter.acquire(endpoint, priority)
        order.append(name)

    # Fill the order window, then queue entries before an exit and a cancel.
    first = [asyncio.create_task(one(f"fill{i}", "place_order", Priority.ENTRY)) for i in range(9)]
    await clock.settle()
    waiting = [asyncio.create_task(one(f"entry{i}", "place_order", Priority.ENTRY)) for i in range(3)]
    await clock.settle()
    waiting.append(asyncio.create_task(one("cancel", "cancel_order", Priority.CANCEL)))
    waiting.append(asyncio.create_task(one("exit", "place_order", Priority.EXIT)))
    await _run_until_done(clock, first + waiting)  # type: ignore[arg-type]
    assert order[9:11] == ["exit", "cancel"]
    assert order[11:] == ["entry0", "entry1", "entry2"]


async def test_reads_do_not_wait_for_orders() -> None:
    clock = SimClock(START)
    limiter = RateLimiter(clock, guard_seconds=0.0)
    for _ in range(9):
        await limiter.acquire("place_order", Priority.ENTRY)
    await asyncio.wait_for(limiter.acquire("quote"), timeout=1)


async def test_cancelled_waiter_releases_its_place() -> None:
    clock = SimClock(START)
    limiter = RateLimiter(clock, limits={"x": RateLimit(1)}, guard_seconds=0.0)
    await limiter.acquire("x")
    blocked = asyncio.create_task(limiter.acquire("x", Priority.EXIT))
    await clock.settle()
    blocked.cancel()
    await clock.settle()
    later = asyncio.create_task(limiter.acquire("x"))
    await _run_until_done(clock, [later])  # type: ignore[list-item]
    assert blocked.cancelled()


async def test_an_uncontended_grant_is_counted_in_every_window_and_never_jumps_a_queue() -> None:
    clock = SimClock(START)
    limiter = RateLimiter(clock, limits={"x": RateLimit(2, 3)}, guard_seconds=0.0)
    await limiter.acquire("x")  # nobody waits: granted at once
    await limiter.acquire("x")
    assert limiter.stats.granted == 2
    queued = asyncio.create_task(limiter.acquire("x", Priority.EXIT))
    await clock.settle()
    assert not queued.done()  # the per-second window is full
    clock.advance(1.0)
    await clock.settle()
    assert queued.done()  # the third grant of the minute
    later = asyncio.create_task(limiter.acquire("x"))
    clock.advance(1.0)
    await clock.settle()
    assert not later.done()  # room in the second, none in the minute: the per-minute window counted all
    await _run_until_done(clock, [later])  # type: ignore[list-item]
    assert clock.monotonic() >= 60.0 and limiter.stats.granted == 4


def test_unknown_endpoint_and_bad_fraction() -> None:
    clock = SimClock(START)
    with pytest.raises(KeyError, match="nope"):
        RateLimiter(clock).windows_for("nope")
    with pytest.raises(ValueError, match="safety_fraction"):
        RateLimiter(clock, safety_fraction=0)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), min_size=1, max_size=60), st.integers(1, 5)
)
def test_rolling_window_never_exceeds_limit(gaps: list[float], limit: int) -> None:
    window = RollingWindow(limit, 1.0)
    now = 0.0
    granted: list[float] = []
    for gap in gaps:
        now += gap
        now = max(now, window.available_at(now))
        window.record(now)
        granted.append(now)
    for i in range(len(granted) - limit):
        assert granted[i + limit] - granted[i] >= 1.0 - 1e-9
