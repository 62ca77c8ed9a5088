"""Spec §8.1: a cached master older than `data.stale_master_days` is not traded. The master marks
itself stale; the session pauses new entries for the day (exits still go) and tells a person."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, cast

from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import AlertPriority
from optbot.instruments.master import InstrumentMaster, MasterInfo
from optbot.ops.session import STALE_MASTER_PAUSE, SessionRunner
from optbot.test_kit.instruments import build_master
from tests.ops.test_session_clock_skew import IN_SESSION, AlertingEngine


@dataclass
class PausingEngine(AlertingEngine):
    pauses: dict[str, str] = field(default_factory=dict)

    def pause_entries(self, source: str, reason: str) -> None:
        self.pauses[source] = reason


def _runner(tmp_path: Path, info: MasterInfo) -> SessionRunner:
    runner = SessionRunner(
        Settings(paths={"data_root": tmp_path}),
        SimClock(IN_SESSION),
        cast(Any, None),
        get_calendar(),
        paper=True,
        serve_operations=False,
    )
    runner.instruments = InstrumentMaster(build_master(as_of=info.as_of).instruments(), info)
    return runner


async def test_a_stale_master_pauses_entries_for_the_session_and_alerts(tmp_path: Path) -> None:
    runner = _runner(tmp_path, MasterInfo(date(2024, 5, 20), "cache", stale=True, age_days=14))
    engine = PausingEngine()
    await runner._refuse_entries_on_a_stale_master(cast(Any, engine))
    assert "14 days old (> data.stale_master_days 7)" in engine.pauses[STALE_MASTER_PAUSE]
    ((priority, title, _),) = engine.alerts
    assert priority is AlertPriority.CRITICAL and title == "Instrument master is stale"
    (stage,) = runner.outcome.stages
    assert stage.name == "instrument master freshness" and not stage.passed and not stage.critical


async def test_a_fresh_master_changes_nothing(tmp_path: Path) -> None:
    runner = _runner(tmp_path, MasterInfo(date(2024, 6, 3), "download"))
    engine = PausingEngine()
    await runner._refuse_entries_on_a_stale_master(cast(Any, engine))
    assert engine.pauses == {} and engine.alerts == [] and runner.outcome.stages == []
