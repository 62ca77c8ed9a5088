"""What a data root gives the backtest per instrument and day: the finest timeframe (3m included),
the near-month future standing in for a missing index (shifted to the index's close), roll-ups of the
timeframes strategies ask for, and the entries column of the coverage table."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.backtest.coverage import DecisionNeed, adapted_timeframe, decision_bars
from optbot.backtest.store_data import IndexDay, StoreHistory, can_roll, roll_up
from optbot.calendar import Segment, get_calendar
from optbot.config.sections.data import DataSettings
from optbot.config.sections.paths import PathsSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Timeframe
from optbot.core.events import Bar
from optbot.core.timeutil import IST
from optbot.data.store import JsonStore
from tests.conftest import SAMPLE_STORE

DAY = date(2022, 11, 1)


def _bars(symbol: str, timeframe: Timeframe, day: date, start_price: float) -> list[Bar]:
    session = get_calendar().session(day, Segment.EQUITY)
    assert session is not None
    step = timedelta(seconds=timeframe.seconds)
    bars: list[Bar] = []
    moment, price = session.open_utc, start_price
    while moment < session.close_utc:
        bars.append(
            Bar(
                moment + step,
                "",
                symbol,
                timeframe,
                moment,
                moment + step,
                price,
                price + 2,
                price - 1,
                price + 1,
            )
        )
        moment, price = moment + step, price + 1
    return bars


def _store(root: Path) -> JsonStore:
    return JsonStore(
        PathsSettings(data_root=root), DataSettings(), SimClock(datetime(2022, 1, 1, tzinfo=UTC))
    )


def test_three_minute_bars_are_a_base_timeframe_and_roll_up_to_15m_but_not_5m(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.merge_bars("NIFTY", Timeframe.M3, _bars("NIFTY", Timeframe.M3, DAY, 18000.0), imported=True)
    history = StoreHistory(tmp_path, get_calendar())
    found = history.day("NIFTY", DAY)
    assert found is not None and found.source == "3m" and len(found.bars) == 125
    assert can_roll(Timeframe.M3, Timeframe.M15) and not can_roll(Timeframe.M3, Timeframe.M5)
    session = get_calendar().session(DAY, Segment.EQUITY)
    assert session is not None
    fifteen = roll_up(found.bars, Timeframe.M15, session.open_utc, session.close_utc)
    assert len(fifteen) == 25 and all(bar.complete for bar in fifteen)
    assert fifteen[0].open == found.bars[0].open and fifteen[0].close == found.bars[4].close
    assert roll_up(found.bars, Timeframe.M5, session.open_utc, session.close_utc) == []
    _day, delivered = history.session_bars("NIFTY", DAY) or (None, [])
    assert {bar.timeframe for bar in delivered} == {Timeframe.M3, Timeframe.M15, Timeframe.H1, Timeframe.D1}


def test_a_timeframe_a_strategy_asks_for_is_rolled_up_from_finer_bars(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.merge_bars("NIFTY", Timeframe.M1, _bars("NIFTY", Timeframe.M1, DAY, 18000.0), imported=True)
    plain = StoreHistory(tmp_path, get_calendar())
    asked = StoreHistory(tmp_path, get_calendar(), rolled=(Timeframe.M3, Timeframe.M5, Timeframe.M15))
    assert Timeframe.M3 not in {bar.timeframe for bar in (plain.session_bars("NIFTY", DAY) or (None, []))[1]}
    three = [
        bar for bar in (asked.session_bars("NIFTY", DAY) or (None, []))[1] if bar.timeframe is Timeframe.M3
    ]
    assert len(three) == 125 and three[0].end_utc - three[0].start_utc == timedelta(minutes=3)


def test_the_near_month_future_stands_in_for_missing_index_minutes_shifted_to_the_close() -> None:
    """BANKNIFTY in the sample root: a daily bar but no index minute bars on 2022-11-01; BANKNIFTY-I
    has all 375 minutes. The day replays on the future's path, ending at the index's official close."""
    history = StoreHistory(SAMPLE_STORE, get_calendar())
    daily = history.daily_bar("BANKNIFTY", DAY)
    found = history.day("BANKNIFTY", DAY)
    assert daily is not None and found is not None
    assert found.source == "futures 1m" and len(found.bars) == 375
    assert found.bars[-1].close == pytest.approx(daily.close)
    future = history.day("BANKNIFTY-I", DAY)
    assert future is not None
    basis = future.bars[-1].close - daily.close
    assert 0 < basis < 400  # a near-month premium, not a different instrument
    for shifted, raw in zip(found.bars, future.bars, strict=True):
        assert shifted.high == pytest.approx(raw.high - basis, abs=0.01)
        assert shifted.symbol == "BANKNIFTY" and shifted.start_utc == raw.start_utc
        assert shifted.volume == 0  # an index feed has no volume (the future's would trip volume checks)
    # NIFTY has its own index minutes those days: the future is not used
    nifty = history.day("NIFTY", DAY)
    assert nifty is not None and nifty.source == "1m"
    # and a day with neither index minutes nor the future: the declared daily fallback
    fallback = history.day("BANKNIFTY", date(2020, 11, 18))
    assert fallback is not None and fallback.source == "daily"


def test_entries_column_names_what_the_strategies_decide_on_or_why_they_cannot() -> None:
    minute = IndexDay("1m", ())
    quarter = IndexDay("15m", ())
    futures = IndexDay("futures 1m", ())
    daily = IndexDay("daily", ())
    adx = DecisionNeed("adx_trend", Timeframe.M5)
    assert decision_bars(minute, [adx]) == "5m"
    assert decision_bars(futures, [DecisionNeed("adx_trend", Timeframe.M3), DecisionNeed("legs", None)]) == (
        "3m, intraday"
    )
    assert decision_bars(quarter, [DecisionNeed("adx_trend", Timeframe.M15)]) == "15m"
    assert decision_bars(quarter, [adx]) == "refused: 15m bars too coarse for adx_trend's 5m entries"
    assert decision_bars(IndexDay("3m", ()), [DecisionNeed("x", Timeframe.M5)]).startswith("refused: 3m bars")
    assert decision_bars(daily, [DecisionNeed("legs", None)]) == (
        "refused: only a daily bar, legs needs intraday bars"
    )
    # a strategy whose entry timeframe adapts enters on the finest coarser bars the day delivers
    adapting = DecisionNeed("adx_trend", Timeframe.M5, adapts=True)
    assert decision_bars(minute, [adapting]) == "5m"
    assert decision_bars(quarter, [adapting]) == "15m (adapted: adx_trend's 5m needs finer bars)"
    assert decision_bars(IndexDay("3m", ()), [adapting]).startswith("15m (adapted:")  # 5m is not 3m-rollable
    assert decision_bars(daily, [adapting]) == "refused: only a daily bar, adx_trend needs intraday bars"
    assert adapted_timeframe(Timeframe.M15, Timeframe.M5) is Timeframe.M15
    assert adapted_timeframe(Timeframe.M3, Timeframe.M5) is Timeframe.M15
    only_15m = (Timeframe.M15,)  # 3m not among the rolled timeframes
    assert adapted_timeframe(Timeframe.M1, Timeframe.M3, rolled=only_15m) is Timeframe.M15
    assert adapted_timeframe(Timeframe.D1, Timeframe.M5) is None
    assert decision_bars(None, [adx]) == "-"


def test_recent_return_is_the_last_stored_week_before_the_day(tmp_path: Path) -> None:
    store = _store(tmp_path)
    days = get_calendar().trading_days(date(2022, 10, 31), date(2022, 11, 9), Segment.FO)
    for index, day in enumerate(days):
        store.merge_bars("NIFTY", Timeframe.D1, _daily("NIFTY", day, 18000.0 + 100 * index), imported=True)
    history = StoreHistory(tmp_path, get_calendar())
    last = days[-1]
    # the last close before `last` is days[-2]'s; five stored sessions before it, days[-7]'s
    expected = (18000.0 + 100 * (len(days) - 2) + 1) / (18000.0 + 100 * (len(days) - 7) + 1)
    assert history.recent_return("NIFTY", last) == pytest.approx(math.log(expected))
    assert history.recent_return("NIFTY", days[3]) is None  # not six sessions stored before it
    assert history.identity == f"store {tmp_path.resolve()}"


def _daily(symbol: str, day: date, price: float) -> list[Bar]:
    session = get_calendar().session(day, Segment.EQUITY)
    assert session is not None
    start, end = session.open_utc, session.close_utc
    return [Bar(end, "", symbol, Timeframe.D1, start, end, price, price + 2, price - 1, price + 1)]


def _roll_up_by_timedelta(
    bars: list[Bar], timeframe: Timeframe, open_utc: datetime, close_utc: datetime
) -> list[Bar]:
    """The roll-up as first written (buckets by timedelta division), the reference for the integer one."""
    span = timedelta(seconds=timeframe.seconds)
    unit = bars[0].end_utc - bars[0].start_utc
    buckets: dict[int, list[Bar]] = {}
    for bar in bars:
        buckets.setdefault(int((bar.start_utc - open_utc) / span), []).append(bar)
    rolled = []
    for index in sorted(buckets):
        parts = buckets[index]
        start = open_utc + index * span
        end = min(start + span, close_utc)
        rolled.append(
            dataclasses.replace(
                parts[0],
                ts_utc=end,
                timeframe=timeframe,
                start_utc=start,
                end_utc=end,
                high=max(part.high for part in parts),
                low=min(part.low for part in parts),
                close=parts[-1].close,
                volume=sum(part.volume for part in parts),
                open_interest=parts[-1].open_interest,
                tick_count=0,
                interpolated=False,
                complete=len(parts) == -(-(end - start) // unit) and all(part.complete for part in parts),
            )
        )
    return rolled


def test_roll_up_buckets_as_timedelta_division_does_with_a_pre_open_bar_and_a_gap() -> None:
    """The integer bucketing matches dividing timedeltas: a bar starting before the open truncates into
    the first bucket (not floored into one before it), a missing minute leaves its bucket incomplete."""
    session = get_calendar().session(DAY, Segment.EQUITY)
    assert session is not None
    bars = _bars("NIFTY", Timeframe.M1, DAY, 18_000.0)
    early = Bar(
        session.open_utc,
        "",
        "NIFTY",
        Timeframe.M1,
        session.open_utc - timedelta(minutes=1),
        session.open_utc,
        17_990.0,
        17_995.0,
        17_985.0,
        17_999.0,
    )
    bars = [early, *bars[:7], *bars[8:]]
    for timeframe in (Timeframe.M5, Timeframe.M15, Timeframe.H1):
        expected = _roll_up_by_timedelta(bars, timeframe, session.open_utc, session.close_utc)
        assert roll_up(bars, timeframe, session.open_utc, session.close_utc) == expected
        labelled = roll_up(bars, timeframe, session.open_utc, session.close_utc, ("99926000", "NIFTY"))
        assert labelled == [dataclasses.replace(bar, token="99926000") for bar in expected]
    assert not roll_up(bars, Timeframe.M5, session.open_utc, session.close_utc)[1].complete


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=-3, max_value=380),  # minute of the session (before the open too)
            st.floats(min_value=1.0, max_value=100.0),  # high above the open
            st.floats(min_value=1.0, max_value=100.0),  # low below the open
            st.integers(min_value=0, max_value=10_000),  # volume
            st.booleans(),  # complete
        ),
        min_size=1,
        max_size=60,
        unique_by=lambda row: row[0],
    ),
    st.booleans(),
)
def test_the_one_pass_roll_up_is_the_bucketed_one(
    rows: list[tuple[int, float, float, int, bool]], ordered: bool
) -> None:
    """Random minutes (gaps, pre-open bars, incomplete ones, in or out of start order): the one-pass
    roll-up gives the same bars as the reference that gathers each bucket's parts first."""
    session = get_calendar().session(DAY, Segment.EQUITY)
    assert session is not None
    minute = timedelta(minutes=1)
    bars = [
        Bar(
            session.open_utc + (offset + 1) * minute,
            "",
            "NIFTY",
            Timeframe.M1,
            session.open_utc + offset * minute,
            session.open_utc + (offset + 1) * minute,
            18_000.0 + offset,
            18_000.0 + offset + up,
            18_000.0 + offset - down,
            18_000.0 + offset + (up - down) / 2,
            volume,
            complete=complete,
        )
        for offset, up, down, volume, complete in (sorted(rows) if ordered else rows)
    ]
    for timeframe in (Timeframe.M5, Timeframe.M15, Timeframe.H1):
        expected = _roll_up_by_timedelta(bars, timeframe, session.open_utc, session.close_utc)
        assert roll_up(bars, timeframe, session.open_utc, session.close_utc) == expected


