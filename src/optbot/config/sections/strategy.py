from __future__ import annotations

from pydantic import Field, model_validator

from optbot.config.sections.base import Section


class StrategySettings(Section):
    """Strategy selection and parameters (spec §3.3, §5, §10.1-10.6). Owned by optbot.strategy."""

    enabled: list[str] = Field(default_factory=lambda: ["adx_trend"])
    adx_period: int = Field(default=14, ge=2, description="spec §5.4: 14-day ADX")
    adx_trend_threshold: float = Field(default=25.0, gt=0, description="spec §3.3: ADX > 25")
    adx_no_trend_threshold: float = Field(default=20.0, gt=0, description="spec §3.3: ADX < 20")
    initial_stop_pct: float = Field(default=1.0, gt=0, description="spec §10.4: 1 % of underlying")
    breakeven_after_pct: float = Field(default=0.5, gt=0, description="spec §10.4: breakeven after 0.5 %")
    min_reward_risk: float = Field(default=2.0, gt=0, description="spec §10.4: minimum 1:2")
    target_reward_risk: float = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> StrategySettings:
        if self.adx_no_trend_threshold > self.adx_trend_threshold:
            raise ValueError("adx_no_trend_threshold must not exceed adx_trend_threshold")
        if self.target_reward_risk < self.min_reward_risk:
            raise ValueError("target_reward_risk must be at least min_reward_risk (stop beyond target)")
        return self
