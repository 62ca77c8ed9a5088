"""The synthetic quote model: variance time, determinism, no-arbitrage shape, the parameters file."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optbot.analytics.pricing import black76_price
from optbot.analytics.synthetic import DailyCloseReturns, FuturePrice, SyntheticOptionModel, VarianceTime
from optbot.analytics.synthetic_params import (
    CALIBRATION_FORMAT_VERSION,
    MIN_SMILE_RATIO,
    CalibrationParams,
    SmileParams,
    SpreadParams,
    TimeParams,
    UnderlyingParams,
    VolLevel,
    load_calibration,
    params_from_dict,
    params_to_dict,
    render_calibration,
)
from optbot.calendar import get_calendar
from optbot.core.enums import OptionType
from optbot.core.errors import UserError
from optbot.core.timeutil import IST

KNOTS = (-3.0, -1.0, 0.0, 1.0, 3.0)
SMILE = SmileParams(knots=KNOTS, values=(1.4, 1.1, 1.0, 0.95, 1.3), put_term=0.1, call_term=-0.2)
FLAT = SmileParams.flat()


def ist(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=IST)


def params(overnight: float = 0.5, closed: float = 0.25, smile: SmileParams = SMILE) -> CalibrationParams:
    nifty = UnderlyingParams(
        name="NIFTY",
        carry=0.06,
        levels=(
            VolLevel(date(2022, 11, 1), date(2022, 11, 30), 0.8, 0.0, 10),
            VolLevel(date(2025, 1, 1), date(2025, 1, 31), 1.0, 0.0, 10),
        ),
        smile=smile,
    )
    bank = replace(
        nifty,
        name="BANKNIFTY",
        carry=0.08,
        levels=(VolLevel(date(2025, 1, 1), date(2025, 1, 31), 1.2, 0.0, 5),),
    )
    return CalibrationParams(
        version=CALIBRATION_FORMAT_VERSION,
        discount_rate=0.065,
        time=TimeParams(overnight_weight=overnight, closed_day_weight=closed),
        spread=SpreadParams(tick=0.05, time_value_fraction=0.003, intrinsic_fraction=0.01, observations=1),
        underlyings={"NIFTY": nifty, "BANKNIFTY": bank},
        fallback_underlying="NIFTY",
    )


def model(**kwargs: float) -> SyntheticOptionModel:
    return SyntheticOptionModel(params(**kwargs), get_calendar())


def test_variance_time_counts_sessions_nights_weekends_and_holidays() -> None:
    clock = VarianceTime(get_calendar(), TimeParams(overnight_weight=0.5, closed_day_weight=0.25))
    friday_close = clock.to_expiry(ist(2025, 1, 3, 15, 30), date(2025, 1, 9))
    assert (friday_close.session_today, friday_close.later_sessions) == (0.0, 4)
    assert (friday_close.nights, friday_close.closed_days) == (4, 2)
    assert friday_close.sessions == pytest.approx(4 + 0.5 * 4 + 0.25 * 2)
    monday_early = clock.to_expiry(ist(2025, 1, 6, 9, 0), date(2025, 1, 9))
    assert (monday_early.session_today, monday_early.later_sessions, monday_early.nights) == (1.0, 3, 4)
    assert monday_early.closed_days == 0
    midday = clock.to_expiry(
        ist(
            2025,
            1,
            9,
            12,
            22,
        ),
        date(2025, 1, 9),
    )
    assert (
        midday.session_today == pytest.approx(188 / 375) and midday.later_sessions == 0 and midday.nights == 0
    )
    # 2022-11-08 was an NSE holiday: one closed day between Monday's close and Thursday's expiry
    holiday = clock.to_expiry(ist(2022, 11, 7, 15, 30), date(2022, 11, 10))
    assert (holiday.later_sessions, holiday.closed_days) == (2, 1)
    expired = clock.to_expiry(ist(2025, 1, 9, 15, 45), date(2025, 1, 9))
    assert expired.sessions == 0.0 and expired.calendar_years == 0.0


def test_quote_is_deterministic_tick_aligned_and_brackets_the_value() -> None:
    first = model().quote("NIFTY", 23700.0, 14.5, ist(2025, 1, 7, 11, 0), date(2025, 1, 30), 23800, "CE")
    again = model().quote("NIFTY", 23700.0, 14.5, ist(2025, 1, 7, 11, 0), date(2025, 1, 30), 23800, "CE")
    assert first == again
    assert first.bid < first.mid < first.ask
    for price in (first.bid, first.mid, first.ask):
        assert round(price * 100) % 5 == 0
    assert first.ask - first.bid == pytest.approx(max(0.05, math.ceil(0.003 * first.value / 0.05) * 0.05))


def test_quote_is_black76_on_the_carry_forward_with_the_vix_level_and_smile() -> None:
    at, expiry = ist(2025, 1, 7, 11, 0), date(2025, 1, 30)
    quote = model().quote("NIFTY", 23700.0, 14.5, at, expiry, 23700, OptionType.PE)
    timing = quote.time
    assert quote.forward == pytest.approx(23700.0 * math.exp(0.06 * timing.calendar_years))
    assert quote.atm_iv == pytest.approx(1.0 * 0.145)  # January 2025 level, flat term slope
    z, tenor = quote.moneyness, timing.sessions / 10.0
    assert -1 < z < 0  # the spot strike sits just below the carry forward: the put side
    expected_smile = 1 + (-0.1 * z) * tenor**0.1  # the -1 -> 0 segment, scaled by the put term
    assert quote.iv == pytest.approx(quote.atm_iv * expected_smile)
    calendar_vol = quote.iv * math.sqrt(timing.variance_years / timing.calendar_years)
    reference = black76_price(quote.forward, 23700, timing.calendar_years, calendar_vol, 0.065, OptionType.PE)
    assert quote.value == pytest.approx(reference, rel=1e-9)
    assert quote.greeks.delta < 0 and quote.greeks.vega_per_point > 0


def test_underlyings_have_their_own_levels_and_unknown_ones_fall_back() -> None:
    at, expiry = ist(2025, 1, 7, 11, 0), date(2025, 1, 30)
    nifty = model().quote("NIFTY", 50000.0, 14.5, at, expiry, 50000, "CE")
    bank = model().quote("BANKNIFTY", 50000.0, 14.5, at, expiry, 50000, "CE")
    assert bank.atm_iv == pytest.approx(1.2 * nifty.atm_iv)
    sensex = model().quote("SENSEX", 50000.0, 14.5, at, expiry, 50000, "CE")
    assert sensex.atm_iv == nifty.atm_iv and "no SENSEX data" in sensex.parameters_from
    # a date outside every window takes the nearest window's level
    old = model().quote("NIFTY", 18000.0, 14.5, ist(2022, 12, 20, 11, 0), date(2022, 12, 29), 18000, "CE")
    assert old.atm_iv == pytest.approx(0.8 * 0.145)


@given(
    spot=st.floats(min_value=15000, max_value=30000),
    strike_ratio=st.floats(min_value=0.85, max_value=1.15),
    vix=st.floats(min_value=8, max_value=40),
)
def test_model_prices_keep_parity_and_monotonicity(spot: float, strike_ratio: float, vix: float) -> None:
    chosen = SyntheticOptionModel(params(smile=FLAT), get_calendar())
    at, expiry = ist(2025, 1, 7, 11, 0), date(2025, 1, 16)
    strikes = np.array([spot * strike_ratio] * 2)
    chain = chosen.value_chain("NIFTY", spot, vix, at, expiry, strikes, np.array([True, False]))
    discount = math.exp(-0.065 * chain.time.calendar_years)
    assert chain.value[0] - chain.value[1] == pytest.approx(
        discount * (chain.forward[0] - strikes[0]), abs=1e-6 * spot
    )
    richer = chosen.value_chain("NIFTY", spot * 1.01, vix, at, expiry, strikes, np.array([True, False]))
    assert richer.value[0] >= chain.value[0] - 1e-9 and richer.value[1] <= chain.value[1] + 1e-9
    higher_vix = chosen.value_chain("NIFTY", spot, vix * 1.1, at, expiry, strikes, np.array([True, False]))
    assert (higher_vix.value >= chain.value - 1e-9).all()


def test_bad_quote_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="VIX"):
        model().quote("NIFTY", 23700.0, 0.0, ist(2025, 1, 7, 11, 0), date(2025, 1, 30), 23700, "CE")
    with pytest.raises(ValueError, match="positive"):
        model().quote("NIFTY", -1.0, 14.0, ist(2025, 1, 7, 11, 0), date(2025, 1, 30), 23700, "CE")


def test_parameters_round_trip_through_toml(tmp_path: Path) -> None:
    original = params()
    path = tmp_path / "calibration.toml"
    path.write_text(render_calibration(original), encoding="utf-8")
    loaded = load_calibration(path)
    assert params_to_dict(loaded) == params_to_dict(original)


def test_a_broken_calibration_file_is_a_user_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    raw = params_to_dict(params())
    del raw["time"]
    path.write_text(render_calibration(params()).replace("[time]", "[timing]"), encoding="utf-8")
    with pytest.raises(UserError, match=r"mine\.toml.*time"):
        load_calibration(path)
    with pytest.raises(UserError, match="missing.toml"):
        load_calibration(tmp_path / "missing.toml")
    raw = params_to_dict(params())
    raw["version"] = 99
    with pytest.raises(ValueError, match="version 99"):
        params_from_dict(raw)


def test_packaged_calibration_is_fitted_per_underlying_with_provenance() -> None:
    packaged = load_calibration()
    assert {"NIFTY", "BANKNIFTY", "FINNIFTY"} <= set(packaged.underlyings)
    nifty, bank = packaged.underlyings["NIFTY"], packaged.underlyings["BANKNIFTY"]
    # one VIX->ATM function per underlying over all the data, not a level per period
    assert len(nifty.levels) == 1 and len(bank.levels) == 1
    assert nifty.level_on(date(2025, 1, 6)).atm_vol_per_vix != bank.level_on(date(2025, 1, 6)).atm_vol_per_vix
    assert 0.0 < nifty.carry < 0.2
    # the real chains show a put skew: low strikes carry more vol than equally far high strikes
    ratios = nifty.smile.ratio(np.array([-2.0, 0.0, 2.0]), 20.0)
    assert ratios[0] > ratios[1] and ratios[0] > ratios[2] and ratios[1] == pytest.approx(1.0)
    assert packaged.provenance["datasets"] and packaged.errors
    for evaluation in ("in-sample", "out-of-sample"):
        rows = {row["segment"]: row for row in packaged.errors if row["evaluation"] == evaluation}
        straddle = rows["NIFTY 3-35 d EOD ATM straddle"]
        assert (
            straddle["median_abs_pct"] <= 4.0
            and straddle["p90_abs_pct"] <= 10.0
            and abs(straddle["bias_pct"]) <= 3.0
        )


def test_smile_is_linear_between_knots_and_continues_the_end_segments() -> None:
    smile = replace(SMILE, reference_sessions=10.0)
    z = np.array([-5.0, -3.0, -2.0, -0.5, 0.0, 0.5, 2.0, 3.0, 4.0])
    ratio = smile.ratio(z, 10.0)  # at the reference time: the knot values themselves
    expected = [1.4 + 0.15 * 2, 1.4, 1.25, 1.05, 1.0, 0.975, 1.125, 1.3, 1.3 + 0.175]
    assert ratio == pytest.approx(expected)
    # each side's distance from 1 scales with (time left / reference) ** its own term exponent
    sides = smile.ratio(np.array([-3.0, 3.0]), 40.0)
    assert sides[0] == pytest.approx(1 + 0.4 * 4.0**0.1) and sides[1] == pytest.approx(1 + 0.3 * 4.0**-0.2)
    # clipped to the fitted range of times; one session value or one per moneyness agree
    bounded = replace(smile, min_sessions=1.0, max_sessions=40.0)
    assert bounded.ratio(np.array([3.0]), 400.0)[0] == pytest.approx(sides[1])
    rows = bounded.ratio(np.array([-3.0, 3.0, 1.0]), np.array([40.0, 400.0, 0.01]))
    assert rows == pytest.approx([sides[0], sides[1], bounded.ratio(np.array([1.0]), 1.0)[0]])
    steep = replace(SMILE, values=(0.1, 1.1, 1.0, 0.95, 1.3))
    assert steep.ratio(np.array([-10.0]), 10.0)[0] == MIN_SMILE_RATIO
    assert (FLAT.ratio(z, 3.0) == 1.0).all()


def test_a_given_future_is_the_forward_carried_to_the_option_expiry() -> None:
    chosen = model()
    at, expiry, monthly = ist(2025, 1, 7, 11, 0), date(2025, 1, 16), date(2025, 1, 30)
    strikes, calls = np.array([23000.0, 24000.0]), np.array([False, True])
    from_spot = chosen.value_chain("NIFTY", 23700.0, 14.5, at, monthly, strikes, calls)
    future = FuturePrice(float(from_spot.forward[0]), monthly)
    # the future the carry implies reproduces the spot path; the spot is then not used at all
    carried = chosen.value_chain("NIFTY", 1.0, 14.5, at, monthly, strikes, calls, future)
    assert carried.value == pytest.approx(from_spot.value, rel=1e-12)
    weekly = chosen.value_chain("NIFTY", 23700.0, 14.5, at, expiry, strikes, calls)
    assert chosen.value_chain(
        "NIFTY", 1.0, 14.5, at, expiry, strikes, calls, future
    ).forward == pytest.approx(weekly.forward, rel=1e-12)
    richer = chosen.quote(
        "NIFTY", 23700.0, 14.5, at, expiry, 24000, "CE", future=FuturePrice(24000.0, monthly)
    )
    years = richer.time.calendar_years - chosen.time.to_expiry(at, monthly).calendar_years
    assert richer.forward == pytest.approx(24000.0 * math.exp(0.06 * years))


def test_term_slope_applies_only_within_the_fitted_range_of_times() -> None:
    base = params()
    nifty = base.underlyings["NIFTY"]
    sloped = replace(
        nifty,
        levels=tuple(replace(level, term_slope=0.1) for level in nifty.levels),
        term_min_sessions=1.0,
        term_max_sessions=10.0,
    )
    chosen = SyntheticOptionModel(replace(base, underlyings={"NIFTY": sloped}), get_calendar())
    day = date(2025, 1, 7)
    assert chosen.atm_vol("NIFTY", 15.0, 10.0, day) == pytest.approx(0.15 * (10.0 / 5.0) ** 0.1)
    assert chosen.atm_vol("NIFTY", 15.0, 40.0, day) == chosen.atm_vol("NIFTY", 15.0, 10.0, day)
    assert chosen.atm_vol("NIFTY", 15.0, 0.1, day) == chosen.atm_vol("NIFTY", 15.0, 1.0, day)


@given(
    spot=st.floats(min_value=15000, max_value=30000),
    strike_ratio=st.floats(min_value=0.7, max_value=1.3),
    vix=st.floats(min_value=8, max_value=40),
    minutes=st.integers(min_value=0, max_value=6 * 60 * 24),
    call=st.booleans(),
)
def test_one_contract_in_floats_is_the_chain_valuation_of_that_strike(
    spot: float, strike_ratio: float, vix: float, minutes: int, call: bool
) -> None:
    chosen = model()
    at = ist(2025, 1, 7, 9, 0) + timedelta(minutes=minutes)
    expiry, strike = date(2025, 1, 9), round(spot * strike_ratio / 50) * 50.0
    chain = chosen.value_chain("NIFTY", spot, vix, at, expiry, np.array([strike]), np.array([call]))
    one = chosen.value_contract("NIFTY", spot, vix, at, expiry, strike, call)
    assert one.time == chain.time
    assert one.forward == pytest.approx(float(chain.forward[0]), rel=1e-14)
    assert one.moneyness == pytest.approx(float(chain.moneyness[0]), rel=1e-12, abs=1e-12)
    assert one.iv == pytest.approx(float(chain.iv[0]), rel=1e-12)
    assert one.value == pytest.approx(float(chain.value[0]), rel=1e-10, abs=1e-9)


@given(
    z=st.floats(min_value=-2000.0, max_value=2000.0),
    sessions=st.floats(min_value=0.0, max_value=500.0),
    lift=st.sampled_from([0.0, 0.05, -0.03]),
)
def test_smile_ratio_at_one_moneyness_is_the_interpolated_ratio(
    z: float, sessions: float, lift: float
) -> None:
    for smile in (SMILE, replace(SMILE, values=(0.1, 1.1, 1.0, 0.95, 1.3)), FLAT):
        expected = float(smile.ratio(np.array([z]), sessions, lift)[0])
        assert smile.ratio_at(z, sessions, lift) == pytest.approx(expected, rel=1e-12)


def test_call_side_lifts_after_a_fall_from_the_atm_to_one_sd_and_beyond() -> None:
    smile = replace(SMILE, call_lift_per_return=2.0)
    lift = smile.call_lift(-0.03)  # a 3 % fall over the last week
    assert lift == pytest.approx(0.06)
    assert smile.call_lift(None) == 0.0 and SMILE.call_lift(-0.03) == 0.0
    z = np.array([-2.0, -0.5, 0.0, 0.5, 1.0, 2.5])
    lifted, plain = smile.ratio(z, 10.0, lift), smile.ratio(z, 10.0)
    assert lifted - plain == pytest.approx([0.0, 0.0, 0.0, 0.03, 0.06, 0.06])


def test_recent_return_is_the_last_week_before_the_day_from_daily_closes() -> None:
    days = [date(2025, 1, 1) + timedelta(days=offset) for offset in range(8)]
    closes = {"NIFTY": {day: 100.0 + index for index, day in enumerate(days)}}
    returns = DailyCloseReturns(closes)
    # before day 7 (index 7): last close is index 6 (106), five sessions before it index 1 (101)
    assert returns.recent_return("nifty", days[7]) == pytest.approx(math.log(106.0 / 101.0))
    assert returns.recent_return("NIFTY", days[5]) is None  # fewer than six closes before it
    assert returns.recent_return("BANKNIFTY", days[7]) is None


def test_atm_vol_follows_the_recent_return_by_the_fitted_sensitivity() -> None:
    base = params()
    nifty = base.underlyings["NIFTY"]
    sensitive = replace(nifty, levels=tuple(replace(level, return_sensitivity=3.0) for level in nifty.levels))
    chosen = replace(base, underlyings={"NIFTY": sensitive})
    days = [date(2024, 12, 27) + timedelta(days=offset) for offset in range(10)]
    falling = DailyCloseReturns({"NIFTY": {day: 100.0 - index for index, day in enumerate(days)}})
    day = date(2025, 1, 7)
    without = SyntheticOptionModel(chosen, get_calendar())
    with_returns = SyntheticOptionModel(chosen, get_calendar(), falling)
    recent = falling.recent_return("NIFTY", day)
    assert recent is not None and recent < 0
    assert with_returns.atm_vol("NIFTY", 15.0, 5.0, day) == pytest.approx(
        without.atm_vol("NIFTY", 15.0, 5.0, day) * math.exp(-3.0 * recent)
    )
    # an underlying without closes, or a model without returns, is not adjusted
    assert with_returns.atm_vol("BANKNIFTY", 15.0, 5.0, day) == without.atm_vol("BANKNIFTY", 15.0, 5.0, day)
    at = ist(2025, 1, 7, 11, 0)
    chain = with_returns.value_chain(
        "NIFTY", 23500.0, 15.0, at, date(2025, 1, 9), np.array([24000.0]), np.array([True])
    )
    one = with_returns.value_contract("NIFTY", 23500.0, 15.0, at, date(2025, 1, 9), 24000.0, True)
    assert one.value == pytest.approx(float(chain.value[0]), rel=1e-10)
    assert (
        one.value > without.value_contract("NIFTY", 23500.0, 15.0, at, date(2025, 1, 9), 24000.0, True).value
    )
