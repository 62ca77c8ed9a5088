from __future__ import annotations

from datetime import date, datetime, time

import pytest

from optbot.calendar import get_calendar
from optbot.config.sections.session import SessionSettings
from optbot.core.timeutil import IST
from optbot.engine.schedule import Phase, build_schedule


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=IST)


def test_deadlines_follow_the_f_and_o_close_change() -> None:
    settings = SessionSettings()
    before = build_schedule(get_calendar(), date(2026, 7, 31), settings)
    after = build_schedule(get_calendar(), date(2026, 8, 7), settings)
    assert before.cancel_pending_at == at(date(2026, 7, 31), 15, 25)
    assert before.flatten_at == at(date(2026, 7, 31), 15, 0)
    assert after.cancel_pending_at == at(date(2026, 8, 7), 15, 35)
    assert after.flatten_at == at(date(2026, 8, 7), 15, 10)


def test_phases_through_a_day() -> None:
    day = date(2026, 8, 7)
    schedule = build_schedule(get_calendar(), day, SessionSettings(no_entry_after_open_minutes=15))
    expected = {
        (8, 0): Phase.BEFORE_PREMARKET,
        (9, 5): Phase.PREMARKET,
        (9, 20): Phase.OPENING,
        (10, 30): Phase.TRADING,
        (14, 56): Phase.NO_NEW_ENTRIES,
        (15, 20): Phase.FLATTENING,
        (15, 45): Phase.CLOSED,
        (16, 30): Phase.AFTER_HOURS,
    }
    for (hour, minute), phase in expected.items():
        assert schedule.phase_at(at(day, hour, minute)) is phase, (hour, minute)
    names = [name for _, name in schedule.deadlines()]
    assert names == [
        "premarket",
        "open",
        "entries_from",
        "no_new_entries",
        "flatten",
        "cancel_pending",
        "close",
        "post_market_end",
    ]


def test_holiday_is_a_non_trading_day() -> None:
    schedule = build_schedule(get_calendar(), date(2026, 8, 8), SessionSettings())  # a Saturday
    assert not schedule.is_trading_day
    assert schedule.phase_at(at(date(2026, 8, 8), 10, 0)) is Phase.NON_TRADING_DAY
    assert schedule.deadlines() == []


@pytest.mark.parametrize("minutes", [0.0, 30.0, 500.0])
def test_buffers_never_cross_the_open(minutes: float) -> None:
    settings = SessionSettings(
        flatten_before_close_minutes=minutes, no_new_entries_before_close_minutes=minutes
    )
    schedule = build_schedule(get_calendar(), date(2026, 8, 7), settings)
    assert schedule.session is not None
    assert schedule.session.open <= schedule.flatten_at <= schedule.session.close  # type: ignore[operator]
