"""`optbot run`: the supervised daily loop (spec §1, §8.2-8.4, §9).

Trading days run a `SessionRunner` from the pre-market to the end of the post-market; weekends,
holidays and the hours outside the session are data-management mode (the bot waits on its clock for
the next pre-market). SIGINT/SIGTERM stop it gracefully: no new orders, state persisted, positions
left as configured, logs flushed; a stop request while a session starts or winds down cancels that work
at once. A `status.json` written every few seconds (of the bot's clock, and of real time) lets
`optbot status` report on a running bot from another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from optbot.broker.angelone.factory import build_stack, open_secret_store
from optbot.calendar import NseCalendar
from optbot.config import Settings
from optbot.core.atomic import atomic_write_text, clear_leftovers
from optbot.core.clock import Clock
from optbot.core.enums import AlertPriority, RunMode
from optbot.core.errors import UserError
from optbot.core.events import Alert
from optbot.core.timeutil import iso_utc, ist_date, to_ist
from optbot.data.backup import create_backup, create_state_backup, verify_backup
from optbot.data.store import JsonStore
from optbot.engine.follow import FollowingClock
from optbot.engine.schedule import build_schedule
from optbot.ops.calendar_sync import calendar_from_settings, sync_calendar
from optbot.ops.notifications import Notifier, notification_urls
from optbot.ops.run_mode import session_mode
from optbot.ops.session import SessionRunner, SessionStopped, Stage, StageFailed
from optbot.persistence.db import state_db_path

log = logging.getLogger("optbot.ops.supervisor")

STATUS_FILE = "status.json"
STATUS_EVERY_SECONDS = 5.0
#: Leftovers of interrupted writes are removed once they are this old: no write of a running optbot
#: command lasts a day, so nothing in progress is touched.
LEFTOVER_MIN_AGE = timedelta(days=1)


def status_path(settings: Settings) -> Path:
    return state_db_path(settings).parent / STATUS_FILE


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_session_status(settings: Settings) -> dict[str, Any] | None:
    """The status document of the bot running on this data root, or None when none runs (no status
    file, an unreadable one, a bot that stopped, or a process that is gone). Commands run beside the
    bot read from it what the session runs on, e.g. the simulator clock it follows."""
    try:
        data = json.loads(status_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not data.get("running"):
        return None
    try:
        pid = int(data.get("pid") or 0)
    except (TypeError, ValueError):
        return None
    return data if process_alive(pid) else None


@dataclass
class BotSupervisor:
    """Runs sessions day after day until stopped."""

    settings: Settings
    clock: Clock
    calendar: NseCalendar
    mode: RunMode
    on_stage: Callable[[Stage], None] | None = None
    totp_clock: Clock | None = None
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    runner: SessionRunner | None = None
    sessions_run: int = 0
    last_error: str = ""
    upkeep_done_for: date | None = None
    calendar_synced_for: date | None = None
    #: Extra data-management work (e.g. the research suite's scheduled studies), injected by the program
    #: that runs the bot so the kernel does not depend on the packages above it. Called once a day; each
    #: returns (title, message) lines the supervisor sends as notifications.
    data_management_tasks: tuple[Callable[[date], Awaitable[Sequence[tuple[str, str]]]], ...] = ()
    tasks_done_for: date | None = None

    def request_stop(self) -> None:
        self.stop_event.set()
        if self.runner is not None:
            self.runner.request_stop()

    async def run(self, max_sessions: int | None = None) -> int:
        """Returns 0 after a graceful stop, 1 if a session could not start."""
        writer = asyncio.create_task(self._write_status_forever())
        try:
            while not self.stop_event.is_set():
                if max_sessions is not None and self.sessions_run >= max_sessions:
                    break
                started = await self._one_day()
                if started is False:
                    return 1
            return 0
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._write_status()

    async def _notify(self, alert: Alert) -> None:
        """Outside a session the engine's notifications are not attached: send directly, bounded in time."""
        settings = self.settings.notifications
        urls = notification_urls(settings)
        if not urls:
            return
        notifier = Notifier(settings.model_copy(update={"urls": urls}), self.clock)
        await notifier.start()
        notifier.submit(alert)
        await notifier.stop(drain_seconds=settings.delivery_timeout_seconds * 2)

    async def _notify_startup_failure(self, reason: str) -> None:
        await self._notify(
            Alert(
                self.clock.now_utc(),
                AlertPriority.CRITICAL,
                "optbot could not start the session",
                reason,
                action_required="fix the cause (login, network, reconciliation) and start optbot again",
                impact="no trading today until it starts",
                dedupe_key="session-start-failed",
            )
        )

    async def _one_day(self) -> bool | None:
        now = self.clock.now_utc()
        today = ist_date(now)
        schedule = build_schedule(self.calendar, today, self.settings.session)
        if schedule.session is None or schedule.post_market_end is None or now >= schedule.post_market_end:
            await self._data_management_until_next_session(today)
            return None
        if schedule.premarket_start is not None and now < schedule.premarket_start:
            log.info("before the pre-market: waiting until %s", to_ist(schedule.premarket_start))
            await self._sleep_until(schedule.premarket_start)
            if self.stop_event.is_set():
                return None
        return await self._session(schedule.post_market_end)

    async def _session(self, post_market_end: datetime) -> bool:
        secrets = open_secret_store(self.settings)
        stack = build_stack(self.settings, self.clock, secrets, totp_clock=self.totp_clock)
        runner = SessionRunner(
            self.settings,
            self.clock,
            stack,
            self.calendar,
            paper=self.mode is RunMode.PAPER,
            on_stage=self.on_stage,
        )
        self.runner = runner
        try:
            await runner.prepare()
            await runner.start_market()
            if self.stop_event.is_set():
                runner.request_stop()
            await runner.run_until(post_market_end)
            return True
        except SessionStopped:
            log.info("stopped while the session was starting")
            return True
        except StageFailed as exc:
            self.last_error = str(exc)
            log.error("session could not start: %s", exc)
            await self._notify_startup_failure(str(exc))
            return False
        finally:
            await runner.finish()
            self.sessions_run += 1
            self._write_status()
            runner.close()
            self.runner = None
            await stack.aclose()

    def _daily_upkeep(self, today: date) -> str:
        """Data-management mode work (§1.5, §8.3), once a day: retention of bars and raw ticks,
        last-good copies, leftovers of interrupted writes removed, and verified backups of the market
        data and of the trading data and logs.
        Returns what failed ('' when all went well or it already ran today)."""
        if self.upkeep_done_for == today:
            return ""
        self.upkeep_done_for = today
        try:
            store = JsonStore(self.settings.paths, self.settings.data, self.clock)
            kept = store.maintain(today)
            store.flush_ticks()
            for leftover in clear_leftovers(
                self.settings.paths.data_root, self.clock.now_utc(), LEFTOVER_MIN_AGE
            ):
                log.info("removed %s, left by an interrupted write", leftover)
            backup = create_backup(self.settings.paths, self.clock, self.settings.data.backups_keep)
            problems = verify_backup(backup.path)
            if not problems:
                backup = create_state_backup(self.settings.paths, self.clock, self.settings.data.backups_keep)
                problems = verify_backup(backup.path)
        except (OSError, ValueError, sqlite3.Error) as exc:
            self.last_error = f"data upkeep failed: {type(exc).__name__}: {exc}"
            log.error(self.last_error)
            return self.last_error
        if problems:
            self.last_error = f"backup {backup.path} failed verification: {'; '.join(problems[:3])}"
            log.error(self.last_error)
            return self.last_error
        log.info("data upkeep: %d series kept, backups verified (last %s)", len(kept), backup.path)
        return ""

    async def _data_management_until_next_session(self, today: date) -> None:
        """Outside sessions there is nothing to trade: upkeep, then wait for the next pre-market."""
        failure = self._daily_upkeep(today)
        if failure:
            await self._notify(
                Alert(
                    self.clock.now_utc(),
                    AlertPriority.IMPORTANT,
                    "Daily backup failed",
                    failure,
                    action_required="free disk space or fix permissions under the data root, then "
                    "`optbot data backup`; the next data-management day tries again",
                    dedupe_key=f"upkeep-failed:{today}",
                )
            )
        await self._calendar_upkeep(today)
        await self._injected_upkeep(today)
        try:
            following = self.calendar.next_trading_day(today)
        except Exception as exc:  # even the provisional range ended: a person must extend it
            self.last_error = f"no next trading day in the calendar after {today}: {exc}"
            log.error(self.last_error)
            self.stop_event.set()
            return
        if self.calendar.is_provisional(following):
            log.warning("the next session %s is provisional (past the calendar's known range)", following)
        schedule = build_schedule(self.calendar, following, self.settings.session)
        wake = schedule.premarket_start or self.clock.now_utc() + timedelta(hours=1)
        log.info("data-management mode until the pre-market of %s (%s)", following, to_ist(wake))
        await self._sleep_until(wake)

    async def _injected_upkeep(self, today: date) -> None:
        """Run each injected data-management task once a day; one failing task never stops the bot."""
        if self.tasks_done_for == today:
            return
        self.tasks_done_for = today
        for task in self.data_management_tasks:
            if self.stop_event.is_set():
                return
            try:
                lines = await task(today)
            except Exception as exc:  # a research study must never take the trading bot down
                self.last_error = f"data-management task failed: {type(exc).__name__}: {exc}"
                log.error(self.last_error)
                continue
            for title, message in lines:
                log.info("%s: %s", title, message)
                await self._notify(Alert(self.clock.now_utc(), AlertPriority.INFO, title, message))

    async def _calendar_upkeep(self, today: date) -> None:
        """§13.7: sync NSE's holiday list at most once a day; a failure is notified, never fatal."""
        if not self.settings.calendar.sync_in_data_management or self.calendar_synced_for == today:
            return
        self.calendar_synced_for = today
        try:
            outcome = await sync_calendar(self.settings, today)
        except UserError as exc:
            self.last_error = f"calendar sync failed: {exc}"
            log.warning(self.last_error)
            left = self.calendar.days_of_coverage_left(today)
            await self._notify(
                Alert(
                    self.clock.now_utc(),
                    AlertPriority.CRITICAL if left < 0 else AlertPriority.IMPORTANT,
                    "NSE holiday calendar sync failed",
                    f"{exc}; the calendar's known range ends {self.calendar.last_date} ({left} days)",
                    action_required="run `optbot calendar sync` (or --from-file with NSE's list saved)",
                    impact="past the known range, weekdays are provisional sessions (exchange-confirmed)",
                    dedupe_key="calendar-sync-failed",
                )
            )
            return
        log.info("calendar sync: %s", outcome.summary())
        self.calendar = calendar_from_settings(self.settings)

    async def _sleep_until(self, when: datetime) -> None:
        sleeper = asyncio.create_task(self.clock.sleep_until(when))
        stopper = asyncio.create_task(self.stop_event.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, stopper):
                task.cancel()
            await asyncio.gather(sleeper, stopper, return_exceptions=True)

    async def _write_status_forever(self) -> None:
        """Every few seconds of the bot's clock, and at least every few real seconds: `optbot status`
        must also see a bot whose replay clock has stopped."""
        while True:
            self._write_status()
            waits = {
                asyncio.ensure_future(self.clock.sleep(STATUS_EVERY_SECONDS)),
                asyncio.ensure_future(self.clock.realtime().sleep(STATUS_EVERY_SECONDS)),
            }
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()
                await asyncio.gather(*waits, return_exceptions=True)

    def _write_status(self) -> None:
        path = status_path(self.settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(self.status(), indent=2, sort_keys=True, default=str) + "\n")

    def status(self) -> dict[str, Any]:
        now = self.clock.now_utc()
        schedule = build_schedule(self.calendar, ist_date(now), self.settings.session)
        data: dict[str, Any] = {
            "pid": os.getpid(),
            # live or paper, with the endpoint named unless it is Angel One's (`ops.run_mode`)
            "mode": session_mode(self.mode is RunMode.PAPER, self.settings.broker.rest_base_url),
            "written_utc": iso_utc(now),
            "clock_ist": to_ist(now).isoformat(),
            "phase": schedule.phase_at(now).value,
            "sessions_run": self.sessions_run,
            "last_error": self.last_error,
            "running": not self.stop_event.is_set(),
            # the simulator whose replay clock the session follows (`--follow-sim`), None on wall time:
            # `optbot reconcile` run beside the bot reconciles on the same clock
            "clock_follows": self.clock.base_url if isinstance(self.clock, FollowingClock) else None,
        }
        runner = self.runner
        if runner is not None and runner.engine is not None:
            engine = runner.engine
            data["engine"] = engine.status()
            feed = runner.feed
            data["feed"] = {
                "connected": bool(feed is not None and feed.connected),
                "last_tick_ist": to_ist(engine.market.last_tick_utc).isoformat()
                if engine.market.last_tick_utc
                else None,
                **(runner.feed_status() if feed is not None else {}),
            }
            data["stages"] = [
                {"name": s.name, "passed": s.passed, "detail": s.detail} for s in runner.outcome.stages
            ]
        return data
