"""Fit the parametric smile (`SmileParams`) to real out-of-the-money premiums.

The smile's shape is identified apart from the ATM level: each chain observation is standardised by
its own ATM implied vol (from its ATM straddle) and its own put-call-parity forward, so a VIX->ATM
error elsewhere in the fit cannot leak into the skew. Parameters minimise the (robust) squared log
price error of OTM quotes at or above a premium floor (below it the 0.05 tick dominates the relative
error); each data source (1-minute bars, EOD bhavcopies) of an underlying weighs the same in total,
so thousands of minute samples do not drown the end-of-day chains.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

from optbot.analytics.calibration_data import ChainObservation
from optbot.analytics.pricing import black76_values
from optbot.analytics.synthetic import TimeToExpiry
from optbot.analytics.synthetic_params import FLAT_SMILE, MIN_SMILE_RATIO, SMILE_KNOTS, SmileParams

FloatArray = NDArray[np.float64]
IV_BISECTION_STEPS = 60
#: Only quotes within this many standard deviations of the forward enter the fit.
MAX_FIT_MONEYNESS = 4.0
#: Fewer OTM quotes than this for an underlying: its smile stays flat (no shape the data does not show).
MIN_SMILE_QUOTES = 30
#: Robust loss scale on log price errors (quotes further off than ~this count less than squared).
LOSS_SCALE = 0.1
#: Bounds on a knot's IV / ATM IV and on each side's term exponent.
KNOT_BOUNDS = (MIN_SMILE_RATIO, 3.0)
TERM_BOUNDS = (-1.0, 1.0)
#: Bounds on the call side's lift per unit of recent fall (`SmileParams.call_lift_per_return`):
#: richer calls after a fall, cheaper after a rise; never the other way round.
CALL_LIFT_BOUNDS = (0.0, 5.0)
#: Weight of the knots' second differences (curvature of the smile between knots) in the fit: small
#: beside the price residuals, it only decides knots the quotes leave free (they follow their
#: neighbours in a straight line instead of wandering).
SMOOTHNESS_WEIGHT = 0.2


def implied_vols(
    prices: FloatArray,
    forward: FloatArray,
    strike: FloatArray,
    years: float | FloatArray,
    rate: float,
    is_call: NDArray[np.bool_],
) -> FloatArray:
    """Calendar-time Black-76 implied vols by bisection (NaN where the price has no time value)."""
    low, high = np.full(prices.shape, 1e-4), np.full(prices.shape, 5.0)
    for _ in range(IV_BISECTION_STEPS):
        middle = 0.5 * (low + high)
        above = black76_values(forward, strike, years, middle, rate, is_call) > prices
        high = np.where(above, middle, high)
        low = np.where(above, low, middle)
    solved = 0.5 * (low + high)
    intrinsic = np.exp(-rate * np.asarray(years)) * np.where(
        is_call, np.maximum(forward - strike, 0.0), np.maximum(strike - forward, 0.0)
    )
    usable = (prices > intrinsic + 0.01) & (solved > 2e-4) & (solved < 4.99)
    return np.where(usable, solved, np.nan)


@dataclass(slots=True)
class SmileQuotes:
    """OTM quotes of many chains, each standardised by its own chain's ATM vol and forward."""

    source: list[str]
    moneyness: list[float]
    sessions: list[float]
    forward: list[float]
    strike: list[float]
    calendar_years: list[float]
    variance_years: list[float]
    is_call: list[bool]
    price: list[float]
    atm_variance_vol: list[float]
    #: The underlying's recent return on the quote's day (0 where unknown).
    recent_return: list[float]

    @classmethod
    def empty(cls) -> SmileQuotes:
        return cls([], [], [], [], [], [], [], [], [], [], [])

    def __len__(self) -> int:
        return len(self.price)


def chain_atm_variance_vol(
    call: float, put: float, forward: float, strike: float, time: TimeToExpiry, rate: float
) -> float | None:
    """The chain's own ATM vol per variance-time year: mean IV of its ATM call and put."""
    if time.calendar_years <= 0 or time.variance_years <= 0:
        return None
    vols = implied_vols(
        np.array([call, put]),
        np.full(2, forward),
        np.full(2, strike),
        time.calendar_years,
        rate,
        np.array([True, False]),
    )
    if not np.isfinite(vols).any():
        return None
    return float(np.nanmean(vols)) * math.sqrt(time.calendar_years / time.variance_years)


