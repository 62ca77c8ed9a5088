"""`optbot calendar …`: trading days, one day's session, expiry dates."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import typer

from optbot.calendar.nse import ExpiryKind, NseCalendar
from optbot.calendar.overrides import Segment
from optbot.cli.common import fail, settings_from
from optbot.core.clock import LiveClock
from optbot.core.errors import UserError

calendar_app = typer.Typer(help="NSE trading days, sessions and expiries.", no_args_is_help=True)


def _parse_day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{what}: not an ISO date (YYYY-MM-DD): {text!r}")


def _parse_segment(text: str) -> Segment:
    try:
        return Segment(text.lower())
    except ValueError:
        fail(f"--segment: expected one of {', '.join(s.value for s in Segment)}, got {text!r}")


def _calendar(ctx: typer.Context) -> NseCalendar:
    # Imported here: the sync module loads httpx, which `optbot calendar --help` does not need.
    from optbot.ops.calendar_sync import calendar_from_settings

    try:
        return calendar_from_settings(settings_from(ctx))
    except UserError as exc:
        fail(str(exc))


def session_payload(calendar: NseCalendar, day: date, segment: Segment) -> dict[str, object]:
    """The JSON shape of `optbot calendar session` (IST ISO times; nulls on a holiday)."""
    found = calendar.session(day, segment)
    return {
        "date": day.isoformat(),
        "is_trading_day": found is not None,
        "pre_open": found.pre_open.isoformat() if found else None,
        "open": found.open.isoformat() if found else None,
        "close": found.close.isoformat() if found else None,
        "special": found.special if found else None,
        "provisional": calendar.is_provisional(day),
    }


def _provisional_note(calendar: NseCalendar, days: list[date]) -> None:
    """Days past the known range are printed with a `provisional` mark and one warning on stderr."""
    if any(calendar.is_provisional(day) for day in days):
        typer.echo(
            f"warning: dates after {calendar.last_date} are provisional (weekdays assumed to trade, "
            "expiries from the last known rules): run `optbot calendar sync`",
            err=True,
        )


def _line(calendar: NseCalendar, day: date) -> str:
    return f"{day.isoformat()}\tprovisional" if calendar.is_provisional(day) else day.isoformat()


@calendar_app.command("days")
def days_command(
    ctx: typer.Context,
    from_day: str = typer.Option(..., "--from", help="first date, YYYY-MM-DD"),
    to_day: str = typer.Option(..., "--to", help="last date, YYYY-MM-DD"),
    segment: str = typer.Option("fo", "--segment", help="fo or equity"),
) -> None:
    """Print the trading days in [--from, --to], one ISO date a line."""
    start, end = _parse_day(from_day, "--from"), _parse_day(to_day, "--to")
    if end < start:
        fail(f"--to {end.isoformat()} is before --from {start.isoformat()}")
    calendar = _calendar(ctx)
    try:
        days = calendar.trading_days(start, end, _parse_segment(segment))
    except UserError as exc:
        fail(str(exc))
    _provisional_note(calendar, days)
    for day in days:
        typer.echo(_line(calendar, day))


@calendar_app.command("session")
def session_command(
    ctx: typer.Context,
    day: str = typer.Argument(..., help="date, YYYY-MM-DD"),
    segment: str = typer.Option("fo", "--segment", help="fo or equity"),
) -> None:
    """Print the day's session as JSON (IST times; nulls on a holiday)."""
    parsed = _parse_day(day, "date")
    calendar = _calendar(ctx)
    try:
        payload = session_payload(calendar, parsed, _parse_segment(segment))
    except UserError as exc:
        fail(str(exc))
    _provisional_note(calendar, [parsed])
    typer.echo(json.dumps(payload))


