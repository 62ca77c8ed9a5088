"""Volume profile and a basic market (TPO) profile: where the market spent its volume and its time."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Numbers = Sequence[float] | npt.NDArray[np.floating]

#: The conventional value area: the price range holding 70 % of the volume (or TPOs) around the POC.
VALUE_AREA_FRACTION = 0.70


def value_area_indices(counts: npt.NDArray[np.float64], fraction: float) -> tuple[int, int, int]:
    """(poc, low, high) bin indices. Start at the point of control (largest count; ties go to the bin
    nearest the middle) and add the larger neighbouring bin (above on a tie) until `fraction` of
    the total is inside."""
    if not 0 < fraction <= 1:
        raise ValueError(f"value area fraction must be in (0, 1], got {fraction}")
    total = float(counts.sum())
    largest = np.flatnonzero(counts == counts.max())
    middle = (len(counts) - 1) / 2.0
    poc = int(min(largest, key=lambda index: (abs(index - middle), index)))
    low = high = poc
    inside = float(counts[poc])
    while inside < fraction * total - 1e-12 and (low > 0 or high < len(counts) - 1):
        above = float(counts[high + 1]) if high < len(counts) - 1 else -1.0
        below = float(counts[low - 1]) if low > 0 else -1.0
        if above >= below:
            high += 1
            inside += above
        else:
            low -= 1
            inside += below
    return poc, low, high


@dataclass(frozen=True, slots=True)
class VolumeProfile:
    bin_edges: tuple[float, ...]
    bin_volumes: tuple[float, ...]
    poc: float  # centre of the bin with the most volume
    value_area_low: float
    value_area_high: float
    total_volume: float


def volume_profile(
    prices: Numbers, volumes: Numbers, bins: int = 24, value_area: float = VALUE_AREA_FRACTION
) -> VolumeProfile:
    """Histogram of volume by price in `bins` equal bins over the traded range."""
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    price_array = np.asarray(prices, dtype=np.float64)
    volume_array = np.asarray(volumes, dtype=np.float64)
    if price_array.shape != volume_array.shape or price_array.ndim != 1 or len(price_array) == 0:
        raise ValueError("prices and volumes must be non-empty 1-D arrays of the same length")
    if not (np.all(np.isfinite(price_array)) and np.all(np.isfinite(volume_array))):
        raise ValueError("prices and volumes must be finite numbers")
    if np.any(volume_array < 0):
        raise ValueError("volumes must not be negative")
    total = float(volume_array.sum())
    if total <= 0:
        raise ValueError("volume profile needs some volume (all volumes are zero: an index has none)")
    low, high = float(price_array.min()), float(price_array.max())
    if high == low:
        high = low + max(abs(low) * 1e-9, 1e-9)
    histogram, edges = np.histogram(price_array, bins=bins, range=(low, high), weights=volume_array)
    poc, value_low, value_high = value_area_indices(histogram.astype(np.float64), value_area)
    return VolumeProfile(
        bin_edges=tuple(float(edge) for edge in edges),
        bin_volumes=tuple(float(volume) for volume in histogram),
        poc=float((edges[poc] + edges[poc + 1]) / 2.0),
        value_area_low=float(edges[value_low]),
        value_area_high=float(edges[value_high + 1]),
        total_volume=total,
    )


class HighLow(Protocol):
    @property
    def high(self) -> float: ...

    @property
    def low(self) -> float: ...


@dataclass(frozen=True, slots=True)
class MarketProfile:
    """TPO profile: each bar is one time period; every tick-sized price it touched gets one TPO."""

    tick: float
    tpo_counts: dict[float, int]
    poc: float
    value_area_low: float
    value_area_high: float
    initial_balance_high: float
    initial_balance_low: float
    periods: int

    @property
    def initial_balance_range(self) -> float:
        return self.initial_balance_high - self.initial_balance_low


#: A profile with more price levels than this is almost certainly a wrong tick (e.g. 0.05 on a year).
MAX_PROFILE_LEVELS = 200_000


def market_profile(
    bars: Sequence[HighLow],
    tick: float,
    initial_balance_periods: int = 2,
    value_area: float = VALUE_AREA_FRACTION,
) -> MarketProfile:
    """Basic market profile from one session's bars (normally 30-minute bars: IB = the first two)."""
    if not (math.isfinite(tick) and tick > 0):
        raise ValueError(f"tick must be positive, got {tick}")
    if not bars:
        raise ValueError("market profile needs at least one bar")
    if isinstance(initial_balance_periods, bool) or initial_balance_periods < 1:
        raise ValueError(f"initial_balance_periods must be a positive integer, got {initial_balance_periods}")
    lows = np.array([bar.low for bar in bars], dtype=np.float64)
    highs = np.array([bar.high for bar in bars], dtype=np.float64)
    if np.any(highs < lows) or not (np.all(np.isfinite(lows)) and np.all(np.isfinite(highs))):
        raise ValueError("every bar needs finite prices with high >= low")
    low_ticks = np.floor(lows / tick + 1e-9).astype(np.int64)
    high_ticks = np.floor(highs / tick + 1e-9).astype(np.int64)
    base = int(low_ticks.min())
    levels = int(high_ticks.max()) - base + 1
    if levels > MAX_PROFILE_LEVELS:
        raise ValueError(f"{levels} price levels at tick {tick}: use a larger tick for this range")
    # Each bar adds +1 from its low level to its high level: a difference array makes it O(bars + levels).
    marks = np.zeros(levels + 1, dtype=np.int64)
    np.add.at(marks, low_ticks - base, 1)
    np.add.at(marks, high_ticks - base + 1, -1)
    counts = np.cumsum(marks[:-1])
    poc, value_low, value_high = value_area_indices(counts.astype(np.float64), value_area)
    ib = min(initial_balance_periods, len(bars))
    return MarketProfile(
        tick=tick,
        tpo_counts={
            round((base + index) * tick, 10): int(count) for index, count in enumerate(counts) if count
        },
        poc=round((base + poc) * tick, 10),
        value_area_low=round((base + value_low) * tick, 10),
        value_area_high=round((base + value_high) * tick, 10),
        initial_balance_high=float(highs[:ib].max()),
        initial_balance_low=float(lows[:ib].min()),
        periods=len(bars),
    )


