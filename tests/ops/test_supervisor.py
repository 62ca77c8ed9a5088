"""`optbot run`'s supervisor outside sessions: data-management mode, status file, graceful stop."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.enums import RunMode
from optbot.ops.supervisor import BotSupervisor, status_path
from optbot.test_kit.calendar import sim_clock_at
from optbot.test_kit.execution import drive
from optbot.test_kit.ops import JsonReceiver


async def test_a_holiday_is_data_management_mode_until_stopped(tmp_path: Path) -> None:
    settings = Settings(paths={"data_root": tmp_path})
    clock = sim_clock_at("2026-11-24", "11:00")  # Guru Nanak Jayanti: no session
    crashed = tmp_path / "state" / ".optbot.sqlite.tmp-4242"  # left by a write a crash interrupted
    crashed.parent.mkdir(parents=True)
    crashed.write_text("half")
    os.utime(crashed, ((clock.now_utc() - timedelta(days=3)).timestamp(),) * 2)
    supervisor = BotSupervisor(settings, clock, get_calendar(), RunMode.PAPER)
    task = asyncio.create_task(supervisor.run())
    for _ in range(50):
        await asyncio.sleep(0)
    assert not crashed.exists(), "the upkeep left an interrupted write's temp file"
    status = json.loads(status_path(settings).read_text())
    assert status["phase"] == "non_trading_day" and status["mode"] == "paper" and status["running"]
    assert supervisor.upkeep_done_for is not None
    assert supervisor.last_error == ""
    assert list((tmp_path / "backups").iterdir()), "the day's verified backup is missing"
    assert list((tmp_path / "backups").glob("optbot-state-*.tar.gz")), "no backup of the trading data"
    clock.advance(3600)  # still waiting for the next pre-market (2026-11-25)
    await asyncio.sleep(0)
    assert not task.done()
    supervisor.request_stop()
    assert await asyncio.wait_for(task, 5) == 0
    assert supervisor.sessions_run == 0
    assert json.loads(status_path(settings).read_text())["running"] is False


async def test_a_session_that_cannot_start_notifies_and_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = JsonReceiver()
    port = await receiver.start()
    monkeypatch.setenv("OPTBOT_SECRET_NOTIFY_URLS", f"json://127.0.0.1:{port}/")
    monkeypatch.setenv("OPTBOT_SECRET_API_KEY", "k" * 12)
    monkeypatch.setenv("OPTBOT_SECRET_PIN", "9999")
    monkeypatch.setenv("OPTBOT_SECRET_TOTP_SECRET", "JBSWY3DPEHPK3PXP")
    monkeypatch.setenv("OPTBOT_KEYRING_PASSWORD", "supervisor-test")
    unreachable = "http://127.0.0.1:9"  # discard port: nothing listens, the login cannot happen
    settings = Settings(
        paths={"data_root": tmp_path},
        broker={"client_code": "S1234567", "rest_base_url": unreachable, "http_timeout_seconds": 1.0},
    )
    clock = sim_clock_at("2026-11-25", "09:10")
    supervisor = BotSupervisor(settings, clock, get_calendar(), RunMode.PAPER)
    try:
        assert await drive(clock, supervisor.run()) == 1
        alert = await receiver.wait_for(lambda item: "could not start" in str(item.get("title", "")))
    finally:
        await receiver.stop()
    assert "login" in str(alert.get("message", "")) or "login" in supervisor.last_error
    assert "login" in supervisor.last_error
    assert "9999" not in json.dumps(receiver.received)  # the PIN never travels in a notification


async def test_a_failed_daily_backup_is_notified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    receiver = JsonReceiver()
    port = await receiver.start()
    monkeypatch.setenv("OPTBOT_SECRET_NOTIFY_URLS", f"json://127.0.0.1:{port}/")
    (tmp_path / "backups").write_text("not a directory")  # the backup cannot be written
    settings = Settings(paths={"data_root": tmp_path})
    clock = sim_clock_at("2026-11-24", "11:00")  # a holiday: data-management mode
    supervisor = BotSupervisor(settings, clock, get_calendar(), RunMode.PAPER)
    task = asyncio.create_task(supervisor.run())
    try:
        alert = await receiver.wait_for(lambda item: "Daily backup failed" in str(item.get("title", "")))
        assert "data upkeep failed" in str(alert.get("message", ""))
    finally:
        supervisor.request_stop()
        await asyncio.wait_for(task, 5)
        await receiver.stop()
