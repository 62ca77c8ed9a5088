"""`optbot run`'s supervisor outside sessions: data-management mode, status file, graceful stop."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.enums import RunMode
from optbot.engine.supervisor import BotSupervisor, status_path
from optbot.test_kit.calendar import sim_clock_at


async def test_a_holiday_is_data_management_mode_until_stopped(tmp_path: Path) -> None:
    settings = Settings(paths={"data_root": tmp_path})
    clock = sim_clock_at("2026-11-24", "11:00")  # Guru Nanak Jayanti: no session
    supervisor = BotSupervisor(settings, clock, get_calendar(), RunMode.PAPER)
    task = asyncio.create_task(supervisor.run())
    for _ in range(50):
        await asyncio.sleep(0)
    status = json.loads(status_path(settings).read_text())
    assert status["phase"] == "non_trading_day" and status["mode"] == "paper" and status["running"]
    assert supervisor.upkeep_done_for is not None
    assert supervisor.last_error == ""
    assert list((tmp_path / "backups").iterdir()), "the day's verified backup is missing"
    clock.advance(3600)  # still waiting for the next pre-market (2026-11-25)
    await asyncio.sleep(0)
    assert not task.done()
    supervisor.request_stop()
    assert await asyncio.wait_for(task, 5) == 0
    assert supervisor.sessions_run == 0
    assert json.loads(status_path(settings).read_text())["running"] is False