def test_labelled_session_bars_are_the_stored_ones_relabelled(tmp_path: Path) -> None:
    """A session asked for with a label (the master's index row) is every stored-session bar with that
    token and symbol, whether it is built directly (root a) or from the stored session built before
    (root b: a search's warm-up builds the stored sessions first)."""
    label = ("99926000", "NIFTY")
    for root in (tmp_path / "a", tmp_path / "b"):
        _store(root).merge_bars("NIFTY", Timeframe.M1, _bars("NIFTY", Timeframe.M1, DAY, 18_000.0))
    direct = StoreHistory(tmp_path / "a", get_calendar()).session_bars("NIFTY", DAY, label)
    history = StoreHistory(tmp_path / "b", get_calendar())
    stored = history.session_bars("NIFTY", DAY)
    derived = history.session_bars("NIFTY", DAY, label)
    assert direct is not None and stored is not None and derived is not None
    relabelled = [dataclasses.replace(bar, token=label[0], symbol=label[1]) for bar in stored[1]]
    assert direct[1] == relabelled
    assert derived[1] == relabelled
    assert [bar.timeframe for bar in direct[1]].count(Timeframe.H1) == 7


def test_a_history_with_labels_reads_the_bars_under_them_once(tmp_path: Path) -> None:
    """A history given the master's index rows (`labels`) builds each stored bar once, already under
    the row's token and symbol: the session's base bars are the parsed bars themselves, and every
    session bar is what relabelling the stored session gives, asked for with the label or without.
    A file read under a label is parsed again for a history without it (the stored names)."""
    label = ("99926000", "NIFTY")
    _store(tmp_path).merge_bars("NIFTY", Timeframe.M1, _bars("NIFTY", Timeframe.M1, DAY, 18_000.0))
    _store(tmp_path).merge_bars("NIFTY", Timeframe.D1, _bars("NIFTY", Timeframe.D1, DAY, 17_990.0))
    history = StoreHistory(tmp_path, get_calendar(), labels={"nifty": label})
    asked = history.session_bars("NIFTY", DAY, label)
    named = history.session_bars("NIFTY", DAY)
    plain = StoreHistory(tmp_path, get_calendar())
    stored = plain.session_bars("NIFTY", DAY)
    assert asked is not None and named is not None and stored is not None
    relabelled = [dataclasses.replace(bar, token=label[0], symbol=label[1]) for bar in stored[1]]
    assert asked[1] == relabelled and named[1] == relabelled
    parsed = history.day("NIFTY", DAY)
    assert parsed is not None and all(bar in asked[1] for bar in parsed.bars)
    base = [bar for bar in asked[1] if bar.timeframe is Timeframe.M1]
    assert all(built is read for built, read in zip(base, parsed.bars, strict=True))  # not rebuilt
    assert {(bar.token, bar.symbol) for bar in stored[1]} == {("", "NIFTY")}
    assert plain.daily_bar("NIFTY", DAY) == dataclasses.replace(
        history.daily_bar("NIFTY", DAY), token="", symbol="NIFTY"
    )


