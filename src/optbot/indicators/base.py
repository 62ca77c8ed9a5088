"""The shape every incremental indicator shares, plus input validation that names the bad value."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Indicator(Protocol):
    """An incremental indicator: one `update` per closed bar, O(1) work, `None` until warmed up."""

    period: int

    def update(self, *args: Any, **kwargs: Any) -> Any: ...

    @property
    def value(self) -> Any: ...

    @property
    def ready(self) -> bool: ...


def require_period(period: int, minimum: int = 1, name: str = "period") -> int:
    """Periods are whole bar counts; a float or a zero silently changes the indicator, so refuse them."""
    if isinstance(period, bool) or not isinstance(period, int):
        raise ValueError(f"{name} must be an integer number of bars, got {period!r}")
    if period < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {period}")
    return period


def require_finite(value: float, name: str) -> float:
    """A NaN or infinity would poison every later value of a recursive indicator, so fail loudly.

    Every input of every indicator passes here (a strategy's indicators, every bar): `x - x` is
    exactly 0.0 for a finite float and NaN for a NaN or an infinity, one subtraction where
    `math.isfinite` is a module lookup and a call."""
    number = float(value)
    if number - number != 0.0:
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


def require_bar(high: float, low: float, close: float) -> tuple[float, float, float]:
    """A bar's high, low and close as floats, each finite and the high not below the low: the three
    finiteness tests as one sum (NaN if any is not finite), the failing one named from `require_finite`."""
    high_value, low_value, close_value = float(high), float(low), float(close)
    if (high_value - high_value) + (low_value - low_value) + (close_value - close_value) != 0.0:
        require_finite(high, "high")
        require_finite(low, "low")
        require_finite(close, "close")
    if high_value < low_value:
        raise ValueError(f"bar high {high_value} is below its low {low_value}")
    return high_value, low_value, close_value
