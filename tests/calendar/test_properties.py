from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.calendar import Segment, get_calendar

CAL = get_calendar()
days = st.dates(min_value=CAL.first_date + timedelta(days=10), max_value=CAL.last_date - timedelta(days=10))
segments = st.sampled_from(list(Segment))


@settings(max_examples=200, deadline=None)
@given(start=days, span=st.integers(min_value=0, max_value=400), segment=segments)
def test_trading_days_sorted_unique_and_trading(start: date, span: int, segment: Segment) -> None:
    end = min(start + timedelta(days=span), CAL.last_date)
    found = CAL.trading_days(start, end, segment)
    assert found == sorted(set(found))
    assert all(start <= day <= end and CAL.is_trading_day(day, segment) for day in found)
    every_day = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    assert [day for day in every_day if CAL.is_trading_day(day, segment)] == found


@settings(max_examples=300, deadline=None)
@given(day=days, segment=segments, include_special=st.booleans())
def test_next_and_previous_are_inverse(day: date, segment: Segment, include_special: bool) -> None:
    following = CAL.next_trading_day(day, segment, include_special)
    preceding = CAL.previous_trading_day(day, segment, include_special)
    assert preceding < day < following
    assert CAL.previous_trading_day(following, segment, include_special) <= day
    assert CAL.next_trading_day(preceding, segment, include_special) >= day
    if CAL.is_trading_day(day, segment, include_special):
        assert CAL.previous_trading_day(following, segment, include_special) == day
        assert CAL.next_trading_day(preceding, segment, include_special) == day


@settings(max_examples=100, deadline=None)
@given(day=days)
def test_session_times_are_ordered(day: date) -> None:
    session = CAL.session(day)
    if session is not None:
        assert session.pre_open <= session.open < session.close <= session.post_close
        assert session.trading_intervals[0][0] == session.open
        assert session.trading_intervals[-1][1] == session.close


@settings(max_examples=100, deadline=None)
@given(day=st.dates(min_value=date(2019, 3, 1), max_value=date(2026, 11, 30)))
def test_next_weekly_expiry_is_a_regular_trading_day_within_a_week(day: date) -> None:
    found = CAL.next_expiry("NIFTY", day, "weekly")
    assert found is not None and day <= found <= day + timedelta(days=7)
    assert CAL.is_trading_day(found, include_special=False)


underlyings = st.sampled_from(["NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "SENSEX", "STOCK"])


@settings(max_examples=60, deadline=None)
@given(underlying=underlyings, start=days, span=st.integers(min_value=0, max_value=200))
def test_all_is_the_union_and_weeklies_are_one_per_week(underlying: str, start: date, span: int) -> None:
    end = min(start + timedelta(days=span), CAL.last_date)
    weekly = CAL.expiries(underlying, start, end, "weekly")
    monthly = CAL.expiries(underlying, start, end, "monthly")
    everything = CAL.expiries(underlying, start, end, "all")
    assert everything == sorted(set(weekly) | set(monthly))
    # One per week, though a holiday-shifted Monday expiry can land in the previous ISO week.
    assert len(weekly) == len(set(weekly)) <= (end - start).days // 7 + 2
    assert len({(day.year, day.month) for day in monthly}) == len(monthly)
    assert all(CAL.is_trading_day(day, include_special=False) for day in everything)
