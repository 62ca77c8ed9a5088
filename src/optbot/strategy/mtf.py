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


def confirm(ctx: StrategyContext, symbol: str, settings: StrategySettings) -> MtfConfirmation:
    history = settings.trend_slow_ema * 3
    trends = tuple(
        trend_of(
            ctx.bars(symbol, timeframe, history), timeframe, settings.trend_fast_ema, settings.trend_slow_ema
        )
        for timeframe in settings.trend_timeframes
    )
    directions = {trend.direction for trend in trends}
    if len(directions) == 1 and trends:
        return MtfConfirmation(trends[0].direction, trends)
    return MtfConfirmation(SignalDirection.NEUTRAL, trends)
