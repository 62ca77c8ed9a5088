"""Swing pivots, dynamic S/R, Fibonacci, volume profile and market profile."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optbot.indicators import (
    LevelKind,
    SwingPivotDetector,
    fibonacci_extensions,
    fibonacci_retracements,
    market_profile,
    nearest_levels,
    support_resistance,
    swing_pivots,
    volume_profile,
    volume_profile_from_bars,
)
from optbot.test_kit.indicators import NIFTY_1MIN_YAHOO, load_sample


def test_swing_pivots_hand_example() -> None:
    high = [10, 11, 15, 12, 11, 13, 12]
    low = [9, 10, 13, 8, 9, 11, 10]
    pivots = swing_pivots(high, low, left=2, right=2)
    assert [(p.kind, p.first_index, p.price, p.confirmed_index) for p in pivots] == [
        (LevelKind.RESISTANCE, 2, 15.0, 4),
        (LevelKind.SUPPORT, 3, 8.0, 5),
    ]


def test_flat_double_top_counts_once() -> None:
    high = [1, 2, 5, 5, 2, 1]
    low = [0.5] * 6
    tops = [p for p in swing_pivots(high, low, 2, 2) if p.kind is LevelKind.RESISTANCE]
    assert [p.first_index for p in tops] == [2]


@given(st.lists(st.floats(min_value=1, max_value=1000), min_size=5, max_size=60), st.integers(1, 4))
def test_pivots_never_use_bars_after_confirmation(highs: list[float], width: int) -> None:
    """Changing bars after a pivot's confirmation bar never changes that pivot (no look-ahead)."""
    lows = [h * 0.99 for h in highs]
    pivots = swing_pivots(highs, lows, width, width)
    for pivot in pivots:
        cut = pivot.confirmed_index + 1
        again = swing_pivots(highs[:cut], lows[:cut], width, width)
        assert any(p.first_index == pivot.first_index and p.kind is pivot.kind for p in again)


def test_support_resistance_on_real_nifty_year() -> None:
    bars = load_sample()
    high, low, close = bars.high[-250:], bars.low[-250:], bars.close[-250:]
    levels = support_resistance(high, low, close, left=3, right=3, tolerance_pct=0.5, min_touches=2)
    assert levels, "a year of NIFTY must show repeated turning points"
    assert all(level.touches >= 2 for level in levels)
    assert [level.strength for level in levels] == sorted((level.strength for level in levels), reverse=True)
    last = float(close[-1])
    for level in levels:
        assert (level.kind is LevelKind.RESISTANCE) == (level.price > last)
        assert low.min() <= level.price <= high.max()
    support, resistance = nearest_levels(levels, last)
    assert support is None or support.price <= last
    assert resistance is None or resistance.price > last


def test_fibonacci() -> None:
    levels = fibonacci_retracements(200.0, 100.0)
    assert levels["0.0"] == 200.0 and levels["100.0"] == 100.0
    assert levels["61.8"] == pytest.approx(138.2)
    down = fibonacci_retracements(200.0, 100.0, uptrend=False)
    assert down["38.2"] == pytest.approx(138.2)
    assert fibonacci_extensions(200.0, 100.0)["161.8"] == pytest.approx(261.8)
    with pytest.raises(ValueError, match="below"):
        fibonacci_retracements(100.0, 200.0)


def test_volume_profile_on_one_minute_sample() -> None:
    bars = load_sample(NIFTY_1MIN_YAHOO)
    day = [i for i, text in enumerate(bars.dates) if text.startswith("2025-09-05")]
    typical = (bars.high[day] + bars.low[day] + bars.close[day]) / 3
    volumes = bars.volume[day] + 1.0  # Yahoo's index volume is often 0; keep every minute weighed
    profile = volume_profile(typical, volumes, bins=30)
    assert sum(profile.bin_volumes) == pytest.approx(volumes.sum())
    assert profile.value_area_low <= profile.poc <= profile.value_area_high
    inside = sum(
        volume
        for volume, left, right in zip(
            profile.bin_volumes, profile.bin_edges, profile.bin_edges[1:], strict=False
        )
        if left >= profile.value_area_low - 1e-9 and right <= profile.value_area_high + 1e-9
    )
    assert inside >= 0.70 * profile.total_volume


