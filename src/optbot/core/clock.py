"""The only source of time in optbot.

`LiveClock` is the single place allowed to read the wall clock. `SimClock` is advanced by whoever
drives a backtest or replay, so every rule that depends on time (bar closes, entry windows,
auto-cancel deadlines, end of day) fires on simulated time, deterministically.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from optbot.core.timeutil import IST, to_utc


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


@runtime_checkable
class Clock(Protocol):
    """What every component may ask about time."""

    def now_utc(self) -> datetime: ...

    def now_ist(self) -> datetime: ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (simulated time for SimClock)."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    async def sleep_until(self, when: datetime) -> None: ...

    def call_at(self, when: datetime, callback: Callable[[], None]) -> TimerHandle: ...

    def call_later(self, delay_seconds: float, callback: Callable[[], None]) -> TimerHandle: ...

    def realtime(self) -> Clock:
        """The clock transport limits run on: broker rate windows, heartbeats, stall windows, poll
        cadences. Real time for a bot talking to a real server, even when its trading clock follows a
        faster replay (a broker counts requests per real second); the clock itself otherwise."""
        ...


class LiveClock:
    """Wall-clock time. The only class in the package that reads it."""

    def now_utc(self) -> datetime:
        return datetime.now(UTC)

    def now_ist(self) -> datetime:
        return datetime.now(UTC).astimezone(IST)

    def monotonic(self) -> float:
        return _time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def sleep_until(self, when: datetime) -> None:
        await self.sleep((to_utc(when) - self.now_utc()).total_seconds())

    def call_at(self, when: datetime, callback: Callable[[], None]) -> TimerHandle:
        return self.call_later((to_utc(when) - self.now_utc()).total_seconds(), callback)

    def call_later(self, delay_seconds: float, callback: Callable[[], None]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(max(0.0, delay_seconds), callback)

    def realtime(self) -> LiveClock:
        return self


@dataclass(order=True)
class _SimTimer:
    when: datetime
    sequence: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class SimClock:
    """Deterministic simulated time.

    Time only moves when `advance_to` / `advance` / `run_until` is called. Timers and sleepers whose
    deadline is reached fire in deadline order (ties in creation order), each seeing `now_utc()`
    equal to its own deadline. `run_until` jumps from one pending deadline to the next, letting the
    event loop settle in between, so a replay runs as fast as possible; with `speed` set it paces
    itself at that multiple of real time.
    """

    def __init__(self, start: datetime, speed: float | None = None) -> None:
        self._now = to_utc(start)
        self._start = self._now
        #: `monotonic` at the instant it was last asked (the risk engine asks at every bar)
        self._monotonic_at = self._now
        self._monotonic = 0.0
        self._timers: list[_SimTimer] = []
        self._sequence = itertools.count()
        self.speed = speed

    def now_utc(self) -> datetime:
        return self._now

    def now_ist(self) -> datetime:
        return self._now.astimezone(IST)

    def monotonic(self) -> float:
        now = self._now
        if now is not self._monotonic_at:
            self._monotonic_at = now
            self._monotonic = (now - self._start).total_seconds()
        return self._monotonic

    def realtime(self) -> Clock:
        """A self-contained simulation (backtest, tests, the demo's shared clock): its own time is
        the only time, so rate windows stay deterministic."""
        return self

    def call_at(self, when: datetime, callback: Callable[[], None]) -> _SimTimer:
        timer = _SimTimer(max(to_utc(when), self._now), next(self._sequence), callback)
        heapq.heappush(self._timers, timer)
        return timer

    def call_later(self, delay_seconds: float, callback: Callable[[], None]) -> _SimTimer:
        return self.call_at(self._now + timedelta(seconds=max(0.0, delay_seconds)), callback)

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + timedelta(seconds=max(0.0, seconds)))

    async def sleep_until(self, when: datetime) -> None:
        if to_utc(when) <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_at(when, wake)
        try:
            await future
        finally:
            timer.cancel()

    def next_deadline(self) -> datetime | None:
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0].when if self._timers else None

    def advance_to(self, when: datetime) -> int:
        """Move time forward to `when`, firing due timers in order. Returns how many fired."""
        target = to_utc(when)  # refuses a naive time
        if target < self._now:
            raise ValueError(f"SimClock cannot go backwards: {target} < {self._now}")
        fired = 0
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > target:
                break
            timer = heapq.heappop(self._timers)
            self._now = timer.when
            timer.callback()
            fired += 1
        self._now = target
        return fired

    def advance(self, seconds: float) -> int:
        return self.advance_to(self._now + timedelta(seconds=seconds))

    async def settle(self, rounds: int = 20) -> None:
        """Let ready tasks run until the loop is quiet (bounded number of passes)."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def run_until(self, end: datetime, max_step: timedelta | None = None) -> None:
        """Drive time to `end`, waking sleepers deadline by deadline.

        With `speed` set, waits (deadline gap / speed) real seconds between steps.
        `max_step` bounds each jump, for drivers that must observe intermediate times.
        """
        target = to_utc(end)
        while self._now < target:
            await self.settle()
            deadline = self.next_deadline()
            step_to = target if deadline is None or deadline > target else deadline
            if max_step is not None and step_to - self._now > max_step:
                step_to = self._now + max_step
            if self.speed:
                await asyncio.sleep((step_to - self._now).total_seconds() / self.speed)
            self.advance_to(step_to)
        await self.settle()
