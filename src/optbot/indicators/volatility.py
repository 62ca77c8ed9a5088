"""Bollinger bands and close-to-close historical volatility (incremental)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from optbot.indicators.base import require_finite, require_period
from optbot.indicators.rolling import RollingWindow


@dataclass(frozen=True, slots=True)
class BandsValue:
    middle: float
    upper: float
    lower: float

    @property
    def width(self) -> float:
        """Band width relative to the middle: a squeeze shows as a small number."""
        return (self.upper - self.lower) / self.middle if self.middle else math.nan

    def percent_b(self, price: float) -> float:
        """Where `price` sits in the bands: 0 at the lower band, 1 at the upper."""
        spread = self.upper - self.lower
        return 0.5 if spread == 0.0 else (price - self.lower) / spread


class BollingerBands:
    """SMA(period) +/- stdevs x population standard deviation (Bollinger's and TA-Lib's definition).

    First value after `period` closes; matches TA-Lib `BBANDS` from its first value (1e-6).
    """

    __slots__ = ("_value", "_window", "period", "stdevs")

    def __init__(self, period: int = 20, stdevs: float = 2.0) -> None:
        self.period = require_period(period)
        self.stdevs = require_finite(stdevs, "stdevs")
        if self.stdevs <= 0:
            raise ValueError(f"stdevs must be positive, got {stdevs}")
        self._window = RollingWindow(self.period)
        self._value: BandsValue | None = None

    def update(self, close: float) -> BandsValue | None:
        self._window.push(require_finite(close, "close"))
        if not self._window.full:
            return None
        middle = self._window.mean()
        deviation = self.stdevs * math.sqrt(self._window.variance(ddof=0))
        self._value = BandsValue(middle, middle + deviation, middle - deviation)
        return self._value

    @property
    def value(self) -> BandsValue | None:
        return self._value

    @property
    def ready(self) -> bool:
        return self._value is not None

    def reset(self) -> None:
        self._window.clear()
        self._value = None


class HistoricalVolatility:
    """Annualised close-to-close volatility: sample stdev (ddof=1) of the last `period` log returns
    times sqrt(annualisation). First value at bar `period` (it needs `period` returns). A fraction:
    0.15 means 15 % a year, the same unit as `implied_volatility`.
    """

    __slots__ = ("_previous_close", "_scale", "_value", "_window", "annualisation", "period")

    def __init__(self, period: int = 20, annualisation: float = 252) -> None:
        self.period = require_period(period, minimum=2)
        self.annualisation = require_finite(annualisation, "annualisation")
        if self.annualisation <= 0:
            raise ValueError(f"annualisation must be positive, got {annualisation}")
        self._scale = math.sqrt(self.annualisation)
        self._window = RollingWindow(self.period)
        self._previous_close: float | None = None
        self._value: float | None = None

    def update(self, close: float) -> float | None:
        close = require_finite(close, "close")
        if close <= 0:
            raise ValueError(f"close must be positive for log returns, got {close}")
        previous = self._previous_close
        self._previous_close = close
        if previous is None:
            return None
        self._window.push(math.log(close / previous))
        if not self._window.full:
            return None
        self._value = math.sqrt(self._window.variance(ddof=1)) * self._scale
        return self._value

    @property
    def value(self) -> float | None:
        return self._value

    @property
    def ready(self) -> bool:
        return self._value is not None

    def reset(self) -> None:
        self._window.clear()
        self._previous_close = None
        self._value = None
