"""Market regime detection (spec §10.1): trending, ranging, volatile, low volatility, gap."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from optbot.config.sections.strategy import StrategySettings
from optbot.core.events import Bar
from optbot.indicators import adx
from optbot.strategy.series import closes, highs, last_finite, lows


class Regime(StrEnum):
    TRENDING = "trending"
    RANGING = "ranging"
    VOLATILE = "volatile"
    LOW_VOLATILITY = "low_volatility"
    GAP = "gap"
    UNDETERMINED = "undetermined"


@dataclass(frozen=True, slots=True)
class RegimeAssessment:
    regimes: frozenset[Regime]
    adx: float | None
    vix: float | None
    gap_pct: float | None
    reasons: tuple[str, ...]

    @property
    def trending(self) -> bool:
        return Regime.TRENDING in self.regimes

    @property
    def ranging(self) -> bool:
        return Regime.RANGING in self.regimes

    @property
    def high_vix(self) -> bool:
        return Regime.VOLATILE in self.regimes

    @property
    def gap(self) -> bool:
        return Regime.GAP in self.regimes


def gap_percent(previous_close: float, today_open: float) -> float:
    """(Open - previous close) / previous close * 100 (spec §3.4)."""
    if previous_close <= 0:
        raise ValueError("previous close must be positive")
    return (today_open - previous_close) / previous_close * 100


def detect_regime(
    daily_bars: Sequence[Bar],
    vix: float | None,
    settings: StrategySettings,
    today_open: float | None = None,
) -> RegimeAssessment:
    """Classify from closed daily bars (the last one is the previous session) and today's open."""
    regimes: set[Regime] = set()
    reasons: list[str] = []
    adx_now: float | None = None
    if len(daily_bars) >= 2 * settings.adx_period + 1:
        adx_now = last_finite(
            adx(highs(daily_bars), lows(daily_bars), closes(daily_bars), settings.adx_period)[0]
        )
    if adx_now is None:
        reasons.append(f"ADX unavailable ({len(daily_bars)} daily bars)")
    elif adx_now > settings.adx_trend_threshold:
        regimes.add(Regime.TRENDING)
        reasons.append(f"trending: ADX {adx_now:.1f} > {settings.adx_trend_threshold:g}")
    elif adx_now < settings.adx_no_trend_threshold:
        regimes.add(Regime.RANGING)
        reasons.append(f"ranging: ADX {adx_now:.1f} < {settings.adx_no_trend_threshold:g}")
    else:
        reasons.append(f"no clear trend: ADX {adx_now:.1f} between thresholds")
    if vix is not None:
        if vix > settings.regime_volatile_vix:
            regimes.add(Regime.VOLATILE)
            reasons.append(f"volatile: VIX {vix:.2f} > {settings.regime_volatile_vix:g}")
        elif vix < settings.regime_low_vix:
            regimes.add(Regime.LOW_VOLATILITY)
            reasons.append(f"low volatility: VIX {vix:.2f} < {settings.regime_low_vix:g}")
    gap: float | None = None
    if today_open is not None and daily_bars:
        gap = gap_percent(daily_bars[-1].close, today_open)
        if abs(gap) > settings.gap_pct:
            regimes.add(Regime.GAP)
            reasons.append(f"gap: open {today_open:.2f} is {gap:+.2f}% from close {daily_bars[-1].close:.2f}")
    if not regimes:
        regimes.add(Regime.UNDETERMINED)
    return RegimeAssessment(frozenset(regimes), adx_now, vix, gap, tuple(reasons))
