"""Intra-bar tick paths that honour each bar's open, high, low and close exactly.

The path starts at the open, visits the nearer extreme first (O→H→L→C when the high is closer to
the open, else O→L→H→C), ends at the close, and wanders between those anchors on a pinned Brownian
bridge clipped to [low, high]. Seeded per instrument and day, so a replay of any window reproduces
the same ticks, and candles rebuilt from the ticks equal the source bars.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray

MIN_TICKS_PER_BAR = 4  # open, two extremes, close


def bar_tick_path(
    open_: float,
    high: float,
    low: float,
    close: float,
    ticks: int,
    rng: np.random.Generator,
    noise_fraction: float = 0.25,
    decimals: int = 2,
) -> NDArray[np.float64]:
    """`ticks` prices for one bar; element 0 is the open, the last is the close, min/max are L/H."""
    if ticks < MIN_TICKS_PER_BAR:
        raise ValueError(
            f"a bar needs at least {MIN_TICKS_PER_BAR} ticks to visit O, H, L and C; got {ticks}"
        )
    if not low <= min(open_, close) <= max(open_, close) <= high:
        raise ValueError(f"inconsistent bar O={open_} H={high} L={low} C={close}")
    path = np.empty(ticks, dtype=np.float64)
    if high == low:
        path.fill(close)
        return path
    first, second = (high, low) if abs(high - open_) <= abs(open_ - low) else (low, high)
    first_index = int(rng.integers(1, ticks - 2))
    second_index = int(rng.integers(first_index + 1, ticks - 1))
    anchors = ((0, open_), (first_index, first), (second_index, second), (ticks - 1, close))
    scale = (high - low) * noise_fraction
    for (start_index, start_price), (end_index, end_price) in itertools.pairwise(anchors):
        path[start_index : end_index + 1] = _bridge(
            start_price, end_price, end_index - start_index, scale, rng
        )
    np.clip(path, low, high, out=path)
    path = np.round(path, decimals)
    # Rounding must not move the anchors: they are the bar's own (already rounded) values.
    for index, price in anchors:
        path[index] = price
    return path


def _bridge(
    start: float, end: float, steps: int, scale: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    """steps+1 points from start to end: a straight line plus a Brownian bridge of size `scale`."""
    line = np.linspace(start, end, steps + 1)
    if steps < 2:
        return line
    walk = np.concatenate(([0.0], np.cumsum(rng.standard_normal(steps))))
    fraction = np.linspace(0.0, 1.0, steps + 1)
    bridge = walk - fraction * walk[-1]
    peak = float(np.max(np.abs(bridge)))
    if peak > 0:
        bridge *= scale / peak * min(1.0, steps / 8)
    return line + bridge
