"""In-process event bus with bounded queues.

Market-data events (`SHEDDABLE_EVENTS`) shed the oldest queued item when a subscriber's queue is
full, and each shed is counted and logged. Every other event (orders, fills, risk) is never dropped:
`publish` waits for room instead. In `synchronous` mode handlers run inline in publish order, which
is what deterministic backtests use.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from optbot.core.events import SHEDDABLE_EVENTS, Event

Handler = Callable[[Any], Awaitable[None] | None]
log = logging.getLogger("optbot.bus")


@dataclass
class _Subscription:
    name: str
    event_types: tuple[type[Event], ...]
    handler: Handler
    queue: asyncio.Queue[Event]
    task: asyncio.Task[None] | None = None
    shed: int = 0
    failures: int = 0


@dataclass
class BusStats:
    published: Counter[str] = field(default_factory=Counter)
    shed: Counter[str] = field(default_factory=Counter)
    handler_errors: Counter[str] = field(default_factory=Counter)


class EventBus:
    def __init__(self, queue_size: int = 10_000, synchronous: bool = False) -> None:
        self._queue_size = queue_size
        self._synchronous = synchronous
        self._subscriptions: list[_Subscription] = []
        #: The subscriptions each event type matches, worked out on its first publish (every
        #: position mark and fill is published; subscribing clears it).
        self._matches: dict[type[Event], list[_Subscription]] = {}
        self.stats = BusStats()

    def subscribe(self, name: str, event_types: tuple[type[Event], ...], handler: Handler) -> None:
        subscription = _Subscription(name, event_types, handler, asyncio.Queue(self._queue_size))
        self._subscriptions.append(subscription)
        self._matches.clear()
        if not self._synchronous:
            self._start(subscription)

    def _start(self, subscription: _Subscription) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        subscription.task = loop.create_task(self._consume(subscription), name=f"bus:{subscription.name}")

    async def start(self) -> None:
        for subscription in self._subscriptions:
            if subscription.task is None and not self._synchronous:
                self._start(subscription)

    async def publish(self, event: Event) -> None:
        kind = type(event)
        self.stats.published[kind.__name__] += 1
        subscriptions = self._matches.get(kind)
        if subscriptions is None:
            subscriptions = self._matching(event)
        if self._synchronous:  # handlers inline, in subscription order (every mark of a backtest)
            for subscription in subscriptions:
                await self._invoke(subscription, event)
            return
        for subscription in subscriptions:
            if isinstance(event, SHEDDABLE_EVENTS):
                self._put_shedding(subscription, event)
            else:
                await subscription.queue.put(event)

    def publish_nowait(self, event: Event) -> None:
        """For market data from sync callbacks: sheds when full; refuses critical events."""
        if not isinstance(event, SHEDDABLE_EVENTS):
            raise TypeError(f"{type(event).__name__} must be published with await publish()")
        self.stats.published[type(event).__name__] += 1
        for subscription in self._matching(event):
            self._put_shedding(subscription, event)

    def _matching(self, event: Event) -> list[_Subscription]:
        kind = type(event)
        found = self._matches.get(kind)
        if found is None:
            found = self._matches[kind] = [s for s in self._subscriptions if issubclass(kind, s.event_types)]
        return found

    def _put_shedding(self, subscription: _Subscription, event: Event) -> None:
        if subscription.queue.full():
            # Shed the oldest queued market-data item, never a queued order/fill/risk event; if the
            # queue holds only critical events, the incoming market-data item is the one shed.
            dropped = self._remove_oldest_sheddable(subscription) or event
            subscription.shed += 1
            self.stats.shed[subscription.name] += 1
            if subscription.shed == 1 or subscription.shed % 1000 == 0:
                log.warning(
                    "bus shed market data: subscriber=%s shed_total=%d dropped=%s",
                    subscription.name,
                    subscription.shed,
                    type(dropped).__name__,
                )
            if dropped is event:
                return
        subscription.queue.put_nowait(event)

    @staticmethod
    def _remove_oldest_sheddable(subscription: _Subscription) -> Event | None:
        pending: deque[Event] = subscription.queue._queue  # type: ignore[attr-defined]
        for index, queued in enumerate(pending):
            if isinstance(queued, SHEDDABLE_EVENTS):
                del pending[index]
                subscription.queue.task_done()
                return queued
        return None

    async def _consume(self, subscription: _Subscription) -> None:
        while True:
            event = await subscription.queue.get()
            try:
                await self._invoke(subscription, event)
            finally:
                subscription.queue.task_done()

    async def _invoke(self, subscription: _Subscription, event: Event) -> None:
        try:
            result = subscription.handler(event)
            if result is not None and inspect.isawaitable(result):
                await result
        except Exception:
            self._handler_failed(subscription, event)

    def _handler_failed(self, subscription: _Subscription, event: Event) -> None:
        """Count and log a handler's exception (called from its `except`): the bus keeps going."""
        subscription.failures += 1
        self.stats.handler_errors[subscription.name] += 1
        log.exception("bus handler failed: subscriber=%s event=%s", subscription.name, type(event).__name__)

    async def drain(self) -> None:
        """Wait until every queued event has been handled."""
        for subscription in self._subscriptions:
            await subscription.queue.join()

    async def close(self) -> None:
        await self.drain()
        for subscription in self._subscriptions:
            if subscription.task is not None:
                subscription.task.cancel()
        await asyncio.gather(*(s.task for s in self._subscriptions if s.task), return_exceptions=True)