def test_volume_profile_hand_example_and_errors() -> None:
    profile = volume_profile([1, 2, 3, 4], [10, 70, 10, 10], bins=4)
    assert profile.poc == pytest.approx(2.125)  # edges 1, 1.75, 2.5, ...: bin [1.75, 2.5) centre
    assert profile.value_area_low == pytest.approx(1.75) and profile.value_area_high == pytest.approx(2.5)
    with pytest.raises(ValueError, match="zero"):
        volume_profile([1, 2], [0, 0])


@dataclass(frozen=True)
class _Bar:
    high: float
    low: float


def test_market_profile_hand_example() -> None:
    bars = [_Bar(102, 100), _Bar(103, 101), _Bar(102, 101), _Bar(105, 102)]
    profile = market_profile(bars, tick=1.0, initial_balance_periods=2)
    assert profile.tpo_counts == {100.0: 1, 101.0: 3, 102.0: 4, 103.0: 2, 104.0: 1, 105.0: 1}
    assert profile.poc == 102.0
    assert (profile.initial_balance_low, profile.initial_balance_high) == (100.0, 103.0)
    assert profile.value_area_low <= 102.0 <= profile.value_area_high
    covered = sum(
        c for p, c in profile.tpo_counts.items() if profile.value_area_low <= p <= profile.value_area_high
    )
    assert covered >= 0.7 * sum(profile.tpo_counts.values())


def test_market_profile_on_real_session_and_bad_tick() -> None:
    bars = load_sample(NIFTY_1MIN_YAHOO)
    day = [i for i, text in enumerate(bars.dates) if text.startswith("2025-09-05")]
    half_hours = [
        _Bar(float(bars.high[day][i : i + 30].max()), float(bars.low[day][i : i + 30].min()))
        for i in range(0, len(day), 30)
    ]
    profile = market_profile(half_hours, tick=5.0)
    assert profile.periods == len(half_hours) >= 12
    assert float(np.min(bars.low[day])) - 5 <= profile.poc <= float(np.max(bars.high[day]))
    with pytest.raises(ValueError, match="tick"):
        market_profile(half_hours, tick=0.0)


@given(
    st.lists(st.tuples(st.floats(1, 1000), st.floats(0, 50)), min_size=0, max_size=60),
    st.integers(1, 4),
    st.integers(1, 4),
)
def test_swing_detector_equals_batch(bars: list[tuple[float, float]], left: int, right: int) -> None:
    highs = [low + spread for low, spread in bars]
    lows = [low for low, _ in bars]
    detector = SwingPivotDetector(left, right)
    live = [level for high, low in zip(highs, lows, strict=True) for level in detector.update(high, low)]
    assert live == swing_pivots(highs, lows, left, right)


def test_volume_profile_from_bars_spreads_volume() -> None:
    profile = volume_profile_from_bars([110, 100.5], [100, 100.5], [100, 50], bins=10)
    assert sum(profile.bin_volumes) == pytest.approx(150)
    assert profile.bin_volumes[0] == pytest.approx(10 + 50)  # [100, 101): 1/10 of bar 1 + the flat bar
    assert all(volume == pytest.approx(10) for volume in profile.bin_volumes[1:])
    assert profile.poc == pytest.approx(100.5)


def test_volume_profile_from_real_one_minute_bars() -> None:
    bars = load_sample(NIFTY_1MIN_YAHOO)
    day = [i for i, text in enumerate(bars.dates) if text.startswith("2025-09-05")]
    volumes = bars.volume[day] + 1.0
    profile = volume_profile_from_bars(bars.high[day], bars.low[day], volumes, bins=40)
    assert sum(profile.bin_volumes) == pytest.approx(volumes.sum())
    assert profile.bin_edges[0] == bars.low[day].min() and profile.bin_edges[-1] == bars.high[day].max()
    assert profile.value_area_low <= profile.poc <= profile.value_area_high
