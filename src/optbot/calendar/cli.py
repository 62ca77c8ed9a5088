"""`optbot calendar …`: trading days, one day's session, expiry dates."""

from __future__ import annotations

import json
from datetime import date

import typer

from optbot.calendar.nse import ExpiryKind, get_calendar
from optbot.calendar.overrides import Segment
from optbot.cli.common import fail
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


def session_payload(day: date, segment: Segment) -> dict[str, object]:
    """The JSON shape of `optbot calendar session` (IST ISO times; nulls on a holiday)."""
    found = get_calendar().session(day, segment)
    return {
        "date": day.isoformat(),
        "is_trading_day": found is not None,
        "pre_open": found.pre_open.isoformat() if found else None,
        "open": found.open.isoformat() if found else None,
        "close": found.close.isoformat() if found else None,
        "special": found.special if found else None,
    }


@calendar_app.command("days")
def days_command(
    from_day: str = typer.Option(..., "--from", help="first date, YYYY-MM-DD"),
    to_day: str = typer.Option(..., "--to", help="last date, YYYY-MM-DD"),
    segment: str = typer.Option("fo", "--segment", help="fo or equity"),
) -> None:
    """Print the trading days in [--from, --to], one ISO date a line."""
    start, end = _parse_day(from_day, "--from"), _parse_day(to_day, "--to")
    if end < start:
        fail(f"--to {end.isoformat()} is before --from {start.isoformat()}")
    try:
        days = get_calendar().trading_days(start, end, _parse_segment(segment))
    except UserError as exc:
        fail(str(exc))
    for day in days:
        typer.echo(day.isoformat())


@calendar_app.command("session")
def session_command(
    day: str = typer.Argument(..., help="date, YYYY-MM-DD"),
    segment: str = typer.Option("fo", "--segment", help="fo or equity"),
) -> None:
    """Print the day's session as JSON (IST times; nulls on a holiday)."""
    parsed = _parse_day(day, "date")
    try:
        payload = session_payload(parsed, _parse_segment(segment))
    except UserError as exc:
        fail(str(exc))
    typer.echo(json.dumps(payload))


@calendar_app.command("expiries")
def expiries_command(
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
    try:
        found = get_calendar().expiries(underlying, start, end, chosen)
    except UserError as exc:
        fail(str(exc))
    for day in found:
        typer.echo(day.isoformat())


def register(app: typer.Typer) -> None:
    app.add_typer(calendar_app, name="calendar")
