"""Past the known range: provisional sessions, never a refusal (§13.7)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from typer.testing import CliRunner

from optbot.calendar import CalendarRangeError, NseCalendar, Segment, get_calendar
from optbot.cli.main import app
from optbot.core.timeutil import IST

runner = CliRunner()


@pytest.fixture(scope="module")
def calendar() -> NseCalendar:
    return get_calendar()


def test_weekdays_past_the_range_are_provisional_sessions_with_the_last_hours(calendar: NseCalendar) -> None:
    assert calendar.last_date == date(2026, 12, 31) and calendar.provisional_until == date(2028, 12, 31)
    monday = calendar.session(date(2027, 1, 4))
    assert monday is not None and monday.provisional and monday.special is None
    assert (monday.pre_open.time(), monday.open.time(), monday.close.time()) == (
        time(9, 0),
        time(9, 15),
        time(15, 40),
    )
    equity = calendar.session(date(2027, 1, 4), Segment.EQUITY)
    assert equity is not None and equity.close.time() == time(15, 30)
    assert calendar.session(date(2027, 1, 2)) is None  # Saturday
    known = calendar.session(date(2026, 12, 31))
    assert known is not None and not known.provisional
    assert calendar.is_provisional(date(2027, 1, 1)) and not calendar.is_provisional(date(2026, 12, 31))


def test_navigation_crosses_into_the_provisional_range(calendar: NseCalendar) -> None:
    assert calendar.next_trading_day(date(2026, 12, 31)) == date(2027, 1, 1)
    assert calendar.next_open(datetime(2026, 12, 31, 16, 0, tzinfo=IST)) == datetime(
        2027, 1, 1, 9, 15, tzinfo=IST
    )
    assert calendar.is_open(datetime(2027, 1, 4, 10, 0, tzinfo=IST))


def test_expiries_follow_the_last_known_rules(calendar: NseCalendar) -> None:
    # NIFTY: Tuesday weeklies and the last Tuesday monthly (rules from 2025-09-01); 2027-01-26 is
    # Republic Day (a fixed-date holiday, known even provisionally), so the monthly moves to the 25th.
    assert calendar.expiries("NIFTY", date(2027, 1, 1), date(2027, 1, 31), "monthly") == [date(2027, 1, 25)]
    assert calendar.next_expiry("NIFTY", date(2027, 1, 1)) == date(2027, 1, 5)
    assert calendar.next_expiry("SENSEX", date(2027, 1, 1)) == date(2027, 1, 7)


def test_past_the_provisional_range_still_refuses(calendar: NseCalendar) -> None:
    with pytest.raises(CalendarRangeError, match="provisional to 2028-12-31"):
        calendar.session(date(2029, 1, 1))


def test_cli_marks_provisional_dates() -> None:
    days = runner.invoke(app, ["calendar", "days", "--from", "2026-12-30", "--to", "2027-01-05"])
    assert days.exit_code == 0, days.output
    assert days.stdout.splitlines() == [
        "2026-12-30",
        "2026-12-31",
        "2027-01-01\tprovisional",
        "2027-01-04\tprovisional",
        "2027-01-05\tprovisional",
    ]
    assert "dates after 2026-12-31 are provisional" in days.stderr
    session = runner.invoke(app, ["calendar", "session", "2027-01-04"])
    assert session.exit_code == 0
    assert (
        '"provisional": true' in session.stdout and '"close": "2027-01-04T15:40:00+05:30"' in session.stdout
    )
    expiries = runner.invoke(
        app, ["calendar", "expiries", "NIFTY", "--from", "2027-01-01", "--to", "2027-01-12"]
    )
    assert expiries.stdout.splitlines() == ["2027-01-05\tprovisional", "2027-01-12\tprovisional"]
    known = runner.invoke(app, ["calendar", "days", "--from", "2026-12-30", "--to", "2026-12-31"])
    assert known.stderr == "" and known.stdout.split() == ["2026-12-30", "2026-12-31"]
