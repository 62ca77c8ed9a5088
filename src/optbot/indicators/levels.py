"""Support and resistance: swing pivots, clustered dynamic levels and Fibonacci retracements.

A swing pivot at bar i is only *known* `right` bars later; every `Level` carries `confirmed_index` so a
strategy can use only levels confirmed by the bar it is on (no look-ahead).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from optbot.indicators.base import require_period

Numbers = Sequence[float] | npt.NDArray[np.floating]

FIBONACCI_RATIOS: tuple[float, ...] = (0.0, 0.236, 0.382, 0.5, 0.618, 0.786, 1.0)
FIBONACCI_EXTENSION_RATIOS: tuple[float, ...] = (1.272, 1.618, 2.0, 2.618)


class LevelKind(StrEnum):
    SUPPORT = "SUPPORT"
    RESISTANCE = "RESISTANCE"


@dataclass(frozen=True, slots=True)
class Level:
    """A price where the market turned. `touches` counts the pivots that formed it; `strength` weighs
    them by recency (a pivot `half_life` bars old counts half)."""

    price: float
    kind: LevelKind
    first_index: int
    last_index: int
    confirmed_index: int
    touches: int = 1
    strength: float = 1.0

    def distance_pct(self, price: float) -> float:
        """Signed distance from `price` to the level in percent of `price` (positive: level above)."""
        return 100.0 * (self.price - price) / price


def _highs_lows(high: Numbers, low: Numbers) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    high_array = np.asarray(high, dtype=np.float64)
    low_array = np.asarray(low, dtype=np.float64)
    if high_array.shape != low_array.shape or high_array.ndim != 1:
        raise ValueError(
            f"high and low must be 1-D and equally long, got {high_array.shape}, {low_array.shape}"
        )
    if not (np.all(np.isfinite(high_array)) and np.all(np.isfinite(low_array))):
        raise ValueError("high and low must be finite numbers")
    if np.any(high_array < low_array):
        index = int(np.flatnonzero(high_array < low_array)[0])
        raise ValueError(f"bar {index}: high {high_array[index]} is below low {low_array[index]}")
    return high_array, low_array


def swing_pivots(high: Numbers, low: Numbers, left: int = 2, right: int = 2) -> list[Level]:
    """Swing highs (RESISTANCE) and swing lows (SUPPORT), in bar order.

    A swing high is a bar whose high is strictly above the `left` bars before it and at least as high
    as the `right` bars after it (so a flat double top counts once, at its first bar). Lows mirror it.
    """
    require_period(left, name="left")
    require_period(right, name="right")
    high_array, low_array = _highs_lows(high, low)
    pivots: list[Level] = []
    for index in range(left, len(high_array) - right):
        before_high = high_array[index - left : index]
        after_high = high_array[index + 1 : index + right + 1]
        if high_array[index] > before_high.max() and high_array[index] >= after_high.max():
            pivots.append(Level(float(high_array[index]), LevelKind.RESISTANCE, index, index, index + right))
        before_low = low_array[index - left : index]
        after_low = low_array[index + 1 : index + right + 1]
        if low_array[index] < before_low.min() and low_array[index] <= after_low.min():
            pivots.append(Level(float(low_array[index]), LevelKind.SUPPORT, index, index, index + right))
    return pivots


def support_resistance(
    high: Numbers,
    low: Numbers,
    close: Numbers,
    left: int = 3,
    right: int = 3,
    tolerance_pct: float = 0.3,
    min_touches: int = 2,
    half_life: float = 50.0,
) -> list[Level]:
    """Dynamic levels: swing pivots (highs and lows together: old resistance becomes support) clustered
    when within `tolerance_pct` of the cluster's mean; kept with at least `min_touches` pivots.
    Kind is judged against the last close (above it: RESISTANCE). Strongest first.
    """
    if not tolerance_pct > 0:
        raise ValueError(f"tolerance_pct must be positive, got {tolerance_pct}")
    if not half_life > 0:
        raise ValueError(f"half_life must be positive, got {half_life}")
    require_period(min_touches, name="min_touches")
    close_array = np.asarray(close, dtype=np.float64)
    if close_array.shape != np.asarray(high).shape or len(close_array) == 0:
        raise ValueError("close must be as long as high and low, and not empty")
    last_close = float(close_array[-1])
    last_index = len(close_array) - 1
    pivots = sorted(swing_pivots(high, low, left, right), key=lambda level: level.price)
    clusters: list[list[Level]] = []
    for pivot in pivots:
        if clusters:
            members = clusters[-1]
            centre = math.fsum(member.price for member in members) / len(members)
            if abs(pivot.price - centre) <= centre * tolerance_pct / 100.0:
                members.append(pivot)
                continue
        clusters.append([pivot])
    levels: list[Level] = []
    for members in clusters:
        if len(members) < min_touches:
            continue
        price = math.fsum(member.price for member in members) / len(members)
        strength = math.fsum(0.5 ** ((last_index - member.first_index) / half_life) for member in members)
        levels.append(
            Level(
                price=price,
                kind=LevelKind.RESISTANCE if price > last_close else LevelKind.SUPPORT,
                first_index=min(member.first_index for member in members),
                last_index=max(member.last_index for member in members),
                confirmed_index=max(member.confirmed_index for member in members),
                touches=len(members),
                strength=strength,
            )
        )
    return sorted(levels, key=lambda level: (-level.strength, level.price))


def nearest_levels(levels: Sequence[Level], price: float) -> tuple[Level | None, Level | None]:
    """(closest level at or below `price`, closest level above it)."""
    below = [level for level in levels if level.price <= price]
    above = [level for level in levels if level.price > price]
    return (
        max(below, key=lambda level: level.price) if below else None,
        min(above, key=lambda level: level.price) if above else None,
    )


def _fib_key(ratio: float) -> str:
    return f"{ratio * 100:.1f}"


def fibonacci_retracements(swing_high: float, swing_low: float, uptrend: bool = True) -> dict[str, float]:
    """Retracement levels keyed by percent ("0.0", "23.6", ... "100.0").

    In an uptrend the move ran low -> high, so retracements are measured down from the high
    ("0.0" is the high); in a downtrend they are measured up from the low ("0.0" is the low).
    """
    if not (math.isfinite(swing_high) and math.isfinite(swing_low)):
        raise ValueError("swing_high and swing_low must be finite numbers")
    if swing_high < swing_low:
        raise ValueError(f"swing_high {swing_high} is below swing_low {swing_low}")
    span = swing_high - swing_low
    if uptrend:
        return {_fib_key(ratio): swing_high - ratio * span for ratio in FIBONACCI_RATIOS}
    return {_fib_key(ratio): swing_low + ratio * span for ratio in FIBONACCI_RATIOS}


def fibonacci_extensions(swing_high: float, swing_low: float, uptrend: bool = True) -> dict[str, float]:
    """Projection targets beyond the swing ("127.2", "161.8", ...), in the trend's direction."""
    if swing_high < swing_low:
        raise ValueError(f"swing_high {swing_high} is below swing_low {swing_low}")
    span = swing_high - swing_low
    if uptrend:
        return {_fib_key(ratio): swing_low + ratio * span for ratio in FIBONACCI_EXTENSION_RATIOS}
    return {_fib_key(ratio): swing_high - ratio * span for ratio in FIBONACCI_EXTENSION_RATIOS}


