"""FeedWatch: an interrupted feed in market hours pauses entries (exits still go) with one critical alert
per outage; data flowing again resumes them with a recovery alert and a gap-recovery request. The
feed's reconnect circuit breaker adds one critical alert when it opens and one when it closes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from optbot.broker.angelone.wsbase import CircuitChange
from optbot.core.enums import AlertPriority, Side
from optbot.core.events import Alert, FeedHealth
from optbot.engine.feed_watch import FEED_PAUSE, FeedWatch

from .test_core import Rig


@dataclass
class FeedFlags:
    receiving: bool = True
    interrupted: bool = False
    stalled: bool = False
    recoveries: int = 0  # gap-recovery requests from the watch


def health(rig: Rig, detail: str) -> FeedHealth:
    return FeedHealth(rig.clock.now_utc(), connected=True, stale_seconds=0.0, reconnects=0, detail=detail)


async def watched(tmp_path: Path, market_open: bool = True) -> tuple[Rig, FeedFlags, FeedWatch, list[Alert]]:
    rig = Rig(tmp_path)
    await rig.start()
    alerts: list[Alert] = []
    rig.engine.bus.subscribe("test-alerts", (Alert,), alerts.append)
    await rig.engine.bus.start()
    flags = FeedFlags()

    def recovered() -> None:
        flags.recoveries += 1

    watch = FeedWatch(
        rig.engine, flags, lambda: market_open, fallback_note="REST quotes", on_recovered=recovered
    )
    return rig, flags, watch, alerts


async def test_a_stall_pauses_entries_until_data_flows_again(tmp_path: Path) -> None:
    rig, flags, watch, alerts = await watched(tmp_path)
    flags.receiving, flags.interrupted, flags.stalled = False, True, True
    watch.on_health(health(rig, "connection 0: stalled: no data frame for 20.5s; resubscribing"))
    watch.on_health(health(rig, "connection 0: stalled: still silent; reconnecting"))  # same outage
    await watch.drain()
    await rig.engine.bus.drain()
    assert watch.down and watch.outages == 1
    assert FEED_PAUSE in rig.engine.entry_pauses
    assert [(a.priority, a.title) for a in alerts] == [(AlertPriority.CRITICAL, "Market data feed stalled")]

    await rig.ticks()
    await rig.entry_signal()  # the scripted strategy wants in: refused while the feed is down
    assert not [request for request in rig.broker.placed_requests if request.side is Side.BUY]
    refused = [entry.text for entry in rig.engine.journal if entry.kind == "refused"]
    assert refused and "market data interrupted" in refused[0]

    flags.receiving, flags.interrupted, flags.stalled = True, False, False
    watch.on_health(health(rig, "connection 0: data flowing again"))
    await watch.drain()
    await rig.engine.bus.drain()
    assert not watch.down and rig.engine.entry_pauses == {} and flags.recoveries == 1
    assert alerts[-1].priority is AlertPriority.IMPORTANT and alerts[-1].title == "Market data flowing again"


async def test_feed_recovery_never_lifts_another_pause(tmp_path: Path) -> None:
    rig, flags, watch, _ = await watched(tmp_path)
    rig.engine.pause_trading("broker session unhealthy")
    flags.receiving, flags.interrupted = False, True
    watch.check()
    flags.receiving, flags.interrupted = True, False
    watch.check()
    assert rig.engine.trading_blocked == "broker session unhealthy" and rig.engine.entry_pauses == {}
    await watch.drain()


async def test_outside_market_hours_a_quiet_socket_is_not_an_outage(tmp_path: Path) -> None:
    rig, flags, watch, alerts = await watched(tmp_path, market_open=False)
    flags.receiving, flags.interrupted = False, True
    watch.on_health(health(rig, "connection 0: disconnected"))
    assert not watch.down and rig.engine.entry_pauses == {} and alerts == []


async def test_a_drop_is_a_socket_down_alert_and_each_outage_alerts_once(tmp_path: Path) -> None:
    rig, flags, watch, alerts = await watched(tmp_path)
    for _ in range(2):
        flags.receiving, flags.interrupted = False, True
        watch.on_health(health(rig, "connection 0: disconnected"))
        flags.receiving, flags.interrupted = True, False
        watch.on_health(health(rig, "connection 0: receiving data"))
    await watch.drain()
    await rig.engine.bus.drain()
    titles = [alert.title for alert in alerts]
    assert titles == ["Market data socket down", "Market data flowing again"] * 2
    assert len({alert.dedupe_key for alert in alerts}) == 4 and watch.outages == 2


def circuit(opened: bool, failed_attempts: int, down_seconds: float) -> CircuitChange:
    return CircuitChange(opened, 0, failed_attempts, down_seconds, 60.0)


async def test_an_open_reconnect_circuit_alerts_once_and_leaves_the_pause_as_it_is(tmp_path: Path) -> None:
    rig, flags, watch, alerts = await watched(tmp_path)
    flags.receiving, flags.interrupted = False, True
    watch.on_health(health(rig, "connection 0: disconnected"))
    watch.on_circuit(circuit(True, 10, 183.4))
    await watch.drain()
    await rig.engine.bus.drain()
    opened = alerts[-1]
    assert (opened.priority, opened.title) == (AlertPriority.CRITICAL, "Market data reconnects failing")
    assert "10 reconnect attempts in a row failed" in opened.message
    assert "down 183 s" in opened.message and "once every 60 s" in opened.message
    assert "new entries stay paused" in opened.message and "priced from REST quotes" in opened.message
    assert FEED_PAUSE in rig.engine.entry_pauses and watch.circuit_opens == 1

    watch.on_circuit(circuit(False, 12, 301.0))  # reconnected: the pause waits for data, not for this
    await watch.drain()
    await rig.engine.bus.drain()
    closed = alerts[-1]
    assert (closed.priority, closed.title) == (AlertPriority.IMPORTANT, "Market data socket reconnected")
    assert "feed restored after 12 failed reconnect attempts, 301 s down" in closed.message
    assert FEED_PAUSE in rig.engine.entry_pauses and watch.down

    flags.receiving, flags.interrupted = True, False
    watch.on_health(health(rig, "connection 0: receiving data"))
    assert rig.engine.entry_pauses == {}
    watch.on_circuit(circuit(True, 10, 90.0))  # a second long outage alerts again, under its own key
    await watch.drain()
    await rig.engine.bus.drain()
    opens = [alert for alert in alerts if alert.title == "Market data reconnects failing"]
    assert len(opens) == 2 and opens[0].dedupe_key != opens[1].dedupe_key


async def test_a_circuit_opening_outside_market_hours_says_nothing_is_paused(tmp_path: Path) -> None:
    rig, flags, watch, alerts = await watched(tmp_path, market_open=False)
    flags.receiving, flags.interrupted = False, True
    watch.on_health(health(rig, "connection 0: disconnected"))
    watch.on_circuit(circuit(True, 10, 40.0))
    await watch.drain()
    await rig.engine.bus.drain()
    assert [alert.title for alert in alerts] == ["Market data reconnects failing"]
    assert "no entries are being taken" in alerts[0].message and rig.engine.entry_pauses == {}
