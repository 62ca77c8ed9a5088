"""Per-strategy performance tracking and rotation (spec §7.3, §10.6)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optbot.analytics.performance import max_drawdown, sharpe, win_rate
from optbot.config.sections.strategy import StrategySettings


@dataclass(frozen=True, slots=True)
class PerformanceSummary:
    strategy: str
    trades: int
    win_rate: float | None
    average_return_pct: float | None
    max_drawdown_pct: float | None
    sharpe: float | None  # per-trade Sharpe (not annualised)
    total_pnl: float

    def describe(self) -> str:
        def fmt(value: float | None, spec: str) -> str:
            return "n/a" if value is None else format(value, spec)

        return (
            f"{self.strategy}: {self.trades} trades, win rate {fmt(self.win_rate, '.0%')}, "
            f"avg {fmt(self.average_return_pct, '+.2f')}%, max DD {fmt(self.max_drawdown_pct, '.2f')}%, "
            f"Sharpe {fmt(self.sharpe, '.2f')}, P&L {self.total_pnl:+,.0f}"
        )


@dataclass
class StrategyPerformance:
    """Closed-trade results of one strategy: P&L in rupees and return in % of capital deployed."""

    strategy: str
    starting_capital: float
    pnls: list[float] = field(default_factory=list)
    returns_pct: list[float] = field(default_factory=list)

    def record(self, pnl: float, capital_deployed: float) -> None:
        if capital_deployed <= 0:
            raise ValueError("capital_deployed must be positive")
        self.pnls.append(pnl)
        self.returns_pct.append(pnl / capital_deployed * 100)

    def summary(self) -> PerformanceSummary:
        trades = len(self.pnls)
        if trades == 0:
            return PerformanceSummary(self.strategy, 0, None, None, None, None, 0.0)
        equity = self.starting_capital + np.cumsum([0.0, *self.pnls])
        drawdown = max_drawdown(equity).max_drawdown * 100 if np.all(equity > 0) else 100.0
        return PerformanceSummary(
            self.strategy,
            trades,
            win_rate(self.pnls),
            float(np.mean(self.returns_pct)),
            drawdown,
            sharpe(np.array(self.returns_pct) / 100, periods_per_year=1) if trades >= 2 else None,
            float(sum(self.pnls)),
        )


class PerformanceBook:
    """All strategies' records, and the rotation rule that benches poor performers."""

    def __init__(self, settings: StrategySettings, starting_capital: float) -> None:
        self.settings = settings
        self.starting_capital = starting_capital
        self.records: dict[str, StrategyPerformance] = {}

    def record(self, strategy: str, pnl: float, capital_deployed: float) -> None:
        self.records.setdefault(strategy, StrategyPerformance(strategy, self.starting_capital)).record(
            pnl, capital_deployed
        )

    def summary(self, strategy: str) -> PerformanceSummary:
        return self.records.get(strategy, StrategyPerformance(strategy, self.starting_capital)).summary()

    def benched(self, strategy: str) -> str | None:
        """Why a strategy is rotated out, or None while it may trade."""
        summary = self.summary(strategy)
        s = self.settings
        if summary.trades < s.rotation_min_trades:
            return None
        if summary.win_rate is not None and summary.win_rate < s.rotation_min_win_rate:
            limit = s.rotation_min_win_rate
            return f"win rate {summary.win_rate:.0%} < {limit:.0%} over {summary.trades} trades"
        if summary.sharpe is not None and summary.sharpe < s.rotation_min_sharpe:
            return f"Sharpe {summary.sharpe:.2f} < {s.rotation_min_sharpe:g} over {summary.trades} trades"
        return None
