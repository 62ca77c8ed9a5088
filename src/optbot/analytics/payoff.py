"""Payoff of a set of option legs: at expiry (intrinsic) and today (Black-Scholes at each leg's IV).

Breakevens are where the expiry payoff crosses zero (linear interpolation between grid points, exact
for piecewise-linear payoffs when the strikes are on the grid); max profit / loss are over the grid,
reported as unlimited when the payoff still slopes at the grid's edge in that direction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from optbot.analytics.pricing import black_scholes_price


@dataclass(frozen=True, slots=True)
class PayoffLeg:
    option_type: str  # CE / PE
    strike: float
    quantity: int  # signed units: + bought, - written
    entry_price: float
    iv: float  # annualised, for today's curve
    years: float  # to expiry, for today's curve


@dataclass(frozen=True, slots=True)
class Payoff:
    spots: NDArray[np.float64]
    at_expiry: NDArray[np.float64]
    today: NDArray[np.float64]
    breakevens: tuple[float, ...]
    max_profit: float | None  # None = unlimited
    max_loss: float | None  # None = unlimited (a positive number of rupees otherwise)


def _intrinsic(leg: PayoffLeg, spots: NDArray[np.float64]) -> NDArray[np.float64]:
    if leg.option_type == "CE":
        return np.maximum(spots - leg.strike, 0.0)
    return np.maximum(leg.strike - spots, 0.0)


def payoff(
    legs: Sequence[PayoffLeg], spot: float, rate: float, width_pct: float = 10.0, points: int = 801
) -> Payoff:
    """Rupee P&L of the legs over spot +/- `width_pct` % (strikes always inside the grid)."""
    low = min([spot * (1 - width_pct / 100), *(leg.strike * 0.98 for leg in legs)])
    high = max([spot * (1 + width_pct / 100), *(leg.strike * 1.02 for leg in legs)])
    grid = np.unique(np.concatenate([np.linspace(low, high, points), [leg.strike for leg in legs]]))
    expiry = np.zeros_like(grid)
    today = np.zeros_like(grid)
    for leg in legs:
        expiry += (_intrinsic(leg, grid) - leg.entry_price) * leg.quantity
        if leg.years > 0 and leg.iv > 0:
            values = np.array(
                [black_scholes_price(s, leg.strike, leg.years, leg.iv, rate, leg.option_type) for s in grid]
            )
        else:
            values = _intrinsic(leg, grid)
        today += (values - leg.entry_price) * leg.quantity
    return Payoff(grid, expiry, today, _breakevens(grid, expiry), *_extremes(grid, expiry))


def _breakevens(grid: NDArray[np.float64], values: NDArray[np.float64]) -> tuple[float, ...]:
    found: list[float] = []
    for index in range(len(grid) - 1):
        a, b = values[index], values[index + 1]
        if a == 0 and (not found or abs(found[-1] - grid[index]) > 1e-9):
            found.append(float(grid[index]))
        elif a * b < 0:
            found.append(float(grid[index] - a * (grid[index + 1] - grid[index]) / (b - a)))
    return tuple(round(value, 2) for value in found)


def _extremes(grid: NDArray[np.float64], values: NDArray[np.float64]) -> tuple[float | None, float | None]:
    left_slope = values[1] - values[0]
    right_slope = values[-1] - values[-2]
    unlimited_profit = left_slope < -1e-9 or right_slope > 1e-9
    unlimited_loss = left_slope > 1e-9 or right_slope < -1e-9
    max_profit = None if unlimited_profit else float(values.max())
    max_loss = None if unlimited_loss else float(-values.min())
    return max_profit, max_loss


__all__ = ["Payoff", "PayoffLeg", "payoff"]
