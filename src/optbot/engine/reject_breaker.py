"""A spike of order rejects pauses new entries for a while (spec §8.1: manage order rejections,
circuit breakers; runbook §3).

Rejects that come in a burst are rarely bad luck: the margin ran out, the instrument master is stale
(lot size, tick, freeze quantity), prices are outside the exchange's band, or the static IP is wrong.
Sending more entries only collects more rejects (and counts against the exchange's order-rate limit),
so once `notifications.reject_spike_count` rejects come within `reject_spike_window_seconds` (the same
spike the critical alert reports), new entries pause for `engine.reject_spike_pause_minutes`; exits
still go. The pause then lifts by itself with an important alert; a cause that remains makes the next
spike pause entries again.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

from optbot.core.enums import AlertPriority, OrderStatus
from optbot.core.events import Event, OrderUpdate

if TYPE_CHECKING:
    from optbot.config import Settings
    from optbot.core.clock import Clock, TimerHandle
    from optbot.engine.core import TradingEngine

#: The engine's entry-pause source this breaker owns.
REJECTS_PAUSE = "rejects"


class RejectBreaker:
    """Counts broker rejects on the engine's clock and pauses entries on a spike."""

    def __init__(self, engine: TradingEngine, clock: Clock, settings: Settings) -> None:
        self.engine = engine
        self.clock = clock
        self.spike_count = settings.notifications.reject_spike_count
        self.window_seconds = settings.notifications.reject_spike_window_seconds
        self.pause_seconds = settings.engine.reject_spike_pause_minutes * 60
        self.pauses = 0
        self._rejects: deque[float] = deque()
        self._resume: TimerHandle | None = None
        self._alerts: set[asyncio.Task[None]] = set()

    @property
    def paused(self) -> bool:
        return self._resume is not None

    def attach(self) -> None:
        self.engine.bus.subscribe("reject-breaker", (OrderUpdate,), self.on_event)

    def on_event(self, event: Event) -> None:
        if not isinstance(event, OrderUpdate) or event.status is not OrderStatus.REJECTED:
            return
        now = self.clock.monotonic()
        self._rejects.append(now)
        while self._rejects and now - self._rejects[0] > self.window_seconds:
            self._rejects.popleft()
        if len(self._rejects) >= self.spike_count and self.pause_seconds > 0 and not self.paused:
            self._pause(event.message or event.broker_status or "rejected by the broker")

    def _pause(self, last_reason: str) -> None:
        self.pauses += 1
        minutes = self.pause_seconds / 60
        reason = (
            f"{len(self._rejects)} order rejects within {self.window_seconds:g} s (last: {last_reason}): "
            f"no new entries for {minutes:g} min"
        )
        self.engine.pause_entries(REJECTS_PAUSE, reason)
        self._rejects.clear()
        self._resume = self.clock.call_later(self.pause_seconds, self._lift)
        self._alert(
            AlertPriority.CRITICAL,
            "New entries paused after order rejects",
            reason + "; exits still go out",
            action_required="find the cause (runbook §3: margin, stale master, price band, static IP)",
        )

    def _lift(self) -> None:
        self._resume = None
        self.engine.resume_entries(REJECTS_PAUSE)
        self._alert(
            AlertPriority.IMPORTANT,
            "New entries allowed again after the reject pause",
            f"{self.pause_seconds / 60:g} min passed since the reject spike; another spike pauses again",
            action_required="none if the cause is fixed",
        )

    def stop(self) -> None:
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None

    def _alert(self, priority: AlertPriority, title: str, message: str, action_required: str) -> None:
        """Alerts are sent beside the caller (a bus handler or a timer), never awaited by it."""
        task = asyncio.ensure_future(
            self.engine.alert(
                priority,
                title,
                message,
                action_required=action_required,
                dedupe_key=f"reject-pause:{self.pauses}:{priority.value}",
            )
        )
        self._alerts.add(task)
        task.add_done_callback(self._alerts.discard)

    async def drain(self) -> None:
        """Wait for alerts still being sent (the session's wind-down)."""
        if self._alerts:
            await asyncio.gather(*self._alerts, return_exceptions=True)
