from __future__ import annotations

import gc
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.config.sections.data import DataSettings
from optbot.config.sections.paths import PathsSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Timeframe
from optbot.core.events import Bar, relabel_bar
from optbot.core.heap import cyclic_gc_paused
from optbot.core.timeutil import parse_iso
from optbot.data.store import JsonStore, record_to_bar, store_symbol
from optbot.test_kit.data import ist, make_bar, make_tick


@pytest.fixture
def clock():
    return SimClock(datetime(2025, 9, 4, 12, 0, tzinfo=UTC))


@pytest.fixture
def store(tmp_path, clock):
    return JsonStore(PathsSettings(data_root=tmp_path), DataSettings(fsync_appends=False), clock)


def bars(count, start=ist(2025, 9, 4, 9, 15)):
    return [make_bar(start + timedelta(minutes=i), 100.0 + i) for i in range(count)]


def test_layout_and_schema(store, tmp_path):
    for bar in bars(3):
        store.append_bar(bar)
    path = tmp_path / "timeframes" / "NIFTY" / "1m.json"
    first = orjson.loads(path.read_bytes().splitlines()[0])
    assert first["start_ts_utc"] == "2025-09-04T03:45:00Z" and first["end_ts_utc"] == "2025-09-04T03:46:00Z"
    assert first["start_ts_exchange"] == "2025-09-04T09:15:00+05:30"
    assert {"o", "h", "l", "c", "v"} <= set(first)
    assert [b.close for b in store.read_bars("NIFTY", Timeframe.M1)] == [100.0, 101.0, 102.0]


def test_duplicates_last_write_wins_and_merge_is_idempotent(store):
    original = bars(5)
    result = store.merge_bars("NIFTY", Timeframe.M1, original)
    assert (result.added, result.total) == (5, 5)
    again = store.merge_bars("NIFTY", Timeframe.M1, original)
    assert (again.added, again.replaced, again.unchanged) == (0, 0, 5)
    store.append_bar(make_bar(ist(2025, 9, 4, 9, 16), 555.0))
    loaded, report = store.load("NIFTY", Timeframe.M1)
    assert len(loaded) == 5 and loaded[1].close == 555.0 and report.duplicates == 1


def test_torn_tail_is_quarantined_and_appends_continue(store):
    for bar in bars(3):
        store.append_bar(bar)
    path = store.bar_path("NIFTY", Timeframe.M1)
    with path.open("ab") as handle:
        handle.write(b'{"start_ts_utc": "2025-09-04T03:48:00Z", "o": 1')  # crash mid-append
    fresh = JsonStore(store.paths, store.settings, store.clock)
    fresh.append_bar(make_bar(ist(2025, 9, 4, 9, 19), 200.0))
    loaded = fresh.read_bars("NIFTY", Timeframe.M1)
    assert [b.close for b in loaded] == [100.0, 101.0, 102.0, 200.0]
    assert list(path.parent.glob("1m.json.torn-*"))


def test_corrupt_file_restored_from_good_copy_without_loss(store):
    store.merge_bars("NIFTY", Timeframe.M1, bars(10))  # writes the good copy
    for bar in bars(3, ist(2025, 9, 4, 9, 25)):
        store.append_bar(bar)
    path = store.bar_path("NIFTY", Timeframe.M1)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = b"\x00\x00garbage\n"
    path.write_bytes(b"".join(lines))
    loaded, report = store.load("NIFTY", Timeframe.M1)
    assert report.bad_lines == [3] and report.restored_from_good_copy
    assert len(loaded) == 13  # the damaged bar came back from the good copy
    assert list(path.parent.glob("1m.json.corrupt-*"))
    assert store.verify("NIFTY", Timeframe.M1).healthy


