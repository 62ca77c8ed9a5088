from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from optbot.config.sections.base import Section


class ReplaySettings(Section):
    """The simulator's market replay and synthetic option model (issue 4 "Market replay")."""

    data_dir: Path = Field(
        default=Path("data/sample/store"),
        description="data root replayed by the simulator and `optbot backtest` (timeframes/ + archive/)",
    )
    seed: int = Field(default=20250904, description="issue 4: seeded intra-bar paths, deterministic replays")
    tick_seconds: float = Field(
        default=1.0,
        gt=0,
        le=15,
        description="issue 4: spacing of replayed ticks (≤ 15 s: 4 per 1-minute bar)",
    )
    path_noise_fraction: float = Field(
        default=0.25, ge=0, le=1, description="issue 4: intra-bar wander, as a fraction of the bar's range"
    )
    risk_free_rate: float = Field(default=0.065, ge=0, le=0.5, description="issue 4: Black-76 discount rate")
    dividend_yield: float = Field(
        default=0.012, ge=0, le=0.5, description="issue 4: index yield in the forward"
    )
    smile_curvature: float = Field(
        default=0.04, ge=0, le=1, description="issue 4: IV rises away from the money (per moneyness²)"
    )
    put_skew: float = Field(default=0.06, ge=0, le=1, description="issue 4: IV skewed to low strikes (puts)")
    spread_base_fraction: float = Field(
        default=0.004, gt=0, le=0.5, description="issue 4: ATM bid/ask spread as a fraction of premium"
    )
    spread_wing_factor: float = Field(
        default=0.6, ge=0, le=10, description="issue 4: spread widens by this per unit of |moneyness|"
    )
    spread_expiry_factor: float = Field(
        default=0.5, ge=0, le=10, description="issue 4: spread widens by (1 + this / days to expiry)"
    )
    weekly_expiries_listed: int = Field(default=4, ge=1, le=8, description="NSE lists the next 4 weeklies")
    monthly_expiries_listed: int = Field(default=3, ge=1, le=6, description="NSE lists the next 3 monthlies")
    strike_inner_band_pct: float = Field(
        default=6.0, gt=0, le=50, description="issue 4: fine strike steps within this % of the reference"
    )
    strike_outer_band_pct: float = Field(
        default=15.0, gt=0, le=80, description="issue 4: wider strike steps out to this % of the reference"
    )
    option_band_move_fraction: float = Field(
        default=0.10, gt=0, le=1, description="issue 4: option circuit = value after this adverse index move"
    )
    option_time_basis: Literal["trading", "calendar"] = Field(
        default="trading",
        description="issue 4: option time to expiry in trading minutes (no weekend decay) or calendar time",
    )
    index_band_fraction: float = Field(
        default=0.20, gt=0, le=1, description="market-wide circuit: indices banded at ±20% of previous close"
    )
