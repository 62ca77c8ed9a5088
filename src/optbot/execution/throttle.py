"""Order-API throttle (reference §7): cumulative per-second, per-minute and per-hour caps.

Waiters are served by priority (exits and cancels before entries), then arrival order, so a burst
of entries can never delay a stop-loss exit behind it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from enum import IntEnum

from optbot.core.clock import Clock


class ThrottlePriority(IntEnum):
    CANCEL = 0
    EXIT = 1
    MODIFY = 2
    ENTRY = 3


class OrderThrottle:
    def __init__(self, clock: Clock, per_second: int, per_minute: int, per_hour: int) -> None:
        self._clock = clock
        self._windows: tuple[tuple[float, int], ...] = (
            (1.0, per_second),
            (60.0, per_minute),
            (3600.0, per_hour),
        )
        self._sent: deque[float] = deque()
        self._waiting: list[tuple[int, int]] = []
        self._sequence = itertools.count()
        self._changed = asyncio.Event()

    def _wait_needed(self) -> float:
        now = self._clock.monotonic()
        while self._sent and now - self._sent[0] >= 3600.0:
            self._sent.popleft()
        wait = 0.0
        for window, limit in self._windows:
            recent = [moment for moment in self._sent if now - moment < window]
            if len(recent) >= limit:
                wait = max(wait, recent[len(recent) - limit] + window - now)
        return wait

    async def acquire(self, priority: ThrottlePriority) -> None:
        entry = (int(priority), next(self._sequence))
        heapq.heappush(self._waiting, entry)
        try:
            while True:
                if self._waiting[0] == entry:
                    wait = self._wait_needed()
                    if wait <= 0:
                        heapq.heappop(self._waiting)
                        self._sent.append(self._clock.monotonic())
                        self._notify()
                        return
                    await self._clock.sleep(wait)
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
