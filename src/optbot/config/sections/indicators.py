from __future__ import annotations

from pydantic import Field

from optbot.config.sections.base import Section


class IndicatorsSettings(Section):
    """Indicator parameters (spec §3.3, §5.3, §5.4, §11.2). Owned by optbot.indicators.

    The ADX period and thresholds live in the strategy section (they drive categorisation).
    """

    rsi_period: int = Field(default=14, ge=2, description="spec §5.3: RSI on 5 min (Wilder's 14)")
    atr_period: int = Field(default=14, ge=1, description="spec §10.4 (stops): Wilder ATR period")
    bollinger_period: int = Field(default=20, ge=2, description="spec §10.1 (regimes): Bollinger window")
    bollinger_stdevs: float = Field(default=2.0, gt=0, description="spec §10.1: Bollinger band width")
    swing_left_bars: int = Field(default=3, ge=1, description="spec §5.3/§11.2: bars left of a swing pivot")
    swing_right_bars: int = Field(
        default=3, ge=1, description="spec §5.3/§11.2: bars right of a swing pivot (its confirmation delay)"
    )
    level_tolerance_pct: float = Field(
        default=0.3, gt=0, description="spec §11.2 (dynamic S/R): pivots this close (percent) form one level"
    )
    level_min_touches: int = Field(default=2, ge=1, description="spec §11.2: pivots needed for a level")
    level_half_life_bars: float = Field(
        default=50.0, gt=0, description="spec §11.2: a pivot this many bars old counts half in strength"
    )
    volume_profile_bins: int = Field(default=24, ge=1, description="spec §11.2 (volume profile): price bins")
    value_area_fraction: float = Field(
        default=0.70, gt=0, le=1.0, description="spec §11.2 (volume/market profile): value area share"
    )
    initial_balance_periods: int = Field(
        default=2,
        ge=1,
        description="spec §11.2 (market profile): 30-minute TPO periods in the initial balance",
    )
