"""Simple and exponential moving averages (incremental)."""

from __future__ import annotations

from optbot.indicators.base import require_finite, require_period
from optbot.indicators.rolling import RollingWindow


class SMA:
    """Arithmetic mean of the last `period` values; first value after `period` updates.

    Matches TA-Lib `SMA` from its first value (within 1e-9 relative).
    """

    __slots__ = ("_value", "_window", "period")

    def __init__(self, period: int) -> None:
        self.period = require_period(period)
        self._window = RollingWindow(self.period)
        self._value: float | None = None

    def update(self, value: float) -> float | None:
        self._window.push(require_finite(value, "value"))
        if self._window.full:
            self._value = self._window.mean()
        return self._value

    @property
    def value(self) -> float | None:
        return self._value

    @property
    def ready(self) -> bool:
        return self._value is not None

    def reset(self) -> None:
        self._window.clear()
        self._value = None


class EMA:
    """Exponential moving average with alpha = 2 / (period + 1), seeded by the SMA of the first `period`
    values (the convention of TA-Lib and the charting platforms), so the first value is at index period-1.

    Matches TA-Lib `EMA` from its first value (within 1e-9 relative).
    """

    __slots__ = ("_seed_count", "_seed_sum", "_value", "alpha", "period")

    def __init__(self, period: int) -> None:
        self.period = require_period(period)
        self.alpha = 2.0 / (self.period + 1.0)
        self._seed_sum = 0.0
        self._seed_count = 0
        self._value: float | None = None

    def update(self, value: float) -> float | None:
        number = require_finite(value, "value")
        if self._value is None:
            self._seed_sum += number
            self._seed_count += 1
            if self._seed_count == self.period:
                self._value = self._seed_sum / self.period
            return self._value
        self._value = self._value + self.alpha * (number - self._value)
        return self._value

    @property
    def value(self) -> float | None:
        return self._value

    @property
    def ready(self) -> bool:
        return self._value is not None

    def reset(self) -> None:
        self._seed_sum = 0.0
        self._seed_count = 0
        self._value = None