def add_smile_quotes(
    quotes: SmileQuotes,
    chain: ChainObservation,
    forward: float,
    atm_variance_vol: float,
    time: TimeToExpiry,
    min_premium: float,
    recent_return: float | None = None,
) -> None:
    """Append `chain`'s OTM quotes at or above `min_premium` within `MAX_FIT_MONEYNESS`, with the
    underlying's `recent_return` that day (None: unknown)."""
    root = atm_variance_vol * math.sqrt(time.variance_years)
    otm = np.where(chain.is_call, chain.strikes > forward, chain.strikes < forward)
    for index in np.flatnonzero(otm & (chain.prices >= min_premium)):
        z = math.log(chain.strikes[index] / forward) / root
        if abs(z) > MAX_FIT_MONEYNESS:
            continue
        quotes.source.append(chain.source)
        quotes.moneyness.append(z)
        quotes.sessions.append(time.sessions)
        quotes.forward.append(forward)
        quotes.strike.append(float(chain.strikes[index]))
        quotes.calendar_years.append(time.calendar_years)
        quotes.variance_years.append(time.variance_years)
        quotes.is_call.append(bool(chain.is_call[index]))
        quotes.price.append(float(chain.prices[index]))
        quotes.atm_variance_vol.append(atm_variance_vol)
        quotes.recent_return.append(recent_return if recent_return is not None else 0.0)


def smile_prices(smile: SmileParams, quotes: SmileQuotes, rate: float) -> FloatArray:
    """Black-76 values of `quotes` with their own ATM vol times `smile`'s ratio."""
    variance_years = np.asarray(quotes.variance_years)
    calendar_years = np.asarray(quotes.calendar_years)
    lift = -smile.call_lift_per_return * np.asarray(quotes.recent_return)
    ratio = smile.ratio(np.asarray(quotes.moneyness), np.asarray(quotes.sessions), lift)
    vol = np.asarray(quotes.atm_variance_vol) * ratio * np.sqrt(variance_years / calendar_years)
    return black76_values(
        np.asarray(quotes.forward),
        np.asarray(quotes.strike),
        calendar_years,
        vol,
        rate,
        np.asarray(quotes.is_call),
    )


def fit_smile(quotes: SmileQuotes, rate: float, reference_sessions: float) -> SmileParams:
    """Least squares on log premiums over the knot values, the two term exponents and the call side's
    lift per recent return (left at 0 where no quote's day has a recent return); flat when there are
    too few quotes to show a shape."""
    if len(quotes) < MIN_SMILE_QUOTES:
        return FLAT_SMILE
    sessions = np.asarray(quotes.sessions)
    frame = SmileParams(
        knots=SMILE_KNOTS,
        values=FLAT_SMILE.values,
        reference_sessions=reference_sessions,
        min_sessions=float(sessions.min()),
        max_sessions=float(sessions.max()),
        observations=len(quotes),
    )
    counts: dict[str, int] = defaultdict(int)
    for source in quotes.source:
        counts[source] += 1
    weight = np.array([1.0 / math.sqrt(counts[source]) for source in quotes.source])
    real = np.asarray(quotes.price)
    free = len(SMILE_KNOTS) - 1

    def residuals(theta: FloatArray) -> FloatArray:
        smile = _with(frame, theta)
        model = smile_prices(smile, quotes, rate)
        prices = weight * robust(np.log(np.maximum(model, 1e-6) / real), LOSS_SCALE)
        return np.concatenate([prices, SMOOTHNESS_WEIGHT * np.diff(smile.values, 2)])

    # the lift is free only where some quote's day has a recent return: a parameter the residuals
    # never depend on leaves nothing to fit and stalls the solver (35 s instead of 0.3 s)
    lifts = 1 if np.any(np.asarray(quotes.recent_return) != 0.0) else 0
    lower = np.concatenate(
        [np.full(free, KNOT_BOUNDS[0]), np.full(2, TERM_BOUNDS[0]), np.full(lifts, CALL_LIFT_BOUNDS[0])]
    )
    upper = np.concatenate(
        [np.full(free, KNOT_BOUNDS[1]), np.full(2, TERM_BOUNDS[1]), np.full(lifts, CALL_LIFT_BOUNDS[1])]
    )
    start = np.concatenate([np.ones(free), np.zeros(2 + lifts)])
    fitted = least_squares(residuals, start, bounds=(lower, upper), method="trf")
    return _with(frame, fitted.x)


def robust(errors: FloatArray, scale: float) -> FloatArray:
    """Residuals whose squares are the soft-L1 loss of `errors` (linear beyond ~`scale`), so that
    per-source weights can multiply them without changing where the loss turns robust."""
    loss = 2.0 * (np.sqrt(1.0 + (errors / scale) ** 2) - 1.0)
    return np.asarray(np.sign(errors) * scale * np.sqrt(loss), dtype=np.float64)


def _with(frame: SmileParams, theta: FloatArray) -> SmileParams:
    """`frame` with the free knot values (all but the ATM's, pinned at 1), term exponents and the
    call side's lift per recent return."""
    atm = SMILE_KNOTS.index(0.0)
    free = len(SMILE_KNOTS) - 1
    values = (*theta[:atm], 1.0, *theta[atm:free])
    return replace(
        frame,
        values=tuple(float(value) for value in values),
        put_term=float(theta[free]),
        call_term=float(theta[free + 1]),
        call_lift_per_return=float(theta[free + 2]) if len(theta) > free + 2 else 0.0,
    )
