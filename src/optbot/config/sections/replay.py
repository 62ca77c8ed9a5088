from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from optbot.config.sections.base import Section
from optbot.core.bundled import resolve_data_path


class ReplaySettings(Section):
    """The simulator's market replay (issue 4 "Market replay"); option prices come from the calibrated
    synthetic model (`analytics.calibration_file`)."""

    data_dir: Path = Field(
        default=Path("data/sample/store"),
        description="data root replayed by the simulator and `optbot backtest` (timeframes/ + archive/); "
        "a relative path is read from the current directory, else from the optbot project folder "
        "(so the default, the bundled sample, is found from any directory)",
        validate_default=True,
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
    index_band_fraction: float = Field(
        default=0.20, gt=0, le=1, description="market-wide circuit: indices banded at ±20% of previous close"
    )

    @field_validator("data_dir")
    @classmethod
    def _anchored(cls, value: Path) -> Path:
        return resolve_data_path(value)
