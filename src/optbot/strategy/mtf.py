"""Multi-timeframe trend confirmation (spec §5.2): daily, 1h and 15m trend; 5m/1m for entries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from optbot.config.sections.strategy import StrategySettings
from optbot.core.enums import SignalDirection, Timeframe
from optbot.core.events import Bar
from optbot.indicators import ema
from optbot.strategy.context import StrategyContext
from optbot.strategy.series import closes, last_finite


@dataclass(frozen=True, slots=True)
class TimeframeTrend:
    timeframe: Timeframe
    direction: SignalDirection
    reason: str


@dataclass(frozen=True, slots=True)
class MtfConfirmation:
    direction: SignalDirection  # NEUTRAL unless every trend timeframe agrees
    trends: tuple[TimeframeTrend, ...]

    @property
    def reason(self) -> str:
        return "; ".join(f"{t.timeframe}: {t.reason}" for t in self.trends)

    def confirms(self, direction: SignalDirection) -> bool:
        return self.direction is direction


def trend_of(bars: Sequence[Bar], timeframe: Timeframe, fast: int, slow: int) -> TimeframeTrend:
    """Bullish when fast EMA > slow EMA and the close is above the slow EMA; bearish mirrored."""
    if len(bars) < slow + 2:
        return TimeframeTrend(
            timeframe, SignalDirection.NEUTRAL, f"insufficient bars ({len(bars)} < {slow + 2})"
        )
    close = closes(bars)
    fast_value, slow_value = last_finite(ema(close, fast)), last_finite(ema(close, slow))
    last = float(close[-1])
    if fast_value is None or slow_value is None:
        return TimeframeTrend(timeframe, SignalDirection.NEUTRAL, "EMA undefined")
    values = f"close {last:.2f}, EMA{fast} {fast_value:.2f}, EMA{slow} {slow_value:.2f}"
    if fast_value > slow_value and last > slow_value:
        return TimeframeTrend(timeframe, SignalDirection.BULLISH, f"up ({values})")
    if fast_value < slow_value and last < slow_value:
        return TimeframeTrend(timeframe, SignalDirection.BEARISH, f"down ({values})")
    return TimeframeTrend(timeframe, SignalDirection.NEUTRAL, f"mixed ({values})")


#: One step down the timeframe ladder (spec §4.2: 15min -> 5min, 1hr -> 15min; 5min -> 1min scalping).
LOWER_TIMEFRAME: dict[Timeframe, Timeframe] = {
    Timeframe.D1: Timeframe.H1,
    Timeframe.H1: Timeframe.M15,
    Timeframe.M15: Timeframe.M5,
    Timeframe.M5: Timeframe.M1,
    Timeframe.M3: Timeframe.M1,
    Timeframe.M1: Timeframe.M1,
}


def high_volatility(settings: StrategySettings, vix: float | None, vix_high: float) -> bool:
    return settings.switch_timeframes_in_high_vix and vix is not None and vix >= vix_high


def entry_timeframe(
    settings: StrategySettings, vix: float | None, vix_high: float, base: Timeframe | None = None
) -> Timeframe:
    """The entry timeframe (`base`, default the configured one), one step lower in high volatility
    (never below the scalping timeframe)."""
    base = base or settings.entry_timeframe
    if not high_volatility(settings, vix, vix_high):
        return base
    lower = LOWER_TIMEFRAME[base]
    return lower if lower.seconds >= settings.scalping_timeframe.seconds else settings.scalping_timeframe


def trend_timeframes(settings: StrategySettings, vix: float | None, vix_high: float) -> list[Timeframe]:
    """The trend-confirmation timeframes, each one step lower in high volatility (§4.2)."""
    if not high_volatility(settings, vix, vix_high):
        return list(settings.trend_timeframes)
    return list(dict.fromkeys(LOWER_TIMEFRAME[timeframe] for timeframe in settings.trend_timeframes))


def confirm(
    ctx: StrategyContext, symbol: str, settings: StrategySettings, vix_high: float = float("inf")
) -> MtfConfirmation:
    """Every trend timeframe must agree; `vix_high` enables the §4.2 high-volatility switch."""
    history = settings.trend_slow_ema * 3
    fast, slow = settings.trend_fast_ema, settings.trend_slow_ema
    trends = tuple(
        trend_of(ctx.bars(symbol, timeframe, history), timeframe, fast, slow)
        for timeframe in trend_timeframes(settings, ctx.vix(), vix_high)
    )
    directions = {trend.direction for trend in trends}
    if len(directions) == 1 and trends:
        return MtfConfirmation(trends[0].direction, trends)
    return MtfConfirmation(SignalDirection.NEUTRAL, trends)
