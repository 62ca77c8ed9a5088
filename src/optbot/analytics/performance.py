"""Performance and risk metrics for equity curves, period returns and closed trades.

Conventions (stated because every platform differs slightly): returns are simple per-period returns;
volatility, Sharpe and Sortino use the sample standard deviation (ddof=1) scaled by
sqrt(periods_per_year); the risk-free rate is an annual fraction, de-annualised per period by simple
division; drawdowns are fractions of the running peak (0.12 = 12 % below the peak); VaR is reported as
a positive loss fraction of one period. Undefined results (no trades, no variation) are None, never 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri  # the normal quantile (scipy.stats would import ~25 MB more)

FloatArray = npt.NDArray[np.float64]
Numbers = Sequence[float] | npt.NDArray[np.floating]

#: Trading days a year on NSE, for daily returns.
TRADING_DAYS_PER_YEAR = 252


def _array(values: Numbers, name: str, minimum_length: int = 1) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if len(array) < minimum_length:
        raise ValueError(f"{name} needs at least {minimum_length} values, got {len(array)}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}[{int(np.flatnonzero(~np.isfinite(array))[0])}] is not a finite number")
    return array


def _equity(equity: Numbers) -> FloatArray:
    array = _array(equity, "equity", minimum_length=2)
    if np.any(array <= 0):
        raise ValueError(f"equity must stay positive (index {int(np.flatnonzero(array <= 0)[0])})")
    return array


def _periods(periods_per_year: float) -> float:
    if not (math.isfinite(periods_per_year) and periods_per_year > 0):
        raise ValueError(f"periods_per_year must be positive, got {periods_per_year}")
    return float(periods_per_year)


def returns_from_equity(equity: Numbers) -> FloatArray:
    array = _equity(equity)
    return array[1:] / array[:-1] - 1.0


def total_return(equity: Numbers) -> float:
    array = _equity(equity)
    return float(array[-1] / array[0] - 1.0)


def annualised_return(equity: Numbers, periods_per_year: float = TRADING_DAYS_PER_YEAR) -> float:
    """Compound annual growth rate over len(equity) - 1 periods."""
    array = _equity(equity)
    years = (len(array) - 1) / _periods(periods_per_year)
    return float((array[-1] / array[0]) ** (1.0 / years) - 1.0)


def volatility(returns: Numbers, periods_per_year: float = TRADING_DAYS_PER_YEAR) -> float | None:
    array = _array(returns, "returns")
    if len(array) < 2:
        return None
    return float(array.std(ddof=1) * math.sqrt(_periods(periods_per_year)))


@dataclass(frozen=True, slots=True)
class Drawdown:
    """The deepest fall from a running peak: where it peaked, bottomed and (if ever) recovered."""

    max_drawdown: float
    peak_index: int
    trough_index: int
    recovery_index: int | None
    duration_periods: int  # peak to recovery, or peak to the end while still under water
    longest_underwater_periods: int


def max_drawdown(equity: Numbers) -> Drawdown:
    array = _equity(equity)
    running_peak = np.maximum.accumulate(array)
    drawdowns = 1.0 - array / running_peak
    trough = int(np.argmax(drawdowns))
    depth = float(drawdowns[trough])
    if depth <= 0.0:
        return Drawdown(0.0, 0, 0, None, 0, 0)
    peak = int(np.flatnonzero(array[: trough + 1] == running_peak[trough])[0])
    recovered = np.flatnonzero(array[trough:] >= running_peak[trough])
    recovery = int(recovered[0] + trough) if recovered.size else None
    duration = (recovery if recovery is not None else len(array) - 1) - peak
    longest = current = 0
    for underwater in drawdowns > 0:
        current = current + 1 if underwater else 0
        longest = max(longest, current)
    return Drawdown(depth, peak, trough, recovery, duration, longest)


def sharpe(
    returns: Numbers, risk_free_rate: float = 0.0, periods_per_year: float = TRADING_DAYS_PER_YEAR
) -> float | None:
    """Annualised Sharpe ratio; None with fewer than two returns or no variation."""
    array = _array(returns, "returns")
    periods = _periods(periods_per_year)
    if len(array) < 2:
        return None
    excess = array - risk_free_rate / periods
    deviation = float(excess.std(ddof=1))
    if deviation == 0.0:
        return None
    return float(excess.mean() / deviation * math.sqrt(periods))


def sortino(
    returns: Numbers, risk_free_rate: float = 0.0, periods_per_year: float = TRADING_DAYS_PER_YEAR
) -> float | None:
    """Annualised Sortino ratio: excess mean over downside deviation (root mean square of the
    shortfalls below the per-period risk-free rate, over all periods). None if nothing fell short."""
    array = _array(returns, "returns")
    periods = _periods(periods_per_year)
    if len(array) < 2:
        return None
    excess = array - risk_free_rate / periods
    downside = float(np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2)))
    if downside == 0.0:
        return None
    return float(excess.mean() / downside * math.sqrt(periods))


def win_rate(trade_pnls: Numbers) -> float | None:
    """Fraction of closed trades with a positive P&L (a scratch trade is not a win)."""
    array = _array(trade_pnls, "trade_pnls", minimum_length=0)
    return None if len(array) == 0 else float(np.count_nonzero(array > 0) / len(array))


def profit_factor(trade_pnls: Numbers) -> float | None:
    """Gross profit over gross loss; infinity when there are winners and no losers; None without trades."""
    array = _array(trade_pnls, "trade_pnls", minimum_length=0)
    if len(array) == 0:
        return None
    gross_profit = float(array[array > 0].sum())
    gross_loss = float(-array[array < 0].sum())
    if gross_loss == 0.0:
        return math.inf if gross_profit > 0 else None
    return gross_profit / gross_loss


def average_trade(trade_pnls: Numbers) -> float | None:
    array = _array(trade_pnls, "trade_pnls", minimum_length=0)
    return None if len(array) == 0 else float(array.mean())


def exposure(in_market: Sequence[bool] | npt.NDArray[np.bool_]) -> float:
    """Fraction of periods with an open position."""
    flags = np.asarray(in_market, dtype=bool)
    if flags.ndim != 1 or len(flags) == 0:
        raise ValueError("in_market needs at least one period")
    return float(flags.mean())


def value_at_risk(
    returns: Numbers,
    confidence: float = 0.95,
    method: Literal["historical", "parametric"] = "historical",
) -> float:
    """One-period VaR as a positive loss fraction: the loss exceeded with probability 1 - confidence.

    historical: the empirical (1 - confidence) quantile (linear interpolation);
    parametric: normal with the sample mean and standard deviation.
    """
    array = _array(returns, "returns", minimum_length=2)
    if not 0.5 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0.5 and 1 (exclusive), got {confidence}")
    if method == "historical":
        quantile = float(np.quantile(array, 1.0 - confidence))
    elif method == "parametric":
        quantile = float(array.mean() + ndtri(1.0 - confidence) * array.std(ddof=1))
    else:
        raise ValueError(f"method must be 'historical' or 'parametric', got {method!r}")
    return 0.0 - quantile  # not `-quantile`: a flat series' zero quantile is a loss of 0.0, not -0.0


def calmar(equity: Numbers, periods_per_year: float = TRADING_DAYS_PER_YEAR) -> float | None:
    """Annualised return over maximum drawdown; None when there was no drawdown."""
    depth = max_drawdown(equity).max_drawdown
    if depth == 0.0:
        return None
    return annualised_return(equity, periods_per_year) / depth


@dataclass(frozen=True, slots=True)
class PerformanceReport:
    total_return: float
    annualised_return: float
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    drawdown: Drawdown
    value_at_risk_historical: float | None
    value_at_risk_parametric: float | None
    trades: int
    win_rate: float | None
    profit_factor: float | None
    average_trade: float | None
    exposure: float | None


def performance_report(
    equity: Numbers,
    trade_pnls: Numbers = (),
    in_market: Sequence[bool] | None = None,
    risk_free_rate: float = 0.0,
    periods_per_year: float = TRADING_DAYS_PER_YEAR,
    var_confidence: float = 0.95,
) -> PerformanceReport:
    """Every metric at once, as strategy performance tracking and backtest reports need them."""
    returns = returns_from_equity(equity)
    enough = len(returns) >= 2
    pnls = _array(trade_pnls, "trade_pnls", minimum_length=0)
    return PerformanceReport(
        total_return=total_return(equity),
        annualised_return=annualised_return(equity, periods_per_year),
        volatility=volatility(returns, periods_per_year),
        sharpe=sharpe(returns, risk_free_rate, periods_per_year),
        sortino=sortino(returns, risk_free_rate, periods_per_year),
        calmar=calmar(equity, periods_per_year),
        drawdown=max_drawdown(equity),
        value_at_risk_historical=value_at_risk(returns, var_confidence, "historical") if enough else None,
        value_at_risk_parametric=value_at_risk(returns, var_confidence, "parametric") if enough else None,
        trades=len(pnls),
        win_rate=win_rate(pnls),
        profit_factor=profit_factor(pnls),
        average_trade=average_trade(pnls),
        exposure=exposure(in_market) if in_market is not None else None,
    )
