"""The session routes the market feed's reconnect circuit breaker to the feed watch (alerts) and to the
metrics, and stops alerting once it winds down."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from optbot.broker.angelone.wsbase import CircuitChange
from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.ops.metrics import Metrics
from optbot.ops.session import SessionRunner

NOW = datetime(2024, 6, 3, 4, 0, tzinfo=UTC)


@dataclass
class Feed:
    circuit_open: bool = False


@dataclass
class Watch:
    changes: list[CircuitChange] = field(default_factory=list)

    def on_circuit(self, change: CircuitChange) -> None:
        self.changes.append(change)


@dataclass
class Ops:
    metrics: Metrics = field(default_factory=Metrics)


def _runner(tmp_path: Path) -> tuple[SessionRunner, Feed, Watch, Ops]:
    settings = Settings(paths={"data_root": tmp_path})
    runner = SessionRunner(
        settings, SimClock(NOW), cast(Any, None), get_calendar(), paper=True, serve_operations=False
    )
    feed, watch, ops = Feed(), Watch(), Ops()
    runner.feed, runner.feed_watch, runner.ops = cast(Any, feed), cast(Any, watch), cast(Any, ops)
    return runner, feed, watch, ops


def test_circuit_changes_reach_the_watch_and_the_metrics(tmp_path: Path) -> None:
    runner, feed, watch, ops = _runner(tmp_path)
    feed.circuit_open = True
    opened = CircuitChange(True, 0, 10, 95.0, 60.0)
    runner._on_feed_circuit(opened)
    text = ops.metrics.render().decode()
    assert "optbot_feed_circuit_opens_total 1.0" in text and "optbot_feed_circuit_open 1.0" in text
    feed.circuit_open = False
    closed = CircuitChange(False, 0, 12, 180.0, 60.0)
    runner._on_feed_circuit(closed)
    assert watch.changes == [opened, closed]
    assert "optbot_feed_circuit_open 0.0" in ops.metrics.render().decode()


def test_no_circuit_alert_once_the_session_winds_down(tmp_path: Path) -> None:
    runner, _, watch, ops = _runner(tmp_path)
    runner._stop.set()
    runner._on_feed_circuit(CircuitChange(True, 0, 10, 95.0, 60.0))
    assert watch.changes == []
    assert "optbot_feed_circuit_opens_total 1.0" in ops.metrics.render().decode()
