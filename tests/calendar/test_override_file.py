"""Updated override files (calendar upkeep, spec §13.7) and malformed ones."""

from __future__ import annotations

import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from optbot.calendar import CalendarDataError, NseCalendar, load_calendar
from optbot.calendar.overrides import parse_overrides


def packaged() -> dict[str, Any]:
    text = resources.files("optbot.calendar").joinpath("data", "nse_overrides.toml").read_text("utf-8")
    return tomllib.loads(text)


def test_packaged_file_has_a_version_and_range() -> None:
    data = packaged()
    assert data["version"] and data["first_date"] <= data["last_date"]


def test_extended_file_covers_the_next_year(tmp_path: Path) -> None:
    data = packaged()
    data["version"] = "2027.01.1"
    data["last_date"] = date(2027, 12, 31)
    data["holidays"].append({"date": date(2027, 1, 26), "name": "Republic Day"})
    path = tmp_path / "nse_overrides.toml"
    path.write_bytes(tomli_w.dumps(data).encode())
    calendar = load_calendar(path)
    assert calendar is load_calendar(path)  # cached per path
    assert calendar.version == "2027.01.1" and calendar.last_date == date(2027, 12, 31)
    assert not calendar.is_trading_day(date(2027, 1, 26))
    assert calendar.is_trading_day(date(2027, 1, 25))
    assert calendar.next_trading_day(date(2026, 12, 31)) == date(2027, 1, 1)
    assert calendar.next_expiry("NIFTY", date(2027, 1, 1)) == date(2027, 1, 5)


def test_default_when_no_path() -> None:
    assert load_calendar(None).version == packaged()["version"]


def _broken(mutate: Any) -> str:
    data = packaged()
    mutate(data)
    with pytest.raises(CalendarDataError) as caught:
        NseCalendar(overrides=parse_overrides(data))
    return str(caught.value)


def test_missing_date_is_named() -> None:
    message = _broken(lambda data: data["holidays"][3].pop("date"))
    assert "holidays[3]" in message and "'date'" in message


def test_bad_time_is_named() -> None:
    message = _broken(lambda data: data["special_sessions"][0].update(intervals=[["9:75", "15:30"]]))
    assert "special_sessions[0].intervals" in message and "9:75" in message


def test_unordered_windows() -> None:
    message = _broken(lambda data: data["special_sessions"][0].update(intervals=[["12:00", "10:00"]]))
    assert "ordered" in message


def test_overlapping_expiry_rules() -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["expiry_rules"].append(
            {"underlying": "NIFTY", "kind": "weekly", "weekday": "friday", "from": date(2024, 1, 1)}
        )

    assert "overlaps another weekly rule for NIFTY" in _broken(mutate)


def test_weekend_expiry_weekday_refused() -> None:
    message = _broken(lambda data: data["expiry_rules"][0].update(weekday="sunday"))
    assert "expiry_rules[0].weekday" in message


def test_clearing_holiday_cannot_be_a_trading_holiday() -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["clearing_holidays"].append({"date": date(2025, 2, 26), "name": "x"})

    assert "2025-02-26" in _broken(mutate)


def test_unknown_segment() -> None:
    message = _broken(lambda data: data["holidays"][0].update(segments=["commodity"]))
    assert "holidays[0].segments" in message


def test_session_regime_order() -> None:
    message = _broken(lambda data: data["regular_sessions"][0].update(close="09:00"))
    assert "regular_sessions[0]" in message


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(CalendarDataError, match="not found"):
        load_calendar(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("version = ")
    with pytest.raises(CalendarDataError, match="not valid TOML"):
        load_calendar(bad)
