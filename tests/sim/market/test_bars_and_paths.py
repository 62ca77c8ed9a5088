from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.sim.market import IndexHistory
from optbot.sim.market.paths import bar_tick_path


def test_store_one_minute_sessions_in_utc_with_the_missing_bar_kept(
    histories: dict[str, IndexHistory],
) -> None:
    label, series = histories["NIFTY"].intraday[0]
    assert label == "1m"
    counts = {day: len(bars) for day, bars in series.days.items() if day.year == 2025}
    assert list(counts) == [date(2025, 9, d) for d in (4, 5, 8, 9, 10)]
    assert sorted(counts.values()) == [374, 375, 375, 375, 375]
    first = series.days[date(2025, 9, 4)][0]
    assert first.start.isoformat() == "2025-09-04T03:45:00+00:00"  # 09:15 IST
    assert (round(first.open, 2), round(first.close, 2)) == (24970.3, 24876.6)


def test_fifteen_minute_sessions_are_whole_days(histories: dict[str, IndexHistory]) -> None:
    label, series = histories["NIFTY"].intraday[1]
    assert label == "15m"
    assert len(series.days) > 2000
    assert all(len(bars) == 25 for bars in series.days.values())
    assert date(2024, 5, 21) in series.days


@st.composite
def bars(draw: st.DrawFn) -> tuple[float, float, float, float]:
    low = draw(st.integers(100_00, 50_000_00)) / 100
    high = round(low + draw(st.integers(0, 500_00)) / 100, 2)
    span = high - low
    open_ = round(low + span * draw(st.floats(0, 1)), 2)
    close = round(low + span * draw(st.floats(0, 1)), 2)
    return open_, high, low, close


@settings(max_examples=200, deadline=None)
@given(bar=bars(), ticks=st.integers(4, 120), seed=st.integers(0, 2**32))
def test_tick_path_honours_open_high_low_close(
    bar: tuple[float, float, float, float], ticks: int, seed: int
) -> None:
    open_, high, low, close = bar
    path = bar_tick_path(open_, high, low, close, ticks, np.random.default_rng(seed))
    assert path.size == ticks
    assert (path[0], path[-1]) == (open_, close)
    assert path.max() == high and path.min() == low
    again = bar_tick_path(open_, high, low, close, ticks, np.random.default_rng(seed))
    assert np.array_equal(path, again)


def test_nearer_extreme_is_visited_first() -> None:
    path = bar_tick_path(100.0, 100.5, 90.0, 95.0, 60, np.random.default_rng(3))
    assert int(np.argmax(path)) < int(np.argmin(path))
    path = bar_tick_path(100.0, 110.0, 99.5, 105.0, 60, np.random.default_rng(3))
    assert int(np.argmin(path)) < int(np.argmax(path))


def test_inconsistent_bars_and_too_few_ticks_are_rejected() -> None:
    with pytest.raises(ValueError, match="inconsistent bar"):
        bar_tick_path(10.0, 9.0, 8.0, 9.5, 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="at least 4 ticks"):
        bar_tick_path(10.0, 11.0, 9.0, 10.5, 3, np.random.default_rng(0))
