"""Key support/resistance levels for entries and level-based stops (spec §5.3, §10.3, §10.4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from optbot.config.sections.indicators import IndicatorsSettings
from optbot.core.events import Bar
from optbot.indicators.levels import nearest_levels, support_resistance
from optbot.strategy.series import closes, highs, lows


@dataclass(frozen=True, slots=True)
class KeyLevels:
    support: float | None
    resistance: float | None
    range_high: float  # highest high of the lookback, excluding the latest bar (breakout reference)
    range_low: float
    source: str

    def near_support(self, price: float, proximity_pct: float) -> bool:
        return self.support is not None and abs(price - self.support) / price * 100 <= proximity_pct

    def near_resistance(self, price: float, proximity_pct: float) -> bool:
        return self.resistance is not None and abs(self.resistance - price) / price * 100 <= proximity_pct


def key_levels(bars: Sequence[Bar], lookback: int, pivots: IndicatorsSettings) -> KeyLevels | None:
    """Levels from pivots clustered over the history, plus the recent range before the latest bar.

    `pivots` carries the spec §11.2 dynamic-level parameters (swing width, clustering tolerance,
    touches, recency half-life), so `[indicators]` tunes the levels entries and stops are taken from."""
    if len(bars) < lookback + 1:
        return None
    recent = bars[-lookback - 1 : -1]
    range_high = max(bar.high for bar in recent)
    range_low = min(bar.low for bar in recent)
    reference = bars[-1].close
    levels = support_resistance(
        highs(bars[:-1]),
        lows(bars[:-1]),
        closes(bars[:-1]),
        left=pivots.swing_left_bars,
        right=pivots.swing_right_bars,
        tolerance_pct=pivots.level_tolerance_pct,
        min_touches=pivots.level_min_touches,
        half_life=pivots.level_half_life_bars,
    )
    below, above = nearest_levels(levels, reference)
    if below is not None or above is not None:
        return KeyLevels(
            below.price if below else range_low,
            above.price if above else range_high,
            range_high,
            range_low,
            "pivots",
        )
    return KeyLevels(range_low, range_high, range_high, range_low, f"{lookback}-bar range")
