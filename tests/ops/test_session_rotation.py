"""§10.6 rotation in live/paper sessions: benched strategies are left out, journalled and notified."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import AlertPriority
from optbot.core.errors import UserError
from optbot.ops.session import SessionRunner
from optbot.strategy.rotation import ROTATION_FILE, RotationVerdict, write_verdicts


def _runner(tmp_path: Path) -> SessionRunner:
    settings = Settings(paths={"data_root": tmp_path}, strategy={"enabled": ["adx_trend", "momentum"]})
    clock = SimClock(datetime(2024, 6, 3, 3, 0, tzinfo=UTC))
    return SessionRunner(settings, clock, cast(Any, None), get_calendar(), paper=True, serve_operations=False)


def _bench(tmp_path: Path, name: str, benched: bool) -> None:
    verdict = RotationVerdict(
        name, benched, "out-of-sample net P&L -1,234.00", "2024-06-01", -1234.0, 0.1, 40
    )
    write_verdicts(tmp_path / "state" / ROTATION_FILE, {name: verdict})


class AlertRecorder:
    def __init__(self) -> None:
        self.alerts: list[tuple[AlertPriority, str, str]] = []

    async def alert(self, priority: AlertPriority, title: str, message: str, **details: str) -> None:
        self.alerts.append((priority, title, message))


def test_a_benched_strategy_is_left_out_and_notified(tmp_path: Path) -> None:
    _bench(tmp_path, "momentum", benched=True)
    runner = _runner(tmp_path)
    assert [strategy.name for strategy in runner._rotated_strategies()] == ["adx_trend"]
    assert runner.benched == {"momentum": "out-of-sample net P&L -1,234.00"}
    recorder = AlertRecorder()
    asyncio.run(runner._announce_benched(cast(Any, recorder)))
    assert recorder.alerts == [
        (
            AlertPriority.IMPORTANT,
            "strategy benched",
            "momentum left out of this session: out-of-sample net P&L -1,234.00",
        )
    ]


def test_no_file_or_a_cleared_verdict_runs_every_configured_strategy(tmp_path: Path) -> None:
    runner = _runner(tmp_path)
    assert [strategy.name for strategy in runner._rotated_strategies()] == ["adx_trend", "momentum"]
    _bench(tmp_path, "momentum", benched=False)
    assert [strategy.name for strategy in _runner(tmp_path)._rotated_strategies()] == [
        "adx_trend",
        "momentum",
    ]


def test_a_corrupt_verdict_file_stops_the_session_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / ROTATION_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(UserError, match="not a rotation verdict file"):
        _runner(tmp_path)._rotated_strategies()