@calendar_app.command("expiries")
def expiries_command(
    ctx: typer.Context,
    underlying: str = typer.Argument(..., help="NIFTY, BANKNIFTY, FINNIFTY, MIDCPNIFTY, SENSEX or STOCK"),
    from_day: str = typer.Option(..., "--from", help="first date, YYYY-MM-DD"),
    to_day: str = typer.Option(..., "--to", help="last date, YYYY-MM-DD"),
    kind: str = typer.Option("all", "--kind", help="weekly, monthly or all"),
) -> None:
    """Print expiry dates (after holiday shifts) one a line. Planning only: live, the master rules."""
    start, end = _parse_day(from_day, "--from"), _parse_day(to_day, "--to")
    if end < start:
        fail(f"--to {end.isoformat()} is before --from {start.isoformat()}")
    if kind not in ("weekly", "monthly", "all"):
        fail(f"--kind: expected weekly, monthly or all, got {kind!r}")
    chosen: ExpiryKind = "weekly" if kind == "weekly" else "monthly" if kind == "monthly" else "all"
    calendar = _calendar(ctx)
    try:
        found = calendar.expiries(underlying, start, end, chosen)
    except UserError as exc:
        fail(str(exc))
    _provisional_note(calendar, found)
    for day in found:
        typer.echo(_line(calendar, day))


@calendar_app.command("holidays")
def holidays_command(
    ctx: typer.Context,
    from_day: str = typer.Option(..., "--from", help="first date, YYYY-MM-DD"),
    to_day: str = typer.Option(..., "--to", help="last date, YYYY-MM-DD"),
    segment: str = typer.Option("fo", "--segment", help="fo or equity"),
) -> None:
    """Print weekday trading holidays as `DATE<TAB>NAME`, marking those with a special session."""
    start, end = _parse_day(from_day, "--from"), _parse_day(to_day, "--to")
    if end < start:
        fail(f"--to {end.isoformat()} is before --from {start.isoformat()}")
    chosen = _parse_segment(segment)
    calendar = _calendar(ctx)
    try:
        days = calendar.holidays(start, end, chosen)
        for day in days:
            session = calendar.session(day, chosen)
            extra = (
                f" (special session: {session.special} {session.open:%H:%M}-{session.close:%H:%M})"
                if session
                else ""
            )
            typer.echo(f"{day.isoformat()}\t{calendar.holiday_name(day, chosen)}{extra}")
    except UserError as exc:
        fail(str(exc))


@calendar_app.command("info")
def info_command(
    ctx: typer.Context,
    today: str | None = typer.Option(None, "--today", help="evaluate as of this date (default: today, IST)"),
) -> None:
    """Print the calendar's version, known range and how many days of coverage are left (JSON)."""
    settings = settings_from(ctx)
    calendar = _calendar(ctx)
    as_of = _parse_day(today, "--today") if today is not None else LiveClock().now_ist().date()
    left = calendar.days_of_coverage_left(as_of)
    payload = {
        "version": calendar.version,
        "overrides_file": str(settings.calendar.overrides_file) if settings.calendar.overrides_file else None,
        "first_date": calendar.first_date.isoformat(),
        "last_date": calendar.last_date.isoformat(),
        "provisional_until": calendar.provisional_until.isoformat(),
        "synced_years": sorted(calendar.synced_years),
        "synced_on": calendar.synced.fetched_on.isoformat() if calendar.synced else None,
        "today": as_of.isoformat(),
        "coverage_days_left": left,
        "needs_update": left < settings.calendar.coverage_warning_days,
        "underlyings": list(calendar.underlyings),
    }
    typer.echo(json.dumps(payload))


@calendar_app.command("sync")
def sync_command(
    ctx: typer.Context,
    url: str | None = typer.Option(None, "--url", help="NSE holiday-list URL (default: calendar.sync_url)"),
    from_file: Path | None = typer.Option(
        None, "--from-file", help="validate and store a saved copy of NSE's JSON instead of downloading"
    ),
    accept_removals: bool = typer.Option(
        False, "--accept-removals", help="store a list that drops holidays the calendar already knows"
    ),
) -> None:
    """Fetch NSE's trading-holiday list, validate it and store it as a dated override (§13.7)."""
    if url is not None and from_file is not None:
        fail("--url and --from-file: give one source, not both")
    from optbot.ops.calendar_sync import sync_calendar

    settings = settings_from(ctx)
    today = LiveClock().now_ist().date()
    try:
        outcome = asyncio.run(
            sync_calendar(settings, today, url=url, from_file=from_file, accept_removals=accept_removals)
        )
    except UserError as exc:
        fail(str(exc))
    typer.echo(outcome.summary())
    if outcome.synced.acknowledged_removals:
        removed = ", ".join(day.isoformat() for day in outcome.synced.acknowledged_removals)
        typer.echo(f"holidays removed as NSE's list says (--accept-removals): {removed}")


def register(app: typer.Typer) -> None:
    app.add_typer(calendar_app, name="calendar")
