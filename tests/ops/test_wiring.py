from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

import pytest

from optbot.config.sections.notifications import NotificationsSettings
from optbot.core.bus import EventBus
from optbot.core.clock import SimClock
from optbot.core.enums import AlertPriority, Exchange, OrderStatus, RiskState, Side
from optbot.core.events import Alert, Fill, OrderUpdate, PositionChanged, RiskStateChanged
from optbot.log import clear_secrets, redact_text
from optbot.ops.notifications import AppriseSender
from optbot.ops.wiring import AlertRouter, dashboard_auth_from_env, notification_urls
from optbot.test_kit.ops import JsonReceiver

if TYPE_CHECKING:
    from optbot.engine.core import TradingEngine

START = datetime(2025, 9, 8, 4, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def forget_secrets() -> Iterator[None]:
    yield
    clear_secrets()


def router(settings: NotificationsSettings | None = None) -> tuple[AlertRouter, list[Alert], SimClock]:
    clock = SimClock(START)
    engine = SimpleNamespace(
        bus=EventBus(synchronous=True),
        store=SimpleNamespace(find_intent=lambda intent_id: None),
        portfolio=SimpleNamespace(open_positions=lambda: []),
    )
    sent: list[Alert] = []
    made = AlertRouter(cast("TradingEngine", engine), settings or NotificationsSettings(), clock, sent.append)
    return made, sent, clock


def reject(order_id: str) -> OrderUpdate:
    return OrderUpdate(START, order_id, OrderStatus.REJECTED, "rejected", symbol="X", message="RMS: margin")


def test_reject_spike_is_critical_only_at_the_threshold_within_the_window() -> None:
    made, sent, clock = router(NotificationsSettings(reject_spike_count=3, reject_spike_window_seconds=60))
    made.on_event(reject("1"))
    made.on_event(reject("2"))
    clock.advance(61)  # the first two fall out of the window
    made.on_event(reject("3"))
    made.on_event(reject("4"))
    assert [a.priority for a in sent] == [AlertPriority.IMPORTANT] * 4
    made.on_event(reject("5"))
    assert sent[-1].priority is AlertPriority.CRITICAL and sent[-1].title == "Order rejects spike"
    assert "3 order rejects within 60 s" in sent[-1].message


def test_marks_do_not_alert_but_opening_resizing_and_closing_do() -> None:
    made, sent, _ = router()
    for net, unrealised in ((75, 0.0), (75, 120.0), (75, -40.0), (150, 10.0), (0, 0.0)):
        made.on_event(PositionChanged(START, "41288992", "NIFTYCE", net, 200.0, 0.0, unrealised))
    assert [a.title for a in sent] == [
        "Position opened: NIFTYCE",
        "Position resized: NIFTYCE",
        "Position closed: NIFTYCE",
    ]


def test_fill_and_halt_alerts_carry_priority_and_spec_content() -> None:
    made, sent, _ = router()
    made.on_event(Fill(START, "F1", "O1", "41288992", Exchange.NFO, "NIFTYCE", Side.BUY, 75, 200.0))
    made.on_event(RiskStateChanged(START, RiskState.ACTIVE, RiskState.HALTED, "daily loss limit"))
    fill, halt = sent
    assert fill.priority is AlertPriority.IMPORTANT and fill.impact == "₹15,000.00 premium paid"
    assert halt.priority is AlertPriority.CRITICAL and "optbot risk resume" in halt.action_required
    quiet, quiet_sent, _ = router(NotificationsSettings(notify_fills=False))
    quiet.on_event(Fill(START, "F1", "O1", "41288992", Exchange.NFO, "NIFTYCE", Side.BUY, 75, 200.0))
    assert quiet_sent == []


def test_dashboard_tokens_validated_and_redacted() -> None:
    env = {
        "OPTBOT_SECRET_DASHBOARD_VIEWER_TOKEN": "viewer-0123456789abcdef",
        "OPTBOT_SECRET_DASHBOARD_OPERATOR_TOKEN": "operator-0123456789abcdef",
    }
    auth = dashboard_auth_from_env(env)
    assert auth.role_for("operator-0123456789abcdef") == "operator"
    assert redact_text("cookie viewer-0123456789abcdef") == "cookie ***"
    with pytest.raises(ValueError, match="at least 16 characters"):
        dashboard_auth_from_env({"OPTBOT_SECRET_DASHBOARD_OPERATOR_TOKEN": "short"})
    same = "same-token-0123456789"
    with pytest.raises(ValueError, match="must differ"):
        dashboard_auth_from_env(
            {"OPTBOT_SECRET_DASHBOARD_VIEWER_TOKEN": same, "OPTBOT_SECRET_DASHBOARD_OPERATOR_TOKEN": same}
        )
    assert dashboard_auth_from_env({}).role_for("anything") is None


def test_secret_notification_urls_are_added_and_redacted() -> None:
    url = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321/"
    urls = notification_urls(
        NotificationsSettings(urls=["json://127.0.0.1:1/plain"]), {"OPTBOT_SECRET_NOTIFY_URLS": url}
    )
    assert urls == ["json://127.0.0.1:1/plain", url]
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in redact_text(f"failed to post to {url}")
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in redact_text("token AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")


async def test_one_dead_target_does_not_stop_delivery_to_the_others() -> None:
    receiver = JsonReceiver()
    port = await receiver.start()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    try:
        sender = AppriseSender([f"json://127.0.0.1:{dead}/", f"json://127.0.0.1:{port}/"], timeout_seconds=5)
        assert await sender.send("[CRITICAL] t", "body", AlertPriority.CRITICAL)
    finally:
        await receiver.stop()
    assert receiver.titles() == ["[CRITICAL] t"]
    assert sender.target_failures == {"target 1 (json://)": 1}
