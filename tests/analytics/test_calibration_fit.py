"""The fit and the evaluator on chains the model itself generated: known parameters come back, and the
error statistics are the hand / scipy numbers."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from optbot.analytics.calibration import Calibrator, FitOptions, tick_rounded
from optbot.analytics.calibration_data import ChainObservation, SpreadObservation
from optbot.analytics.calibration_errors import error_row
from optbot.analytics.calibration_smile import implied_vols, robust
from optbot.analytics.synthetic import DailyCloseReturns, SyntheticOptionModel
from optbot.analytics.synthetic_params import (
    CALIBRATION_FORMAT_VERSION,
    SMILE_KNOTS,
    CalibrationParams,
    SmileParams,
    SpreadParams,
    TimeParams,
    UnderlyingParams,
    VolLevel,
)
from optbot.calendar import get_calendar
from optbot.core.timeutil import IST

RATE = 0.065
DAYS = (date(2025, 1, 2), date(2025, 1, 3), date(2025, 1, 6), date(2025, 1, 7), date(2025, 1, 8))
EXPIRIES = (date(2025, 1, 9), date(2025, 1, 16), date(2025, 1, 23), date(2025, 1, 30))
MOMENTS = (time(9, 45), time(11, 30), time(13, 15), time(15, 0))
#: A real-looking shape: puts rising all the way, calls dipping to ~1.5 SD then climbing.
TRUE_SMILE = SmileParams(
    knots=SMILE_KNOTS,
    values=(1.62, 1.42, 1.3, 1.2, 1.14, 1.085, 1.04, 1.0, 0.96, 0.935, 0.945, 1.02, 1.15, 1.29, 1.55),
    put_term=0.05,
    call_term=-0.08,
    min_sessions=0.5,
    max_sessions=60.0,
)


def true_params() -> CalibrationParams:
    nifty = UnderlyingParams(
        name="NIFTY",
        carry=0.07,
        levels=(VolLevel(DAYS[0], DAYS[-1], 0.62, 0.05, 0),),
        smile=TRUE_SMILE,
        term_min_sessions=0.02,
        term_max_sessions=260.0,
    )
    return CalibrationParams(
        version=CALIBRATION_FORMAT_VERSION,
        discount_rate=RATE,
        time=TimeParams(overnight_weight=0.6, closed_day_weight=0.2),
        spread=SpreadParams(tick=0.05, time_value_fraction=0.003, intrinsic_fraction=0.01, observations=1),
        underlyings={"NIFTY": nifty},
        fallback_underlying="NIFTY",
    )


def generated_chains(
    params: CalibrationParams, recent_returns: DailyCloseReturns | None = None
) -> list[ChainObservation]:
    """Chains priced by the model itself: strikes every 50 points ±8 % around the spot, calls and puts."""
    model = SyntheticOptionModel(params, get_calendar(), recent_returns)
    chains = []
    for number, day in enumerate(DAYS):
        for step, moment in enumerate(MOMENTS):
            at = datetime.combine(day, moment, tzinfo=IST).astimezone(UTC)
            spot = 23500.0 + 120.0 * math.sin(3 * number + step)
            vix = 13.5 + 0.8 * math.cos(2 * number + step)
            grid = np.arange(round(spot * 0.92 / 50) * 50, spot * 1.08, 50.0)
            strikes = np.concatenate([grid, grid])
            is_call = np.concatenate([np.ones(grid.size, bool), np.zeros(grid.size, bool)])
            for expiry in EXPIRIES:
                if expiry <= day:
                    continue
                values = model.value_chain("NIFTY", spot, vix, at, expiry, strikes, is_call).value
                values = tick_rounded(values, 0.05)  # real premiums trade in whole ticks
                chains.append(
                    ChainObservation(
                        "NIFTY", at, expiry, "EOD", "generated", spot, vix, strikes, is_call, values
                    )
                )
    return chains


SPREADS = [SpreadObservation(mid=100.0, spread=0.5, intrinsic=0.0)]


@pytest.fixture(scope="module")
def recovered() -> CalibrationParams:
    return Calibrator(get_calendar(), FitOptions(discount_rate=RATE)).fit(
        generated_chains(true_params()), SPREADS
    )


def test_fit_recovers_carry_level_term_slope_and_time_weights(recovered: CalibrationParams) -> None:
    body = recovered.underlyings["NIFTY"]
    assert body.carry == pytest.approx(0.07, abs=1e-4)
    assert body.levels[0].atm_vol_per_vix == pytest.approx(0.62, rel=0.01)
    assert body.levels[0].term_slope == pytest.approx(0.05, abs=0.01)
    assert recovered.time.overnight_weight == pytest.approx(0.6, abs=0.05)
    assert recovered.time.closed_day_weight == pytest.approx(0.2, abs=0.05)


def test_fit_recovers_the_smile(recovered: CalibrationParams) -> None:
    smile = recovered.underlyings["NIFTY"].smile
    z = np.linspace(-3.5, 3.5, 15)
    for sessions in (2.0, 10.0, 30.0):  # within the times to expiry the chains cover
        # 1.5 vol points: at 3 SD out a premium of a few rupees pins the vol only to its tick
        assert smile.ratio(z, sessions) == pytest.approx(TRUE_SMILE.ratio(z, sessions), abs=0.015)
    assert smile.put_term == pytest.approx(0.05, abs=0.03)
    assert smile.call_term == pytest.approx(-0.08, abs=0.03)


def test_fit_recovers_the_responses_to_the_recent_return() -> None:
    """The ATM vol's sensitivity and the call side's lift come back from chains priced with them, on
    days whose last week ran from -3 % to +3 %."""
    sessions = [date(2024, 12, 2) + timedelta(days=offset) for offset in range(40)]
    weekdays = [day for day in sessions if day.weekday() < 5]
    closes = {
        "NIFTY": {day: 23500.0 * math.exp(0.03 * math.sin(index)) for index, day in enumerate(weekdays)}
    }
    returns = DailyCloseReturns(closes)
    truth = true_params()
    nifty = truth.underlyings["NIFTY"]
    moving = replace(
        nifty,
        levels=(replace(nifty.levels[0], return_sensitivity=2.0),),
        smile=replace(TRUE_SMILE, call_lift_per_return=1.0),
    )
    truth = replace(truth, underlyings={"NIFTY": moving})
    calibrator = Calibrator(get_calendar(), FitOptions(discount_rate=RATE))
    calibrator.recent_returns = returns
    fitted = calibrator.fit(generated_chains(truth, returns), SPREADS).underlyings["NIFTY"]
    assert {round(returns.recent_return("NIFTY", day) or 0.0, 2) for day in DAYS} != {0.0}
    assert fitted.levels[0].return_sensitivity == pytest.approx(2.0, abs=0.2)
    assert fitted.smile.call_lift_per_return == pytest.approx(1.0, abs=0.2)
    # without returns in the data neither is fitted (no effect the data cannot show)
    blind = Calibrator(get_calendar(), FitOptions(discount_rate=RATE)).fit(
        generated_chains(truth, returns), SPREADS
    )
    assert blind.underlyings["NIFTY"].levels[0].return_sensitivity == 0.0
    assert blind.underlyings["NIFTY"].smile.call_lift_per_return == 0.0


def test_evaluator_scores_the_generating_model_at_zero_and_a_known_markup_exactly() -> None:
    params = true_params()
    chains = generated_chains(params)[:12]
    calibrator = Calibrator(get_calendar(), FitOptions(discount_rate=RATE))
    exact = calibrator.evaluate(params, chains, "check")
    scored = {row.segment: row.median_abs_pct for row in exact}
    assert scored["NIFTY 3-35 d EOD ATM straddle"] < 1e-6 and scored["NIFTY 3-35 d EOD OTM 1-3 SD"] < 1e-6
    # real premiums are whole ticks: the IV of a tick-rounded premium is off by a few basis points
    assert scored["NIFTY 3-35 d EOD OTM 1-3 SD, implied vol"] < 0.1
    # the breakdown rows split the same contracts by moneyness, side and days to expiry
    assert scored["NIFTY 3-35 d EOD OTM 1-2 SD"] < 1e-6 and scored["NIFTY 3-35 d EOD OTM 2-3 SD"] < 1e-6
    sides = {row.segment: row.observations for row in exact}
    assert (
        sides["NIFTY 3-35 d EOD OTM 1-3 SD puts"] + sides["NIFTY 3-35 d EOD OTM 1-3 SD calls"]
        == sides["NIFTY 3-35 d EOD OTM 1-3 SD"]
    )
    assert "NIFTY 8-14 d EOD OTM 1-3 SD" in scored
    # the smile alone, standardised by the listed ATM strike's IV (not the IV at the forward itself)
    assert scored["NIFTY 3-35 d EOD OTM 1-3 SD, real ATM"] < 1.5
    marked_up = [replace(chain, prices=chain.prices * 1.1) for chain in chains]
    rows = {row.segment: row for row in calibrator.evaluate(params, marked_up, "check")}
    straddle = rows["NIFTY 3-35 d EOD ATM straddle"]
    assert straddle.median_abs_pct == pytest.approx(100 * (1 - 1 / 1.1), abs=1e-6)
    assert straddle.bias_pct == pytest.approx(-100 * (1 - 1 / 1.1), abs=1e-6)
    assert rows["NIFTY 3-35 d EOD OTM 1-3 SD"].bias_pct == pytest.approx(-100 * (1 - 1 / 1.1), abs=1e-6)


def test_error_row_statistics_match_hand_numbers() -> None:
    row = error_row("out-of-sample", "NIFTY 3-35 d EOD|ATM straddle", [-0.02, 0.01, 0.03, -0.04, 0.05])
    assert row.observations == 5
    assert row.median_abs_pct == pytest.approx(3.0)
    assert row.p90_abs_pct == pytest.approx(4.6)  # |e| sorted 1..5 %: 4 + 0.6 x (5 - 4)
    assert row.bias_pct == pytest.approx(1.0)  # median signed error
    assert row.segment == "NIFTY 3-35 d EOD ATM straddle"
    assert row.target == "median <= 4 %, p90 <= 10 %, bias within ±3 %" and row.met == "yes"
    biased = error_row("out-of-sample", "NIFTY 3-35 d EOD|ATM straddle", [0.035, 0.035, 0.036])
    assert biased.median_abs_pct < 4 and biased.met == "no"  # median and p90 fine, bias +3.5 % is not
    wide = error_row("in-sample", "NIFTY 3-35 d EOD|OTM 1-3 SD", [0.04, -0.045])
    assert wide.met == "yes" and wide.target == "median <= 5 %"
    assert error_row("in-sample", "NIFTY 1-7 d 1-minute|ATM legs", [0.5]).met == "-"


def _black76(forward: float, strike: float, years: float, vol: float, is_call: bool) -> float:
    root = vol * math.sqrt(years)
    d1 = (math.log(forward / strike) + 0.5 * root * root) / root
    d2 = d1 - root
    discount = math.exp(-RATE * years)
    if is_call:
        return discount * (forward * norm.cdf(d1) - strike * norm.cdf(d2))
    return discount * (strike * norm.cdf(-d2) - forward * norm.cdf(-d1))


def test_implied_vols_match_scipy_root_finding() -> None:
    forward, years = 23600.0, 12 / 365
    strikes = np.array([22500.0, 23200.0, 23600.0, 24000.0, 24800.0])
    is_call = np.array([False, False, True, True, True])
    prices = np.array([20.5, 95.0, 260.0, 110.0, 12.25])
    solved = implied_vols(prices, np.full(5, forward), strikes, years, RATE, is_call)
    for vol, strike, call, price in zip(solved, strikes, is_call, prices, strict=True):
        reference = brentq(lambda v: _black76(forward, strike, years, v, bool(call)) - price, 1e-4, 5.0)
        assert vol == pytest.approx(reference, rel=1e-6)
    below_intrinsic = implied_vols(
        np.array([50.0]), np.array([forward]), np.array([23000.0]), years, RATE, is_call[2:3]
    )
    assert np.isnan(below_intrinsic[0])


def test_robust_residuals_square_to_the_soft_l1_loss() -> None:
    errors = np.array([-0.5, -0.05, 0.0, 0.02, 0.3])
    scale = 0.1
    soft_l1 = 2 * scale * scale * (np.sqrt(1 + (errors / scale) ** 2) - 1)
    assert robust(errors, scale) ** 2 == pytest.approx(soft_l1)
    assert np.sign(robust(errors, scale)).tolist() == np.sign(errors).tolist()
