"""Black-Scholes(-Merton) and Black-76 option prices, Greeks and a robust implied-volatility solver.

Units: `years` is time to expiry in years, `vol` and `rate` are annual fractions (0.15 = 15 %),
continuous compounding. Black-Scholes prices an option on a spot with a continuous dividend yield;
Black-76 prices it on a forward/futures price (use it with the NIFTY future or a parity-implied forward).
Greeks are with respect to the model's underlying (spot for "bs", forward for "black76").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq
from scipy.special import ndtr

from optbot.core.enums import OptionType

Model = Literal["bs", "black76"]

#: Calendar days per year for `theta_per_day` (theta decays over calendar time, weekends included).
DAYS_PER_YEAR = 365.0
#: Volatility search interval for the IV solver (0.01 % to 1000 % a year).
IV_LOWER_BOUND = 1e-4
IV_UPPER_BOUND = 10.0
#: The solver stops when the volatility is known to this absolute precision.
IV_TOLERANCE = 1e-10
_SQRT_TWO = math.sqrt(2.0)
_INV_SQRT_TWO_PI = 1.0 / math.sqrt(2.0 * math.pi)


def normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / _SQRT_TWO)


def normal_pdf(x: float) -> float:
    return _INV_SQRT_TWO_PI * math.exp(-0.5 * x * x)


def _require(value: float, name: str, *, positive: bool = False, allow_zero: bool = True) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and (number < 0 or (number == 0 and not allow_zero)):
        qualifier = "positive" if not allow_zero else "zero or positive"
        raise ValueError(f"{name} must be {qualifier}, got {value!r}")
    return number


def _option_type(option_type: OptionType | str) -> OptionType:
    try:
        return OptionType(str(option_type).upper())
    except ValueError:
        raise ValueError(f"option_type must be CE or PE, got {option_type!r}") from None


@dataclass(frozen=True, slots=True)
class Greeks:
    """Price and sensitivities of ONE option (not multiplied by lot size)."""

    price: float
    delta: float
    gamma: float
    theta_per_year: float
    theta_per_day: float
    vega_per_unit: float
    vega_per_point: float
    rho: float

    def as_dict(self) -> dict[str, float]:
        return {
            "price": self.price,
            "delta": self.delta,
            "gamma": self.gamma,
            "theta_per_year": self.theta_per_year,
            "theta_per_day": self.theta_per_day,
            "vega_per_unit": self.vega_per_unit,
            "vega_per_point": self.vega_per_point,
            "rho": self.rho,
        }


@dataclass(frozen=True, slots=True)
class _Inputs:
    """Both models as one: a forward F, a discount factor on the payoff and a carry factor to spot."""

    forward: float
    strike: float
    years: float
    vol: float
    rate: float
    discount: float
    is_call: bool


def _inputs(
    model: Model,
    underlying: float,
    strike: float,
    years: float,
    vol: float,
    rate: float,
    option_type: OptionType | str,
    dividend_yield: float,
) -> _Inputs:
    if model not in ("bs", "black76"):
        raise ValueError(f"model must be 'bs' or 'black76', got {model!r}")
    underlying = _require(underlying, "underlying price", positive=True, allow_zero=False)
    strike = _require(strike, "strike", positive=True, allow_zero=False)
    years = _require(years, "years to expiry", positive=True)
    vol = _require(vol, "volatility", positive=True)
    rate = _require(rate, "rate")
    dividend_yield = _require(dividend_yield, "dividend_yield")
    if model == "black76" and dividend_yield != 0.0:
        raise ValueError("dividend_yield applies to the bs model only: black76 prices off the forward")
    if underlying <= 0:
        raise ValueError(f"underlying price must be positive, got {underlying}")
    if strike <= 0:
        raise ValueError(f"strike must be positive, got {strike}")
    forward = underlying * math.exp((rate - dividend_yield) * years) if model == "bs" else underlying
    return _Inputs(
        forward=forward,
        strike=strike,
        years=years,
        vol=vol,
        rate=rate,
        discount=math.exp(-rate * years),
        is_call=_option_type(option_type) is OptionType.CE,
    )


def _undiscounted_price(forward: float, strike: float, total_vol: float, is_call: bool) -> float:
    if total_vol <= 0.0:
        return max(forward - strike, 0.0) if is_call else max(strike - forward, 0.0)
    d1 = math.log(forward / strike) / total_vol + 0.5 * total_vol
    d2 = d1 - total_vol
    if is_call:
        return forward * normal_cdf(d1) - strike * normal_cdf(d2)
    return strike * normal_cdf(-d2) - forward * normal_cdf(-d1)


def black_scholes_price(
    spot: float,
    strike: float,
    years: float,
    vol: float,
    rate: float,
    option_type: OptionType | str,
    dividend_yield: float = 0.0,
) -> float:
    """Black-Scholes-Merton price. At expiry or zero vol it is the discounted forward intrinsic value."""
    inputs = _inputs("bs", spot, strike, years, vol, rate, option_type, dividend_yield)
    total_vol = inputs.vol * math.sqrt(inputs.years)
    return inputs.discount * _undiscounted_price(inputs.forward, inputs.strike, total_vol, inputs.is_call)


def black76_price(
    forward: float, strike: float, years: float, vol: float, rate: float, option_type: OptionType | str
) -> float:
    """Black-76 price of an option on a forward/future, discounted at `rate`."""
    inputs = _inputs("black76", forward, strike, years, vol, rate, option_type, 0.0)
    total_vol = inputs.vol * math.sqrt(inputs.years)
    return inputs.discount * _undiscounted_price(inputs.forward, inputs.strike, total_vol, inputs.is_call)


def black76_values(
    forward: NDArray[np.float64] | float,
    strike: NDArray[np.float64] | float,
    years: NDArray[np.float64] | float,
    vol: NDArray[np.float64] | float,
    rate: float,
    is_call: NDArray[np.bool_] | bool,
) -> NDArray[np.float64]:
    """Black-76 prices of many contracts at once (arrays broadcast), the same formula as
    `black76_price`: a quote model values a whole chain on every bar, one call per strike is too slow.

    Inputs must be positive (a zero time or volatility gives the discounted intrinsic value).
    """
    forward_arr = np.asarray(forward, dtype=np.float64)
    strike_arr = np.asarray(strike, dtype=np.float64)
    years_arr = np.maximum(np.asarray(years, dtype=np.float64), 0.0)
    total_vol = np.maximum(np.asarray(vol, dtype=np.float64), 0.0) * np.sqrt(years_arr)
    live = total_vol > 0.0
    safe_vol = total_vol if live.all() else np.where(live, total_vol, 1.0)
    d1 = np.log(forward_arr / strike_arr) / safe_vol + 0.5 * safe_vol
    call = forward_arr * ndtr(d1) - strike_arr * ndtr(d1 - safe_vol)
    # the put from parity on the forward (C - P = F - K, undiscounted): one pair of normal CDFs
    undiscounted = np.where(is_call, call, call - forward_arr + strike_arr)
    if not live.all():
        intrinsic = np.maximum(np.where(is_call, forward_arr - strike_arr, strike_arr - forward_arr), 0.0)
        undiscounted = np.where(live, undiscounted, intrinsic)
    return np.asarray(np.exp(-rate * years_arr) * np.maximum(undiscounted, 0.0), dtype=np.float64)


def black76_value(
    forward: float, strike: float, years: float, vol: float, rate: float, is_call: bool
) -> float:
    """`black76_values` for one contract in plain floats: a backtest marks a held contract on every bar,
    and numpy's per-call overhead on arrays of length one costs ten times the arithmetic.

    The same formula term for term (the put from parity on the forward, a zero time or volatility
    giving the discounted intrinsic value, a floor at zero); inputs are not validated, as there.
    """
    years = max(years, 0.0)
    total_vol = max(vol, 0.0) * math.sqrt(years)
    if total_vol > 0.0:
        d1 = math.log(forward / strike) / total_vol + 0.5 * total_vol
        call = forward * normal_cdf(d1) - strike * normal_cdf(d1 - total_vol)
        undiscounted = call if is_call else call - forward + strike
    else:
        undiscounted = max(forward - strike if is_call else strike - forward, 0.0)
    return math.exp(-rate * years) * max(undiscounted, 0.0)


def option_price(
    model: Model,
    underlying: float,
    strike: float,
    years: float,
    vol: float,
    rate: float,
    option_type: OptionType | str,
    dividend_yield: float = 0.0,
) -> float:
    if model == "black76":
        return black76_price(underlying, strike, years, vol, rate, option_type)
    return black_scholes_price(underlying, strike, years, vol, rate, option_type, dividend_yield)


def greeks(
    model: Model,
    underlying: float,
    strike: float,
    years: float,
    vol: float,
    rate: float,
    option_type: OptionType | str,
    dividend_yield: float = 0.0,
    days_per_year: float = DAYS_PER_YEAR,
) -> Greeks:
    """Closed-form Greeks. theta is the change of price as time passes (usually negative).

    At expiry or zero volatility the option is its (discounted) intrinsic value: delta is the
    step, gamma and vega are 0, theta is the carry on the intrinsic value.
    """
    inputs = _inputs(model, underlying, strike, years, vol, rate, option_type, dividend_yield)
    if days_per_year <= 0:
        raise ValueError(f"days_per_year must be positive, got {days_per_year}")
    dividend_yield = dividend_yield if model == "bs" else 0.0
    forward, strike, years, discount, is_call = (
        inputs.forward,
        inputs.strike,
        inputs.years,
        inputs.discount,
        inputs.is_call,
    )
    # Black-76 is Black-Scholes with carry 0: the "spot" is the forward and its yield equals the rate.
    carry_yield = dividend_yield if model == "bs" else inputs.rate
    carry = math.exp(-carry_yield * years)  # d(price)/d(underlying) = carry * N(d1) for a call
    total_vol = inputs.vol * math.sqrt(years)
    price = discount * _undiscounted_price(forward, strike, total_vol, is_call)
    if total_vol <= 0.0:
        in_the_money = forward > strike if is_call else forward < strike
        sign = 1.0 if is_call else -1.0
        delta = sign * carry if in_the_money else 0.0
        intrinsic_underlying = sign * underlying * carry if in_the_money else 0.0
        intrinsic_strike = -sign * strike * discount if in_the_money else 0.0
        theta = (
            carry_yield * intrinsic_underlying + inputs.rate * intrinsic_strike
            if model == "bs"
            else inputs.rate * price
        )
        rho = -years * intrinsic_strike if model == "bs" else -years * price
        return Greeks(price, delta, 0.0, theta, theta / days_per_year, 0.0, 0.0, rho)
    sqrt_years = math.sqrt(years)
    d1 = math.log(forward / strike) / total_vol + 0.5 * total_vol
    d2 = d1 - total_vol
    density = normal_pdf(d1)
    gamma = carry * density / (underlying * total_vol)
    vega = underlying * carry * density * sqrt_years
    decay = -underlying * carry * density * inputs.vol / (2.0 * sqrt_years)
    if is_call:
        delta = carry * normal_cdf(d1)
        if model == "bs":
            theta = (
                decay
                - inputs.rate * strike * discount * normal_cdf(d2)
                + dividend_yield * underlying * carry * normal_cdf(d1)
            )
            rho = strike * years * discount * normal_cdf(d2)
        else:
            theta = decay + inputs.rate * price
            rho = -years * price
    else:
        delta = -carry * normal_cdf(-d1)
        if model == "bs":
            theta = (
                decay
                + inputs.rate * strike * discount * normal_cdf(-d2)
                - dividend_yield * underlying * carry * normal_cdf(-d1)
            )
            rho = -strike * years * discount * normal_cdf(-d2)
        else:
            theta = decay + inputs.rate * price
            rho = -years * price
    return Greeks(
        price=price,
        delta=delta,
        gamma=gamma,
        theta_per_year=theta,
        theta_per_day=theta / days_per_year,
        vega_per_unit=vega,
        vega_per_point=vega / 100.0,
        rho=rho,
    )


@dataclass(frozen=True, slots=True)
class IVResult:
    """`volatility` is None when there is no (unique) solution; `reason` then says why."""

    volatility: float | None
    reason: str

    @property
    def solved(self) -> bool:
        return self.volatility is not None


@dataclass(frozen=True, slots=True)
class PriceBounds:
    """No-arbitrage bounds of a European option price: intrinsic (vol 0) and the vol-infinity limit."""

    lower: float
    upper: float


def no_arbitrage_bounds(
    model: Model,
    underlying: float,
    strike: float,
    years: float,
    rate: float,
    option_type: OptionType | str,
    dividend_yield: float = 0.0,
) -> PriceBounds:
    inputs = _inputs(model, underlying, strike, years, 0.0, rate, option_type, dividend_yield)
    if inputs.is_call:
        lower = inputs.discount * max(inputs.forward - inputs.strike, 0.0)
        upper = inputs.discount * inputs.forward
    else:
        lower = inputs.discount * max(inputs.strike - inputs.forward, 0.0)
        upper = inputs.discount * inputs.strike
    return PriceBounds(lower, upper)


def implied_volatility(
    price: float,
    underlying: float,
    strike: float,
    years: float,
    rate: float,
    option_type: OptionType | str,
    model: Model = "bs",
    dividend_yield: float = 0.0,
    price_tolerance: float = 1e-6,
) -> IVResult:
    """The volatility that reproduces `price`, or None with the reason there is none.

    No solution when: the option has expired; the price breaks a no-arbitrage bound (below the
    discounted intrinsic value or at/above the underlying/strike limit); the price carries no time
    value (deep in the money or a stale quote: every volatility near 0 fits); or the time value is too
    small for the solver's volatility range (deep out of the money, near expiry). Otherwise Brent's method
    on a bracket [IV_LOWER_BOUND, IV_UPPER_BOUND] known to contain the root (price is monotone in vol).
    """
    price = _require(price, "option price")
    if price < 0:
        return IVResult(None, f"option price {price} is negative")
    inputs = _inputs(model, underlying, strike, years, 0.0, rate, option_type, dividend_yield)
    if inputs.years <= 0:
        return IVResult(None, "option has expired (years to expiry is 0): volatility is undefined")
    bounds = no_arbitrage_bounds(model, underlying, strike, years, rate, option_type, dividend_yield)
    if price < bounds.lower - price_tolerance:
        return IVResult(
            None,
            f"price {price:.6g} is below the no-arbitrage lower bound {bounds.lower:.6g} "
            "(discounted intrinsic value): stale or non-synchronous quote",
        )
    if price >= bounds.upper - price_tolerance:
        return IVResult(
            None,
            f"price {price:.6g} is at or above the no-arbitrage upper bound {bounds.upper:.6g}",
        )
    if price - bounds.lower <= price_tolerance:
        return IVResult(
            None,
            f"price {price:.6g} has no time value over intrinsic {bounds.lower:.6g} "
            "(deep in the money or stale): any volatility near zero fits",
        )

    def error(vol: float) -> float:
        return option_price(model, underlying, strike, years, vol, rate, option_type, dividend_yield) - price

    low_error, high_error = error(IV_LOWER_BOUND), error(IV_UPPER_BOUND)
    if low_error > 0:
        return IVResult(
            None,
            f"time value {price - bounds.lower:.6g} is below what a {IV_LOWER_BOUND:.2%} volatility gives: "
            "too small to resolve (deep out of the money or near expiry)",
        )
    if high_error < 0:
        return IVResult(None, f"price needs a volatility above {IV_UPPER_BOUND:.0%} a year")
    if low_error == 0:
        return IVResult(IV_LOWER_BOUND, "solved")
    volatility = float(brentq(error, IV_LOWER_BOUND, IV_UPPER_BOUND, xtol=IV_TOLERANCE, maxiter=200))
    return IVResult(volatility, "solved")
