"""Spec §9 for a stop before the close (SIGTERM mid-session): working entries are cancelled, exits stay,
positions are kept or flattened per the setting, and one alert says what is left at the broker."""

from __future__ import annotations

from datetime import time
from pathlib import Path

from optbot.core.enums import AlertPriority, OrderStatus, Side
from optbot.core.events import Alert
from optbot.test_kit.execution import drive
from tests.engine.test_core import Rig


def _alerts(rig: Rig) -> list[Alert]:
    alerts: list[Alert] = []
    rig.engine.bus.subscribe("test-alerts", (Alert,), alerts.append)
    return alerts


async def test_a_resting_entry_is_cancelled_and_the_stop_is_announced(tmp_path: Path) -> None:
    rig = Rig(tmp_path, fill_policy="none")
    alerts = _alerts(rig)
    await rig.start()
    await rig.ticks()
    await rig.entry_signal()
    await rig.deliver()
    entry = rig.store.all_orders()[0]
    assert entry.side is Side.BUY and entry.status is OrderStatus.OPEN
    await drive(rig.clock, rig.engine.stop_mid_session("SIGTERM"))
    await rig.deliver()
    assert rig.broker.cancel_requests == [entry.broker_order_id]
    stopped = [alert for alert in alerts if alert.title == "optbot stopped before the close"]
    assert len(stopped) == 1 and stopped[0].priority is AlertPriority.IMPORTANT
    assert "1 working entry order(s) cancelled; 0 position(s) left open" in stopped[0].message


async def test_an_open_position_left_at_the_broker_is_a_critical_alert_naming_it(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    alerts = _alerts(rig)
    await rig.start()
    await rig.ticks()
    await rig.entry_signal()
    await rig.deliver()
    (position,) = rig.engine.portfolio.open_positions()
    await drive(rig.clock, rig.engine.stop_mid_session("SIGTERM"))
    assert rig.broker.cancel_requests == []  # nothing working; the position is kept (the default)
    assert not [request for request in rig.broker.placed_requests if request.side is Side.SELL]
    (stopped,) = [alert for alert in alerts if alert.title == "optbot stopped before the close"]
    assert stopped.priority is AlertPriority.CRITICAL
    assert f"{position.symbol} +{position.net_quantity}" in stopped.message


async def test_entries_stay_working_when_configured_to(tmp_path: Path) -> None:
    rig = Rig(tmp_path, fill_policy="none")
    rig.settings.engine.cancel_entries_on_shutdown = False
    await rig.start()
    await rig.ticks()
    await rig.entry_signal()
    await drive(rig.clock, rig.engine.stop_mid_session("SIGTERM"))
    assert rig.broker.cancel_requests == []
    assert rig.store.orders_in_flight()


async def test_a_working_exit_is_never_cancelled_by_the_stop(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    await rig.start()
    await rig.ticks()
    await rig.entry_signal()
    await rig.deliver()
    rig.broker.fill_policy = "none"
    rig.strategy.exit_at = time(23, 0)
    await drive(rig.clock, rig.engine.flatten_intraday("test"))
    await rig.deliver()
    (exit_order,) = [order for order in rig.store.all_orders() if order.side is Side.SELL]
    assert exit_order.status is OrderStatus.OPEN
    await drive(rig.clock, rig.engine.stop_mid_session("SIGTERM"))
    assert rig.broker.cancel_requests == []
