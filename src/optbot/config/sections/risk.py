from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section


class RiskSettings(Section):
    """Hard risk limits (spec §4, §10.5, §13.9). Owned by optbot.risk."""

    max_concurrent_positions: int = Field(default=3, ge=1, description="spec §4.4: 2-3 positions")
    daily_loss_limit_pct: float = Field(default=3.0, gt=0, le=100, description="spec §10.5: 3 %")
    max_daily_drawdown_pct: float = Field(default=5.0, gt=0, le=100, description="spec §10.5: 5 %")
    consecutive_loss_limit: int = Field(default=3, ge=1, description="spec §10.5: 3 losses")
    max_margin_utilisation_pct: float = Field(default=70.0, gt=0, le=100, description="spec §10.5: 70 %")
    max_single_underlying_pct: float = Field(default=20.0, gt=0, le=100, description="spec §10.5: 20 %")
    vix_elevated: float = Field(default=18.0, gt=0, description="spec §4.1: 18-25 elevated")
    vix_high: float = Field(default=25.0, gt=0, description="spec §4.1: 25-30 high")
    vix_extreme: float = Field(default=30.0, gt=0, description="spec §4.1: > 30 extreme")
