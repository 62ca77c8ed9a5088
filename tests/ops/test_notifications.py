from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from aiohttp import web

from optbot.config.sections.notifications import NotificationsSettings
from optbot.core.bus import EventBus
from optbot.core.clock import LiveClock, SimClock
from optbot.core.enums import AlertPriority
from optbot.core.events import Alert
from optbot.ops.notifications import AppriseSender, Notifier, delivery_summary, format_alert

START = datetime(2026, 8, 7, 4, 0, tzinfo=UTC)


def make_alert(
    title: str = "Token expiring", priority: AlertPriority = AlertPriority.CRITICAL, key: str = ""
) -> Alert:
    return Alert(
        ts_utc=START,
        priority=priority,
        title=title,
        message="SmartAPI session expires before the close",
        action_required="Run `optbot auth login`",
        context="Session valid until 15:00 IST",
        impact="Trading pauses when the session ends",
        deadline="15:00 IST",
        dedupe_key=key,
    )


class RecordingSender:
    def __init__(self, failures_before_success: int = 0) -> None:
        self.sent: list[tuple[str, str, AlertPriority]] = []
        self.calls = 0
        self.failures_before_success = failures_before_success

    async def send(self, title: str, body: str, priority: AlertPriority) -> bool:
        self.calls += 1
        if self.calls <= self.failures_before_success:
            raise ConnectionError("receiver down")
        self.sent.append((title, body, priority))
        return True


def test_format_alert_carries_spec_content() -> None:
    title, body = format_alert(make_alert(), repeats_suppressed=3)
    assert title == "[CRITICAL] Token expiring"
    for fragment in (
        "Action required: Run `optbot auth login`",
        "Context:",
        "Impact:",
        "Deadline: 15:00 IST",
        "3 repeat",
    ):
        assert fragment in body


async def test_duplicates_suppressed_within_window_then_counted() -> None:
    clock = SimClock(START)
    sender = RecordingSender()
    notifier = Notifier(NotificationsSettings(dedupe_window_seconds=300), clock, sender)
    await notifier.start()
    assert notifier.submit(make_alert(key="feed-down"))
    for _ in range(4):
        assert not notifier.submit(make_alert(key="feed-down"))
    clock.advance(301)
    assert notifier.submit(make_alert(key="feed-down"))
    await notifier.stop()
    assert len(sender.sent) == 2
    assert notifier.stats.suppressed_duplicates == 4
    assert "4 repeat(s)" in sender.sent[1][1]


async def test_rate_limit_per_priority() -> None:
    clock = SimClock(START)
    sender = RecordingSender()
    settings = NotificationsSettings(info_per_minute=2, dedupe_window_seconds=0)
    notifier = Notifier(settings, clock, sender)
    await notifier.start()
    results = [notifier.submit(make_alert(f"info {i}", AlertPriority.INFO)) for i in range(5)]
    assert results == [True, True, False, False, False]
    assert notifier.submit(make_alert("critical still goes", AlertPriority.CRITICAL))
    clock.advance(61)
    assert notifier.submit(make_alert("info after a minute", AlertPriority.INFO))
    await notifier.stop()
    assert notifier.stats.rate_limited == 3
    assert len(sender.sent) == 4


async def test_min_priority_filters() -> None:
    notifier = Notifier(
        NotificationsSettings(min_priority=AlertPriority.IMPORTANT), SimClock(START), RecordingSender()
    )
    await notifier.start()
    assert not notifier.submit(make_alert("daily report", AlertPriority.INFO))
    await notifier.stop()
    assert notifier.stats.below_min_priority == 1


async def test_failed_delivery_is_retried_and_never_raises() -> None:
    sender = RecordingSender(failures_before_success=2)
    settings = NotificationsSettings(retry_attempts=3, retry_backoff_seconds=0.01)
    notifier = Notifier(settings, LiveClock(), sender)
    await notifier.start()
    notifier.submit(make_alert())
    await notifier.stop()
    assert notifier.stats.retries == 2
    assert notifier.stats.delivered == 1


async def test_gives_up_after_retries_and_keeps_running() -> None:
    sender = RecordingSender(failures_before_success=100)
    settings = NotificationsSettings(retry_attempts=1, retry_backoff_seconds=0.01)
    notifier = Notifier(settings, LiveClock(), sender)
    await notifier.start()
    notifier.submit(make_alert("first"))
    notifier.submit(make_alert("second"))
    await notifier.stop()
    assert notifier.stats.failed == 2
    assert notifier.stats.delivered == 0


async def test_bus_alerts_reach_the_notifier() -> None:
    sender = RecordingSender()
    bus = EventBus(synchronous=True)
    notifier = Notifier(NotificationsSettings(), SimClock(START), sender)
    await notifier.start()
    notifier.attach(bus)
    await bus.publish(make_alert())
    await notifier.stop()
    assert sender.sent and sender.sent[0][0] == "[CRITICAL] Token expiring"


def test_unknown_apprise_url_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="notifications.urls"):
        AppriseSender(["nosuchscheme://secret-token@host"], timeout_seconds=1)


async def test_real_apprise_delivery_to_loopback_json_receiver() -> None:
    received: list[dict[str, object]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        settings = NotificationsSettings(urls=[f"json://127.0.0.1:{port}/hook"])
        notifier = Notifier(settings, LiveClock())
        await notifier.start()
        notifier.submit(make_alert())
        await notifier.stop(drain_seconds=10)
        for _ in range(50):
            if received:
                break
            await asyncio.sleep(0.05)
    finally:
        await runner.cleanup()
    assert notifier.stats.delivered == 1
    assert received[0]["title"] == "[CRITICAL] Token expiring"
    assert "Action required" in str(received[0]["message"])


def test_the_startup_line_says_when_no_target_would_receive_an_alert() -> None:
    """A live run against the simulator printed `notifications on` with no URL configured."""
    assert delivery_summary(AppriseSender([], timeout_seconds=1)).startswith("notifications: no targets")
    two = AppriseSender(["json://127.0.0.1:9/a", "json://127.0.0.1:9/b"], timeout_seconds=1)
    assert delivery_summary(two) == "notifications on (2 target(s))"
