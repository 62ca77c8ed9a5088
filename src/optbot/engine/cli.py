"""Interim `optbot demo`: the startup checks that exist so far, each with a clear PASS/FAIL line.

The end-to-end demo (replay through the local SmartAPI simulator) replaces this command later.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import typer

from optbot.calendar import NseCalendar, Segment
from optbot.calendar.cli import calendar_from_settings
from optbot.cli.common import console, state
from optbot.config import ConfigError, Settings, effective_mode, load_settings
from optbot.core.clock import Clock, LiveClock, SimClock
from optbot.core.errors import UserError
from optbot.core.ids import new_trace_id
from optbot.core.timeutil import parse_iso
from optbot.log import bind_trace, configure_logging, get_logger, shutdown_logging


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    passed: bool
    detail: str
    warning: bool = False


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_data_root(settings: Settings) -> CheckResult:
    root = settings.paths.data_root
    existing = _nearest_existing(root)
    writable = os.access(existing, os.W_OK)
    state_text = "exists" if root.exists() else f"will be created under {existing}"
    return CheckResult(
        "data root", writable, f"{root} ({state_text}; {'writable' if writable else 'NOT writable'})"
    )


def check_calendar(calendar: NseCalendar, clock: Clock, warning_days: int) -> CheckResult:
    today = clock.now_ist().date()
    covered = calendar.covers(today)
    detail = (
        f"overrides v{calendar.version}, known range {calendar.first_date}..{calendar.last_date}; "
        f"today {today} {'is covered' if covered else 'is OUTSIDE it: update the calendar override file'}"
    )
    left = calendar.days_of_coverage_left(today)
    warn = covered and left < warning_days
    if warn:
        detail += (
            f"; only {left} days of coverage left: add next year's NSE holidays and special sessions "
            "(calendar.overrides_file)"
        )
    return CheckResult("calendar", covered, detail, warning=warn)


def trading_day_decision(calendar: NseCalendar, clock: Clock) -> CheckResult:
    """Today's trading-day decision and the operating mode it implies (spec §1.1, §8.2)."""
    now = clock.now_ist()
    today = now.date()
    session = calendar.session(today, Segment.FO)
    if session is None:
        reason = calendar.holiday_name(today) or ("weekend" if today.weekday() >= 5 else "no session")
        try:
            following = f"next trading day {calendar.next_trading_day(today)}"
        except UserError:
            following = "next trading day beyond the calendar's range"
        detail = f"{today} is not a trading day ({reason}); {following}: data-management mode"
        return CheckResult("trading day", True, detail)
    kind = f" special session: {session.name}" if session.special else ""
    times = (
        f"pre-open {session.pre_open:%H:%M}, open {session.open:%H:%M}, close {session.close:%H:%M} IST{kind}"
    )
    if now >= session.post_close:
        mode = "session over: data-management mode"
    elif now >= session.pre_open:
        mode = "market hours: trading mode"
    else:
        mode = "before the session: pre-market checks, then trading mode"
    return CheckResult("trading day", True, f"{today} is an F&O trading day ({times}); {mode}")


def run_checks(clock: Clock, config_path: Path | None) -> list[CheckResult]:
    results: list[CheckResult] = []
    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        results.append(CheckResult("config", False, "; ".join(exc.problems)))
        return results
    source = str(config_path) if config_path else "defaults (no --config / $OPTBOT_CONFIG)"
    mode = effective_mode(settings, confirm_live=False)
    results.append(CheckResult("config", True, f"loaded from {source}; mode {settings.mode} -> runs {mode}"))
    results.append(check_data_root(settings))
    try:
        calendar = calendar_from_settings(settings)
    except UserError as exc:
        results.append(CheckResult("calendar", False, str(exc)))
        return results
    calendar_result = check_calendar(calendar, clock, settings.calendar.coverage_warning_days)
    results.append(calendar_result)
    if calendar_result.passed:
        results.append(trading_day_decision(calendar, clock))
    return results


def demo_command(
    ctx: typer.Context,
    at: str | None = typer.Option(None, "--at", help="evaluate at this ISO time (with offset), not now"),
) -> None:
    """Run the startup checks that exist so far (config, calendar, today's trading-day decision)."""
    if at is not None:
        try:
            clock: Clock = SimClock(parse_iso(at))
        except ValueError:
            raise UserError(f"--at: not an ISO date-time with a UTC offset: {at!r}") from None
    else:
        clock = LiveClock()
    cli_state = state(ctx)
    config_path = cli_state.config_path
    if config_path is None and os.environ.get("OPTBOT_CONFIG"):
        config_path = Path(os.environ["OPTBOT_CONFIG"])
    now: datetime = clock.now_ist()
    console.print(f"optbot startup checks at {now:%Y-%m-%d %H:%M:%S} IST", highlight=False)
    results = run_checks(clock, config_path)
    for result in results:
        mark = (
            "[red]FAIL[/red]"
            if not result.passed
            else "[yellow]WARN[/yellow]"
            if result.warning
            else "[green]PASS[/green]"
        )
        console.print(f"{mark} {result.name}: {result.detail}", highlight=False, soft_wrap=True)
    console.print(
        "The end-to-end demo (replay through the local SmartAPI simulator) is not built yet; "
        "these are the startup checks that exist so far.",
        highlight=False,
        soft_wrap=True,
    )
    log_path = _log_results(results, clock, config_path)
    if log_path is not None:
        console.print(f"structured log: {log_path}", highlight=False, soft_wrap=True)
    if not all(result.passed for result in results):
        raise typer.Exit(1)


def _log_results(results: list[CheckResult], clock: Clock, config_path: Path | None) -> Path | None:
    """Write each check to the JSON log (when config loads and the data root is writable)."""
    if not results or not results[0].passed or not any(r.name == "data root" and r.passed for r in results):
        return None
    settings = load_settings(config_path)
    quiet = settings.model_copy(update={"logging": settings.logging.model_copy(update={"console": False})})
    log_path = configure_logging(quiet, clock)
    try:
        log = get_logger("optbot.demo")
        with bind_trace(new_trace_id()):
            for result in results:
                status = "fail" if not result.passed else "warn" if result.warning else "pass"
                log.info("startup_check", check=result.name, status=status, detail=result.detail)
    finally:
        shutdown_logging()
    return log_path


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
