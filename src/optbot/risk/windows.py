"""Rolling time windows on the Clock, and the flash-spike detectors built on them (spec §4.1)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta


class RollingWindow:
    """(time, value) samples kept for `span`; samples are evicted by time, never by count.

    `min` / `max` are O(1): monotonic deques of the samples that can still be the window's low / high
    are kept beside the samples (the spike detectors ask on every underlying and VIX tick)."""

    __slots__ = ("_highs", "_lows", "_samples", "span")

    def __init__(self, span: timedelta) -> None:
        if span <= timedelta(0):
            raise ValueError("window span must be positive")
        self.span = span
        self._samples: deque[tuple[datetime, float]] = deque()
        self._lows: deque[tuple[datetime, float]] = deque()  # values increasing front to back
        self._highs: deque[tuple[datetime, float]] = deque()  # values decreasing front to back

    def add(self, when: datetime, value: float) -> None:
        samples = self._samples
        if samples and when < samples[-1][0]:
            return  # out-of-order sample: ignore rather than corrupt the window
        sample = (when, value)
        samples.append(sample)
        lows, highs = self._lows, self._highs
        while lows and lows[-1][1] >= value:
            lows.pop()
        lows.append(sample)
        while highs and highs[-1][1] <= value:
            highs.pop()
        highs.append(sample)
        cutoff = when - self.span
        if samples[0][0] < cutoff:  # the oldest sample expired (most adds evict none or one)
            # the sample just added is inside the window, so no deque runs empty here
            while samples[0][0] < cutoff:
                samples.popleft()
            while lows[0][0] < cutoff:
                lows.popleft()
            while highs[0][0] < cutoff:
                highs.popleft()

    def evict(self, now: datetime) -> None:
        cutoff = now - self.span
        samples = self._samples
        if not samples or samples[0][0] >= cutoff:
            return
        while samples and samples[0][0] < cutoff:
            samples.popleft()
        lows, highs = self._lows, self._highs
        while lows and lows[0][0] < cutoff:
            lows.popleft()
        while highs and highs[0][0] < cutoff:
            highs.popleft()

    def last(self) -> tuple[datetime, float] | None:
        """The newest sample."""
        return self._samples[-1] if self._samples else None

    def values(self) -> list[float]:
        return [value for _, value in self._samples]

    def __len__(self) -> int:
        return len(self._samples)

    def min(self) -> float | None:
        return self._lows[0][1] if self._lows else None

    def max(self) -> float | None:
        return self._highs[0][1] if self._highs else None


@dataclass(frozen=True, slots=True)
class SpikeDetection:
    kind: str  # vix_spike | vix_breaker | price_spike | volume_spike
    symbol: str
    detail: str
    baseline: float


class RiseDetector:
    """Fires when the latest value is more than `points` above the window minimum (VIX spikes)."""

    def __init__(self, kind: str, points: float, span: timedelta) -> None:
        self.kind = kind
        self.points = points
        self.window = RollingWindow(span)

    def update(self, symbol: str, when: datetime, value: float) -> SpikeDetection | None:
        self.window.add(when, value)
        low = self.window.min()
        if low is None or value - low <= self.points:
            return None
        minutes = self.window.span.total_seconds() / 60
        return SpikeDetection(
            self.kind,
            symbol,
            f"{symbol} rose {value - low:.2f} points in {minutes:g} min ({low:.2f} -> {value:.2f}), "
            f"limit {self.points:g}",
            baseline=low,
        )


class PercentMoveDetector:
    """Fires when price moved more than `percent` from the window's low or high (either direction)."""

    def __init__(self, percent: float, span: timedelta) -> None:
        self.percent = percent
        self.window = RollingWindow(span)

    def update(self, symbol: str, when: datetime, price: float) -> SpikeDetection | None:
        """Every watched price passes here (ticks and bar closes): one window update and two divisions,
        the window's extremes read from its monotonic deques directly."""
        if price <= 0:
            return None
        window = self.window
        samples = window._samples
        if samples and samples[-1] == (when, price):
            return None  # the same price at the same instant (a bar's close after its tick): no news
        window.add(when, price)
        # never empty after `add`: a sample it ignores (out of order) leaves the earlier ones
        low, high = window._lows[0][1], window._highs[0][1]
        up = (price - low) / low * 100
        down = (high - price) / high * 100
        move, reference = (up, low) if up >= down else (-down, high)
        if abs(move) <= self.percent:
            return None
        minutes = window.span.total_seconds() / 60
        return SpikeDetection(
            "price_spike",
            symbol,
            f"{symbol} moved {move:+.2f}% in {minutes:g} min ({reference:.2f} -> {price:.2f}), "
            f"limit {self.percent:g}%",
            baseline=reference,
        )


class VolumeSurgeDetector:
    """Fires when one interval's volume exceeds `percent` of the average interval volume in the window.

    The average is over the samples before the current one, so the surge does not dilute its own
    baseline; at least `min_samples` earlier samples are needed.
    """

    def __init__(self, percent: float, span: timedelta, min_samples: int) -> None:
        self.percent = percent
        self.min_samples = min_samples
        self.window = RollingWindow(span)

    def update(self, symbol: str, when: datetime, volume: float) -> SpikeDetection | None:
        self.window.evict(when)
        earlier = self.window.values()
        self.window.add(when, volume)
        if len(earlier) < self.min_samples:
            return None
        average = sum(earlier) / len(earlier)
        if average <= 0 or volume <= average * self.percent / 100:
            return None
        minutes = self.window.span.total_seconds() / 60
        return SpikeDetection(
            "volume_spike",
            symbol,
            f"{symbol} volume {volume:.0f} is {volume / average * 100:.0f}% of the {minutes:g}-min average "
            f"{average:.0f}, limit {self.percent:g}%",
            baseline=average,
        )
