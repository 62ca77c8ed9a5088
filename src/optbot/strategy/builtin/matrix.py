"""The §10.6 selection-matrix strategies and the adaptive selector that rotates between them.

momentum (high VIX + trending), trend_following (low VIX + trending), mean_reversion (low VIX +
ranging), volatility (high VIX + ranging), gap_fill (gap market). Each states its trigger in words.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from optbot.config import Settings
from optbot.core.enums import SignalDirection, Timeframe
from optbot.core.events import Bar
from optbot.core.timeutil import ist_date
from optbot.indicators import bollinger, ema, rsi
from optbot.strategy.context import StrategyContext
from optbot.strategy.directional import DirectionalOptionStrategy, EntryIdea
from optbot.strategy.mtf import trend_of
from optbot.strategy.regime import detect_regime
from optbot.strategy.selector import Selection, select_strategy
from optbot.strategy.series import closes, last_finite

DAILY_HISTORY_BARS = 500


def _direction_word(direction: SignalDirection) -> str:
    return "up" if direction is SignalDirection.BULLISH else "down"


class MomentumStrategy(DirectionalOptionStrategy):
    """Ride a strong move: rate of change over the window beyond the minimum, RSI on the same side."""

    name = "momentum"

    def entry_idea(self, ctx: StrategyContext, bar: Bar) -> EntryIdea | None:
        p = self.params
        bars = list(ctx.bars(bar.symbol, bar.timeframe, max(p.momentum_lookback_bars + 1, p.rsi_period * 3)))
        if len(bars) <= max(p.momentum_lookback_bars, p.rsi_period + 1):
            return None
        start = bars[-p.momentum_lookback_bars - 1].close
        move = (bar.close - start) / start * 100
        strength = last_finite(rsi(closes(bars), p.rsi_period))
        if strength is None or abs(move) < p.momentum_min_move_pct:
            return None
        direction = SignalDirection.BULLISH if move > 0 else SignalDirection.BEARISH
        if (direction is SignalDirection.BULLISH) != (strength > 50):
            return None
        trend = trend_of(bars, bar.timeframe, p.trend_fast_ema, p.trend_slow_ema)
        return EntryIdea(
            direction,
            f"momentum {move:+.2f}% over {p.momentum_lookback_bars} bars, RSI {strength:.1f}",
            trend.direction is direction,
            f"{bar.timeframe} trend {trend.reason}",
            True,
            f"moving {_direction_word(direction)} from {start:.2f}",
            key_level=start,
            strength=min(1.0, abs(move) / (3 * p.momentum_min_move_pct)),
        )


class TrendFollowingStrategy(DirectionalOptionStrategy):
    """Fast EMA crossing the slow EMA on the entry timeframe, in the daily trend's direction."""

    name = "trend_following"

    def entry_idea(self, ctx: StrategyContext, bar: Bar) -> EntryIdea | None:
        p = self.params
        bars = list(ctx.bars(bar.symbol, bar.timeframe, p.trend_slow_ema * 3))
        if len(bars) < p.trend_slow_ema + 2:
            return None
        close = closes(bars)
        fast, slow = ema(close, p.trend_fast_ema), ema(close, p.trend_slow_ema)
        if not (np.isfinite(fast[-2]) and np.isfinite(slow[-2])):
            return None
        crossed_up = fast[-2] <= slow[-2] and fast[-1] > slow[-1]
        crossed_down = fast[-2] >= slow[-2] and fast[-1] < slow[-1]
        if not (crossed_up or crossed_down):
            return None
        direction = SignalDirection.BULLISH if crossed_up else SignalDirection.BEARISH
        daily = trend_of(
            ctx.bars(bar.symbol, Timeframe.D1, p.trend_slow_ema * 3),
            Timeframe.D1,
            p.trend_fast_ema,
            p.trend_slow_ema,
        )
        return EntryIdea(
            direction,
            f"EMA{p.trend_fast_ema} crossed {'above' if crossed_up else 'below'} EMA{p.trend_slow_ema} "
            f"on {bar.timeframe} ({fast[-1]:.2f} vs {slow[-1]:.2f})",
            daily.direction is direction,
            f"daily {daily.reason}",
            True,
            f"slow EMA {slow[-1]:.2f} as the level",
            key_level=float(slow[-1]),
        )


class MeanReversionStrategy(DirectionalOptionStrategy):
    """Fade a stretch outside the Bollinger band with RSI at an extreme, when the market is ranging."""

    name = "mean_reversion"

    def entry_idea(self, ctx: StrategyContext, bar: Bar) -> EntryIdea | None:
        p = self.params
        bars = list(ctx.bars(bar.symbol, bar.timeframe, max(p.bollinger_period, p.rsi_period) * 3))
        if len(bars) < max(p.bollinger_period, p.rsi_period + 1) + 1:
            return None
        close = closes(bars)
        middle, upper, lower = (
            last_finite(series) for series in bollinger(close, p.bollinger_period, p.bollinger_stdevs)
        )
        strength = last_finite(rsi(close, p.rsi_period))
        if middle is None or upper is None or lower is None or strength is None:
            return None
        if bar.close < lower and strength <= p.rsi_oversold:
            direction, detail = SignalDirection.BULLISH, f"close {bar.close:.2f} below lower band {lower:.2f}"
        elif bar.close > upper and strength >= p.rsi_overbought:
            direction, detail = SignalDirection.BEARISH, f"close {bar.close:.2f} above upper band {upper:.2f}"
        else:
            return None
        daily = trend_of(
            ctx.bars(bar.symbol, Timeframe.D1, p.trend_slow_ema * 3),
            Timeframe.D1,
            p.trend_fast_ema,
            p.trend_slow_ema,
        )
        opposed = daily.direction not in (SignalDirection.NEUTRAL, direction)
        return EntryIdea(
            direction,
            f"mean reversion: {detail}, RSI {strength:.1f}; target the mean {middle:.2f}",
            not opposed,
            f"daily {daily.reason}" + (" (against the fade)" if opposed else ""),
            True,
            f"band {lower:.2f}-{upper:.2f}",
            key_level=bar.low if direction is SignalDirection.BULLISH else bar.high,
            target=middle,
        )