class SwingPivotDetector:
    """Incremental twin of `swing_pivots` for live bars: `update` returns the pivots that the new bar
    confirms (each one `right` bars old), identical to what the batch function finds."""

    __slots__ = ("_highs", "_index", "_lows", "left", "right")

    def __init__(self, left: int = 2, right: int = 2) -> None:
        self.left = require_period(left, name="left")
        self.right = require_period(right, name="right")
        self._highs: deque[float] = deque(maxlen=left + right + 1)
        self._lows: deque[float] = deque(maxlen=left + right + 1)
        self._index = -1

    def update(self, high: float, low: float) -> list[Level]:
        if not (math.isfinite(high) and math.isfinite(low)) or high < low:
            raise ValueError(f"bar needs finite prices with high >= low, got high={high}, low={low}")
        self._highs.append(float(high))
        self._lows.append(float(low))
        self._index += 1
        if len(self._highs) < self.left + self.right + 1:
            return []
        highs, lows = list(self._highs), list(self._lows)
        centre = self.left
        candidate_index = self._index - self.right
        found: list[Level] = []
        if highs[centre] > max(highs[:centre]) and highs[centre] >= max(highs[centre + 1 :]):
            found.append(
                Level(highs[centre], LevelKind.RESISTANCE, candidate_index, candidate_index, self._index)
            )
        if lows[centre] < min(lows[:centre]) and lows[centre] <= min(lows[centre + 1 :]):
            found.append(
                Level(lows[centre], LevelKind.SUPPORT, candidate_index, candidate_index, self._index)
            )
        return found
