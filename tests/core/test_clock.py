from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.core.clock import Clock, LiveClock, SimClock
from optbot.core.timeutil import IST

START = datetime(2024, 5, 21, 3, 45, tzinfo=UTC)


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(SimClock(START), Clock)
    assert isinstance(LiveClock(), Clock)


def test_sim_clock_reports_start_in_utc_and_ist() -> None:
    clock = SimClock(datetime(2024, 5, 21, 9, 15, tzinfo=IST))
    assert clock.now_utc() == START and clock.now_utc().tzinfo is UTC
    assert clock.now_ist().hour == 9 and clock.now_ist().minute == 15
    assert clock.monotonic() == 0.0


def test_sim_clock_rejects_naive_start() -> None:
    with pytest.raises(ValueError, match="naive"):
        SimClock(datetime(2024, 5, 21, 9, 15))


def test_timers_fire_in_deadline_order_seeing_their_own_deadline() -> None:
    clock = SimClock(START)
    seen: list[tuple[str, datetime]] = []
    clock.call_later(30, lambda: seen.append(("b", clock.now_utc())))
    clock.call_later(10, lambda: seen.append(("a", clock.now_utc())))
    clock.call_at(START + timedelta(seconds=30), lambda: seen.append(("c", clock.now_utc())))
    clock.call_later(100, lambda: seen.append(("late", clock.now_utc())))
    assert clock.advance(60) == 3
    assert seen == [
        ("a", START + timedelta(seconds=10)),
        ("b", START + timedelta(seconds=30)),
        ("c", START + timedelta(seconds=30)),
    ]
    assert clock.now_utc() == START + timedelta(seconds=60)
    assert clock.monotonic() == 60.0


def test_cancelled_timer_does_not_fire() -> None:
    clock = SimClock(START)
    fired: list[int] = []
    handle = clock.call_later(5, lambda: fired.append(1))
    handle.cancel()
    assert clock.advance(10) == 0 and fired == []
    assert clock.next_deadline() is None


def test_timer_scheduled_by_a_timer_fires_in_the_same_advance() -> None:
    clock = SimClock(START)
    fired: list[float] = []

    def first() -> None:
        fired.append(clock.monotonic())
        clock.call_later(5, lambda: fired.append(clock.monotonic()))

    clock.call_later(5, first)
    clock.advance(20)
    assert fired == [5.0, 10.0]


def test_past_deadline_fires_now() -> None:
    clock = SimClock(START)
    fired: list[datetime] = []
    clock.call_at(START - timedelta(hours=1), lambda: fired.append(clock.now_utc()))
    clock.advance(0)
    assert fired == [START]


def test_cannot_go_backwards() -> None:
    clock = SimClock(START)
    clock.advance(10)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance_to(START)


async def test_sleep_until_wakes_at_the_deadline() -> None:
    clock = SimClock(START)
    woke: list[datetime] = []

    async def sleeper(seconds: int) -> None:
        await clock.sleep_until(START + timedelta(seconds=seconds))
        woke.append(clock.now_utc())

    tasks = [asyncio.create_task(sleeper(seconds)) for seconds in (20, 5, 10)]
    await clock.run_until(START + timedelta(seconds=60))
    await asyncio.gather(*tasks)
    assert woke == [START + timedelta(seconds=s) for s in (5, 10, 20)]
    assert clock.now_utc() == START + timedelta(seconds=60)


async def test_sleep_in_the_past_returns_immediately() -> None:
    clock = SimClock(START)
    await clock.sleep_until(START - timedelta(seconds=1))
    await clock.sleep(-5)
    assert clock.now_utc() == START


async def test_run_until_lets_loops_observe_each_step() -> None:
    clock = SimClock(START)
    beats: list[float] = []

    async def heartbeat() -> None:
        while True:
            await clock.sleep(15)
            beats.append(clock.monotonic())

    task = asyncio.create_task(heartbeat())
    await clock.run_until(START + timedelta(minutes=1))
    task.cancel()
    assert beats == [15.0, 30.0, 45.0, 60.0]


async def test_run_until_max_step_bounds_jumps() -> None:
    clock = SimClock(START)
    seen: list[float] = []
    original = clock.advance_to

    def spy(when: datetime) -> int:
        seen.append((when - START).total_seconds())
        return original(when)

    clock.advance_to = spy  # type: ignore[method-assign]
    await clock.run_until(START + timedelta(seconds=10), max_step=timedelta(seconds=3))
    assert seen == [3.0, 6.0, 9.0, 10.0]


@settings(max_examples=100, deadline=None)
@given(delays=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=30))
def test_any_timers_fire_sorted_by_deadline_then_creation(delays: list[int]) -> None:
    clock = SimClock(START)
    fired: list[tuple[int, int, float]] = []
    for index, delay in enumerate(delays):
        clock.call_later(delay, lambda i=index, d=delay: fired.append((d, i, clock.monotonic())))
    clock.advance(10_001)
    assert [(d, i) for d, i, _ in fired] == sorted((d, i) for i, d in enumerate(delays))
    assert all(float(d) == seen_at for d, _, seen_at in fired)


@settings(max_examples=50, deadline=None)
@given(steps=st.lists(st.floats(min_value=0, max_value=1e5, allow_nan=False), max_size=20))
def test_monotonic_never_decreases(steps: list[float]) -> None:
    clock = SimClock(START)
    previous = clock.monotonic()
    for step in steps:
        clock.advance(step)
        assert clock.monotonic() >= previous
        previous = clock.monotonic()


@settings(max_examples=50, deadline=None)
@given(steps=st.lists(st.floats(min_value=0, max_value=1e5, allow_nan=False), max_size=20))
def test_monotonic_is_the_time_since_start_after_every_move(steps: list[float]) -> None:
    """`monotonic` is remembered per instant: asked again after any move it is the new one's."""
    clock = SimClock(START)
    for step in steps:
        clock.monotonic()
        clock.advance(step)
        assert clock.monotonic() == (clock.now_utc() - START).total_seconds()
        assert clock.monotonic() == (clock.now_utc() - START).total_seconds()


async def test_live_clock_basics() -> None:
    clock = LiveClock()
    now = clock.now_utc()
    assert now.tzinfo is UTC and now.year >= 2024
    assert clock.now_ist().utcoffset() == timedelta(hours=5, minutes=30)
    first = clock.monotonic()
    await clock.sleep(0.01)
    assert clock.monotonic() >= first + 0.005
    fired = asyncio.Event()
    clock.call_later(0.01, fired.set)
    await asyncio.wait_for(fired.wait(), timeout=2)
    await clock.sleep_until(clock.now_utc() - timedelta(seconds=1))  # past: returns at once
    woke = asyncio.Event()
    clock.call_at(clock.now_utc() + timedelta(milliseconds=10), woke.set)
    await asyncio.wait_for(woke.wait(), timeout=2)


async def test_speed_factor_paces_real_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """With speed=10, each simulated gap is waited for gap/10 real seconds (no wall-clock assert)."""
    clock = SimClock(START, speed=10.0)
    real_sleeps: list[float] = []
    original_sleep = asyncio.sleep

    async def recording_sleep(delay: float, result: object = None) -> object:
        if delay:
            real_sleeps.append(delay)
        return await original_sleep(0, result)

    monkeypatch.setattr(asyncio, "sleep", recording_sleep)
    clock.call_later(20, lambda: None)
    await clock.run_until(START + timedelta(seconds=50))
    assert real_sleeps == [2.0, 3.0]
    assert clock.now_utc() == START + timedelta(seconds=50)
