"""Price helpers of the simulator's market: tick rounding and the floor on time to expiry.

Option values come from the calibrated synthetic model in `optbot.analytics.synthetic` (the one
model backtests use) and Black-76 from `optbot.analytics.pricing`; nothing is priced here.
"""

from __future__ import annotations

MINUTES_PER_YEAR = 365.0 * 24 * 60
MIN_YEARS = 1.0 / MINUTES_PER_YEAR  # a contract one minute from expiry still has time value


def round_to_tick(price: float, tick: float) -> float:
    """Nearest tick (half to even), never below one tick: an option quote is at least ₹0.05."""
    return round(max(round(price / tick), 1) * tick, 2)
