from __future__ import annotations

from pydantic import Field, model_validator

from optbot.config.sections.base import Section


def _default_correlation_groups() -> list[list[str]]:
    return [["NIFTY", "BANKNIFTY", "FINNIFTY"]]


class RiskSettings(Section):
    """Hard risk limits (spec §4, §10.5, §13.9). Owned by optbot.risk."""

    # --- position and loss limits (§4.4, §10.5, §13.9)
    max_concurrent_positions: int = Field(
        default=3, ge=1, description="spec §4.4: 2-3 positions; the legs one strategy entered count as one"
    )
    daily_loss_limit_pct: float = Field(default=3.0, gt=0, le=100, description="spec §10.5: 3 %")
    max_daily_drawdown_pct: float = Field(default=5.0, gt=0, le=100, description="spec §10.5: 5 %")
    consecutive_loss_limit: int = Field(default=3, ge=1, description="spec §10.5: 3 losses")
    loss_limits_check_seconds: float = Field(
        default=1.0,
        gt=0,
        description="spec §10.5: how often the price path re-checks the daily loss, drawdown and "
        "consecutive-loss limits against the marked portfolio between order checks (each order check "
        "always does), so a limit trips while positions bleed, not at the next order",
    )
    flatten_on_daily_drawdown: bool = Field(
        default=True,
        description="spec §10.5 'limit drawdown to 5 % per day': reaching max_daily_drawdown_pct closes "
        "every position as well as halting entries (false: it only halts entries)",
    )
    max_margin_utilisation_pct: float = Field(default=70.0, gt=0, le=100, description="spec §10.5: 70 %")
    high_vix_margin_buffer_pct: float = Field(
        default=25.0,
        ge=0,
        lt=100,
        description="spec §4.4: margin buffer +25 % (cap shrinks by this share at VIX >= elevated)",
    )
    max_single_underlying_pct: float = Field(default=20.0, gt=0, le=100, description="spec §10.5: 20 %")
    correlation_groups: list[list[str]] = Field(
        default_factory=_default_correlation_groups,
        description="spec §10.5 correlation check: underlyings that move together",
    )
    max_correlated_exposure_pct: float = Field(
        default=30.0,
        gt=0,
        le=100,
        description="spec §10.5/§13.9: combined exposure cap for one correlation group, % of account",
    )
    max_trade_notional_pct: float = Field(
        default=5.0,
        gt=0,
        le=100,
        description="spec §10.2/§13.9: per-trade cap, 5 % of account",
    )
    max_trade_notional_rupees: float | None = Field(
        default=None, gt=0, description="spec §13.9: optional absolute per-trade notional cap in rupees"
    )
    size_multiplier_keeps_one_lot: bool = Field(
        default=True,
        description="a VIX/resume size multiplier shrinks per-trade caps but never below one lot when the "
        "unscaled cap admits one (halving one lot would otherwise forbid every trade)",
    )
    max_trade_margin_pct: float = Field(
        default=40.0,
        gt=0,
        le=100,
        description="per-trade cap on the broker's margin for the trade (short options), % of account",
    )
    max_naked_short_lots: int = Field(
        default=2,
        ge=0,
        description="short option lots per underlying and type (CE/PE) not covered by a bought option",
    )
    max_strategy_loss_pct: float = Field(
        default=2.0,
        gt=0,
        le=100,
        description="a leg strategy's combined MTM stop can be no wider than this % of the account",
    )
    max_total_notional_pct: float = Field(
        default=25.0, gt=0, le=100, description="spec §13.9: pre-trade portfolio notional cap, % of account"
    )
    min_open_interest: int = Field(
        default=500, ge=0, description="spec §10.5: liquidity circuit breaker, avoid trading if OI < 500"
    )
    require_session_for_entries: bool = Field(
        default=True, description="spec §10.3: entries only inside the calendar session window"
    )
    require_vix_for_entries: bool = Field(
        default=True, description="spec §4.1: without a VIX reading the breakers are blind, so no new risk"
    )
    # --- VIX levels (§4.1, §4.3)
    vix_low: float = Field(default=15.0, gt=0, description="spec §10.1/§10.2: low volatility below 15")
    vix_elevated: float = Field(default=18.0, gt=0, description="spec §4.1: 18-25 elevated")
    vix_high: float = Field(default=25.0, gt=0, description="spec §4.1: 25-30 high")
    vix_extreme: float = Field(default=30.0, gt=0, description="spec §4.1: > 30 extreme")
    vix_hysteresis_points: float = Field(
        default=0.1,
        ge=0,
        description="a VIX size band is entered at its level but left only this many points below it "
        "(VIX hovering at 18.00-18.05 flipped ACTIVE<->REDUCING 7 times in 12 minutes)",
    )
    elevated_size_multiplier: float = Field(
        default=0.5, ge=0, le=1, description="spec §4.3 level 1: reduce sizes by 50 %"
    )
    high_size_multiplier: float = Field(
        default=0.25, ge=0, le=1, description="spec §4.3 level 2: reduce by 75 %"
    )
    flatten_on_extreme_vix: bool = Field(
        default=True, description="spec §4.3 level 3: pause new trades, close existing positions"
    )
    # --- spikes (§4.1)
    vix_spike_points: float = Field(default=5.0, gt=0, description="spec §4.1: VIX > 5 points ...")
    vix_spike_window_minutes: float = Field(default=10.0, gt=0, description="spec §4.1: ... in 10 minutes")
    vix_breaker_points: float = Field(default=7.0, gt=0, description="spec §4.1: VIX > 7 points ...")
    vix_breaker_window_minutes: float = Field(default=5.0, gt=0, description="spec §4.1: ... in 5 minutes")
    price_spike_pct: float = Field(default=2.0, gt=0, description="spec §4.1: price > 2 % ...")
    price_spike_window_minutes: float = Field(default=5.0, gt=0, description="spec §4.1: ... in 5 minutes")
    volume_spike_pct: float = Field(
        default=300.0, gt=0, description="spec §4.1: volume > 300 % of the average ..."
    )
    volume_spike_window_minutes: float = Field(
        default=15.0, gt=0, description="spec §4.1: ... average over 15 minutes"
    )
    volume_spike_min_samples: int = Field(
        default=3, ge=1, description="bars needed in the 15-min window before a volume average is trusted"
    )
    flash_spike_cooldown_minutes: float = Field(
        default=15.0, gt=0, description="spec §4.3 recovery: quiet minutes after a price/volume spike"
    )
    vix_recovery_margin_points: float = Field(
        default=2.0, ge=0, description="spec §4.3: recover when VIX is back below the threshold + 2 points"
    )
    # --- gradual resume (§4.3)
    resume_initial_pct: float = Field(default=25.0, gt=0, le=100, description="spec §4.3: start at 25 %")
    resume_step_pct: float = Field(default=25.0, gt=0, le=100, description="spec §4.3: 25 % steps")
    resume_step_minutes: float = Field(
        default=30.0, gt=0, description="spec §4.3 gradual resume: minutes between size steps"
    )
    # --- delta (§4.4, §10.5)
    max_delta_notional_pct: float = Field(
        default=50.0,
        gt=0,
        description="spec §4.4/§10.5: |delta x underlying price| per underlying, % of account",
    )
    hedge_option_delta: float = Field(
        default=0.5, gt=0, le=1, description="assumed |delta| of the ATM option suggested as a hedge"
    )
    kill_file_check_seconds: float = Field(
        default=1.0, gt=0, description="how often the tick path re-reads the kill flag (evaluate always does)"
    )
    kill_file_name: str = Field(default="KILL", min_length=1, description="flag file under <data_root>/state")

    @model_validator(mode="after")
    def _levels_ordered(self) -> RiskSettings:
        if not self.vix_low <= self.vix_elevated < self.vix_high < self.vix_extreme:
            raise ValueError("VIX levels must satisfy vix_low <= vix_elevated < vix_high < vix_extreme")
        if self.vix_hysteresis_points >= self.vix_high - self.vix_elevated:
            raise ValueError("vix_hysteresis_points must be smaller than vix_high - vix_elevated")
        if self.high_size_multiplier > self.elevated_size_multiplier:
            raise ValueError("high_size_multiplier must not exceed elevated_size_multiplier")
        if self.max_daily_drawdown_pct < self.daily_loss_limit_pct:
            raise ValueError("max_daily_drawdown_pct must be at least daily_loss_limit_pct")
        if "/" in self.kill_file_name or "\\" in self.kill_file_name:
            raise ValueError("kill_file_name must be a bare file name")
        for group in self.correlation_groups:
            if len(group) < 2:
                raise ValueError(f"correlation group {group!r} needs at least two underlyings")
        return self
