"""Notices when market data stops in market hours and when it flows again (spec §1.3, §10.8).

The socket client (`MarketFeed`) detects a silent or dropped socket, resubscribes, reconnects and polls
REST quotes meanwhile; this watch turns its state into trading decisions. While data is interrupted in
market hours, new entries are paused (exits still go, priced from the REST fallback) and a critical
alert says so once per outage; when every socket delivers data again, entries resume, an important
alert says how long it lasted, and the session recovers the missing one-minute bars.

When a socket's reconnects keep failing (`engine.max_reconnect_attempts` in a row) its circuit breaker
opens: one critical alert says how long the feed has been down and that reconnects slow to the
cool-down; the pause above is not changed by it (it already holds from the first interruption). When
that socket works again, one important alert says after how many attempts and how long.

It is driven by the feed's health callback (called directly, never through the bus, whose health
events may be shed under load) and by a periodic `check()`, so a feed that was already down when the
market opened is noticed too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from optbot.core.enums import AlertPriority
from optbot.core.events import FeedHealth

if TYPE_CHECKING:
    from optbot.broker.angelone.wsbase import CircuitChange
    from optbot.engine.core import TradingEngine

log = logging.getLogger("optbot.engine.feed_watch")

#: The engine's entry-pause source this watch owns.
FEED_PAUSE = "feed"


class FeedState(Protocol):
    """What the watch reads from the socket client (`MarketFeed`)."""

    @property
    def receiving(self) -> bool: ...

    @property
    def interrupted(self) -> bool: ...

    @property
    def stalled(self) -> bool: ...


class FeedWatch:
    """Pauses entries and alerts while market data is interrupted in market hours; resumes after."""

    def __init__(
        self,
        engine: TradingEngine,
        feed: FeedState,
        market_open: Callable[[], bool],
        *,
        fallback_note: str,
        on_recovered: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.feed = feed
        self.market_open = market_open
        self.fallback_note = fallback_note
        self.on_recovered = on_recovered
        self.down_since: datetime | None = None
        self.outages = 0
        self.circuit_opens = 0
        self.last_detail = ""
        self._alerts: set[asyncio.Task[None]] = set()

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def on_health(self, event: FeedHealth) -> None:
        self.last_detail = event.detail
        self.check()

    def check(self) -> None:
        if self.down_since is None:
            if self.feed.interrupted and self.market_open():
                self._went_down()
        elif self.feed.receiving:
            self._came_back()

    def _went_down(self) -> None:
        engine = self.engine
        self.down_since = engine.clock.now_utc()
        self.outages += 1
        detail = self.last_detail or "socket interrupted"
        title = "Market data feed stalled" if self.feed.stalled else "Market data socket down"
        engine.pause_entries(FEED_PAUSE, f"market data interrupted ({detail}): no new entries until it flows")
        log.error("%s in market hours: %s", title, detail)
        self._alert(
            engine.alert(
                AlertPriority.CRITICAL,
                title,
                f"{detail}. New entries paused until fresh data; {self.fallback_note}.",
                action_required="none if it recovers within minutes; else see runbook 'Market-data socket'",
                impact="no new entries; exits priced from REST quotes",
                dedupe_key=f"feed-down:{self.outages}",
            )
        )

    def _came_back(self) -> None:
        engine = self.engine
        assert self.down_since is not None
        lasted = (engine.clock.now_utc() - self.down_since).total_seconds()
        self.down_since = None
        engine.resume_entries(FEED_PAUSE)
        log.info("market data flowing again after %.0f s", lasted)
        self._alert(
            engine.alert(
                AlertPriority.IMPORTANT,
                "Market data flowing again",
                f"socket data resumed after {lasted:.0f} s; new entries allowed again",
                action_required="none",
                dedupe_key=f"feed-up:{self.outages}",
            )
        )
        if self.on_recovered is not None:
            self.on_recovered()

    def on_circuit(self, change: CircuitChange) -> None:
        """The feed's reconnect circuit breaker opened or closed: one alert each way."""
        if change.opened:
            self._circuit_opened(change)
        else:
            self._circuit_closed(change)

    def _protection_note(self) -> str:
        """What holds while the socket is down, as the watch has actually set it."""
        if self.down_since is None:
            return "market closed or not yet open: no entries are being taken meanwhile"
        since = self.down_since.strftime("%H:%M:%S UTC")
        return (
            f"new entries stay paused (since {since}, the first interruption); open positions keep their "
            f"exits and stops, priced from {self.fallback_note}"
        )

    def _circuit_opened(self, change: CircuitChange) -> None:
        self.circuit_opens += 1  # the feed logs the opening itself
        self._alert(
            self.engine.alert(
                AlertPriority.CRITICAL,
                "Market data reconnects failing",
                f"connection {change.connection}: {change.failed_attempts} reconnect attempts in a row "
                f"failed; the feed has been down {change.down_seconds:.0f} s. Reconnecting continues, now "
                f"once every {change.cooldown_seconds:g} s. {self._protection_note()}.",
                action_required="check the host's connectivity to the broker's socket and the broker's "
                "status page; consider the kill switch if positions are open (runbook 'Market-data socket')",
                impact="no new entries; exits priced from REST quotes",
                dedupe_key=f"feed-circuit-open:{self.circuit_opens}",
            )
        )

    def _circuit_closed(self, change: CircuitChange) -> None:
        self._alert(
            self.engine.alert(
                AlertPriority.IMPORTANT,
                "Market data socket reconnected",
                f"connection {change.connection}: feed restored after {change.failed_attempts} failed "
                f"reconnect attempts, {change.down_seconds:.0f} s down; reconnect circuit closed. "
                "Paused entries resume once every socket delivers data (alert 'Market data flowing again')",
                action_required="none",
                dedupe_key=f"feed-circuit-closed:{self.circuit_opens}",
            )
        )

    def _alert(self, sending: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(sending, name="feed-watch-alert")
        self._alerts.add(task)
        task.add_done_callback(self._alerts.discard)

    async def drain(self, within_seconds: float = 2.0) -> None:
        """Give queued alerts a bounded moment to reach the bus at shutdown; never hang on them."""
        if self._alerts:
            _, pending = await asyncio.wait(set(self._alerts), timeout=within_seconds)
            for task in pending:
                task.cancel()


__all__ = ["FEED_PAUSE", "FeedState", "FeedWatch"]
