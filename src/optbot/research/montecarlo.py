"""Monte Carlo on a finished backtest (spec §11.5, §11.8): how wide is the range of outcomes?

A backtest gives one path. The same edge, met in another order, on other days or with a little worse
execution, gives others; these methods draw them:

- **reshuffle**: the trades in a random order. Final P&L is unchanged (a permutation); the drawdown
  and the longest losing streak are what move.
- **bootstrap**: the daily P&L changes resampled in circular blocks of `block_days` (keeps the
  autocorrelation within a block), as many days as the backtest had.
- **perturb**: every trade again, each with extra slippage drawn in [0, `slippage_bps`] of its turnover,
  its charges scaled by a factor in [1 − x, 1 + x], and kept only with `fill_probability` (a missed
  fill is a trade that never happened).

Draws come from one seeded generator, so a study is repeatable; the backtest's own P&L never depends
on them. Everything is vectorised: 1,000 paths of a year's trades take milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
FAN_PERCENTILES = (5.0, 25.0, 50.0, 75.0, 95.0)


class Method(StrEnum):
    RESHUFFLE = "reshuffle"
    BOOTSTRAP = "bootstrap"
    PERTURB = "perturb"


@dataclass(frozen=True, slots=True)
class TradeSample:
    """What Monte Carlo needs of a backtest: per-trade net P&L, charges and turnover; daily P&L."""

    net_pnl: tuple[float, ...]
    charges: tuple[float, ...]
    turnover: tuple[float, ...]  # entry value + exit value of the round trip, rupees
    daily_pnl: tuple[float, ...]  # change of end-of-day equity, one per session
    initial_capital: float

    def __post_init__(self) -> None:
        if not (len(self.net_pnl) == len(self.charges) == len(self.turnover)):
            raise ValueError("net_pnl, charges and turnover must have one value per trade")
        if self.initial_capital <= 0:
            raise ValueError(f"initial_capital must be positive, got {self.initial_capital}")
        values = (*self.net_pnl, *self.charges, *self.turnover, *self.daily_pnl)
        if not all(np.isfinite(values)):
            raise ValueError("trade sample holds a value that is not a finite number")


@dataclass(frozen=True, slots=True)
class MonteCarloSettings:
    paths: int = 1000
    seed: int = 20_240_604
    block_days: int = 5
    confidence: float = 0.95
    ruin_loss_fraction: float = 0.30
    slippage_bps: float = 5.0
    charges_perturbation: float = 0.20  # fraction, 0.2 = ±20 %
    fill_probability: float = 0.95


@dataclass(frozen=True, slots=True)
class Distribution:
    """Summary of one metric over the paths: mean, median, the confidence interval, the actual value."""

    actual: float
    mean: float
    median: float
    low: float  # lower bound of the two-sided confidence interval
    high: float
    worst: float
    best: float


@dataclass(frozen=True, slots=True)
class MonteCarloResult:
    method: Method
    paths: int
    steps: int
    confidence: float
    final_pnl: Distribution
    max_drawdown: Distribution  # rupees, ≥ 0
    max_drawdown_pct: Distribution  # fraction of the running peak, ≥ 0
    longest_losing_streak: Distribution  # trades (reshuffle, perturb) or sessions (bootstrap)
    probability_of_ruin: float
    ruin_level: float  # the equity below which a path counts as ruined
    fan: dict[str, tuple[float, ...]]  # percentile label → equity at each step (step 0 = capital)


def _draw_paths(sample: TradeSample, method: Method, settings: MonteCarloSettings) -> FloatArray:
    """A (paths × steps) matrix of P&L increments."""
    rng = np.random.default_rng(settings.seed)
    if method is Method.BOOTSTRAP:
        return _block_bootstrap(np.asarray(sample.daily_pnl, dtype=np.float64), settings, rng)
    pnl = np.asarray(sample.net_pnl, dtype=np.float64)
    count = len(pnl)
    order = np.argsort(rng.random((settings.paths, count)), axis=1)
    shuffled = pnl[order]
    if method is Method.RESHUFFLE:
        return shuffled
    charges = np.asarray(sample.charges, dtype=np.float64)[order]
    turnover = np.asarray(sample.turnover, dtype=np.float64)[order]
    slippage = turnover * rng.uniform(0.0, settings.slippage_bps / 10_000.0, size=shuffled.shape)
    charge_factor = rng.uniform(
        1.0 - settings.charges_perturbation, 1.0 + settings.charges_perturbation, size=shuffled.shape
    )
    perturbed = shuffled - slippage - charges * (charge_factor - 1.0)
    kept = rng.random(shuffled.shape) < settings.fill_probability
    return np.where(kept, perturbed, 0.0)


def _block_bootstrap(daily: FloatArray, settings: MonteCarloSettings, rng: np.random.Generator) -> FloatArray:
    days = len(daily)
    if days == 0:
        return np.zeros((settings.paths, 0))
    block = min(settings.block_days, days)
    blocks = -(-days // block)
    starts = rng.integers(0, days, size=(settings.paths, blocks))
    index = (starts[:, :, None] + np.arange(block)[None, None, :]) % days  # circular blocks
    return daily[index.reshape(settings.paths, blocks * block)[:, :days]]


def _equity(increments: FloatArray, capital: float) -> FloatArray:
    paths = increments.shape[0]
    return np.concatenate((np.full((paths, 1), capital), capital + np.cumsum(increments, axis=1)), axis=1)


def _drawdowns(equity: FloatArray) -> tuple[FloatArray, FloatArray]:
    peaks = np.maximum.accumulate(equity, axis=1)
    depth = peaks - equity
    return depth.max(axis=1), (depth / peaks).max(axis=1)


def _longest_losing_streak(increments: FloatArray) -> FloatArray:
    losing = increments < 0
    streak = np.zeros(increments.shape[0])
    longest = np.zeros(increments.shape[0])
    for column in range(increments.shape[1]):
        streak = np.where(losing[:, column], streak + 1.0, 0.0)
        longest = np.maximum(longest, streak)
    return longest


def _distribution(values: FloatArray, actual: float, confidence: float, digits: int = 2) -> Distribution:
    """Rupees and counts to 2 decimals; a fraction (drawdown %) keeps `digits` (6: 0.0054 is 0.54 %,
    which 2 decimals would turn into 1 %)."""
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, median, high = np.percentile(values, [tail, 50.0, 100.0 - tail])
    return Distribution(
        actual=round(float(actual), digits),
        mean=round(float(values.mean()), digits),
        median=round(float(median), digits),
        low=round(float(low), digits),
        high=round(float(high), digits),
        worst=round(float(values.min()), digits),
        best=round(float(values.max()), digits),
    )


def _worst_first(values: FloatArray, actual: float, confidence: float, digits: int = 2) -> Distribution:
    """A distribution of a cost (drawdown, streak): 'worst' is the largest value."""
    summary = _distribution(values, actual, confidence, digits)
    return Distribution(
        summary.actual, summary.mean, summary.median, summary.low, summary.high, summary.best, summary.worst
    )


def actual_increments(sample: TradeSample, method: Method) -> FloatArray:
    """The backtest's own path, in the same units the method resamples."""
    values = sample.daily_pnl if method is Method.BOOTSTRAP else sample.net_pnl
    return np.asarray(values, dtype=np.float64).reshape(1, -1)


