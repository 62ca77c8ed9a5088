from __future__ import annotations

from datetime import UTC, date, datetime

from optbot.test_kit.calendar import add_holiday, calendar_with, ist, sim_clock_at


def test_ist_and_clock() -> None:
    assert ist("2024-05-21", "09:15") == datetime(2024, 5, 21, 3, 45, tzinfo=UTC)
    assert sim_clock_at("2024-05-21").now_utc() == datetime(2024, 5, 21, 3, 45, tzinfo=UTC)


def test_calendar_with_an_extra_holiday_shifts_the_expiry() -> None:
    calendar = calendar_with(add_holiday(date(2024, 5, 16)))
    assert not calendar.is_trading_day(date(2024, 5, 16))
    assert calendar.next_expiry("NIFTY", date(2024, 5, 14)) == date(2024, 5, 15)
