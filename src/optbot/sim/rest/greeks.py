"""Black-76 prices, Greeks and implied volatility for the optionGreek endpoint.

The simulator keeps its own small implementation: it imitates the broker's calculator and must not
depend on the bot's analytics package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def _cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True, slots=True)
class Greeks:
    delta: float
    gamma: float
    theta_per_day: float
    vega_per_pct: float


def black76_price(forward: float, strike: float, years: float, vol: float, is_call: bool) -> float:
    if years <= 0 or vol <= 0:
        return max(0.0, forward - strike) if is_call else max(0.0, strike - forward)
    root = vol * math.sqrt(years)
    d1 = (math.log(forward / strike) + 0.5 * vol * vol * years) / root
    d2 = d1 - root
    if is_call:
        return forward * _cdf(d1) - strike * _cdf(d2)
    return strike * _cdf(-d2) - forward * _cdf(-d1)


def black76_greeks(forward: float, strike: float, years: float, vol: float, is_call: bool) -> Greeks:
    if years <= 0 or vol <= 0:
        itm = forward > strike if is_call else forward < strike
        return Greeks((1.0 if is_call else -1.0) if itm else 0.0, 0.0, 0.0, 0.0)
    root = vol * math.sqrt(years)
    d1 = (math.log(forward / strike) + 0.5 * vol * vol * years) / root
    delta = _cdf(d1) if is_call else _cdf(d1) - 1.0
    gamma = _pdf(d1) / (forward * root)
    theta_year = -forward * _pdf(d1) * vol / (2.0 * math.sqrt(years))
    vega = forward * _pdf(d1) * math.sqrt(years)
    return Greeks(delta, gamma, theta_year / 365.0, vega / 100.0)


def implied_volatility(
    price: float, forward: float, strike: float, years: float, is_call: bool
) -> float | None:
    """Bisection on volatility in [0.1 %, 500 %]; None when the price is outside the model's range."""
    if price <= 0 or forward <= 0 or strike <= 0 or years <= 0:
        return None
    low, high = 0.001, 5.0
    if (
        not black76_price(forward, strike, years, low, is_call)
        <= price
        <= black76_price(forward, strike, years, high, is_call)
    ):
        return None
    for _ in range(80):
        mid = 0.5 * (low + high)
        if black76_price(forward, strike, years, mid, is_call) < price:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)
