"""Prices and Greeks against an independent scipy reference, parity, IV round trips and edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from optbot.analytics.pricing import (
    black76_price,
    black76_value,
    black76_values,
    black_scholes_price,
    greeks,
    implied_volatility,
    no_arbitrage_bounds,
)
from optbot.core.enums import OptionType


def reference_bsm(
    spot: float, strike: float, years: float, vol: float, rate: float, call: bool, q: float
) -> float:
    """Textbook Merton (1973) written with scipy.stats.norm, independent of the module under test."""
    d1 = (math.log(spot / strike) + (rate - q + vol * vol / 2) * years) / (vol * math.sqrt(years))
    d2 = d1 - vol * math.sqrt(years)
    if call:
        return spot * math.exp(-q * years) * norm.cdf(d1) - strike * math.exp(-rate * years) * norm.cdf(d2)
    return strike * math.exp(-rate * years) * norm.cdf(-d2) - spot * math.exp(-q * years) * norm.cdf(-d1)


def reference_black76(
    forward: float, strike: float, years: float, vol: float, rate: float, call: bool
) -> float:
    d1 = (math.log(forward / strike) + vol * vol * years / 2) / (vol * math.sqrt(years))
    d2 = d1 - vol * math.sqrt(years)
    sign = 1 if call else -1
    return math.exp(-rate * years) * sign * (forward * norm.cdf(sign * d1) - strike * norm.cdf(sign * d2))


def test_textbook_value_hull() -> None:
    # Hull, Options Futures and Other Derivatives, Example 15.6: S=42, K=40, r=10 %, vol=20 %, T=0.5.
    assert black_scholes_price(42, 40, 0.5, 0.2, 0.1, OptionType.CE) == pytest.approx(4.76, abs=0.005)
    assert black_scholes_price(42, 40, 0.5, 0.2, 0.1, OptionType.PE) == pytest.approx(0.81, abs=0.005)


option_inputs = st.fixed_dictionaries(
    {
        "spot": st.floats(min_value=50, max_value=60_000),
        "moneyness": st.floats(min_value=0.7, max_value=1.3),
        "years": st.floats(min_value=1 / 365, max_value=2.0),
        "vol": st.floats(min_value=0.03, max_value=1.5),
        "rate": st.floats(min_value=-0.01, max_value=0.15),
        "q": st.floats(min_value=0.0, max_value=0.05),
        "call": st.booleans(),
    }
)


@settings(max_examples=150, deadline=None)
@given(case=option_inputs)
def test_bsm_price_matches_reference(case: dict[str, float]) -> None:
    strike = case["spot"] * case["moneyness"]
    option_type = OptionType.CE if case["call"] else OptionType.PE
    ours = black_scholes_price(
        case["spot"], strike, case["years"], case["vol"], case["rate"], option_type, case["q"]
    )
    theirs = reference_bsm(
        case["spot"], strike, case["years"], case["vol"], case["rate"], bool(case["call"]), case["q"]
    )
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-9 * case["spot"])


@settings(max_examples=150, deadline=None)
@given(case=option_inputs)
def test_put_call_parity(case: dict[str, float]) -> None:
    spot, strike, years = case["spot"], case["spot"] * case["moneyness"], case["years"]
    vol, rate, q = case["vol"], case["rate"], case["q"]
    call = black_scholes_price(spot, strike, years, vol, rate, OptionType.CE, q)
    put = black_scholes_price(spot, strike, years, vol, rate, OptionType.PE, q)
    assert call - put == pytest.approx(
        spot * math.exp(-q * years) - strike * math.exp(-rate * years), abs=1e-8 * spot
    )
    call76 = black76_price(spot, strike, years, vol, rate, OptionType.CE)
    put76 = black76_price(spot, strike, years, vol, rate, OptionType.PE)
    assert call76 - put76 == pytest.approx(math.exp(-rate * years) * (spot - strike), abs=1e-8 * spot)
    assert call76 == pytest.approx(
        reference_black76(spot, strike, years, vol, rate, True), rel=1e-9, abs=1e-9 * spot
    )


def _finite_difference_greeks(
    model: str, s: float, k: float, t: float, v: float, r: float, call: bool, q: float
) -> dict[str, float]:
    def price(s_: float = s, t_: float = t, v_: float = v, r_: float = r) -> float:
        if model == "bs":
            return reference_bsm(s_, k, t_, v_, r_, call, q)
        return reference_black76(s_, k, t_, v_, r_, call)

    ds, dt, dv, dr = s * 1e-4, min(t * 1e-4, 1e-5), 1e-5, 1e-6
    return {
        "delta": (price(s_=s + ds) - price(s_=s - ds)) / (2 * ds),
        "gamma": (price(s_=s + ds) - 2 * price() + price(s_=s - ds)) / (ds * ds),
        "vega_per_unit": (price(v_=v + dv) - price(v_=v - dv)) / (2 * dv),
        "theta_per_year": -(price(t_=t + dt) - price(t_=t - dt)) / (2 * dt),
        "rho": (price(r_=r + dr) - price(r_=r - dr)) / (2 * dr),
    }


@pytest.mark.parametrize("model", ["bs", "black76"])
@settings(max_examples=60, deadline=None)
@given(case=option_inputs)
def test_greeks_match_finite_differences_of_reference_price(model: str, case: dict[str, float]) -> None:
    spot, strike = case["spot"], case["spot"] * case["moneyness"]
    years, vol, rate, call = case["years"], case["vol"], case["rate"], bool(case["call"])
    q = case["q"] if model == "bs" else 0.0
    # Keep away from the region where the option is nearly worthless and differences are pure noise.
    assume(vol * math.sqrt(years) > 0.02)
    option_type = OptionType.CE if call else OptionType.PE
    ours = greeks(model, spot, strike, years, vol, rate, option_type, q)  # type: ignore[arg-type]
    expected = _finite_difference_greeks(model, spot, strike, years, vol, rate, call, q)
    scale = spot
    assert ours.delta == pytest.approx(expected["delta"], abs=2e-6)
    assert ours.gamma == pytest.approx(expected["gamma"], rel=2e-3, abs=2e-5 / spot)
    assert ours.vega_per_unit == pytest.approx(expected["vega_per_unit"], rel=1e-5, abs=1e-7 * scale)
    assert ours.theta_per_year == pytest.approx(expected["theta_per_year"], rel=1e-4, abs=1e-6 * scale)
    assert ours.rho == pytest.approx(expected["rho"], rel=1e-4, abs=1e-6 * scale)
    assert ours.vega_per_point == pytest.approx(ours.vega_per_unit / 100)
    assert ours.theta_per_day == pytest.approx(ours.theta_per_year / 365)


@settings(max_examples=150, deadline=None)
@given(case=option_inputs, model=st.sampled_from(["bs", "black76"]))
def test_implied_volatility_round_trip(case: dict[str, float], model: str) -> None:
    spot, strike = case["spot"], case["spot"] * case["moneyness"]
    years, vol, rate, q = case["years"], case["vol"], case["rate"], case["q"] if model == "bs" else 0.0
    option_type = OptionType.CE if case["call"] else OptionType.PE
    price = greeks(model, spot, strike, years, vol, rate, option_type, q).price  # type: ignore[arg-type]
    bounds = no_arbitrage_bounds(model, spot, strike, years, rate, option_type, q)  # type: ignore[arg-type]
    # Only where the time value is resolvable in double precision (vega >= 1e-6 of spot per unit vol).
    vega = greeks(model, spot, strike, years, vol, rate, option_type, q).vega_per_unit  # type: ignore[arg-type]
    assume(price - bounds.lower > 1e-6 * spot and vega > 1e-4 * spot)
    result = implied_volatility(price, spot, strike, years, rate, option_type, model, q)  # type: ignore[arg-type]
    assert result.volatility is not None, result.reason
    assert result.volatility == pytest.approx(vol, abs=1e-6)


def test_iv_reasons_at_the_edges() -> None:
    below = implied_volatility(1.0, 120, 100, 0.1, 0.05, OptionType.CE)
    assert below.volatility is None and "below the no-arbitrage lower bound" in below.reason
    above = implied_volatility(130.0, 120, 100, 0.1, 0.05, OptionType.CE)
    assert above.volatility is None and "upper bound" in above.reason
    expired = implied_volatility(5.0, 100, 100, 0.0, 0.05, OptionType.CE)
    assert expired.volatility is None and "expired" in expired.reason
    intrinsic = black_scholes_price(150, 100, 0.01, 0.0, 0.05, OptionType.CE)
    no_time_value = implied_volatility(intrinsic, 150, 100, 0.01, 0.05, OptionType.CE)
    assert no_time_value.volatility is None and "no time value" in no_time_value.reason
    tiny = implied_volatility(0.0000011, 100, 200, 1 / 365, 0.05, OptionType.CE)
    assert tiny.volatility is None or tiny.volatility > 1.0
    negative = implied_volatility(-1.0, 100, 100, 0.5, 0.05, OptionType.CE)
    assert negative.volatility is None and "negative" in negative.reason


def test_deep_otm_near_expiry_still_solves_when_resolvable() -> None:
    price = black_scholes_price(24570.65, 25500, 2 / 365, 0.18, 0.1, OptionType.CE)
    result = implied_volatility(price, 24570.65, 25500, 2 / 365, 0.1, OptionType.CE)
    assert result.volatility == pytest.approx(0.18, abs=1e-6)


def test_expiry_and_zero_vol_greeks_are_intrinsic() -> None:
    expired_call = greeks("bs", 110, 100, 0.0, 0.2, 0.05, OptionType.CE)
    assert expired_call.price == 10.0 and expired_call.delta == 1.0 and expired_call.gamma == 0.0
    expired_put = greeks("bs", 110, 100, 0.0, 0.2, 0.05, OptionType.PE)
    assert expired_put.price == 0.0 and expired_put.delta == 0.0
    zero_vol = greeks("bs", 110, 100, 0.5, 0.0, 0.05, OptionType.CE)
    expected_theta = -(0.05 * 100 * math.exp(-0.05 * 0.5))
    assert zero_vol.theta_per_year == pytest.approx(expected_theta)
    assert zero_vol.rho == pytest.approx(0.5 * 100 * math.exp(-0.025))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vol": -0.1}, "volatility"),
        ({"years": -1.0}, "years"),
        ({"spot": 0.0}, "underlying"),
        ({"strike": -5.0}, "strike"),
        ({"rate": float("nan")}, "rate"),
        ({"option_type": "XX"}, "CE or PE"),
    ],
)
def test_bad_inputs_name_the_problem(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "spot": 100.0,
        "strike": 100.0,
        "years": 0.5,
        "vol": 0.2,
        "rate": 0.05,
        "option_type": OptionType.CE,
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        black_scholes_price(**arguments)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    price=st.floats(min_value=0.0, max_value=1e5),
    spot=st.floats(min_value=0.01, max_value=1e5),
    strike=st.floats(min_value=0.01, max_value=1e5),
    years=st.floats(min_value=0.0, max_value=5.0),
    rate=st.floats(min_value=-0.05, max_value=0.3),
    call=st.booleans(),
    model=st.sampled_from(["bs", "black76"]),
)
def test_implied_volatility_never_raises_and_always_explains(
    price: float, spot: float, strike: float, years: float, rate: float, call: bool, model: str
) -> None:
    """Any price a feed could send gives either a volatility that reprices it, or a reason."""
    option_type = OptionType.CE if call else OptionType.PE
    result = implied_volatility(price, spot, strike, years, rate, option_type, model)  # type: ignore[arg-type]
    if result.volatility is None:
        assert result.reason and result.reason != "solved"
    else:
        assert result.reason == "solved"
        repriced = greeks(model, spot, strike, years, result.volatility, rate, option_type).price  # type: ignore[arg-type]
        assert repriced == pytest.approx(price, abs=1e-6 * max(1.0, price))


def test_near_expiry_minutes_left() -> None:
    years = 15 / (365 * 24 * 60)  # fifteen minutes
    price = black_scholes_price(24570.65, 24550, years, 0.12, 0.1, OptionType.CE)
    result = implied_volatility(price, 24570.65, 24550, years, 0.1, OptionType.CE)
    assert result.volatility == pytest.approx(0.12, abs=1e-4)


def test_black76_textbook_value_hull() -> None:
    # Hull, Options Futures and Other Derivatives, the futures-option put example (Black's model):
    # F0 = 20, K = 20, r = 9 %, T = 4 months, vol = 25 %: the European put is worth 1.12.
    assert black76_price(20, 20, 4 / 12, 0.25, 0.09, OptionType.PE) == pytest.approx(1.12, abs=0.005)
    assert float(black76_values(20.0, 20.0, 4 / 12, 0.25, 0.09, False)) == pytest.approx(1.12, abs=0.005)


@given(case=option_inputs)
def test_vectorised_black76_matches_the_scalar_and_scipy(case: dict[str, float]) -> None:
    forward, years, vol, rate = case["spot"], case["years"], case["vol"], case["rate"]
    strike = forward * case["moneyness"]
    values = black76_values(
        np.array([forward, forward]), np.array([strike, strike]), years, vol, rate, np.array([True, False])
    )
    for value, call in zip(values, (True, False), strict=True):
        reference = reference_black76(forward, strike, years, vol, rate, call)
        assert value == pytest.approx(reference, rel=1e-9, abs=1e-9 * forward)
        kind = OptionType.CE if call else OptionType.PE
        assert value == pytest.approx(
            black76_price(forward, strike, years, vol, rate, kind), rel=1e-9, abs=1e-9
        )
    # put-call parity on a forward: C - P = e^{-rT} (F - K)
    assert values[0] - values[1] == pytest.approx(
        math.exp(-rate * years) * (forward - strike), abs=1e-7 * forward
    )


@given(case=option_inputs, bump=st.floats(min_value=0.01, max_value=0.5))
def test_vectorised_black76_is_monotone_in_vol_and_strike(case: dict[str, float], bump: float) -> None:
    forward, years, vol, rate = case["spot"], case["years"], case["vol"], case["rate"]
    strike = forward * case["moneyness"]
    call = np.array([case["call"]])
    base = float(black76_values(forward, strike, years, vol, rate, call)[0])
    assert float(black76_values(forward, strike, years, vol + bump, rate, call)[0]) >= base - 1e-9
    higher_strike = float(black76_values(forward, strike * (1 + bump), years, vol, rate, call)[0])
    assert (higher_strike <= base + 1e-9) if case["call"] else (higher_strike >= base - 1e-9)


def test_vectorised_black76_at_zero_time_is_intrinsic() -> None:
    values = black76_values(
        np.array([100.0, 100.0]), np.array([90.0, 90.0]), 0.0, 0.2, 0.05, np.array([True, False])
    )
    assert values.tolist() == [10.0, 0.0]


@given(case=option_inputs)
def test_scalar_black76_value_matches_scipy_and_the_vectorised_one(case: dict[str, float]) -> None:
    forward, years, vol, rate = case["spot"], case["years"], case["vol"], case["rate"]
    strike = forward * case["moneyness"]
    for call in (True, False):
        value = black76_value(forward, strike, years, vol, rate, call)
        reference = reference_black76(forward, strike, years, vol, rate, call)
        assert value == pytest.approx(reference, rel=1e-9, abs=1e-9 * forward)
        vectorised = float(black76_values(forward, strike, years, vol, rate, call))
        assert value == pytest.approx(vectorised, rel=1e-12, abs=1e-12 * forward)


def test_scalar_black76_value_at_zero_time_or_vol_is_the_discounted_intrinsic_value() -> None:
    assert black76_value(100.0, 90.0, 0.0, 0.2, 0.05, True) == 10.0
    assert black76_value(100.0, 90.0, 0.0, 0.2, 0.05, False) == 0.0
    assert black76_value(100.0, 90.0, 0.5, 0.0, 0.05, True) == pytest.approx(10.0 * math.exp(-0.025))
    assert black76_value(100.0, 110.0, 0.5, 0.0, 0.05, False) == pytest.approx(10.0 * math.exp(-0.025))
