"""Sliding-window sums that stay exact over millions of updates.

A plain running sum drifts (each add/subtract rounds) and sums of squares of prices near 25 000 lose
the variance to cancellation. We keep sums of values *shifted by an anchor* from inside the window and
recompute them exactly (math.fsum) every `period` updates, so the cost stays O(1) amortised per bar.
"""

from __future__ import annotations

import math
from collections import deque


class RollingWindow:
    """Mean and variance of the last `period` values."""

    __slots__ = ("_anchor", "_shifted_sum", "_shifted_sum_squares", "_since_rebase", "_values", "period")

    def __init__(self, period: int) -> None:
        self.period = period
        self._values: deque[float] = deque(maxlen=period)
        self._anchor = 0.0
        self._shifted_sum = 0.0
        self._shifted_sum_squares = 0.0
        self._since_rebase = 0

    @property
    def full(self) -> bool:
        return len(self._values) == self.period

    def __len__(self) -> int:
        return len(self._values)

    def push(self, value: float) -> None:
        if self.full:
            dropped = self._values[0] - self._anchor
            self._shifted_sum -= dropped
            self._shifted_sum_squares -= dropped * dropped
        self._values.append(value)
        shifted = value - self._anchor
        self._shifted_sum += shifted
        self._shifted_sum_squares += shifted * shifted
        self._since_rebase += 1
        if self._since_rebase >= self.period:
            self._rebase()

    def _rebase(self) -> None:
        self._anchor = self._values[-1]
        shifted = [value - self._anchor for value in self._values]
        self._shifted_sum = math.fsum(shifted)
        self._shifted_sum_squares = math.fsum(item * item for item in shifted)
        self._since_rebase = 0

    def mean(self) -> float:
        return self._anchor + self._shifted_sum / len(self._values)

    def variance(self, ddof: int = 0) -> float:
        count = len(self._values)
        if count - ddof <= 0:
            return math.nan
        shifted_mean = self._shifted_sum / count
        squares = self._shifted_sum_squares - count * shifted_mean * shifted_mean
        return max(squares, 0.0) / (count - ddof)

    def clear(self) -> None:
        self._values.clear()
        self._anchor = 0.0
        self._shifted_sum = 0.0
        self._shifted_sum_squares = 0.0
        self._since_rebase = 0