def test_retention_applied_on_compaction(store, clock):
    old = bars(2, ist(2025, 5, 1, 9, 15))
    store.merge_bars("NIFTY", Timeframe.M1, old + bars(2))
    assert len(store.read_bars("NIFTY", Timeframe.M1)) == 2  # 92 days of intraday kept
    daily = [make_bar(ist(2025, 5, 1, 9, 15), 1.0, timeframe=Timeframe.D1)]
    store.merge_bars("NIFTY", Timeframe.D1, daily)
    assert len(store.read_bars("NIFTY", Timeframe.D1)) == 1  # 1 year for daily


def test_raw_ticks_and_rotation(store, clock):
    store.append_tick(make_tick("99926000", 24500.5, ist(2025, 9, 3, 9, 15, 0.123)))
    store.flush_ticks()
    record = orjson.loads(store.raw_path("NIFTY").read_bytes().splitlines()[0])
    assert record["ts_utc"] == "2025-09-03T03:45:00.123Z" and record["token"] == 99926000
    assert record["ts_exchange"] == "2025-09-03T09:15:00.123+05:30"
    assert store.rotate_raw(date(2025, 9, 4)) == ["NIFTY"]
    assert not store.raw_path("NIFTY").exists()
    (tick,) = store.read_ticks("NIFTY", "yesterday")
    assert tick.ltp == 24500.5 and tick.token == "99926000"


def test_bad_symbol_rejected():
    assert store_symbol("India VIX") == "INDIA_VIX"
    with pytest.raises(ValueError, match="file name"):
        store_symbol("../etc")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.floats(1, 1e5, allow_nan=False)), max_size=40))
def test_merge_is_idempotent_and_last_write_wins(tmp_path_factory, items):
    clock = SimClock(datetime(2025, 9, 4, 12, 0, tzinfo=UTC))
    root = tmp_path_factory.mktemp("store")
    store = JsonStore(PathsSettings(data_root=root), DataSettings(fsync_appends=False), clock)
    bars = [make_bar(ist(2025, 9, 4, 9, 15) + timedelta(minutes=m), close) for m, close in items]
    store.merge_bars("NIFTY", Timeframe.M1, bars)
    first = store.read_bars("NIFTY", Timeframe.M1)
    second_result = store.merge_bars("NIFTY", Timeframe.M1, bars)
    assert store.read_bars("NIFTY", Timeframe.M1) == first
    expected = {}
    for bar in bars:
        expected[bar.start_utc] = bar.close
    assert {b.start_utc: b.close for b in first} == expected
    assert second_result.added == 0


def _daily_bars(first: date, count: int):
    return [make_bar(ist(first.year, first.month, first.day, 9, 15) + timedelta(days=i), 100.0 + i,
                     timeframe=Timeframe.D1) for i in range(count)]  # fmt: skip


def test_imported_history_is_kept_by_retention_and_removals_are_counted(store):
    years_ago = _daily_bars(date(2016, 9, 15), 1500)  # ~4 years of daily bars, far past 366 days
    first = store.merge_bars("NIFTY", Timeframe.D1, years_ago, imported=True)
    assert (first.added, first.total, first.removed) == (1500, 1500, 0)
    later = store.merge_bars("NIFTY", Timeframe.D1, _daily_bars(date(2024, 1, 1), 30), imported=True)
    assert later.total == 1530 and later.removed == 0  # the next import does not erase the first
    assert store.compact("NIFTY", Timeframe.D1) == 1530
    assert store.retention_removed["NIFTY/daily"] == 0
    recorded = store.merge_bars("NIFTY", Timeframe.D1, _daily_bars(date(2022, 1, 1), 3))  # not imported
    assert (
        recorded.removed == 3 and recorded.total == 1530
    )  # older than a year, not imported: trimmed, counted
    spans = store.imported_spans("NIFTY", Timeframe.D1)
    assert len(spans) == 2 and spans[0][0] == years_ago[0].start_utc


