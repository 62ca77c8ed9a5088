"""Spec §13.8: each health check in market hours tells a person when the host clock has drifted from
the exchange's tick timestamps; only a session on the host's own clock measures it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.clock import LiveClock, SimClock
from optbot.core.enums import AlertPriority, Exchange
from optbot.core.events import Tick
from optbot.engine.health import ClockSkewMonitor
from optbot.ops.session import SessionRunner

IN_SESSION = datetime(2024, 6, 3, 6, 0, tzinfo=UTC)


@dataclass
class AlertingEngine:
    alerts: list[tuple[AlertPriority, str, str]] = field(default_factory=list)

    async def alert(self, priority: AlertPriority, title: str, message: str, **details: str) -> None:
        self.alerts.append((priority, title, message))


def _runner(tmp_path: Path, clock: Any) -> SessionRunner:
    settings = Settings(paths={"data_root": tmp_path}, session={"max_clock_skew_seconds": 2.0})
    return SessionRunner(settings, clock, cast(Any, None), get_calendar(), paper=True, serve_operations=False)


def _ticks(runner: SessionRunner, host_offset: float) -> None:
    assert runner.clock_skew is not None
    for index in range(runner.settings.session.clock_skew_min_samples):
        exchange = IN_SESSION + timedelta(seconds=index)
        host = exchange + timedelta(seconds=0.05 + host_offset)
        runner.clock_skew.observe(Tick(host, "1", Exchange.NSE, "NIFTY", 1.0, ts_exchange=exchange))


async def test_a_host_clock_off_by_more_than_the_limit_is_alerted(tmp_path: Path) -> None:
    runner = _runner(tmp_path, SimClock(IN_SESSION))
    runner.clock_skew = ClockSkewMonitor(runner.settings.session.clock_skew_min_samples)
    engine = AlertingEngine()
    _ticks(runner, host_offset=-4.05)
    await runner._check_clock_skew(cast(Any, engine))
    ((priority, title, message),) = engine.alerts
    assert priority is AlertPriority.IMPORTANT and title == "Host clock disagrees with the exchange"
    assert "4.0 s behind" in message
    _ticks(runner, host_offset=1.0)  # within the limit: quiet
    await runner._check_clock_skew(cast(Any, engine))
    assert len(engine.alerts) == 1


def test_only_a_session_on_the_host_clock_measures_skew(tmp_path: Path) -> None:
    assert _runner(tmp_path, LiveClock()).clock_skew is not None
    assert _runner(tmp_path, SimClock(IN_SESSION)).clock_skew is None
