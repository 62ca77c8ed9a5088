from __future__ import annotations

from datetime import date, timedelta

import pytest

from optbot.calendar import NseCalendar, UnknownUnderlyingError, get_calendar


@pytest.fixture(scope="module")
def calendar() -> NseCalendar:
    return get_calendar()


def test_nifty_weekly_thursday_2024(calendar: NseCalendar) -> None:
    weekly = calendar.expiries("NIFTY", date(2024, 5, 1), date(2024, 5, 31), "weekly")
    assert weekly == [
        date(2024, 5, 2),
        date(2024, 5, 9),
        date(2024, 5, 16),
        date(2024, 5, 23),
        date(2024, 5, 30),
    ]
    assert calendar.next_expiry("NIFTY", date(2024, 5, 21)) == date(2024, 5, 23)
    assert calendar.expiries("NIFTY", date(2024, 5, 1), date(2024, 5, 31), "monthly") == [date(2024, 5, 30)]


def test_nifty_weekly_tuesday_from_september_2025(calendar: NseCalendar) -> None:
    assert calendar.next_expiry("NIFTY", date(2026, 8, 7)) == date(2026, 8, 11)
    assert date(2026, 8, 11).weekday() == 1
    switch = calendar.expiries("NIFTY", date(2025, 8, 18), date(2025, 9, 10), "weekly")
    assert switch == [date(2025, 8, 21), date(2025, 8, 28), date(2025, 9, 2), date(2025, 9, 9)]
    assert calendar.expiries("NIFTY", date(2025, 9, 1), date(2025, 9, 30), "monthly") == [date(2025, 9, 30)]


@pytest.mark.parametrize(
    ("underlying", "nominal", "shifted"),
    [
        ("NIFTY", date(2024, 4, 11), date(2024, 4, 10)),  # Id-ul-Fitr Thursday
        ("NIFTY", date(2021, 11, 4), date(2021, 11, 3)),  # Diwali (Muhurat only) Thursday
        ("NIFTY", date(2025, 10, 21), date(2025, 10, 20)),  # Diwali Tuesday
        ("NIFTY", date(2026, 3, 3), date(2026, 3, 2)),  # Holi Tuesday
        ("NIFTY", date(2026, 3, 31), date(2026, 3, 30)),  # monthly on Mahavir Jayanti
        ("BANKNIFTY", date(2024, 12, 25), date(2024, 12, 24)),  # monthly Wednesday on Christmas
        ("MIDCPNIFTY", date(2023, 5, 1), date(2023, 4, 28)),  # Monday weekly on Maharashtra Day
    ],
)
def test_expiry_on_a_holiday_moves_to_the_previous_trading_day(
    calendar: NseCalendar, underlying: str, nominal: date, shifted: date
) -> None:
    found = calendar.expiries(underlying, nominal - timedelta(days=10), nominal, "all")
    assert nominal not in found
    assert shifted in found


def test_bank_fin_midcap_weeklies_end_in_november_2024(calendar: NseCalendar) -> None:
    for underlying, last_weekly in (
        ("BANKNIFTY", date(2024, 11, 13)),
        ("FINNIFTY", date(2024, 11, 19)),
        ("MIDCPNIFTY", date(2024, 11, 18)),
    ):
        weekly = calendar.expiries(underlying, date(2024, 11, 1), date(2025, 3, 31), "weekly")
        assert weekly[-1] == last_weekly, underlying
        assert calendar.next_expiry(underlying, date(2024, 11, 21), "weekly") is None
        monthly_2025 = calendar.expiries(underlying, date(2025, 1, 1), date(2025, 12, 31), "monthly")
        assert len(monthly_2025) == 12
        late = [day for day in monthly_2025 if day >= date(2025, 9, 1)]
        assert all(day.weekday() == 1 or not calendar.is_trading_day(day + timedelta(days=1)) for day in late)


def test_banknifty_weekly_wednesday_from_september_2023(calendar: NseCalendar) -> None:
    weekly = calendar.expiries("BANKNIFTY", date(2023, 8, 21), date(2023, 9, 15), "weekly")
    assert weekly == [date(2023, 8, 24), date(2023, 8, 31), date(2023, 9, 6), date(2023, 9, 13)]


def test_stock_options_are_monthly_only(calendar: NseCalendar) -> None:
    assert calendar.expiries("STOCK", date(2024, 1, 1), date(2024, 3, 31), "weekly") == []
    assert calendar.expiries("stock", date(2024, 1, 1), date(2024, 3, 31)) == [
        date(2024, 1, 25),
        date(2024, 2, 29),
        date(2024, 3, 28),
    ]


def test_monthly_is_a_subset_of_all(calendar: NseCalendar) -> None:
    start, end = date(2019, 1, 1), date(2026, 12, 31)
    monthly = set(calendar.expiries("NIFTY", start, end, "monthly"))
    everything = set(calendar.expiries("NIFTY", start, end, "all"))
    assert monthly <= everything
    assert all(calendar.is_trading_day(day, include_special=False) for day in everything)


def test_unknown_underlying(calendar: NseCalendar) -> None:
    with pytest.raises(UnknownUnderlyingError, match="NIFTI"):
        calendar.expiries("NIFTI", date(2024, 1, 1), date(2024, 2, 1))
