"""Spec §8.1 / runbook §3: a spike of order rejects pauses new entries for a while; exits still go."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from optbot.core.enums import AlertPriority, OrderStatus, Side
from optbot.core.events import Alert, OrderUpdate
from optbot.engine.reject_breaker import REJECTS_PAUSE, RejectBreaker
from optbot.test_kit.execution import drive
from tests.engine.test_core import Rig


def _reject(rig: Rig, number: int) -> OrderUpdate:
    return OrderUpdate(
        rig.clock.now_utc(), f"B{number}", OrderStatus.REJECTED, "rejected", message="Insufficient funds"
    )


async def _spike(rig: Rig, rejects: int, every_seconds: float = 10.0) -> None:
    for number in range(rejects):
        await rig.engine.bus.publish(_reject(rig, number))
        rig.clock.advance(every_seconds)
    await drive(rig.clock, asyncio.sleep(0))


def _breaker(rig: Rig) -> tuple[RejectBreaker, list[Alert]]:
    alerts: list[Alert] = []
    rig.engine.bus.subscribe("test-alerts", (Alert,), alerts.append)
    breaker = RejectBreaker(rig.engine, rig.clock, rig.settings)
    breaker.attach()
    return breaker, alerts


async def test_a_reject_spike_pauses_entries_then_lifts_after_the_pause(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    breaker, alerts = _breaker(rig)
    await rig.start()
    await rig.ticks()
    await _spike(rig, rig.settings.notifications.reject_spike_count)
    assert REJECTS_PAUSE in rig.engine.entry_pauses
    assert [a.title for a in alerts if a.priority is AlertPriority.CRITICAL] == [
        "New entries paused after order rejects"
    ]
    await rig.entry_signal()
    assert not [request for request in rig.broker.placed_requests if request.side is Side.BUY]
    rig.clock.advance(timedelta(minutes=rig.settings.engine.reject_spike_pause_minutes).total_seconds())
    await drive(rig.clock, asyncio.sleep(0))
    assert REJECTS_PAUSE not in rig.engine.entry_pauses and not breaker.paused
    assert "New entries allowed again after the reject pause" in [a.title for a in alerts]


async def test_rejects_spread_wider_than_the_window_do_not_pause(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    _breaker(rig)
    await rig.start()
    window = rig.settings.notifications.reject_spike_window_seconds
    await _spike(rig, rig.settings.notifications.reject_spike_count, every_seconds=window / 2 + 1)
    assert REJECTS_PAUSE not in rig.engine.entry_pauses


async def test_a_pause_of_zero_minutes_only_alerts(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.settings.engine.reject_spike_pause_minutes = 0
    _breaker(rig)
    await rig.start()
    await _spike(rig, rig.settings.notifications.reject_spike_count)
    assert rig.engine.entry_pauses == {}
