"""Spec §9: a stop requested before the close winds the engine down with `stop_mid_session` (working
entries cancelled, what is left announced); a session that ends for any other reason just stops."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.timeutil import ist_date
from optbot.engine.schedule import build_schedule
from optbot.ops.session import SessionRunner

IN_SESSION = datetime(2024, 6, 3, 6, 0, tzinfo=UTC)  # 11:30 IST on a trading Monday


@dataclass
class StoppingEngine:
    calls: list[str] = field(default_factory=list)

    async def stop(self) -> None:
        self.calls.append("stop")

    async def stop_mid_session(self, reason: str) -> None:
        self.calls.append(f"stop_mid_session: {reason}")


def _runner(tmp_path: Path) -> tuple[SessionRunner, StoppingEngine]:
    settings = Settings(paths={"data_root": tmp_path})
    calendar = get_calendar()
    runner = SessionRunner(
        settings, SimClock(IN_SESSION), cast(Any, None), calendar, paper=True, serve_operations=False
    )
    runner.schedule = build_schedule(calendar, ist_date(IN_SESSION), settings.session)
    engine = StoppingEngine()
    runner.engine = cast(Any, engine)
    return runner, engine


async def test_a_stop_request_before_the_close_stops_mid_session(tmp_path: Path) -> None:
    runner, engine = _runner(tmp_path)
    runner.request_stop()
    await runner.finish()
    assert engine.calls == ["stop_mid_session: stop requested before the close"]


async def test_a_session_ending_without_a_request_only_stops(tmp_path: Path) -> None:
    runner, engine = _runner(tmp_path)
    await runner.finish()
    assert engine.calls == ["stop"]
