"""Spec §11.2 session profile: POC, value area and initial balance from one session's 1-minute bars.

Hand numbers, tick 1. The bars merge into four 30-minute TPO periods: A 100-104 (two bars), B 102-106,
C 103-105, D 103-104. TPOs per price: 100:1 101:1 102:2 103:4 104:4 105:2 106:1 (15 in all). The POC
is 103 (of the two fours, the one nearest the middle); the 70 % value area (10.5 TPOs) grows 103 ->
104 (4 vs 2) -> 105 (2 vs 2, above wins the tie) -> 102 (1 vs 2): 102-105 holds 12. The initial
balance of two periods is A and B: 100-106.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from optbot.analytics.session_profile import SessionProfile, session_profile, tpo_periods
from optbot.core.events import Bar
from optbot.core.timeutil import IST
from optbot.test_kit.data import make_range_bar

OPEN = datetime(2026, 8, 7, 9, 15, tzinfo=IST)

#: (minutes after the open, low, high, volume)
SHAPE = [(0, 100.0, 102.0, 100), (5, 101.0, 104.0, 300), (30, 102.0, 106.0, 400), (60, 103.0, 105.0, 200)]
SHAPE += [(90, 103.0, 104.0, 0)]


def profile_of(
    bars: list[Bar], *, bins: int = 6, value_area_fraction: float = 0.70, initial_balance_periods: int = 2
) -> SessionProfile:
    """The profile at tick 1 with six bins, a 70 % value area and a two-period initial balance."""
    return session_profile(
        bars,
        tick=1.0,
        bins=bins,
        value_area_fraction=value_area_fraction,
        initial_balance_periods=initial_balance_periods,
    )


def minute_bar(minutes: int, low: float, high: float, volume: int = 0) -> Bar:
    return make_range_bar(OPEN + timedelta(minutes=minutes), low, high, volume)


def index_bars() -> list[Bar]:
    """The shape with no volume, as an index's bars come."""
    return [minute_bar(minutes, low, high) for minutes, low, high, _ in SHAPE]


def traded_bars() -> list[Bar]:
    return [minute_bar(minutes, low, high, volume) for minutes, low, high, volume in SHAPE]


def levels(profile: SessionProfile) -> tuple[float | None, ...]:
    return (
        profile.point_of_control,
        profile.value_area_low,
        profile.value_area_high,
        profile.initial_balance_low,
        profile.initial_balance_high,
    )


def test_tpo_periods_merge_the_minutes_of_each_half_hour() -> None:
    periods = tpo_periods(index_bars())
    assert [(period.low, period.high) for period in periods] == [
        (100.0, 104.0),
        (102.0, 106.0),
        (103.0, 105.0),
        (103.0, 104.0),
    ]


def test_index_bars_give_the_tpo_profile_by_hand() -> None:
    profile = profile_of(index_bars())
    assert levels(profile) == (103.0, 102.0, 105.0, 100.0, 106.0)
    assert profile.basis == "TPO"
    assert profile.as_row() == {
        "profile_poc": 103.0,
        "profile_vah": 105.0,
        "profile_val": 102.0,
        "initial_balance_high": 106.0,
        "initial_balance_low": 100.0,
        "profile_basis": "TPO",
    }


def test_value_area_fraction_changes_the_value_area() -> None:
    # half of 15 TPOs is 7.5: 103 and 104 (4 + 4) already hold it
    profile = profile_of(index_bars(), value_area_fraction=0.5)
    assert levels(profile) == (103.0, 103.0, 104.0, 100.0, 106.0)


def test_initial_balance_periods_changes_the_initial_balance() -> None:
    one = profile_of(index_bars(), initial_balance_periods=1)
    three = profile_of(index_bars(), initial_balance_periods=3)
    assert (one.initial_balance_low, one.initial_balance_high) == (100.0, 104.0)  # period A alone
    assert (three.initial_balance_low, three.initial_balance_high) == (100.0, 106.0)
    assert one.point_of_control == three.point_of_control == 103.0


def test_bar_volume_gives_the_volume_profile_by_hand() -> None:
    """Six 1-point bins over 100-106, each bar's volume spread evenly over its range: 50 150 200 300
    200 100 (1,000). POC bin 103-104 (centre 103.5); 70 % = 700: 300 + 200 above (tie) + 200 below."""
    profile = profile_of(traded_bars())
    assert profile.basis == "volume"
    assert levels(profile) == pytest.approx((103.5, 102.0, 105.0, 100.0, 106.0))


def test_volume_profile_bins_changes_the_point_of_control() -> None:
    """Three 2-point bins: 100-102 gets 100 + 300/3 = 200, 102-104 500, 104-106 300; the POC is the
    centre of 102-104 and the value area 102-106 (500 + 300)."""
    profile = profile_of(traded_bars(), bins=3)
    assert levels(profile) == pytest.approx((103.0, 102.0, 106.0, 100.0, 106.0))


def test_value_area_fraction_reaches_the_volume_profile() -> None:
    profile = profile_of(traded_bars(), value_area_fraction=0.3)
    assert (profile.value_area_low, profile.value_area_high) == pytest.approx((103.0, 104.0))


def test_no_bar_and_interpolated_bars_are_unknown() -> None:
    assert profile_of([]) == SessionProfile()
    filled = replace(minute_bar(120, 90.0, 90.0), interpolated=True)
    assert levels(profile_of([filled])) == (None,) * 5
    # an interpolated bar far away does not move the levels of the traded ones
    with_gap = [*index_bars(), filled]
    assert levels(profile_of(with_gap)) == levels(profile_of(index_bars()))
