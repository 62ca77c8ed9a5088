"""The model's per-day inputs (a time plan per day and expiry, an expiry's ATM level per day and VIX)
give the floats the straightforward per-instant computation gives, whatever order instants come in.

A held contract is valued at every bar, so the calendar and the vol level are read once per day and
each instant is a few float operations; these tests compare with the computation written out in full
(the time to expiry, the ATM vol from the public `atm_vol`, the smile through all its scaled knots)
and with a fresh model for each value (no cache), exactly: a backtest's fills are fingerprinted."""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import replace
from datetime import date, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from optbot.analytics.pricing import black76_value
from optbot.analytics.synthetic import (
    MIN_VALUE,
    SECONDS_PER_CALENDAR_YEAR,
    DailyCloseReturns,
    SyntheticOptionModel,
    TimeToExpiry,
    VarianceTime,
)
from optbot.analytics.synthetic_params import MIN_SMILE_RATIO, SmileParams
from optbot.calendar import get_calendar
from optbot.core.timeutil import IST
from tests.analytics.test_synthetic import SMILE, params

START = datetime(2025, 1, 6, 0, 0, tzinfo=IST)  # a Monday; the calendar has a holiday-free month


def _full_time(time: VarianceTime, at_utc: datetime, expiry: date) -> TimeToExpiry:
    """Time to expiry, every term worked out at the instant from the calendar."""
    day = at_utc.astimezone(IST).date()
    if day > expiry:
        return TimeToExpiry(0.0, 0.0, 0.0, 0.0, 0, 0, 0)
    later = time._sessions_between(day + timedelta(days=1), expiry) if expiry > day else 0
    closed = (expiry - day).days - later
    calendar_years = (
        max((time.expiry_close(expiry) - at_utc).total_seconds(), 0.0) / SECONDS_PER_CALENDAR_YEAR
    )
    today, night_before_today = 0.0, 0
    bounds = time.session_bounds(day)
    if bounds is not None:
        open_, close = bounds
        length = (close - open_).total_seconds()
        today = min(max((close - max(at_utc, open_)).total_seconds() / length, 0.0), 1.0)
        night_before_today = 1 if at_utc < open_ else 0
    nights = later + night_before_today
    weights = time.params
    sessions = today + later + weights.overnight_weight * nights + weights.closed_day_weight * closed
    return TimeToExpiry(
        sessions, sessions / weights.sessions_per_year, calendar_years, today, later, nights, closed
    )


def _full_ratio(smile: SmileParams, moneyness: float, sessions: float, lift: float) -> float:
    """The smile ratio through every scaled knot (`_scaled_knots`) and a bisection over all of them."""
    xs, ys = smile._scaled_knots(*smile.term_scales(sessions))
    if moneyness <= xs[0]:
        ratio = ys[0]
    elif moneyness >= xs[-1]:
        ratio = ys[-1]
    else:
        upper = bisect_right(xs, moneyness)
        slope = (ys[upper] - ys[upper - 1]) / (xs[upper] - xs[upper - 1])
        ratio = slope * (moneyness - xs[upper - 1]) + ys[upper - 1]
    if lift and moneyness > 0.0:
        ratio += lift * min(moneyness, 1.0)
    return max(ratio, MIN_SMILE_RATIO)


def _full_value(
    model: SyntheticOptionModel,
    spot: float,
    vix: float,
    at_utc: datetime,
    expiry: date,
    strike: float,
    call: bool,
) -> tuple[float, float, float]:
    """(value, moneyness, calendar years) with every input worked out at the instant."""
    timing = _full_time(model.time, at_utc, expiry)
    body = model.underlying("NIFTY")
    day = at_utc.astimezone(IST).date()
    atm = model.atm_vol("NIFTY", vix, timing.sessions, day)
    lift = body.smile.call_lift(model.recent_return("NIFTY", day))
    forward = spot * math.exp(body.carry * timing.calendar_years)
    scale = max(atm * math.sqrt(max(timing.variance_years, 1e-12)), 1e-9)
    moneyness = math.log(strike / forward) / scale
    iv = atm * _full_ratio(body.smile, moneyness, timing.sessions, lift)
    to_calendar = (
        math.sqrt(timing.variance_years / timing.calendar_years)
        if timing.calendar_years > 0.0 and timing.variance_years > 0.0
        else 0.0
    )
    value = black76_value(forward, strike, timing.calendar_years, iv * to_calendar, 0.065, call)
    return max(value, MIN_VALUE), moneyness, timing.calendar_years


