from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from optbot.calendar import CalendarRangeError, NseCalendar, Segment, TradingSession, get_calendar
from optbot.core.errors import UserError
from optbot.core.timeutil import IST

NSE_2025 = [
    "2025-02-26", "2025-03-14", "2025-03-31", "2025-04-10", "2025-04-14", "2025-04-18", "2025-05-01",
    "2025-08-15", "2025-08-27", "2025-10-02", "2025-10-21", "2025-10-22", "2025-11-05", "2025-12-25",
]  # fmt: skip
NSE_2026 = [
    "2026-01-15", "2026-01-26", "2026-03-03", "2026-03-26", "2026-03-31", "2026-04-03", "2026-04-14",
    "2026-05-01", "2026-05-28", "2026-06-26", "2026-09-14", "2026-10-02", "2026-10-20", "2026-11-10",
    "2026-11-24", "2026-12-25",
]  # fmt: skip


@pytest.fixture(scope="module")
def calendar() -> NseCalendar:
    return get_calendar()


def test_get_calendar_is_cached() -> None:
    assert get_calendar() is get_calendar()


def test_known_range(calendar: NseCalendar) -> None:
    assert calendar.first_date == date(2015, 1, 1)
    assert calendar.last_date == date(2026, 12, 31)


@pytest.mark.parametrize("bad", [date(2014, 12, 31), date(2029, 1, 1)])
def test_outside_range_names_the_date(calendar: NseCalendar, bad: date) -> None:
    with pytest.raises(CalendarRangeError, match=bad.isoformat()):
        calendar.is_trading_day(bad)
    assert issubclass(CalendarRangeError, UserError)


@pytest.mark.parametrize("year_list", [NSE_2025, NSE_2026])
def test_official_holiday_lists(calendar: NseCalendar, year_list: list[str]) -> None:
    year = int(year_list[0][:4])
    expected = [date.fromisoformat(text) for text in year_list]
    assert calendar.holidays(date(year, 1, 1), date(year, 12, 31)) == expected


def test_weekend_is_not_a_trading_day(calendar: NseCalendar) -> None:
    assert not calendar.is_trading_day(date(2024, 5, 25))
    assert calendar.session(date(2024, 5, 25)) is None


def test_fo_close_moves_to_1540_on_2026_08_03(calendar: NseCalendar) -> None:
    before = calendar.session(date(2026, 7, 31), Segment.FO)
    after = calendar.session(date(2026, 8, 3), Segment.FO)
    equity_after = calendar.session(date(2026, 8, 3), Segment.EQUITY)
    assert before is not None and after is not None and equity_after is not None
    assert before.close.timetz() == time(15, 30, tzinfo=IST)
    assert after.close.timetz() == time(15, 40, tzinfo=IST)
    assert equity_after.close.timetz() == time(15, 30, tzinfo=IST)
    assert after.pre_open.time() == time(9, 0) and after.open.time() == time(9, 15)
    assert after.close_utc == datetime(2026, 8, 3, 10, 10, tzinfo=UTC)
    assert after.open_utc == datetime(2026, 8, 3, 3, 45, tzinfo=UTC)
    assert after.post_close >= after.close


def test_is_open_respects_the_new_close(calendar: NseCalendar) -> None:
    moment = datetime(2026, 8, 3, 15, 35, tzinfo=IST)
    assert calendar.is_open(moment, Segment.FO)
    assert not calendar.is_open(moment, Segment.EQUITY)
    assert not calendar.is_open(datetime(2026, 8, 3, 9, 5, tzinfo=IST))  # pre-open is not open
    assert calendar.is_open(datetime(2026, 8, 3, 3, 45, tzinfo=UTC))
    with pytest.raises(ValueError):
        calendar.is_open(datetime(2026, 8, 3, 10, 0))


def test_muhurat_session(calendar: NseCalendar) -> None:
    session = calendar.session(date(2024, 11, 1))
    assert isinstance(session, TradingSession) and session.special == "muhurat"
    assert (session.open.time(), session.close.time()) == (time(18), time(19))
    assert calendar.is_holiday(date(2024, 11, 1))
    assert calendar.is_trading_day(date(2024, 11, 1))
    assert not calendar.is_trading_day(date(2024, 11, 1), include_special=False)
    assert calendar.is_open(datetime(2024, 11, 1, 18, 30, tzinfo=IST))
    assert not calendar.is_open(datetime(2024, 11, 1, 10, 0, tzinfo=IST))