def _grouped_bar_by_bar(bars: list[Bar]) -> dict[date, tuple[Bar, ...]]:
    """The definition: each bar under its IST start date, flagged complete, in the order given."""
    grouped: dict[date, list[Bar]] = {}
    for bar in bars:
        whole = bar if bar.complete else dataclasses.replace(bar, complete=True)
        grouped.setdefault(bar.start_utc.astimezone(IST).date(), []).append(whole)
    return {day: tuple(items) for day, items in grouped.items()}


def test_stored_bars_are_grouped_by_ist_day_as_bar_by_bar_grouping_does() -> None:
    """Runs of a day found by bisection: IST midnight (18:30 UTC) splits days, an empty day is
    skipped, an incomplete import is flagged whole, a duplicate start stays, unordered bars keep
    their order within a day."""
    first = datetime(2024, 6, 3, 18, 28, tzinfo=UTC)
    starts = [first + timedelta(minutes=step) for step in (0, 1, 2, 3, 3, 60 * 24 * 2, 60 * 24 * 2 + 1)]
    bars = [
        Bar(start + timedelta(minutes=1), "", "NIFTY", Timeframe.M1, start, start + timedelta(minutes=1),
            1.0, 2.0, 0.5, 1.5, complete=index != 2)
        for index, start in enumerate(starts)
    ]  # fmt: skip
    grouped = StoreHistory._group_by_day(bars)
    assert grouped == _grouped_bar_by_bar(bars)
    assert [len(day) for day in grouped.values()] == [2, 3, 2]
    assert all(bar.complete for day in grouped.values() for bar in day)
    shuffled = [bars[5], bars[0], bars[3], bars[1], bars[6], bars[2], bars[4]]
    assert StoreHistory._group_by_day(shuffled) == _grouped_bar_by_bar(shuffled)
    assert StoreHistory._group_by_day([]) == {}