def _sensitive_model() -> SyntheticOptionModel:
    """A calibration whose ATM vol and call side respond to the last week's return, over daily closes."""
    base = params()
    nifty = base.underlyings["NIFTY"]
    nifty = replace(
        nifty,
        levels=tuple(replace(level, return_sensitivity=2.5, term_slope=-0.1) for level in nifty.levels),
        smile=replace(SMILE, call_lift_per_return=1.5),
    )
    chosen = SyntheticOptionModel(
        replace(base, underlyings={**base.underlyings, "NIFTY": nifty}), get_calendar()
    )
    days = [date(2024, 12, 1) + timedelta(days=offset) for offset in range(80)]
    chosen.use_recent_returns(
        DailyCloseReturns({"NIFTY": {d: 23000.0 + 300 * math.sin(i / 3) for i, d in enumerate(days)}})
    )
    return chosen


instants = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=20 * 24 * 60),  # minutes from START (pre-open, nights, weekends)
        st.integers(min_value=0, max_value=25),  # expiry: days after START's Monday
        st.sampled_from([12.5, 14.0, 21.75]),  # INDIA VIX
        st.floats(min_value=0.8, max_value=1.2),  # strike / spot
    ),
    min_size=1,
    max_size=40,
)


@given(instants)
@example([(0, 3, 14.0, 1.0), (555, 3, 14.0, 1.0), (556, 3, 14.0, 1.0), (4 * 1440 + 930, 3, 14.0, 1.0)])
def test_cached_day_inputs_value_a_contract_as_the_full_computation_does(
    steps: list[tuple[int, int, float, float]],
) -> None:
    cached = _sensitive_model()
    for minutes, expiry_days, vix, moneyness in steps:
        at = START + timedelta(minutes=minutes)
        expiry = START.date() + timedelta(days=expiry_days)
        spot, call = 23400.0, minutes % 2 == 0
        strike = round(spot * moneyness / 50) * 50.0
        expected = _full_value(_sensitive_model(), spot, vix, at, expiry, strike, call)
        assert cached.value_moneyness_years("NIFTY", spot, vix, at, expiry, strike, call) == expected
        assert cached.time.to_expiry(at, expiry) == _full_time(cached.time, at, expiry)
        full = cached.value_contract("NIFTY", spot, vix, at, expiry, strike, call)
        assert (full.value, full.moneyness, full.time.calendar_years) == expected


@given(
    z=st.floats(min_value=-2000.0, max_value=2000.0),
    sessions=st.floats(min_value=0.0, max_value=500.0),
    lift=st.sampled_from([0.0, 0.05, -0.03]),
)
@example(z=-1000.0, sessions=5.0, lift=0.0)
@example(z=1000.0, sessions=5.0, lift=0.05)
@example(z=-3.0, sessions=5.0, lift=0.0)
@example(z=3.0, sessions=5.0, lift=0.0)
def test_smile_ratio_from_the_two_knots_around_is_the_ratio_through_all_knots(
    z: float, sessions: float, lift: float
) -> None:
    for smile in (SMILE, replace(SMILE, values=(0.1, 1.1, 1.0, 0.95, 1.3)), SmileParams.flat()):
        assert smile.ratio_at(z, sessions, lift) == _full_ratio(smile, z, sessions, lift)


def test_new_recent_returns_are_read_by_a_model_that_cached_the_day() -> None:
    chosen = _sensitive_model()
    at, expiry = START + timedelta(minutes=600), START.date() + timedelta(days=3)
    before = chosen.value_moneyness_years("NIFTY", 23400.0, 14.0, at, expiry, 23500.0, True)
    days = [date(2024, 12, 1) + timedelta(days=offset) for offset in range(80)]
    rising = DailyCloseReturns({"NIFTY": {d: 20000.0 + 40.0 * i for i, d in enumerate(days)}})
    chosen.use_recent_returns(rising)
    fresh = _sensitive_model()
    fresh.use_recent_returns(rising)
    after = chosen.value_moneyness_years("NIFTY", 23400.0, 14.0, at, expiry, 23500.0, True)
    assert after == fresh.value_moneyness_years("NIFTY", 23400.0, 14.0, at, expiry, 23500.0, True)
    assert after != before
