"""Black-76 option values and the simulator's volatility smile.

Index options are priced off the forward F = S·e^{carry·T} with Black-76 (discounted at the
risk-free rate). Implied volatility comes from INDIA VIX (VIX/100 at the money) bent into a smile:
higher away from the money and skewed so low strikes (OTM puts) carry more vol, as NSE chains do.
Vectorised with numpy + scipy's normal CDF because the replay reprices every watched contract on
every underlying tick.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

MINUTES_PER_YEAR = 365.0 * 24 * 60
MIN_YEARS = 1.0 / MINUTES_PER_YEAR  # a contract one minute from expiry still has time value

FloatArray = NDArray[np.float64]


def black76(
    forward: FloatArray | float,
    strike: FloatArray | float,
    years: FloatArray | float,
    volatility: FloatArray | float,
    rate: float,
    is_call: NDArray[np.bool_] | bool,
) -> FloatArray:
    """Discounted Black-76 value of calls (is_call) or puts; arrays broadcast."""
    forward_arr = np.asarray(forward, dtype=np.float64)
    strike_arr = np.asarray(strike, dtype=np.float64)
    years_arr = np.maximum(np.asarray(years, dtype=np.float64), MIN_YEARS)
    vol_arr = np.maximum(np.asarray(volatility, dtype=np.float64), 1e-6)
    deviation = vol_arr * np.sqrt(years_arr)
    d1 = (np.log(forward_arr / strike_arr) + 0.5 * deviation**2) / deviation
    d2 = d1 - deviation
    discount = np.exp(-rate * years_arr)
    call = discount * (forward_arr * ndtr(d1) - strike_arr * ndtr(d2))
    put = discount * (strike_arr * ndtr(-d2) - forward_arr * ndtr(-d1))
    return np.asarray(np.where(is_call, call, put), dtype=np.float64)


def forward_price(spot: float, years: FloatArray | float, carry: float) -> FloatArray:
    return np.asarray(spot * np.exp(carry * np.asarray(years, dtype=np.float64)), dtype=np.float64)


def standardised_moneyness(
    strike: FloatArray | float, forward: FloatArray | float, atm_vol: float, years: FloatArray | float
) -> FloatArray:
    """ln(K/F) in units of the at-the-money standard deviation: comparable across expiries."""
    deviation = max(atm_vol, 1e-6) * np.sqrt(np.maximum(np.asarray(years, dtype=np.float64), MIN_YEARS))
    return np.asarray(np.log(np.asarray(strike) / np.asarray(forward)) / deviation, dtype=np.float64)


def smile_volatility(
    atm_vol: float,
    moneyness: FloatArray,
    curvature: float,
    put_skew: float,
    max_moneyness: float = 4.0,
    floor_fraction: float = 0.5,
) -> FloatArray:
    """σ(m) = σ_atm·(1 + curvature·m² − put_skew·m), m clipped; low strikes (m<0) get the skew."""
    clipped = np.clip(moneyness, -max_moneyness, max_moneyness)
    vol = atm_vol * (1.0 + curvature * clipped**2 - put_skew * clipped)
    return np.asarray(np.maximum(vol, atm_vol * floor_fraction), dtype=np.float64)


def round_to_tick(price: FloatArray, tick: float) -> FloatArray:
    """Nearest tick, never below one tick: an option quote is at least ₹0.05."""
    ticks = np.maximum(np.rint(np.asarray(price) / tick), 1.0)
    return np.asarray(np.round(ticks * tick, 2), dtype=np.float64)


def black76_scalar(
    forward: float, strike: float, years: float, volatility: float, rate: float, is_call: bool
) -> float:
    """Single-contract Black-76 (no numpy), for tests and one-off prices."""
    years = max(years, MIN_YEARS)
    deviation = max(volatility, 1e-6) * math.sqrt(years)
    d1 = (math.log(forward / strike) + 0.5 * deviation * deviation) / deviation
    d2 = d1 - deviation

    def cdf(value: float) -> float:
        return 0.5 * (1.0 + math.erf(value / math.sqrt(2.0)))

    discount = math.exp(-rate * years)
    if is_call:
        return discount * (forward * cdf(d1) - strike * cdf(d2))
    return discount * (strike * cdf(-d2) - forward * cdf(-d1))
