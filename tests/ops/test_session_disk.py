"""Spec §1.6: free disk on the data root is a named setting, checked at startup and at each
market-hours health check (the bot writes ticks, bars and its state all day)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import AlertPriority
from optbot.ops.session import SessionRunner
from tests.ops.test_session_clock_skew import IN_SESSION, AlertingEngine


def _runner(tmp_path: Path, min_free_disk_mb: float) -> SessionRunner:
    settings = Settings(paths={"data_root": tmp_path}, engine={"min_free_disk_mb": min_free_disk_mb})
    return SessionRunner(
        settings, SimClock(IN_SESSION), cast(Any, None), get_calendar(), paper=True, serve_operations=False
    )


async def test_less_free_space_than_the_setting_is_a_critical_alert(tmp_path: Path) -> None:
    engine = AlertingEngine()
    await _runner(tmp_path, min_free_disk_mb=1e12)._check_disk_space(cast(Any, engine))
    ((priority, title, message),) = engine.alerts
    assert priority is AlertPriority.CRITICAL and title == "Disk space low"
    assert "need 1,000,000,000,000 MB" in message


async def test_enough_free_space_is_quiet(tmp_path: Path) -> None:
    engine = AlertingEngine()
    await _runner(tmp_path, min_free_disk_mb=0)._check_disk_space(cast(Any, engine))
    assert engine.alerts == []
