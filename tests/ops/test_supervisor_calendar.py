"""Data-management mode keeps the calendar current (§13.7): one sync a day, failures notified."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import RunMode
from optbot.ops.supervisor import BotSupervisor
from optbot.test_kit.calendar import sim_clock_at
from optbot.test_kit.nse_holidays import nse_holiday_server, nse_payload
from optbot.test_kit.ops import JsonReceiver


async def _until(condition: Callable[[], bool], clock: SimClock, seconds: float = 10.0) -> None:
    """Real time passes for the loopback HTTP calls; the bot's clock advances a second at a time."""
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.02)
            clock.advance(1)


async def _stop(supervisor: BotSupervisor, task: asyncio.Task[int]) -> None:
    supervisor.request_stop()
    assert await asyncio.wait_for(task, 5) == 0


async def test_a_holiday_syncs_nse_list_once_and_reloads_the_calendar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with nse_holiday_server() as server:
        server.serve_json(nse_payload())
        monkeypatch.setenv("OPTBOT__CALENDAR__SYNC_IN_DATA_MANAGEMENT", "true")
        monkeypatch.setenv("OPTBOT__CALENDAR__SYNC_URL", server.url)
        settings = Settings(paths={"data_root": tmp_path})
        clock = sim_clock_at("2026-11-24", "11:00")  # Guru Nanak Jayanti: data-management mode
        supervisor = BotSupervisor(settings, clock, get_calendar(), RunMode.PAPER)
        task = asyncio.create_task(supervisor.run())
        await _until(lambda: supervisor.calendar.last_date == date(2027, 12, 31), clock)
        assert supervisor.calendar_synced_for == date(2026, 11, 24)
        assert supervisor.last_error == ""
        assert len(list((tmp_path / "calendar").glob("nse-holidays-2026-11-24.toml"))) == 1
        api_calls = sum(1 for path in server.requests if path.startswith("/api/"))
        await _stop(supervisor, task)
    assert api_calls == 1


async def test_a_failed_sync_is_notified_and_the_bot_keeps_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = JsonReceiver()
    port = await receiver.start()
    monkeypatch.setenv("OPTBOT_SECRET_NOTIFY_URLS", f"json://127.0.0.1:{port}/")
    try:
        with nse_holiday_server() as server:
            server.body, server.status = b"busy", 503
            monkeypatch.setenv("OPTBOT__CALENDAR__SYNC_IN_DATA_MANAGEMENT", "true")
            monkeypatch.setenv("OPTBOT__CALENDAR__SYNC_URL", server.url)
            settings = Settings(paths={"data_root": tmp_path})
            clock = sim_clock_at("2026-12-26", "11:00")  # Saturday
            supervisor = BotSupervisor(settings, clock, get_calendar(), RunMode.PAPER)
            task = asyncio.create_task(supervisor.run())
            await _until(lambda: bool(receiver.received), clock)
            alert = receiver.received[0]
            assert not task.done()
            await _stop(supervisor, task)
    finally:
        await receiver.stop()
    assert alert["title"].endswith("NSE holiday calendar sync failed")
    assert "answered HTTP 503" in alert["message"] and "ends 2026-12-31 (5 days)" in alert["message"]
    assert "calendar sync failed" in supervisor.last_error
    assert supervisor.calendar.last_date == date(2026, 12, 31)
    assert not (tmp_path / "calendar").exists()


async def test_injected_data_management_tasks_run_once_a_day_and_their_lines_are_notified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = JsonReceiver()
    port = await receiver.start()
    monkeypatch.setenv("OPTBOT_SECRET_NOTIFY_URLS", f"json://127.0.0.1:{port}/")
    calls: list[date] = []

    async def study(today: date) -> list[tuple[str, str]]:
        calls.append(today)
        return [("optbot research: weekly", "adx_trend keeps trading")]

    async def broken(today: date) -> list[tuple[str, str]]:
        raise RuntimeError("no data")

    try:
        settings = Settings(paths={"data_root": tmp_path})
        clock = sim_clock_at("2026-11-28", "11:00")  # Saturday
        supervisor = BotSupervisor(
            settings, clock, get_calendar(), RunMode.PAPER, data_management_tasks=(broken, study)
        )
        task = asyncio.create_task(supervisor.run())
        await _until(lambda: bool(receiver.received), clock)
        await _stop(supervisor, task)
    finally:
        await receiver.stop()
    assert calls == [date(2026, 11, 28)]
    assert receiver.received[0]["title"].endswith("optbot research: weekly")
    assert "data-management task failed: RuntimeError: no data" in supervisor.last_error