@pytest.mark.parametrize("day", [date(2020, 2, 1), date(2025, 2, 1), date(2024, 1, 20), date(2015, 2, 28)])
def test_weekend_full_sessions(calendar: NseCalendar, day: date) -> None:
    session = calendar.session(day)
    assert session is not None and session.special in ("budget", "weekend")
    assert (session.open.time(), session.close.time()) == (time(9, 15), time(15, 30))


def test_dr_session_has_two_windows(calendar: NseCalendar) -> None:
    session = calendar.session(date(2024, 3, 2))
    assert session is not None and session.special == "disaster_recovery"
    assert len(session.trading_intervals) == 2
    assert calendar.is_open(datetime(2024, 3, 2, 9, 30, tzinfo=IST))
    assert not calendar.is_open(datetime(2024, 3, 2, 10, 30, tzinfo=IST))
    assert calendar.is_open(datetime(2024, 3, 2, 12, 0, tzinfo=IST))


def test_replacement_holiday_2024_01_22(calendar: NseCalendar) -> None:
    assert not calendar.is_trading_day(date(2024, 1, 22))
    assert calendar.previous_trading_day(date(2024, 1, 22)) == date(2024, 1, 20)
    assert calendar.previous_trading_day(date(2024, 1, 22), include_special=False) == date(2024, 1, 19)


def test_clearing_holiday_is_a_trading_day(calendar: NseCalendar) -> None:
    assert calendar.is_clearing_holiday(date(2025, 2, 19))
    assert calendar.is_trading_day(date(2025, 2, 19))
    assert not calendar.is_clearing_holiday(date(2025, 2, 20))
    # A trade on 2025-02-18 settles T+1, but 2025-02-19 is a clearing holiday.
    assert calendar.settlement_day(date(2025, 2, 18)) == date(2025, 2, 20)
    assert calendar.settlement_day(date(2025, 2, 20)) == date(2025, 2, 21)
    # Muhurat trades settle on the next regular trading day.
    assert calendar.settlement_day(date(2024, 11, 1)) == date(2024, 11, 4)


def test_next_and_previous_around_a_long_weekend(calendar: NseCalendar) -> None:
    # Good Friday 2026-04-03, then the weekend.
    assert calendar.next_trading_day(date(2026, 4, 2)) == date(2026, 4, 6)
    assert calendar.previous_trading_day(date(2026, 4, 6)) == date(2026, 4, 2)


def test_next_trading_day_past_the_end_raises(calendar: NseCalendar) -> None:
    with pytest.raises(CalendarRangeError):
        calendar.next_trading_day(calendar.provisional_until - timedelta(days=2))  # Fri 2028-12-29


def test_every_special_session_is_well_formed(calendar: NseCalendar) -> None:
    specials = calendar.overrides.special_sessions
    assert len(specials) >= 19
    for spec in specials:
        session = calendar.session(spec.day)
        assert session is not None and session.special == spec.kind, spec.day
        assert session.pre_open <= session.open < session.close <= session.post_close, spec.day
        if spec.kind == "muhurat":
            assert session.post_close == session.close  # no post-close session after Muhurat


def test_next_open(calendar: NseCalendar) -> None:
    friday_evening = datetime(2026, 4, 2, 16, 0, tzinfo=IST)  # Good Friday follows
    assert calendar.next_open(friday_evening) == datetime(2026, 4, 6, 9, 15, tzinfo=IST)
    during = datetime(2026, 4, 6, 11, 0, tzinfo=IST)
    assert calendar.next_open(during) == datetime(2026, 4, 6, 9, 15, tzinfo=IST)
    between_dr_windows = datetime(2024, 3, 2, 10, 30, tzinfo=IST)
    assert calendar.next_open(between_dr_windows) == datetime(2024, 3, 2, 11, 30, tzinfo=IST)
    before_muhurat = datetime(2024, 11, 1, 9, 0, tzinfo=IST)
    assert calendar.next_open(before_muhurat) == datetime(2024, 11, 1, 18, 0, tzinfo=IST)
    with pytest.raises(CalendarRangeError):
        calendar.next_open(datetime(2028, 12, 29, 16, 0, tzinfo=IST))
