from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section


class ScheduledStudy(Section):
    """A walk-forward the bot runs by itself on non-trading days (§1.5 data-management mode)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    strategy: str = Field(min_length=1, description="strategy name or module:Class")
    lookback_months: int = Field(default=24, ge=2, le=240, description="history the walk-forward covers")
    in_sample_months: int = Field(default=6, ge=1, le=60)
    out_of_sample_months: int = Field(default=1, ge=1, le=12)
    trials: int = Field(default=50, ge=1, le=10_000, description="trials per window")
    objective: str = Field(default="net_pnl")
    min_trades: int = Field(default=0, ge=0)
    storage: str | None = Field(
        default=None, description="Optuna storage URL (default: SQLite beside reports)"
    )


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
    # Data-management mode (§1.5, §10.6): walk-forwards run on non-trading days, at most once a day each;
    # their out-of-sample verdicts bench strategies that stopped working.
    studies: list[ScheduledStudy] = Field(default_factory=list)
    rotation_min_walk_forward_efficiency: float = Field(
        default=0.25,
        ge=-10,
        le=10,
        description="bench a strategy whose walk-forward efficiency falls below this",
    )
    rotation_min_out_of_sample_sessions: int = Field(
        default=20, ge=1, description="no verdict before this many out-of-sample sessions"
    )
    # Bias checks (§11.5): look-ahead by cutting every series at each decision time; warm-up sensitivity
    # by shortening the history before the first evaluated day to each of these session counts.
    bias_warmup_sessions: list[int] = Field(
        default_factory=lambda: [5, 10, 20, 40, 80, 160, 320],
        min_length=1,
        description="history lengths (sessions before the first day) the warm-up check compares",
    )
    bias_intraday_history_days: int = Field(
        default=60, ge=1, le=3650, description="calendar days of intraday bars replayed before the first day"
    )
    bias_indicator_tolerance: float = Field(
        default=1e-6, ge=0, le=1, description="largest relative indicator change that still counts as equal"
    )
    bias_max_look_ahead_checks: int = Field(
        default=200, ge=1, description="decision times re-run with the data cut there (spread evenly)"
    )
    # Stress tests (§11.8): the largest one-day INDIA VIX rises in the data join the named windows.
    stress_vix_spike_windows: int = Field(
        default=5, ge=0, le=100, description="largest one-day INDIA VIX rises run as stress windows"
    )