def volume_profile_from_bars(
    high: Numbers,
    low: Numbers,
    volume: Numbers,
    bins: int = 24,
    value_area: float = VALUE_AREA_FRACTION,
) -> VolumeProfile:
    """Volume profile that spreads each bar's volume evenly over its high-low range (a bar that traded
    from 100 to 110 did not trade it all at its close). A zero-range bar puts its volume in one bin."""
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    high_array = np.asarray(high, dtype=np.float64)
    low_array = np.asarray(low, dtype=np.float64)
    volume_array = np.asarray(volume, dtype=np.float64)
    if not (high_array.shape == low_array.shape == volume_array.shape) or high_array.ndim != 1:
        raise ValueError("high, low and volume must be 1-D arrays of the same length")
    if len(high_array) == 0:
        raise ValueError("volume profile needs at least one bar")
    if not all(np.all(np.isfinite(array)) for array in (high_array, low_array, volume_array)):
        raise ValueError("high, low and volume must be finite numbers")
    if np.any(high_array < low_array):
        raise ValueError(f"bar {int(np.flatnonzero(high_array < low_array)[0])}: high is below low")
    if np.any(volume_array < 0):
        raise ValueError("volumes must not be negative")
    total = float(volume_array.sum())
    if total <= 0:
        raise ValueError("volume profile needs some volume (all volumes are zero: an index has none)")
    bottom, top = float(low_array.min()), float(high_array.max())
    if top == bottom:
        top = bottom + max(abs(bottom) * 1e-9, 1e-9)
    edges = np.linspace(bottom, top, bins + 1)
    spans = high_array - low_array
    overlap = np.clip(
        np.minimum(high_array[:, None], edges[None, 1:]) - np.maximum(low_array[:, None], edges[None, :-1]),
        0.0,
        None,
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(spans[:, None] > 0, overlap / spans[:, None], 0.0)
    flat = spans == 0
    if np.any(flat):
        flat_bins = np.clip(np.searchsorted(edges, low_array[flat], side="right") - 1, 0, bins - 1)
        shares[np.flatnonzero(flat), flat_bins] = 1.0
    histogram = (shares * volume_array[:, None]).sum(axis=0)
    poc, value_low, value_high = value_area_indices(histogram, value_area)
    return VolumeProfile(
        bin_edges=tuple(float(edge) for edge in edges),
        bin_volumes=tuple(float(value) for value in histogram),
        poc=float((edges[poc] + edges[poc + 1]) / 2.0),
        value_area_low=float(edges[value_low]),
        value_area_high=float(edges[value_high + 1]),
        total_volume=total,
    )
