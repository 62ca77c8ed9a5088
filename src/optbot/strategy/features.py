"""Indicator values a strategy reads from its context, computed on closed bars only.

Each helper pulls `ctx.bars(...)` (which never returns an unclosed bar) and runs the batch indicator,
so an indicator value can never include the bar still forming.
"""

from __future__ import annotations

from optbot.core.enums import Timeframe
from optbot.indicators import ADXValue, adx, atr, ema, rsi, sma
from optbot.strategy.context import StrategyContext
from optbot.strategy.series import closes, highs, last_finite, lows

#: Bars fetched per period so Wilder/EMA seeding has settled (~3x the period).
HISTORY_PER_PERIOD = 3


def _history(period: int) -> int:
    return max(period * HISTORY_PER_PERIOD, period + 2)


def adx_value(ctx: StrategyContext, symbol: str, timeframe: Timeframe, period: int = 14) -> ADXValue | None:
    bars = ctx.bars(symbol, timeframe, _history(2 * period))
    if len(bars) < 2 * period:
        return None
    adx_values, plus, minus = adx(highs(bars), lows(bars), closes(bars), period)
    values = (last_finite(adx_values), last_finite(plus), last_finite(minus))
    if values[0] is None or values[1] is None or values[2] is None:
        return None
    return ADXValue(values[0], values[1], values[2])


def rsi_value(ctx: StrategyContext, symbol: str, timeframe: Timeframe, period: int = 14) -> float | None:
    bars = ctx.bars(symbol, timeframe, _history(period))
    return last_finite(rsi(closes(bars), period)) if len(bars) > period else None


def atr_value(ctx: StrategyContext, symbol: str, timeframe: Timeframe, period: int = 14) -> float | None:
    bars = ctx.bars(symbol, timeframe, _history(period))
    return last_finite(atr(highs(bars), lows(bars), closes(bars), period)) if len(bars) > period else None


def ema_value(ctx: StrategyContext, symbol: str, timeframe: Timeframe, period: int) -> float | None:
    bars = ctx.bars(symbol, timeframe, _history(period))
    return last_finite(ema(closes(bars), period)) if len(bars) >= period else None


def sma_value(ctx: StrategyContext, symbol: str, timeframe: Timeframe, period: int) -> float | None:
    bars = ctx.bars(symbol, timeframe, period)
    return last_finite(sma(closes(bars), period)) if len(bars) >= period else None
