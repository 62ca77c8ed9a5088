from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.core.clock import SimClock
from optbot.core.enums import Timeframe
from optbot.core.events import Bar
from optbot.strategy import BarHistoryContext, LookAheadError

START = datetime(2024, 5, 21, 3, 45, tzinfo=UTC)


def minute_bar(index: int, complete: bool = True) -> Bar:
    start = START + timedelta(minutes=5 * index)
    end = start + timedelta(minutes=5)
    return Bar(end, "1", "NIFTY", Timeframe.M5, start, end, 1, 2, 0.5, 1.5, 10, complete=complete)


def test_future_or_incomplete_bar_is_refused() -> None:
    clock = SimClock(START + timedelta(minutes=7))
    ctx = BarHistoryContext(clock)
    ctx.add_bar(minute_bar(0))
    with pytest.raises(LookAheadError, match="offered at"):
        ctx.add_bar(minute_bar(1))  # ends at +10 min, clock at +7
    with pytest.raises(LookAheadError, match="not complete"):
        ctx.add_bar(minute_bar(0, complete=False))
    assert [b.start_utc for b in ctx.bars("NIFTY", Timeframe.M5, 10)] == [START]


def test_out_of_order_bar_is_refused() -> None:
    clock = SimClock(START + timedelta(hours=1))
    ctx = BarHistoryContext(clock)
    ctx.add_bar(minute_bar(2))
    with pytest.raises(ValueError, match="not after"):
        ctx.add_bar(minute_bar(1))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 50), min_size=1, max_size=30, unique=True),
    st.integers(0, 300),
    st.integers(1, 40),
)
def test_bars_never_end_after_now(indices, minutes, count) -> None:
    clock = SimClock(START)
    ctx = BarHistoryContext(clock)
    for index in sorted(indices):
        bar = minute_bar(index)
        clock.advance_to(max(clock.now_utc(), bar.end_utc))
        ctx.add_bar(bar)
    clock.advance(minutes * 60)
    seen = ctx.bars("NIFTY", Timeframe.M5, count)
    assert len(seen) <= count
    assert all(bar.end_utc <= clock.now_utc() for bar in seen)
    assert [bar.start_utc for bar in seen] == sorted(bar.start_utc for bar in seen)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 12), st.integers(-2, 45))
def test_the_last_bars_are_the_tail_of_the_kept_history(added, kept, count) -> None:
    """`bars` reads the end of the history (never copying the whole of it): the last `count` of the
    bars kept (at most `max_bars`, the oldest dropped first)."""
    clock = SimClock(START)
    ctx = BarHistoryContext(clock, max_bars=kept)
    bars = [minute_bar(index) for index in range(added)]
    for bar in bars:
        clock.advance_to(max(clock.now_utc(), bar.end_utc))
        ctx.add_bar(bar)
    held = bars[-kept:]
    assert list(ctx.bars("NIFTY", Timeframe.M5, count)) == (held[-count:] if count > 0 else [])
