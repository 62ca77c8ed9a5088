"""The calendar against real NSE daily and 15-minute data in data/sample."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pytest

from optbot.calendar import NseCalendar, Segment, get_calendar

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"

#: Weekdays absent from the "gap-free" merged series although NSE traded normally: no holiday was
#: declared on these days (June 2021 had none; 2021-09-08 was an ordinary Wednesday). They are gaps
#: in the upstream data, not holidays, and the calendar must keep them as trading days.
KNOWN_DATA_GAPS = {
    "nifty50_daily_merged_2016-09-15_to_2025-09-10.csv": {
        date(2021, 6, 22),
        date(2021, 6, 23),
        date(2021, 9, 8),
    },
    "banknifty_daily_merged_2016-09-15_to_2025-09-10.csv": {date(2021, 6, 22), date(2021, 6, 23)},
}


def _dates(path: Path) -> set[date]:
    found: set[date] = set()
    with path.open(newline="") as handle:
        for row in csv.reader(handle):
            if row and row[0][:4].isdigit():
                found.add(date.fromisoformat(row[0][:10]))
    return found


def _daily_files() -> list[Path]:
    daily = SAMPLE / "daily"
    files = sorted(set(daily.glob("*.csv")))
    return files + sorted((SAMPLE / "intraday").glob("*.csv"))


@pytest.fixture(scope="module")
def calendar() -> NseCalendar:
    return get_calendar()


@pytest.mark.parametrize("path", _daily_files(), ids=lambda path: path.name)
def test_every_session_in_the_data_is_a_trading_day(calendar: NseCalendar, path: Path) -> None:
    dates = _dates(path)
    assert len(dates) >= 5
    not_trading = sorted(day for day in dates if not calendar.is_trading_day(day, Segment.EQUITY))
    assert not_trading == []


@pytest.mark.parametrize("name", sorted(KNOWN_DATA_GAPS))
def test_every_weekday_missing_from_the_merged_series_is_a_holiday(calendar: NseCalendar, name: str) -> None:
    dates = _dates(SAMPLE / "daily" / name)
    missing: list[date] = []
    day = min(dates)
    while day <= max(dates):
        if day.weekday() < 5 and day not in dates and day not in KNOWN_DATA_GAPS[name]:
            missing.append(day)
        day += timedelta(days=1)
    assert len(missing) > 100
    wrongly_trading = [
        day for day in missing if calendar.is_trading_day(day, Segment.EQUITY, include_special=False)
    ]
    assert wrongly_trading == []
    # ...and every regular trading day in the range is in the series (the calendar has no extra holidays).
    regular = calendar.trading_days(min(dates), max(dates), Segment.EQUITY, include_special=False)
    assert sorted(set(regular) - dates) == sorted(KNOWN_DATA_GAPS[name])


def test_weekend_and_holiday_rows_are_special_sessions(calendar: NseCalendar) -> None:
    dates = _dates(SAMPLE / "intraday" / "nifty50_15min_2015-01-09_to_2024-12-31.csv")
    unusual = [day for day in dates if day.weekday() >= 5 or calendar.is_holiday(day)]
    assert len(unusual) >= 15
    for day in unusual:
        session = calendar.session(day)
        assert session is not None and session.special is not None, day


def test_muhurat_bars_fall_inside_the_special_session(calendar: NseCalendar) -> None:
    """The 15-minute bars of the Muhurat sessions start inside the calendar's windows."""
    from datetime import datetime

    from optbot.core.timeutil import IST

    path = SAMPLE / "intraday" / "nifty50_15min_2015-01-09_to_2024-12-31.csv"
    checked = 0
    with path.open(newline="") as handle:
        for row in csv.reader(handle):
            if not row or not row[0][:4].isdigit():
                continue
            stamp = datetime.fromisoformat(row[0]).replace(tzinfo=IST)
            session = calendar.session(stamp.date())
            if session is not None and session.special == "muhurat" and stamp.year >= 2016:
                assert calendar.is_open(stamp), stamp
                checked += 1
    assert checked >= 30


#: Ordinary trading days missing from the 15-minute file before the daily series starts (2016-09-15);
#: the file is documented as having gaps and malformed days.
FIFTEEN_MINUTE_GAPS_2015_2016 = {
    date(2015, 1, 16),
    date(2015, 5, 19),
    date(2015, 8, 28),
    date(2015, 12, 7),
    date(2016, 3, 17),
}


def test_2015_2016_holidays_match_the_15_minute_series(calendar: NseCalendar) -> None:
    """Before the daily series starts, the 15-minute file pins the holiday set down."""
    dates = _dates(SAMPLE / "intraday" / "nifty50_15min_2015-01-09_to_2024-12-31.csv")
    start, end = date(2015, 1, 9), date(2016, 9, 14)
    missing = set()
    day = start
    while day <= end:
        if day.weekday() < 5 and day not in dates:
            missing.add(day)
        day += timedelta(days=1)
    holidays = set(calendar.holidays(start, end, Segment.EQUITY))
    muhurat_only = {day for day in holidays if day in dates}
    assert muhurat_only == {date(2015, 11, 11)}
    assert missing - holidays == FIFTEEN_MINUTE_GAPS_2015_2016
    assert holidays - muhurat_only <= missing


def test_option_files_expire_on_the_calendars_next_weekly(calendar: NseCalendar) -> None:
    """The real option data's expiry is the calendar's next NIFTY weekly from its trade date."""
    from datetime import datetime as _datetime

    eod = SAMPLE / "options" / "nifty_options_eod_2024-05-21_exp_2024-05-23.csv"
    with eod.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    pairs = {(date.fromisoformat(row["date"]), date.fromisoformat(row["expiry"])) for row in rows}
    snapshot = SAMPLE / "options" / "nifty_option_chain_snapshot_2026-08-07_close_exp_2026-08-11.csv"
    with snapshot.open(newline="") as handle:
        expiries = {_datetime.strptime(row["expiry"], "%d-%b-%Y").date() for row in csv.DictReader(handle)}
    pairs |= {(date(2026, 8, 7), expiry) for expiry in expiries}
    assert len(pairs) == 2
    for trade_day, expiry in pairs:
        assert calendar.is_trading_day(trade_day)
        assert calendar.next_expiry("NIFTY", trade_day, "weekly") == expiry
