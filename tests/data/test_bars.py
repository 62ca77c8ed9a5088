from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.calendar import get_calendar
from optbot.config.sections.data import DataSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Timeframe
from optbot.core.events import FeedHealth
from optbot.data.bars import BarAggregator
from optbot.test_kit.data import BarCollector, ist, make_tick

DAY = (2025, 9, 4)  # a Thursday; F&O closes 15:30
NIFTY = "99926000"
OPTION = "40001"


def start(at=ist(*DAY, 9, 14), **overrides):
    clock = SimClock(at)
    collector = BarCollector()
    aggregator = BarAggregator(clock, get_calendar(), collector, DataSettings(**overrides))
    aggregator.track(NIFTY, "NIFTY", is_option=False)
    aggregator.track(OPTION, "NIFTY25SEP24500CE", is_option=True)
    aggregator.start()
    return clock, aggregator, collector


def feed(clock, aggregator, token, prices, minute, second=0.0, step=1.0, **kw):
    for index, price in enumerate(prices):
        at = ist(*DAY, 9, minute, second + index * step)
        if clock.now_utc() < at:
            clock.advance_to(at)
        aggregator.on_tick(make_tick(token, price, at, **kw))


def test_bar_closes_on_the_clock_not_on_the_next_tick():
    clock, aggregator, collector = start()
    feed(clock, aggregator, NIFTY, [100, 105, 95, 101], minute=15)
    clock.advance_to(ist(*DAY, 9, 16, 0.5))
    aggregator.on_tick(make_tick(NIFTY, 102, ist(*DAY, 9, 16, 0.5)))
    assert collector.of(Timeframe.M1) == []  # the next tick does not close it
    clock.advance_to(ist(*DAY, 9, 16, 1.0))  # grace over: the timer closes it
    (bar,) = collector.of(Timeframe.M1)
    assert (bar.open, bar.high, bar.low, bar.close, bar.tick_count) == (100, 105, 95, 101, 4)
    assert bar.start_utc == ist(*DAY, 9, 15) and bar.end_utc == ist(*DAY, 9, 16)
    assert bar.complete and not bar.interpolated


def test_late_and_bad_ticks_are_counted_not_applied():
    clock, aggregator, collector = start()
    feed(clock, aggregator, NIFTY, [100, 101], minute=15, second=58)
    clock.advance_to(ist(*DAY, 9, 16, 2))
    aggregator.on_tick(make_tick(NIFTY, 999, ist(*DAY, 9, 15, 59.9)))
    aggregator.on_tick(make_tick(NIFTY, 0.0, ist(*DAY, 9, 16, 3)))
    aggregator.on_tick(make_tick(NIFTY, 100, ist(*DAY, 9, 10)))
    aggregator.on_tick(make_tick("123", 100, ist(*DAY, 9, 16, 3)))
    assert aggregator.stats.late_ticks == 1
    assert aggregator.stats.dropped == {
        "non_positive_price": 1,
        "outside_session": 1,
        "untracked_token": 1,
        "late_tick": 1,
    }
    assert collector.of(Timeframe.M1)[0].high == 101


def test_volume_from_cumulative_day_volume():
    clock, aggregator, collector = start(feed_stall_seconds=120)
    feed(clock, aggregator, NIFTY, [100, 101], minute=15, volume=None)
    for index, volume in enumerate((1000, 1200, 1500)):
        at = ist(*DAY, 9, 16, 10 + index)
        clock.advance_to(at)
        aggregator.on_tick(make_tick(OPTION, 50 + index, at, volume=volume))
    clock.advance_to(ist(*DAY, 9, 17, 1))
    option_bar = collector.of(Timeframe.M1, OPTION)[0]
    assert option_bar.volume == 500


def test_quiet_minute_gives_no_bar_and_short_gap_is_interpolated():
    clock, aggregator, collector = start()
    feed(clock, aggregator, NIFTY, [100], minute=15, second=30)
    clock.advance_to(ist(*DAY, 9, 17, 1))
    assert [b.start_utc for b in collector.of(Timeframe.M1)] == [ist(*DAY, 9, 15)]
    feed(clock, aggregator, NIFTY, [130], minute=18, second=5)  # 09:16, 09:17 missing
    clock.advance_to(ist(*DAY, 9, 19, 1))
    bars = collector.of(Timeframe.M1)
    assert [b.interpolated for b in bars] == [False, True, True, False]
    assert [b.close for b in bars[1:3]] == [pytest.approx(110), pytest.approx(120)]
    assert aggregator.gaps[0].action == "interpolated" and aggregator.gaps[0].minutes == 2


def test_long_gap_is_recorded_for_recovery_and_discards_higher_timeframe():
    clock, aggregator, collector = start()
    feed(clock, aggregator, NIFTY, [100], minute=15, second=30)
    feed(clock, aggregator, NIFTY, [110], minute=29, second=5)
    clock.advance_to(ist(*DAY, 9, 31, 1))
    assert aggregator.gaps[-1].action == "discarded" and aggregator.gaps[-1].minutes == 13
    assert collector.of(Timeframe.M15) == []
    assert aggregator.stats.bars_discarded["gap_15m"] == 1


