from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from optbot.config.sections.base import Section


class AnalyticsSettings(Section):
    """Option analytics and performance metrics (spec §10.6, §11.2). Owned by optbot.analytics."""

    risk_free_rate: float = Field(
        default=0.10,
        ge=-0.05,
        le=0.5,
        description=(
            "spec §11.2 (Greeks, rho; IV vs HV): annual continuous rate for Black-Scholes. 0.10 is the rate "
            "NSE's option chain uses for its IV column (the sample snapshot is reproduced with it)"
        ),
    )
    dividend_yield: float = Field(default=0.0, ge=0.0, le=0.5, description="spec §11.2: index dividend yield")
    days_per_year: float = Field(
        default=365.0, gt=0, description="spec §11.2 (theta decay): calendar days per year for theta per day"
    )
    trading_days_per_year: int = Field(
        default=252, gt=0, description="spec §10.6 (Sharpe) / §11.2 (HV): periods per year for daily data"
    )
    historical_volatility_period: int = Field(
        default=20, ge=2, description="spec §11.2 (compare IV with HV): daily returns in the HV window"
    )
    iv_rich_ratio: float = Field(
        default=1.2, ge=1.0, description="spec §11.2: IV/HV at or above this marks options RICH"
    )
    iv_cheap_ratio: float = Field(
        default=0.8, gt=0, le=1.0, description="spec §11.2: IV/HV at or below this marks options CHEAP"
    )
    skew_strike_offset_pct: float = Field(
        default=2.0, gt=0, description="spec §11.2 (skew analysis): OTM put/call distance for strike skew"
    )
    build_up_min_oi_change: float = Field(
        default=0.0, ge=0, description="spec §11.2 (OI analysis): OI change at or below this is NEUTRAL"
    )
    build_up_min_price_change: float = Field(
        default=0.0, ge=0, description="spec §11.2 (OI analysis): price change at or below this is NEUTRAL"
    )
    calibration_file: Path | None = Field(
        default=None,
        description=(
            "issue 14: synthetic option model parameters written by `optbot data calibrate` "
            "(empty: the packaged calibration fitted to the bundled real option data)"
        ),
    )
    calibration_default_carry: float = Field(
        default=0.07,
        ge=-0.05,
        le=0.5,
        description=(
            "issue 14: annual carry (F = S·e^(carry·t)) `optbot data calibrate` gives an underlying whose "
            "data has neither futures nor a put-call-parity forward at least 5 days out"
        ),
    )
    calibration_min_otm_premium: float = Field(
        default=1.0,
        ge=0.0,
        description=(
            "issue 14: OTM quotes below this premium (rupees) are neither fitted nor scored by `optbot data "
            "calibrate` (under ~20 ticks of 0.05 the tick alone is a 5 % relative error)"
        ),
    )
    var_confidence: float = Field(
        default=0.95, gt=0.5, lt=1.0, description="spec §10.6 (performance tracking): VaR confidence level"
    )

    @model_validator(mode="after")
    def _ratios_ordered(self) -> AnalyticsSettings:
        if self.iv_cheap_ratio > self.iv_rich_ratio:
            raise ValueError("iv_cheap_ratio must not exceed iv_rich_ratio")
        return self
