from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section


class BacktestSettings(Section):
    """The paper/backtest fill model and account (spec §11.5); paper trading uses the same values."""

    initial_capital: float = Field(default=500_000.0, gt=0)
    slippage_ticks: int = Field(default=1, ge=0)
    latency_ms: int = Field(default=250, ge=0)
    # Spread used when a quote carries no bid/ask depth: the larger of ticks and % of LTP.
    modelled_spread_ticks: int = Field(default=2, ge=0)
    modelled_spread_pct: float = Field(default=0.5, ge=0, le=50)
    # Spacing of the replayed ticks in `optbot backtest` (replay.tick_seconds is the simulator's own, 1 s).
    tick_seconds: float = Field(
        default=5.0,
        gt=0,
        le=15,
        description="optbot backtest: seconds between replayed index ticks (--speed-ticks overrides)",
    )