def run_monte_carlo(sample: TradeSample, method: Method, settings: MonteCarloSettings) -> MonteCarloResult:
    """Draw `settings.paths` alternative paths and summarise final P&L, drawdown, streaks and ruin."""
    if settings.paths < 1:
        raise ValueError(f"paths must be at least 1, got {settings.paths}")
    increments = _draw_paths(sample, method, settings)
    capital = sample.initial_capital
    equity = _equity(increments, capital)
    drawdown, drawdown_pct = _drawdowns(equity)
    streaks = _longest_losing_streak(increments)
    actual = actual_increments(sample, method)
    actual_equity = _equity(actual, capital)
    actual_drawdown, actual_drawdown_pct = _drawdowns(actual_equity)
    ruin_level = capital * (1.0 - settings.ruin_loss_fraction)
    ruined = (equity <= ruin_level).any(axis=1)
    fan = {
        f"p{int(level)}": tuple(round(float(value), 2) for value in np.percentile(equity, level, axis=0))
        for level in FAN_PERCENTILES
    }
    return MonteCarloResult(
        method=method,
        paths=settings.paths,
        steps=increments.shape[1],
        confidence=settings.confidence,
        final_pnl=_distribution(
            equity[:, -1] - capital, float(actual_equity[0, -1] - capital), settings.confidence
        ),
        max_drawdown=_worst_first(drawdown, float(actual_drawdown[0]), settings.confidence),
        max_drawdown_pct=_worst_first(drawdown_pct, float(actual_drawdown_pct[0]), settings.confidence, 6),
        longest_losing_streak=_worst_first(
            streaks, float(_longest_losing_streak(actual)[0]), settings.confidence
        ),
        probability_of_ruin=round(float(ruined.mean()), 6),
        ruin_level=round(ruin_level, 2),
        fan=fan,
    )


def sample_from_backtest(
    trade_pnls: Sequence[float],
    trade_charges: Sequence[float],
    trade_turnover: Sequence[float],
    equity: Sequence[float],
    initial_capital: float,
) -> TradeSample:
    """Build a sample from a backtest's trades and its end-of-day equity points."""
    points = np.asarray(equity, dtype=np.float64)
    daily = np.diff(points) if len(points) > 1 else np.zeros(0)
    return TradeSample(
        net_pnl=tuple(float(v) for v in trade_pnls),
        charges=tuple(float(v) for v in trade_charges),
        turnover=tuple(float(v) for v in trade_turnover),
        daily_pnl=tuple(float(v) for v in daily),
        initial_capital=float(initial_capital),
    )
