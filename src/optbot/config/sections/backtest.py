from __future__ import annotations

from typing import Literal

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
    # Bar fills (issue 14): a backtest fills on bars, never on an invented intra-bar path.
    bar_volume_share: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="backtest: at most this share of a real option bar's traded volume fills (per token)",
    )
    kill_file_check_seconds: float = Field(
        default=900.0,
        gt=0,
        description=(
            "backtest: how often, in replayed time, the bar path re-reads the kill flag (risk."
            "kill_file_check_seconds is the live tick path's; every intent's risk check reads it)"
        ),
    )
    same_bar_stop_target: Literal["pessimistic", "optimistic"] = Field(
        default="pessimistic",
        description="backtest: stop and target inside one bar: the stop fills (pessimistic) or the target",
    )
    # Index bars a data root lacks (issue 14): from the near-month future, or from the option bars.
    parity_strikes: int = Field(
        default=3,
        ge=1,
        le=20,
        description="backtest: an index without bars is derived from its option bars by put-call parity, "
        "the median over this many strikes nearest the money whose call and put both traded that minute",
    )
    futures_min_coverage: float = Field(
        default=0.95,
        gt=0,
        le=1,
        description="backtest: the near-month future stands in for missing index minutes only when its bars "
        "cover this share of the session (else the option-parity spot, else the daily bar)",
    )