class VolatilityStrategy(DirectionalOptionStrategy):
    """Buy a volatility expansion: band width jumps above its average and price leaves the band."""

    name = "volatility"

    def entry_idea(self, ctx: StrategyContext, bar: Bar) -> EntryIdea | None:
        p = self.params
        bars = list(ctx.bars(bar.symbol, bar.timeframe, p.bollinger_period * 4))
        if len(bars) < p.bollinger_period * 2:
            return None
        middle, upper, lower = bollinger(closes(bars), p.bollinger_period, p.bollinger_stdevs)
        width = (upper - lower) / middle
        finite = width[np.isfinite(width)]
        if finite.size < p.bollinger_period + 1:
            return None
        average = float(np.mean(finite[-p.bollinger_period - 1 : -1]))
        ratio = float(finite[-1]) / average if average > 0 else 0.0
        if ratio < p.volatility_expansion_ratio:
            return None
        if bar.close > upper[-1]:
            direction = SignalDirection.BULLISH
        elif bar.close < lower[-1]:
            direction = SignalDirection.BEARISH
        else:
            return None
        return EntryIdea(
            direction,
            f"volatility expansion: band width {ratio:.2f}x its average, close {bar.close:.2f} broke "
            f"{'upper' if direction is SignalDirection.BULLISH else 'lower'} band",
            True,
            "expansion breakout (direction from the break)",
            True,
            f"band mid {middle[-1]:.2f}",
            key_level=float(middle[-1]),
        )


class GapFillStrategy(DirectionalOptionStrategy):
    """After an opening gap > 2 % and the stabilisation wait, trade back toward the previous close."""

    name = "gap_fill"

    def entry_idea(self, ctx: StrategyContext, bar: Bar) -> EntryIdea | None:
        gap = self.today_gap_pct(ctx, bar)
        previous = self.previous_close(ctx, bar)
        if gap is None or previous is None or abs(gap) <= self.params.gap_pct:
            return None
        first = self._today_first_bar(ctx, bar)
        if first is None:
            return None
        if gap > 0:
            if bar.close <= previous or bar.close >= first.high:
                return None
            direction, extreme = SignalDirection.BEARISH, first.high
        else:
            if bar.close >= previous or bar.close <= first.low:
                return None
            direction, extreme = SignalDirection.BULLISH, first.low
        return EntryIdea(
            direction,
            f"gap fill: opened {gap:+.2f}% from previous close {previous:.2f}, price {bar.close:.2f} turning "
            f"{_direction_word(direction)} toward it",
            True,
            "gap market (wait for stabilisation done)",
            True,
            f"opening extreme {extreme:.2f}",
            key_level=extreme,
            target=previous,
        )


MATRIX = {
    cls.name: cls
    for cls in (
        MomentumStrategy,
        TrendFollowingStrategy,
        MeanReversionStrategy,
        VolatilityStrategy,
        GapFillStrategy,
    )
}


class AdaptiveStrategy(DirectionalOptionStrategy):
    """Detect the regime each day (§10.1), pick the matrix strategy (§10.6), bench poor performers."""

    name = "adaptive"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.members = {name: cls(settings) for name, cls in MATRIX.items()}
        self.selection: dict[str, tuple[date, Selection]] = {}

    def select(self, ctx: StrategyContext, bar: Bar) -> Selection:
        day = ist_date(bar.start_utc)
        cached = self.selection.get(bar.symbol)
        if cached is not None and cached[0] == day:
            return cached[1]
        daily = [
            b for b in ctx.bars(bar.symbol, Timeframe.D1, DAILY_HISTORY_BARS) if ist_date(b.start_utc) < day
        ]
        first = self._today_first_bar(ctx, bar)
        regime = detect_regime(daily, ctx.vix(), self.params, first.open if first else None)
        selection = select_strategy(regime, self.performance)
        self.selection[bar.symbol] = (day, selection)
        self.note(ctx, f"{bar.symbol} regime {sorted(regime.regimes)}: {selection.reason}")
        return selection

    def entry_idea(self, ctx: StrategyContext, bar: Bar) -> EntryIdea | None:
        selection = self.select(ctx, bar)
        if selection.strategy is None:
            return None
        idea = self.members[selection.strategy].entry_idea(ctx, bar)
        if idea is None:
            return None
        return EntryIdea(
            idea.direction,
            f"[{selection.strategy}] {idea.trigger}",
            idea.trend_aligned,
            idea.trend_detail,
            idea.near_level,
            idea.level_detail,
            idea.key_level,
            idea.target,
            idea.strength,
            selection.strategy,
        )
