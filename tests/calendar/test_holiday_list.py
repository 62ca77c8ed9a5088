"""NSE's holiday list: what is accepted, what is refused (one line naming the problem)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from optbot.calendar import NseCalendar, Segment, get_calendar
from optbot.calendar.holiday_list import (
    HolidayListError,
    ListLimits,
    parse_nse_holidays,
    read_synced,
    read_synced_dir,
    render_synced,
    synced_file_name,
)
from optbot.calendar.overrides import parse_overrides
from optbot.test_kit.calendar import packaged_overrides_data
from optbot.test_kit.nse_holidays import (
    FIXTURE_2027,
    FIXTURE_2027_WEEKEND,
    nse_payload,
    nse_row,
    packaged_2026,
)

LIMITS = ListLimits(8, 25)
TODAY = date(2026, 12, 6)


def parse(payload: object):
    return parse_nse_holidays(payload, source="fixture", fetched_on=TODAY, limits=LIMITS, latest_year=2027)


def test_fixture_days_are_what_they_claim() -> None:
    assert all(day.weekday() < 5 for day in FIXTURE_2027)
    assert all(day.weekday() >= 5 for day in FIXTURE_2027_WEEKEND)


def test_a_good_list_parses_with_weekend_rows_dropped() -> None:
    synced = parse(nse_payload())
    assert synced.years == (2026, 2027)
    assert synced.weekend_rows_dropped == 2 * len(FIXTURE_2027_WEEKEND)  # CM and FO
    assert synced.days(Segment.FO) == set(packaged_2026()) | set(FIXTURE_2027)
    assert synced.days(Segment.EQUITY) == synced.days(Segment.FO)


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ([], "expected a JSON object by segment"),
        ({"FO": []}, "segment 'CM' is missing or empty"),
        ({"CM": [], "FO": []}, "segment 'CM' is missing or empty"),
        ({"CM": "x", "FO": [1]}, "segment 'CM' is missing or empty"),
        ({"CM": [1], "FO": [1]}, r"CM\[0\]: expected an object"),
        ({"CM": [{"tradingDate": "2027-01-26", "weekDay": "Tuesday"}], "FO": []}, "not DD-Mon-YYYY"),
        ({"CM": [{"tradingDate": "26-Jan-2027", "weekDay": "Monday"}], "FO": []}, "is a Tuesday"),
        ({"CM": [{"tradingDate": "26-Jan-2027"}], "FO": []}, "needs string tradingDate and weekDay"),
    ],
)
def test_malformed_rows_are_refused_naming_the_row(payload: object, needle: str) -> None:
    with pytest.raises(HolidayListError, match=needle):
        parse(payload)


def test_a_partial_year_is_refused() -> None:
    few = dict(list(FIXTURE_2027.items())[:3])
    with pytest.raises(HolidayListError, match="3 equity weekday holidays in 2027, expected 8-25"):
        parse(nse_payload({**packaged_2026(), **few}))


def test_only_weekend_rows_is_refused() -> None:
    rows = [nse_row(day, name, 1) for day, name in FIXTURE_2027_WEEKEND.items()]
    with pytest.raises(HolidayListError, match="no weekday holiday"):
        parse({"CM": rows, "FO": rows})


def test_a_list_from_the_far_future_is_refused() -> None:
    far = {day.replace(year=2031): name for day, name in FIXTURE_2027.items()}
    with pytest.raises(HolidayListError, match="later than 2027"):
        parse(nse_payload(far))


def test_the_stored_form_round_trips(tmp_path: Path) -> None:
    synced = parse(nse_payload())
    path = tmp_path / synced_file_name(TODAY)
    path.write_text(render_synced(synced), encoding="utf-8")
    assert read_synced(path) == synced


def test_a_damaged_newest_copy_falls_back_to_the_previous(tmp_path: Path) -> None:
    synced = parse(nse_payload())
    (tmp_path / synced_file_name(date(2026, 12, 5))).write_text(render_synced(synced), encoding="utf-8")
    (tmp_path / synced_file_name(TODAY)).write_text("years = [", encoding="utf-8")
    assert read_synced_dir(tmp_path) == synced
    assert read_synced_dir(tmp_path / "absent") is None


def test_synced_years_extend_the_known_range_and_win_over_the_packaged_list() -> None:
    synced = parse(nse_payload())
    calendar = NseCalendar(synced=synced)
    assert calendar.last_date == date(2027, 12, 31)
    assert calendar.provisional_until == date(2029, 12, 31)
    assert not calendar.is_provisional(date(2027, 1, 26))
    assert not calendar.is_trading_day(date(2027, 1, 26))
    assert calendar.holiday_name(date(2027, 1, 26)) == "Republic Day"
    assert calendar.is_provisional(date(2028, 1, 27)) and calendar.is_trading_day(date(2028, 1, 27))
    assert calendar.is_provisional(date(2028, 1, 26)) and not calendar.is_trading_day(date(2028, 1, 26))
    assert calendar.holiday_name(date(2028, 1, 26)).startswith("Republic Day (fixed-date holiday")
    # A synced year replaces the year's holidays: one dropped from the list is a trading day again.
    without = {day: name for day, name in packaged_2026().items() if day != date(2026, 12, 25)}
    replaced = NseCalendar(synced=parse(nse_payload({**without, **FIXTURE_2027})))
    assert replaced.is_trading_day(date(2026, 12, 25))
    assert get_calendar().is_holiday(date(2026, 12, 25))


def test_an_operators_override_file_wins_for_the_years_it_covers() -> None:
    data = packaged_overrides_data()
    data["last_date"] = date(2027, 3, 31)
    data["holidays"].append({"date": date(2027, 1, 27), "name": "operator's own"})
    overrides = parse_overrides(data)
    calendar = NseCalendar(
        overrides=overrides, synced=parse(nse_payload()), synced_overrides_user_years=False
    )
    assert calendar.is_holiday(date(2027, 1, 27)) and not calendar.is_holiday(date(2027, 1, 26))
    assert calendar.synced_years == frozenset()  # 2027 starts inside the operator's file: theirs
    assert calendar.last_date == date(2027, 3, 31)
