"""Session VWAP: volume-weighted average price that restarts at every new session."""

from __future__ import annotations

from collections.abc import Hashable

from optbot.indicators.base import require_finite


class SessionVWAP:
    """Cumulative sum(price x volume) / sum(volume) since the session began.

    `session_key` is anything that changes when a session changes (normally the IST trading date).
    Indices carry no volume: while the session's volume is still zero every bar weighs the same,
    so the value is the session's average price rather than a division by zero.
    """

    __slots__ = ("_count", "_price_sum", "_session_key", "_value", "_volume", "_weighted_sum", "period")

    def __init__(self) -> None:
        self.period = 1
        self.reset()

    def reset(self) -> None:
        self._session_key: Hashable | None = None
        self._weighted_sum = 0.0
        self._volume = 0.0
        self._price_sum = 0.0
        self._count = 0
        self._value: float | None = None

    def update(self, price: float, volume: float, session_key: Hashable) -> float:
        price = require_finite(price, "price")
        volume = require_finite(volume, "volume")
        if volume < 0:
            raise ValueError(f"volume must not be negative, got {volume}")
        if self._count == 0 or session_key != self._session_key:
            self._session_key = session_key
            self._weighted_sum = 0.0
            self._volume = 0.0
            self._price_sum = 0.0
            self._count = 0
        self._weighted_sum += price * volume
        self._volume += volume
        self._price_sum += price
        self._count += 1
        self._value = self._weighted_sum / self._volume if self._volume > 0 else self._price_sum / self._count
        return self._value

    @property
    def value(self) -> float | None:
        return self._value

    @property
    def ready(self) -> bool:
        return self._value is not None
