"""Alert delivery through Apprise (spec §10.10).

Trading never waits for a notification: `submit` only queues. A background worker formats each alert
with the spec's content (action required, context, impact, deadline), de-duplicates repeats within a
window, caps the rate per priority, and retries failed deliveries with backoff on the Clock.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import apprise

from optbot.config.sections.notifications import NotificationsSettings
from optbot.core.bus import EventBus
from optbot.core.clock import Clock
from optbot.core.enums import AlertPriority
from optbot.core.events import Alert
from optbot.log import register_secret

log = logging.getLogger("optbot.notify")

NOTIFY_URLS_ENV = "OPTBOT_SECRET_NOTIFY_URLS"
#: Pieces of a secret notification URL at least this long are masked in logs (bot tokens, path tokens).
MIN_URL_TOKEN_LENGTH = 16

PRIORITY_RANK = {AlertPriority.INFO: 0, AlertPriority.IMPORTANT: 1, AlertPriority.CRITICAL: 2}
_APPRISE_TYPE = {
    AlertPriority.CRITICAL: apprise.NotifyType.FAILURE,
    AlertPriority.IMPORTANT: apprise.NotifyType.WARNING,
    AlertPriority.INFO: apprise.NotifyType.INFO,
}


def notification_urls(settings: NotificationsSettings, environ: Mapping[str, str] | None = None) -> list[str]:
    """Config URLs plus credential-bearing URLs from `OPTBOT_SECRET_NOTIFY_URLS` (comma-separated).

    Every URL from the environment is registered with the log redactor, so its tokens never reach a log.
    """
    env = os.environ if environ is None else environ
    secret_urls = [url.strip() for url in env.get(NOTIFY_URLS_ENV, "").split(",") if url.strip()]
    for url in secret_urls:
        register_secret(url)
        _register_url_parts(url)
    return [*settings.urls, *secret_urls]


def _register_url_parts(url: str) -> None:
    """Mask the credential parts of an Apprise URL too: `user:password@`, and every long piece of the
    host, path or query (bot tokens such as Telegram's `tgram://<token>/…`, webhook path tokens)."""
    _, _, rest = url.partition("://")
    credentials, at, _ = rest.partition("@")
    if at:
        for part in credentials.split(":"):
            register_secret(part)
    for piece in re.split(r"[:/@?&=,]", rest):
        if len(piece) >= MIN_URL_TOKEN_LENGTH:
            register_secret(piece)


class NotificationSender(Protocol):
    async def send(self, title: str, body: str, priority: AlertPriority) -> bool: ...


def delivery_summary(sender: NotificationSender) -> str:
    """What the startup line says of notifications: `on` alone read as if alerts reached someone
    when no target was configured and every alert went only to the log."""
    if isinstance(sender, AppriseSender) and sender.target_count == 0:
        return (
            "notifications: no targets, alerts are only logged "
            "(notifications.urls, OPTBOT_SECRET_NOTIFY_URLS)"
        )
    if isinstance(sender, AppriseSender):
        return f"notifications on ({sender.target_count} target(s))"
    return "notifications on"


class AppriseSender:
    """Sends to every configured Apprise URL, each as its own target, in worker threads.

    An alert counts as delivered when at least one target accepted it (the trader is reached); a
    target that fails or exceeds the delivery timeout is logged and counted per target, by position
    and scheme only (URLs carry credentials). Only when every target fails does the notifier retry.
    """

    def __init__(self, urls: Sequence[str], timeout_seconds: float) -> None:
        self._timeout = timeout_seconds
        self._targets: list[tuple[str, apprise.Apprise]] = []
        rejected: list[str] = []
        for index, url in enumerate(urls, start=1):
            scheme = url.split("://", 1)[0]
            target = apprise.Apprise()
            if target.add(url):
                self._targets.append((f"target {index} ({scheme}://)", target))
            else:
                rejected.append(f"{scheme}://…")
        if rejected:
            raise ValueError(f"notifications.urls: Apprise does not understand: {', '.join(rejected)}")
        self.target_failures: Counter[str] = Counter()

    @property
    def target_count(self) -> int:
        return len(self._targets)

    async def send(self, title: str, body: str, priority: AlertPriority) -> bool:
        if not self._targets:
            return True
        results = await asyncio.gather(
            *(self._send_one(label, target, title, body, priority) for label, target in self._targets)
        )
        return any(results)

    async def _send_one(
        self, label: str, target: apprise.Apprise, title: str, body: str, priority: AlertPriority
    ) -> bool:
        try:
            accepted = bool(
                await asyncio.wait_for(
                    asyncio.to_thread(
                        target.notify, body=body, title=title, notify_type=_APPRISE_TYPE[priority]
                    ),
                    timeout=self._timeout,
                )
            )
        except TimeoutError:
            accepted = False
            log.warning("notification %s timed out after %.1f s", label, self._timeout)
        if not accepted:
            self.target_failures[label] += 1
            log.warning("notification %s did not accept: %s", label, title)
        return accepted


def format_alert(alert: Alert, repeats_suppressed: int = 0) -> tuple[str, str]:
    """Title and body with the spec §10.10 content: action, context, impact, timeline."""
    title = f"[{alert.priority.value.upper()}] {alert.title}"
    lines = [alert.message]
    for label, value in (
        ("Action required", alert.action_required),
        ("Context", alert.context),
        ("Impact", alert.impact),
        ("Deadline", alert.deadline),
    ):
        if value:
            lines.append(f"{label}: {value}")
    if repeats_suppressed:
        lines.append(f"({repeats_suppressed} repeat(s) of this alert were suppressed)")
    lines.append(f"At: {alert.ts_utc.isoformat()}")
    return title, "\n".join(lines)


@dataclass
class NotifierStats:
    queued: int = 0
    delivered: int = 0
    failed: int = 0
    retries: int = 0
    suppressed_duplicates: int = 0
    rate_limited: int = 0
    below_min_priority: int = 0
    dropped_queue_full: int = 0
    last_error: str = ""


@dataclass
class _DedupeEntry:
    last_sent_monotonic: float
    suppressed: int = 0


@dataclass
class _RateWindow:
    sent_at: deque[float] = field(default_factory=deque)


class Notifier:
    def __init__(
        self, settings: NotificationsSettings, clock: Clock, sender: NotificationSender | None = None
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._sender = sender or AppriseSender(settings.urls, settings.delivery_timeout_seconds)
        self._queue: asyncio.Queue[tuple[Alert, int]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._dedupe: dict[str, _DedupeEntry] = {}
        self._rates: dict[AlertPriority, _RateWindow] = {p: _RateWindow() for p in AlertPriority}
        self.stats = NotifierStats()

    @property
    def sender(self) -> NotificationSender:
        return self._sender

    def attach(self, bus: EventBus) -> None:
        bus.subscribe("notifier", (Alert,), self._on_alert)

    def _on_alert(self, alert: Alert) -> None:
        self.submit(alert)

    async def start(self) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue(self._settings.queue_size)
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="notifier")

    async def stop(self, drain_seconds: float = 5.0) -> None:
        if self._queue is not None and self._worker is not None:
            try:
                await asyncio.wait_for(self._queue.join(), timeout=drain_seconds)
            except TimeoutError:
                log.warning("notifier stopped with %d alert(s) undelivered", self._queue.qsize())
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._worker = None

    def submit(self, alert: Alert) -> bool:
        """Queue an alert unless filtered; never blocks and never raises into trading code."""
        if not self._settings.enabled:
            return False
        if PRIORITY_RANK[alert.priority] < PRIORITY_RANK[self._settings.min_priority]:
            self.stats.below_min_priority += 1
            return False
        repeats = self._take_dedupe(alert)
        if repeats is None:
            return False
        if not self._take_rate(alert.priority):
            self.stats.rate_limited += 1
            log.warning("notification rate-limited: priority=%s title=%s", alert.priority, alert.title)
            return False
        if self._queue is None:  # alerts raised before start() wait in the queue until the worker runs
            self._queue = asyncio.Queue(self._settings.queue_size)
        try:
            self._queue.put_nowait((alert, repeats))
        except asyncio.QueueFull:
            self.stats.dropped_queue_full += 1
            log.error("notification queue full; dropped: %s", alert.title)
            return False
        self.stats.queued += 1
        return True

    def _take_dedupe(self, alert: Alert) -> int | None:
        """None when suppressed; otherwise how many repeats were suppressed since the last send."""
        key = alert.dedupe_key or f"{alert.priority}:{alert.title}"
        now = self._clock.monotonic()
        entry = self._dedupe.get(key)
        if entry is not None and now - entry.last_sent_monotonic < self._settings.dedupe_window_seconds:
            entry.suppressed += 1
            self.stats.suppressed_duplicates += 1
            return None
        repeats = entry.suppressed if entry is not None else 0
        self._dedupe[key] = _DedupeEntry(last_sent_monotonic=now)
        return repeats

    def _take_rate(self, priority: AlertPriority) -> bool:
        limit = {
            AlertPriority.CRITICAL: self._settings.critical_per_minute,
            AlertPriority.IMPORTANT: self._settings.important_per_minute,
            AlertPriority.INFO: self._settings.info_per_minute,
        }[priority]
        window = self._rates[priority].sent_at
        now = self._clock.monotonic()
        while window and now - window[0] >= 60.0:
            window.popleft()
        if len(window) >= limit:
            return False
        window.append(now)
        return True

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            alert, repeats = await self._queue.get()
            try:
                await self._deliver(alert, repeats)
            finally:
                self._queue.task_done()

    async def _deliver(self, alert: Alert, repeats: int) -> None:
        title, body = format_alert(alert, repeats)
        delay = self._settings.retry_backoff_seconds
        for attempt in range(self._settings.retry_attempts + 1):
            try:
                if await self._sender.send(title, body, alert.priority):
                    self.stats.delivered += 1
                    return
                self.stats.last_error = "sender reported failure"
            except Exception as exc:  # a broken notifier must never take trading down
                self.stats.last_error = type(exc).__name__
                log.warning("notification delivery raised %s", type(exc).__name__)
            if attempt < self._settings.retry_attempts:
                self.stats.retries += 1
                await self._clock.sleep(delay)
                delay *= 2
        self.stats.failed += 1
        log.error(
            "notification undelivered after %d attempt(s): %s", self._settings.retry_attempts + 1, title
        )
