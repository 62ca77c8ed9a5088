from __future__ import annotations

from datetime import time
from typing import Any

from pydantic import Field, model_validator

from optbot.config.sections.base import Section
from optbot.core.enums import Timeframe


def _default_trend_timeframes() -> list[Timeframe]:
    return [Timeframe.D1, Timeframe.H1, Timeframe.M15]


def _default_entry_times() -> list[time]:
    return [time(10, 30), time(14, 30)]


class StrategySettings(Section):
    """Strategy selection and parameters (spec §3.3, §5, §10.1-10.6). Owned by optbot.strategy."""

    enabled: list[str] = Field(
        default_factory=lambda: ["adx_trend"],
        description="strategies to run: built-in names, legs templates or .toml files, or "
        "`package.module:ClassName`; `NAME@ID` runs an instance with [strategy.instances.ID] settings",
    )
    instances: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="per-instance settings for `NAME@ID` entries, validated by the strategy's own model",
    )
    leg_overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="values set over a legs strategy's file when it loads, by strategy name then field path "
        "(e.g. short_straddle_0920 = { 'legs.*.stop.pct' = 30 }); an optimisation trial sets them",
    )
    # --- ADX categorisation (§3.3, §5.4)
    adx_period: int = Field(default=14, ge=2, description="spec §5.4: 14-day ADX")
    adx_trend_threshold: float = Field(default=25.0, gt=0, description="spec §3.3: ADX > 25")
    adx_no_trend_threshold: float = Field(default=20.0, gt=0, description="spec §3.3: ADX < 20")
    di_similarity_points: float = Field(
        default=2.0, ge=0, description="spec §3.3: '+DI ≈ -DI' means |+DI - -DI| within this many points"
    )
    volume_average_days: int = Field(default=20, ge=2, description="spec §3.3: 'volume > average' window")
    allow_missing_volume: bool = Field(
        default=True,
        description="spec §3.3: index series often carry no volume; skip the volume criterion (stated)",
    )
    adx_min_history_days: int = Field(
        default=100, ge=30, description="spec §5.4: enough daily history for a reliable ADX (1-2 years ideal)"
    )
    # --- regime detection (§10.1)
    regime_volatile_vix: float = Field(default=25.0, gt=0, description="spec §10.1: volatile market VIX > 25")
    regime_low_vix: float = Field(default=15.0, gt=0, description="spec §10.1: low volatility VIX < 15")
    gap_pct: float = Field(default=2.0, gt=0, description="spec §3.4/§10.1: opening gap > 2 %")
    gap_stabilisation_minutes: float = Field(
        default=3.0, ge=0, description="spec §3.4: wait 2-3 minutes for price to stabilise after a gap"
    )
    # --- multi-timeframe (§5.1, §5.2)
    trend_timeframes: list[Timeframe] = Field(
        default_factory=_default_trend_timeframes, description="spec §5.2: daily, 1h, 15m trend confirmation"
    )
    entry_timeframe: Timeframe = Field(default=Timeframe.M5, description="spec §5.2: 5-minute entries")
    entry_timeframe_adapts: bool = Field(
        default=True,
        description="on a day whose finest bars are coarser than entry_timeframe (e.g. a backtest over "
        "15-minute history), enter on the finest bars that day has instead of not entering (the backtest's "
        "coverage table says 'adapted'); false: such days are declared refused",
    )
    scalping_timeframe: Timeframe = Field(default=Timeframe.M1, description="spec §5.2: 1-minute scalping")
    switch_timeframes_in_high_vix: bool = Field(
        default=True,
        description="spec §4.2/§5.1: at VIX >= risk.vix_high go one timeframe lower (15m->5m, 1h->15m)",
    )
    trend_fast_ema: int = Field(default=9, ge=2, description="fast EMA of the per-timeframe trend test")
    trend_slow_ema: int = Field(default=21, ge=3, description="slow EMA of the per-timeframe trend test")
    # --- CE/PE rules (§5.3)
    rsi_period: int = Field(default=14, ge=2, description="spec §5.3: RSI on 5 min")
    rsi_oversold: float = Field(
        default=30.0, gt=0, lt=100, description="spec §5.3: RSI oversold and turning up"
    )
    rsi_overbought: float = Field(
        default=70.0, gt=0, lt=100, description="spec §5.3: RSI overbought and turning down"
    )
    rsi_recent_bars: int = Field(
        default=6, ge=1, description="spec §5.3: RSI must have been oversold/overbought within these bars"
    )
    level_lookback_bars: int = Field(default=20, ge=3, description="spec §5.3: bars defining S/R levels")
    level_proximity_pct: float = Field(
        default=0.3, gt=0, description="spec §10.3: 'price near key levels' = within this % of the level"
    )
    volume_confirmation_ratio: float = Field(
        default=1.2,
        gt=0,
        description="spec §5.3: volume increasing on moves = bar volume / average above this",
    )
    # --- entry checklist (§10.3)
    min_open_interest: int = Field(default=1000, ge=0, description="spec §10.3: minimum OI > 1000 contracts")
    entry_vix_min: float = Field(default=12.0, ge=0, description="spec §10.3: VIX within 12-30")
    entry_vix_max: float = Field(default=30.0, gt=0, description="spec §10.3: VIX within 12-30")
    time_entries: list[time] = Field(
        default_factory=_default_entry_times,
        description="spec §10.3: time-based entries at 10:30 and 14:30 IST",
    )
    time_entry_window_minutes: float = Field(
        default=5.0, gt=0, description="a time-based entry is valid this many minutes after its time"
    )
    # --- exits (§10.4, §7.2, §4.2)
    initial_stop_pct: float = Field(default=1.0, gt=0, description="spec §10.4: 1 % of underlying")
    high_vix_stop_pct: float = Field(
        default=0.5, gt=0, description="spec §4.2: tighten stops to 0.5-1 % of underlying in high VIX"
    )
    low_vix_stop_pct: float | None = Field(
        default=None,
        gt=0,
        description="spec §10.1/§10.4 volatility stop: stop % of underlying for entries at VIX < "
        "risk.vix_low (low volatility: tighter stops); unset = initial_stop_pct, as at normal VIX",
    )
    min_stop_pct: float = Field(
        default=0.5,
        gt=0,
        description="spec §4.2/§5.1: stops 0.5-1 % of underlying; a level stop never nearer",
    )
    level_stop_buffer_pct: float = Field(
        default=0.05, ge=0, description="spec §10.4: place a level stop this % beyond the key level"
    )
    breakeven_after_pct: float = Field(default=0.5, gt=0, description="spec §10.4: breakeven after 0.5 %")
    min_reward_risk: float = Field(default=2.0, gt=0, description="spec §10.4: minimum 1:2")
    target_reward_risk: float = Field(default=2.0, gt=0, description="spec §5.1: targets 2-5x risk")
    high_vix_target_reward_risk: float | None = Field(
        default=None,
        gt=0,
        description="spec §4.2/§10.4 dynamic targets: the target's reward/risk for entries at VIX >= "
        "risk.vix_high, where the stop is tightened to high_vix_stop_pct (spec: 2-5x risk or more); "
        "unset = target_reward_risk, as at any other VIX",
    )
    partial_exit_fraction: float = Field(
        default=0.5, gt=0, lt=1, description="spec §10.4: close 50 % at 1:1, trail the rest"
    )
    partial_exit_reward_risk: float = Field(default=1.0, gt=0, description="spec §10.4: partial exit at 1:1")
    trail_stop_pct: float = Field(
        default=0.5, gt=0, description="spec §5.1/§10.4: trail the remainder this % behind the best price"
    )
    exits_on_every_price: bool = Field(
        default=False,
        description="spec §7.1/§10.4: stops, targets, breakeven and trailing are checked on every price "
        "of the underlying (live ticks; each bar close in a bar backtest), not only when an "
        "entry-timeframe bar closes, where a 1 % stop can be overrun by a whole bar's move; false keeps "
        "the bar-close checks",
    )
    time_stop_minutes: float = Field(default=30.0, gt=0, description="spec §10.4: no movement in 30 minutes")
    time_stop_min_move_pct: float = Field(
        default=0.2, ge=0, description="spec §10.4 time stop: 'movement' means at least this % in our favour"
    )
    time_stop_rolling: bool = Field(
        default=False,
        description="spec §10.4 time stop over the LAST time_stop_minutes: each further "
        "time_stop_min_move_pct in favour restarts the clock, so a trade that moved early and then "
        "stalled is closed too; false: only a trade whose best move since entry stays under "
        "time_stop_min_move_pct is closed, time_stop_minutes after entry",
    )
    vix_jump_exit_points: float = Field(
        default=5.0, gt=0, description="spec §10.4: exit if VIX spikes > 5 points"
    )
    close_days_before_expiry: int = Field(
        default=3, ge=0, description="spec §10.5: close 3 days before expiry"
    )
    stock_close_days_before_expiry: int = Field(
        default=1, ge=1, description="spec §7.1: stock options closed before expiry (physical settlement)"
    )
    # --- sizing (§10.2, §4.1-4.3)
    risk_per_trade_pct: float = Field(default=2.0, gt=0, description="spec §10.2: 2-5 % of account per trade")
    max_risk_per_trade_pct: float = Field(default=5.0, gt=0, description="spec §10.2: at most 5 % of account")
    elevated_vix_size_multiplier: float = Field(
        default=0.5, ge=0, le=1, description="spec §4.1: VIX 18-25 reduce sizes by 50 %"
    )
    high_vix_size_multiplier: float = Field(
        default=0.25, ge=0, le=1, description="spec §4.1/§10.2: VIX 25-30 reduce by 75 %"
    )
    low_vix_size_multiplier: float = Field(default=1.25, ge=1, description="spec §10.2: low VIX (< 15) +25 %")
    expiry_week_size_multiplier: float = Field(
        default=0.5, ge=0, le=1, description="spec §10.2: last week of expiry (< 7 days) -50 %"
    )
    expiry_week_days: int = Field(default=7, ge=0, description="spec §10.2: near expiry = under 7 days")
    low_liquidity_size_multiplier: float = Field(
        default=0.75, ge=0, le=1, description="spec §10.2: low OI strikes -25 %"
    )
    low_liquidity_open_interest: int = Field(
        default=5000, ge=0, description="spec §10.2: OI below this (contracts) counts as low liquidity"
    )
    per_additional_position_reduction: float = Field(
        default=0.2, ge=0, lt=1, description="spec §10.2: -20 % for each additional position"
    )
    assumed_atm_delta: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="ATM option delta used to estimate premium loss at the stop when the chain has no Greeks",
    )
    # --- built-in strategy parameters (§10.6 matrix)
    momentum_lookback_bars: int = Field(default=6, ge=2, description="momentum: rate-of-change window (bars)")
    momentum_min_move_pct: float = Field(
        default=0.4, gt=0, description="momentum: minimum move over the window"
    )
    bollinger_period: int = Field(default=20, ge=2, description="mean reversion / volatility: band period")
    bollinger_stdevs: float = Field(default=2.0, gt=0, description="mean reversion / volatility: band width")
    volatility_expansion_ratio: float = Field(
        default=1.5, gt=1, description="volatility: band width vs its recent average that counts as expansion"
    )
    # --- selection and rotation (§10.6)
    rotation_min_trades: int = Field(
        default=10, ge=1, description="spec §10.6: trades before rotating on results"
    )
    rotation_min_win_rate: float = Field(
        default=0.35, ge=0, le=1, description="spec §10.6: rotate a strategy out below this win rate"
    )
    rotation_min_sharpe: float = Field(
        default=0.0, description="spec §10.6: rotate out below this Sharpe ratio"
    )

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> StrategySettings:
        if self.adx_no_trend_threshold > self.adx_trend_threshold:
            raise ValueError("adx_no_trend_threshold must not exceed adx_trend_threshold")
        if self.target_reward_risk < self.min_reward_risk:
            raise ValueError("target_reward_risk must be at least min_reward_risk (stop beyond target)")
        high_vix_target = self.high_vix_target_reward_risk
        if high_vix_target is not None and high_vix_target < self.min_reward_risk:
            raise ValueError("high_vix_target_reward_risk must be at least min_reward_risk")
        if self.trend_fast_ema >= self.trend_slow_ema:
            raise ValueError("trend_fast_ema must be shorter than trend_slow_ema")
        if self.rsi_oversold >= self.rsi_overbought:
            raise ValueError("rsi_oversold must be below rsi_overbought")
        if self.entry_vix_min >= self.entry_vix_max:
            raise ValueError("entry_vix_min must be below entry_vix_max")
        if self.risk_per_trade_pct > self.max_risk_per_trade_pct:
            raise ValueError("risk_per_trade_pct must not exceed max_risk_per_trade_pct")
        if self.regime_low_vix >= self.regime_volatile_vix:
            raise ValueError("regime_low_vix must be below regime_volatile_vix")
        if self.low_vix_stop_pct is not None and self.low_vix_stop_pct < self.min_stop_pct:
            raise ValueError("low_vix_stop_pct must be at least min_stop_pct")
        if self.min_stop_pct > self.initial_stop_pct:
            raise ValueError("min_stop_pct must not exceed initial_stop_pct")
        if self.adx_min_history_days < 2 * self.adx_period:
            raise ValueError("adx_min_history_days must be at least twice adx_period (ADX warm-up)")
        return self