def test_stalled_feed_discards_option_bar_and_flags_underlying():
    clock, aggregator, collector = start(feed_stall_seconds=20)
    feed(clock, aggregator, NIFTY, [100], minute=15, second=1)
    feed(clock, aggregator, OPTION, [50], minute=15, second=2)
    clock.advance_to(ist(*DAY, 9, 16, 1))  # nothing for 58 s before the minute closed
    (bar,) = collector.of(Timeframe.M1)
    assert bar.token == NIFTY and not bar.complete
    assert aggregator.stats.bars_discarded["option_stalled_1m"] == 1


def test_feed_health_marks_minute_stalled():
    clock, aggregator, collector = start()
    feed(clock, aggregator, OPTION, [50, 51, 52, 53, 54, 55], minute=15, step=10)
    down = FeedHealth(ts_utc=ist(*DAY, 9, 15, 55), connected=False, stale_seconds=0, reconnects=1)
    aggregator.on_feed_health(down)
    clock.advance_to(ist(*DAY, 9, 16, 1))
    assert collector.of(Timeframe.M1) == []


def test_higher_timeframes_and_option_completeness():
    clock, aggregator, collector = start()
    for minute in range(15, 20):
        feed(clock, aggregator, NIFTY, [100 + minute, 90 + minute], minute=minute, second=0, step=30)
        if minute != 17:
            feed(clock, aggregator, OPTION, [50.0, 51.0], minute=minute, second=10, step=30)
    clock.advance_to(ist(*DAY, 9, 20, 1))
    (five,) = collector.of(Timeframe.M5)
    assert five.token == NIFTY
    assert (five.open, five.high, five.low, five.close) == (115, 119, 105, 109)
    assert five.start_utc == ist(*DAY, 9, 15) and five.end_utc == ist(*DAY, 9, 20) and five.complete
    assert aggregator.stats.bars_discarded["option_incomplete_5m"] == 1


def test_daily_bar_from_hourly_at_session_close():
    clock, aggregator, collector = start()
    minute = ist(*DAY, 9, 15)
    close = ist(*DAY, 15, 30)
    price = 100.0
    while minute < close:
        clock.advance_to(minute + timedelta(seconds=10))
        aggregator.on_tick(make_tick(NIFTY, price, minute + timedelta(seconds=10)))
        clock.advance_to(minute + timedelta(seconds=40))
        aggregator.on_tick(make_tick(NIFTY, price + 1, minute + timedelta(seconds=40)))
        price += 0.5
        minute += timedelta(minutes=1)
    clock.advance_to(ist(*DAY, 15, 31))
    assert len(collector.of(Timeframe.M1)) == 375
    assert len(collector.of(Timeframe.M5)) == 75
    hours = collector.of(Timeframe.H1)
    assert [h.start_utc.astimezone(ist(*DAY, 0, 0).tzinfo).strftime("%H:%M") for h in hours] == [
        "09:15",
        "10:15",
        "11:15",
        "12:15",
        "13:15",
        "14:15",
        "15:15",
    ]
    assert hours[-1].end_utc == close
    (daily,) = collector.of(Timeframe.D1)
    assert daily.open == 100.0 and daily.close == price - 0.5 + 1 and daily.complete


def test_fo_session_closes_at_1540_from_august_2026():
    clock = SimClock(ist(2026, 8, 7, 9, 0))
    aggregator = BarAggregator(clock, get_calendar(), BarCollector())
    aggregator.start()
    assert aggregator.session_close_utc == ist(2026, 8, 7, 15, 40)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=1, max_value=1e5, allow_nan=False), min_size=1, max_size=50))
def test_bar_ohlc_property(prices):
    clock, aggregator, collector = start()
    for index, price in enumerate(prices):
        aggregator.on_tick(make_tick(NIFTY, price, ist(*DAY, 9, 15, index)))
    clock.advance_to(ist(*DAY, 9, 16, 1))
    (bar,) = collector.of(Timeframe.M1)
    assert (bar.open, bar.high, bar.low, bar.close) == (prices[0], max(prices), min(prices), prices[-1])


def test_beyond_calendar_range_builds_nothing_and_says_so(caplog):
    clock = SimClock(ist(2028, 12, 29, 16, 0))
    collector = BarCollector()
    aggregator = BarAggregator(clock, get_calendar(), collector)
    aggregator.track(NIFTY, "NIFTY", is_option=False)
    aggregator.start()
    aggregator.on_tick(make_tick(NIFTY, 100, ist(2029, 1, 1, 9, 15)))  # past the provisional range
    assert aggregator.session_open_utc is None
    assert aggregator.stats.dropped["outside_session"] == 1
    assert "cannot load a session" in caplog.text