def test_rows_out_of_order_or_without_a_start_load_in_start_order_with_the_last_write_winning(
    store, tmp_path
):
    """Rows appended out of start order, a repeated start and a row without one: the load sorts,
    the last write wins and the row without a start is left out, as for rows written in order."""
    ordered = bars(4)
    for bar in (ordered[2], ordered[0], ordered[3], ordered[1]):
        store.append_bar(bar)
    store.append_bar(make_bar(ordered[0].start_utc, 777.0))
    path = tmp_path / "timeframes" / "NIFTY" / "1m.json"
    with path.open("ab") as handle:
        handle.write(orjson.dumps({"o": 1.0, "h": 1.0, "l": 1.0, "c": 1.0}) + b"\n")
    loaded, report = store.load("NIFTY", Timeframe.M1)
    assert [bar.start_utc for bar in loaded] == [bar.start_utc for bar in ordered]
    assert [bar.close for bar in loaded] == [777.0, 101.0, 102.0, 103.0]
    assert report.duplicates == 1


def test_the_collector_is_paused_only_while_rows_are_parsed(store):
    """Loading holds off the cyclic garbage collector and gives it back as it found it, also when
    reading fails."""
    store.merge_bars("NIFTY", Timeframe.M1, bars(3))
    assert gc.isenabled()
    with cyclic_gc_paused():
        assert not gc.isenabled()
        assert len(store.load("NIFTY", Timeframe.M1)[0]) == 3
        assert not gc.isenabled()  # a nested pause leaves the outer one in place
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        raise RuntimeError("reading failed")
    assert gc.isenabled()


@pytest.mark.parametrize(
    "text",
    [
        "2024-09-06T03:45:00Z",
        "2024-09-06T03:45:00.123456Z",
        "2024-09-06 03:45:00Z",
        "2024-09-06T09:15:00+05:30",  # not the store's form: parse_iso reads it
        "2024-09-06T03:45:00+00:00",
    ],
)
def test_a_stored_bar_time_reads_as_parse_iso_reads_it(text: str) -> None:
    """Bar times are read with fromisoformat's own Z: the same instant, in the same UTC tzinfo."""
    record = {"start_ts_utc": text, "end_ts_utc": text, "o": 1, "h": 1, "l": 1, "c": 1}
    bar = record_to_bar(record, "NIFTY", Timeframe.M1)
    assert bar.start_utc == parse_iso(text) and bar.start_utc.tzinfo == parse_iso(text).tzinfo


@pytest.mark.parametrize(
    "text", ["2024-13-06T03:45:00Z", "2024-09-06T03:45:00ZZ", "Z", "2024-09-06T03:45:00"]
)
def test_a_bad_stored_bar_time_is_refused_as_parse_iso_refuses_it(text: str) -> None:
    record = {"start_ts_utc": text, "end_ts_utc": text, "o": 1, "h": 1, "l": 1, "c": 1}
    with pytest.raises(ValueError):
        parse_iso(text)
    with pytest.raises(ValueError):
        record_to_bar(record, "NIFTY", Timeframe.M1)


def test_a_labelled_load_is_the_stored_bars_relabelled(store):
    """`load(..., label)` gives every bar under the label's token and symbol, the rest as stored; an
    unreadable record is skipped (and counted) as in a plain load."""
    start = datetime(2024, 6, 3, 3, 45, tzinfo=UTC)
    bars = [
        Bar(start + timedelta(minutes=i + 1), "26000", "NIFTY", Timeframe.M1, start + timedelta(minutes=i),
            start + timedelta(minutes=i + 1), 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 10 * i, i or None)
        for i in range(3)
    ]  # fmt: skip
    store.merge_bars("NIFTY", Timeframe.M1, bars)
    path = store.bar_path("NIFTY", Timeframe.M1)
    with path.open("ab") as handle:
        handle.write(b'{"start_ts_utc": "2024-06-03T03:50:00Z", "end_ts_utc": "2024-06-03T03:51:00Z"}\n')
    plain, _ = store.load("NIFTY", Timeframe.M1)
    labelled, _ = store.load("NIFTY", Timeframe.M1, ("99926000", "Nifty"))
    assert plain == bars
    assert labelled == [relabel_bar(bar, "99926000", "Nifty") for bar in bars]
    assert store.counters["unreadable_bar_records"] == 2
