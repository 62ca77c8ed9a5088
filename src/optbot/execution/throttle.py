"""Order-API throttle (reference §7): cumulative per-second, per-minute and per-hour caps.

Waiters are served by priority (exits and cancels before entries), then arrival order, so a burst
of entries can never delay a stop-loss exit behind it. Windows are measured on `clock.monotonic()`:
real seconds live and when following a simulator's replay (a broker's limits are real-time limits),
simulated seconds in a backtest.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from enum import IntEnum

from optbot.core.clock import Clock


async def sleep_monotonic(clock: Clock, seconds: float) -> None:
    """Wait until `clock.monotonic()` has moved on by `seconds`.

    A clock that follows a replay runs its timers on replay time but its monotonic time is real time;
    waiting on whichever comes first and re-checking keeps a real-time limit real (and never hangs when
    the replay stops), while a simulated clock's monotonic time still moves only with the simulation.
    """
    deadline = clock.monotonic() + seconds
    while (remaining := deadline - clock.monotonic()) > 0:
        timers = [
            asyncio.ensure_future(clock.sleep(remaining)),
            asyncio.ensure_future(asyncio.sleep(remaining)),
        ]
        try:
            await asyncio.wait(timers, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for timer in timers:
                timer.cancel()
            await asyncio.gather(*timers, return_exceptions=True)


class ThrottlePriority(IntEnum):
    CANCEL = 0
    EXIT = 1
    MODIFY = 2
    ENTRY = 3


class OrderThrottle:
    def __init__(self, clock: Clock, per_second: int, per_minute: int, per_hour: int) -> None:
        self._clock = clock
        #: (width in seconds, limit, the grants inside the window, oldest first): each window keeps only
        #: its own grants, so a check costs the same with an hour of orders behind it as with none.
        self._windows: tuple[tuple[float, int, deque[float]], ...] = (
            (1.0, per_second, deque()),
            (60.0, per_minute, deque()),
            (3600.0, per_hour, deque()),
        )
        self._waiting: list[tuple[int, int]] = []
        self._sequence = itertools.count()
        self._changed = asyncio.Event()

    def _wait_needed(self) -> float:
        now = self._clock.monotonic()
        wait = 0.0
        for window, limit, recent in self._windows:
            while recent and now - recent[0] >= window:
                recent.popleft()
            if len(recent) >= limit:
                wait = max(wait, recent[len(recent) - limit] + window - now)
        return wait

    def _record(self) -> None:
        now = self._clock.monotonic()
        for _, _, recent in self._windows:
            recent.append(now)

    async def acquire(self, priority: ThrottlePriority) -> None:
        entry = (int(priority), next(self._sequence))
        heapq.heappush(self._waiting, entry)
        try:
            while True:
                if self._waiting[0] == entry:
                    wait = self._wait_needed()
                    if wait <= 0:
                        heapq.heappop(self._waiting)
                        self._record()
                        self._notify()
                        return
                    await sleep_monotonic(self._clock, wait)
                else:
                    self._changed.clear()
                    await self._changed.wait()
        except BaseException:
            if entry in self._waiting:
                self._waiting.remove(entry)
                heapq.heapify(self._waiting)
                self._notify()
            raise

    def _notify(self) -> None:
        self._changed.set()

    @property
    def queued(self) -> int:
        return len(self._waiting)
