"""The spec's default strategy: ADX category + multi-timeframe trend + §5.3 CE/PE rules.

Category 1 underlyings may only get calls, category 2 only puts, category 3 nothing (§3.3/§5.4,
recomputed from closed daily bars each day). An entry also needs every trend timeframe to agree
(§5.2) and one trigger on the entry timeframe (§5.3/§10.3): a breakout through the recent range with
volume, RSI turning from oversold/overbought at a holding support/resistance, or a time-based entry
(10:30 / 14:30) while price holds near a level in the trend's direction.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from optbot.config import Settings
from optbot.core.enums import SignalDirection, Timeframe
from optbot.core.events import Bar
from optbot.core.timeutil import ist_date
from optbot.indicators import rsi
from optbot.strategy.categorise import Categorisation, Category, categorise
from optbot.strategy.checklist import in_time_entry_window
from optbot.strategy.context import StrategyContext
from optbot.strategy.directional import DirectionalOptionStrategy, EntryIdea
from optbot.strategy.levels import KeyLevels, key_levels
from optbot.strategy.mtf import confirm, trend_timeframes
from optbot.strategy.series import closes, volumes
from optbot.strategy.tunable import Tunable

DAILY_HISTORY_BARS = 500


class AdxTrendStrategy(DirectionalOptionStrategy):
    """The spec default: ADX category + multi-timeframe trend + §5.3 CE/PE triggers."""

    name = "adx_trend"
    tunables = (
        Tunable("strategy.adx_trend_threshold", 18.0, 35.0, 1.0),
        Tunable("strategy.rsi_oversold", 20.0, 40.0, 1.0),
        Tunable("strategy.rsi_overbought", 60.0, 80.0, 1.0),
        Tunable("strategy.level_lookback_bars", 10, 40, integer=True),
        Tunable("strategy.initial_stop_pct", 0.5, 2.0, 0.1),
        Tunable("strategy.target_reward_risk", 2.0, 4.0, 0.25),
    )

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.categories: dict[str, tuple[date, Categorisation]] = {}

    def category_for(self, ctx: StrategyContext, symbol: str, day: date) -> Categorisation:
        """Categorise once per day from the daily bars closed before today (the §5.4 daily rebalance)."""
        cached = self.categories.get(symbol)
        if cached is not None and cached[0] == day:
            return cached[1]
        daily = [
            bar for bar in ctx.bars(symbol, Timeframe.D1, DAILY_HISTORY_BARS) if ist_date(bar.start_utc) < day
        ]
        result = categorise(symbol, daily, self.params)
        self.categories[symbol] = (day, result)
        self.note(ctx, f"{symbol} daily category {int(result.category)}: {result.reason}")
        return result

    def entry_idea(self, ctx: StrategyContext, bar: Bar) -> EntryIdea | None:
        p = self.params
        symbol = bar.symbol
        category = self.category_for(ctx, symbol, ist_date(bar.start_utc))
        if category.category is Category.NO_TRADE:
            self._skip(ctx, symbol, f"category 3: {category.reason}")
            return None
        direction = (
            SignalDirection.BULLISH if category.category is Category.BUY_CE else SignalDirection.BEARISH
        )
        mtf = confirm(ctx, symbol, p, self.settings.risk.vix_high)
        if not mtf.confirms(direction):
            self._skip(
                ctx, symbol, f"category {int(category.category)} but timeframes not aligned: {mtf.reason}"
            )
            return None
        entry = bar.timeframe
        entry_bars = list(ctx.bars(symbol, entry, max(p.level_lookback_bars + 1, p.rsi_period * 4)))
        timeframes = trend_timeframes(p, ctx.vix(), self.settings.risk.vix_high)
        level_timeframe = timeframes[-1] if timeframes else entry
        level_bars = list(ctx.bars(symbol, level_timeframe, p.level_lookback_bars * 5))
        pivots = self.settings.indicators
        range_levels = key_levels(entry_bars, p.level_lookback_bars, pivots)
        levels = key_levels(level_bars, p.level_lookback_bars, pivots) or range_levels
        if range_levels is None or levels is None:
            self._skip(ctx, symbol, f"not enough {entry} bars for levels ({len(entry_bars)})")
            return None
        trend = f"category {int(category.category)} ({category.reason}); {mtf.reason}"
        bullish = direction is SignalDirection.BULLISH
        volume_ok, volume_text = self._volume_confirmation(entry_bars)
        breakout = self._breakout(bar, range_levels, bullish)
        if breakout and volume_ok:
            return EntryIdea(
                direction,
                f"{breakout}; {volume_text}",
                True,
                trend,
                True,
                f"broken level {range_levels.range_high if bullish else range_levels.range_low:.2f} now "
                f"{'support' if bullish else 'resistance'}",
                key_level=range_levels.range_high if bullish else range_levels.range_low,
                strength=0.7,
            )
        rsi_turn = self._rsi_turn(entry_bars, bullish)
        holding = self._level_holding(bar, levels, bullish)
        if rsi_turn and holding:
            return EntryIdea(
                direction,
                f"{rsi_turn} at a holding level; {volume_text}",
                True,
                trend,
                True,
                holding,
                key_level=levels.support if bullish else levels.resistance,
                strength=0.6,
            )
        slot = in_time_entry_window(p, bar.end_utc)
        if slot and holding:
            return EntryIdea(
                direction,
                f"time-based entry at {slot} IST in the trend; {volume_text}",
                True,
                trend,
                True,
                holding,
                key_level=levels.support if bullish else levels.resistance,
                strength=0.5,
            )
        reasons = [r for r in (breakout and f"{breakout} without volume ({volume_text})", rsi_turn) if r]
        self._skip(
            ctx,
            symbol,
            f"category {int(category.category)} aligned, waiting for a trigger"
            + (f" ({'; '.join(reasons)})" if reasons else ""),
        )
        return None

    def _volume_confirmation(self, bars: list[Bar]) -> tuple[bool, str]:
        """§5.3 'volume increasing on moves'. Index bars often carry no volume: then it is not required."""
        volume = volumes(bars)
        window = volume[-self.params.level_lookback_bars - 1 : -1]
        if volume.size < 2 or not np.any(window > 0):
            return True, "volume not available on this series"
        average = float(np.mean(window))
        ratio = float(volume[-1]) / average if average > 0 else 0.0
        ok = ratio >= self.params.volume_confirmation_ratio
        return ok, f"volume {ratio:.2f}x average ({'confirms' if ok else 'weak'})"

    @staticmethod
    def _breakout(bar: Bar, levels: KeyLevels, bullish: bool) -> str | None:
        if bullish and bar.close > levels.range_high:
            return f"breakout: close {bar.close:.2f} above resistance {levels.range_high:.2f}"
        if not bullish and bar.close < levels.range_low:
            return f"breakdown: close {bar.close:.2f} below support {levels.range_low:.2f}"
        return None

    def _rsi_turn(self, bars: list[Bar], bullish: bool) -> str | None:
        p = self.params
        values = rsi(closes(bars), p.rsi_period)
        finite = values[np.isfinite(values)]
        if finite.size < p.rsi_recent_bars + 1:
            return None
        recent = finite[-p.rsi_recent_bars - 1 :]
        now, before = float(finite[-1]), float(finite[-2])
        if bullish and float(np.min(recent)) <= p.rsi_oversold and now > before:
            return (
                f"RSI {now:.1f} turning up from oversold ({float(np.min(recent)):.1f} <= {p.rsi_oversold:g})"
            )
        if not bullish and float(np.max(recent)) >= p.rsi_overbought and now < before:
            peak = float(np.max(recent))
            return f"RSI {now:.1f} turning down from overbought ({peak:.1f} >= {p.rsi_overbought:g})"
        return None

    def _level_holding(self, bar: Bar, levels: KeyLevels, bullish: bool) -> str:
        """'' unless price tested the level within the proximity band and closed on the right side."""
        p = self.params
        if bullish and levels.support is not None:
            tested = abs(bar.low - levels.support) / levels.support * 100 <= p.level_proximity_pct
            if tested and bar.close > levels.support:
                return (
                    f"support {levels.support:.2f} ({levels.source}) holding: low {bar.low:.2f}, "
                    f"close {bar.close:.2f}"
                )
        if not bullish and levels.resistance is not None:
            tested = abs(bar.high - levels.resistance) / levels.resistance * 100 <= p.level_proximity_pct
            if tested and bar.close < levels.resistance:
                return (
                    f"resistance {levels.resistance:.2f} ({levels.source}) holding: high {bar.high:.2f}, "
                    f"close {bar.close:.2f}"
                )
        return ""
