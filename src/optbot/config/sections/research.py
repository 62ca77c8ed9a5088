from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section


class ResearchSettings(Section):
    """The research suite (spec §11.5, §11.8): optimisation, walk-forward, Monte Carlo, stress tests."""

    # Monte Carlo (§11.5): resampling of a backtest's trades and days. Seeded, so a study is repeatable;
    # no backtest P&L depends on these draws — they only describe the spread of possible outcomes.
    monte_carlo_paths: int = Field(default=1000, ge=10, le=1_000_000)
    monte_carlo_seed: int = Field(default=20_240_604, ge=0)
    bootstrap_block_days: int = Field(default=5, ge=1, le=250, description="block length of the bootstrap")
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0, description="two-sided confidence intervals")
    ruin_loss_fraction: float = Field(
        default=0.30, gt=0, le=1, description="ruin = equity falls this fraction below the starting capital"
    )
    slippage_perturbation_bps: float = Field(
        default=5.0,
        ge=0,
        le=500,
        description="extra slippage per trade, drawn uniformly in [0, this] of turnover",
    )
    charges_perturbation_pct: float = Field(
        default=20.0, ge=0, le=100, description="charges scaled by a factor drawn in [1 - x %, 1 + x %]"
    )
    fill_probability: float = Field(
        default=0.95, gt=0, le=1, description="each trade is kept with this probability (missed fills)"
    )
