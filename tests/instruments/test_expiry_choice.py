"""Expiry choices against real NSE listings: the bundled bhavcopy (every traded expiry, Jan 2025, after
the BANKNIFTY/FINNIFTY weeklies ended) and the 1-minute archive that kept only the nearest expiry."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from optbot.calendar import get_calendar
from optbot.instruments.expiry_choice import (
    ExpiryUnavailable,
    NoWeeklyExpiries,
    choose_expiry,
    monthly_expiries,
)

STORE = Path(__file__).resolve().parents[2] / "data" / "sample" / "store" / "archive" / "options"


def listed(timeframe: str, underlying: str, day: date) -> set[date]:
    table = pq.read_table(
        STORE / f"tf={timeframe}" / f"underlying={underlying}" / f"date={day}" / "bars.parquet"
    )
    return set(pc.unique(table["expiry"]).to_pylist())


def rules_weekly(underlying: str, day: date) -> bool:
    return bool(get_calendar().expiries(underlying, day, day + timedelta(days=15), "weekly"))


def choose(choice: str, underlying: str, day: date, timeframe: str = "1d") -> date:
    return choose_expiry(
        choice, underlying, day, listed(timeframe, underlying, day), rules_weekly(underlying, day)
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 1, 6), ("2025-01-09", "2025-01-16", "2025-01-30", "2025-02-27")),
        (date(2025, 1, 9), ("2025-01-09", "2025-01-16", "2025-01-30", "2025-02-27")),  # expiry day: 0 DTE
        (date(2025, 1, 10), ("2025-01-16", "2025-01-23", "2025-01-30", "2025-02-27")),
    ],
)
def test_nifty_choices_on_real_bhavcopy_listings(day: date, expected: tuple[str, ...]) -> None:
    chosen = tuple(
        choose(choice, "NIFTY", day).isoformat()
        for choice in ("current_weekly", "next_weekly", "monthly", "next_monthly")
    )
    assert chosen == expected


@pytest.mark.parametrize("underlying", ["BANKNIFTY", "FINNIFTY"])
def test_a_weekly_leg_on_a_monthly_only_underlying_is_an_error_not_the_monthly(underlying: str) -> None:
    with pytest.raises(
        NoWeeklyExpiries, match=rf"{underlying} has no weekly expiries on 2025-01-06.*monthly"
    ):
        choose("current_weekly", underlying, date(2025, 1, 6))
    with pytest.raises(NoWeeklyExpiries):
        choose("next_weekly", underlying, date(2025, 1, 6))
    assert choose("monthly", underlying, date(2025, 1, 6)) == date(2025, 1, 30)


def test_the_listing_wins_over_the_rule_on_the_day_banknifty_moved_to_thursday() -> None:
    # On 2025-01-01 the January contract still expired on Wednesday the 29th; from the 2nd, Thursday.
    assert choose("monthly", "BANKNIFTY", date(2025, 1, 1)) == date(2025, 1, 29)
    assert choose("next_monthly", "BANKNIFTY", date(2025, 1, 1)) == date(2025, 2, 26)
    assert choose("monthly", "BANKNIFTY", date(2025, 1, 2)) == date(2025, 1, 30)


def test_monthly_is_the_last_listed_expiry_of_the_month() -> None:
    nifty = listed("1d", "NIFTY", date(2025, 1, 6))
    monthlies = monthly_expiries(nifty)
    assert monthlies[:2] == [date(2025, 1, 30), date(2025, 2, 27)]
    for monthly in monthlies:
        same_month = [e for e in nifty if (e.year, e.month) == (monthly.year, monthly.month)]
        assert monthly == max(same_month)


def test_a_partial_listing_never_passes_the_nearest_weekly_off_as_next_weekly_or_monthly() -> None:
    day = date(2022, 11, 1)  # the 1-minute archive kept only the nearest expiry (2022-11-03)
    assert choose("current_weekly", "NIFTY", day, "1m") == date(2022, 11, 3)
    with pytest.raises(ExpiryUnavailable, match="next_weekly.*listed: 2022-11-03"):
        choose("next_weekly", "NIFTY", day, "1m")
    with pytest.raises(ExpiryUnavailable, match="monthly"):
        choose("monthly", "NIFTY", day, "1m")


def test_finnifty_weekly_moved_to_monday_by_a_holiday_is_the_current_weekly() -> None:
    # 2022-11-08 (Tuesday) was a holiday: that week's FINNIFTY contract expired on Monday the 7th.
    assert choose("current_weekly", "FINNIFTY", date(2022, 11, 2), "1m") == date(2022, 11, 7)


def test_next_weekly_needs_the_following_week_listed() -> None:
    listing = {date(2026, 8, 11), date(2026, 8, 25), date(2026, 9, 29)}  # the 18th is missing
    with pytest.raises(ExpiryUnavailable, match="within 10 days after 2026-08-11"):
        choose_expiry("next_weekly", "NIFTY", date(2026, 8, 7), listing, True)
    listing.add(date(2026, 8, 18))
    assert choose_expiry("next_weekly", "NIFTY", date(2026, 8, 7), listing, True) == date(2026, 8, 18)
