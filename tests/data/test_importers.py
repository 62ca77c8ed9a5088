from __future__ import annotations

import gzip
from datetime import UTC, date, datetime, timedelta

import pytest

from optbot.calendar import get_calendar
from optbot.core.enums import OptionType, Timeframe
from optbot.core.errors import UserError
from optbot.core.events import Bar
from optbot.core.timeutil import IST
from optbot.data.importers import Importer, conflicting_bars, detect_format
from optbot.instruments.snapshot import load_chain_snapshot


@pytest.fixture(scope="module")
def importer():
    return Importer(get_calendar())


def test_yahoo_multiheader_utc_minutes(importer, sample_data):
    path = sample_data / "intraday" / "nifty50_1min_yf_2025-09-04_to_2025-09-10.csv"
    assert detect_format(path) == "yahoo_multiheader"
    result = importer.load(path, "NIFTY")
    assert result.timeframe is Timeframe.M1
    bars = result.bars["NIFTY"]
    assert bars[0].start_utc == datetime(2025, 9, 4, 9, 15, tzinfo=IST)  # 03:45Z
    assert len(bars) == 1874
    (issue,) = result.issues
    assert issue.day == date(2025, 9, 5) and issue.action == "imported_incomplete"


def test_fifteen_minute_malformed_days_reported(importer, sample_data):
    path = sample_data / "intraday" / "nifty50_15min_2015-01-09_to_2024-12-31.csv"
    result = importer.load(path, "NIFTY", Timeframe.M15)
    by_day = {issue.day: issue for issue in result.issues}
    halted = [(i.problem, i.action) for i in result.issues if i.day == date(2021, 2, 24)]
    # 2021-02-24: trading halted, resumed 15:45-17:00; rows past the calendar's close are dropped one by one
    assert ("row at 15:45:00 IST outside the session", "dropped") in halted
    assert ("partial day: 4 of 25 bars", "imported_incomplete") in halted
    assert by_day[date(2015, 3, 16)].action == "imported_incomplete"
    assert result.skipped["outside_session"] > 0
    muhurat = [b for b in result.bars["NIFTY"] if b.start_utc.astimezone(IST).date() == date(2016, 10, 30)]
    assert len(muhurat) == 4 and all(b.complete for b in muhurat)


def test_utc_stamped_day_is_repaired(importer, tmp_path):
    rows = ["date,open,high,low,close,volume"]
    rows += [f"2024-01-02 09:{m:02d}:00,100,101,99,100.5,0" for m in (15, 30, 45)]
    rows += [f"2024-01-03 {h:02d}:{m:02d}:00,100,101,99,100.5,0" for h, m in ((3, 45), (4, 0), (4, 15))]
    rows += ["2024-01-03 04:15:00,100,101,99,100.5,0"]  # identical duplicate
    path = tmp_path / "x.csv"
    path.write_text("\n".join(rows))
    result = importer.load(path, "NIFTY", Timeframe.M15)
    actions = {(i.day, i.action) for i in result.issues}
    assert (date(2024, 1, 3), "repaired") in actions
    repaired = [b for b in result.bars["NIFTY"] if b.start_utc.date() == date(2024, 1, 3)]
    assert repaired[0].start_utc == datetime(2024, 1, 3, 3, 45, tzinfo=UTC)
    assert len(repaired) == 3


def test_daily_formats(importer, sample_data):
    nse = importer.load(sample_data / "daily" / "nifty50_daily_nse_2016-09-15_to_2021-09-13.csv", "NIFTY")
    first = nse.bars["NIFTY"][0]
    assert first.timeframe is Timeframe.D1 and first.open == 8743.85 and first.volume == 149889703
    yahoo = importer.load(sample_data / "daily" / "nifty50_daily_yf_2019-01-02_to_2024-12-31.csv", "NIFTY")
    assert yahoo.bars["NIFTY"][0].close == 10792.5  # column order Date,Close,High,Low,Open
    merged = importer.load(sample_data / "daily" / "nifty50_daily_merged_2016-09-15_to_2025-09-10.csv", "N")
    assert merged.bar_count > 2000


def test_dhan_utc_midnight_maps_to_ist_date(importer, tmp_path):
    path = tmp_path / "dhan.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2024-01-01T18:30:00Z,21700,21800,21650,21750,0\n"
        "1704220200,21750,21850,21700,21800,0\n"
    )
    bars = importer.load(path, "NIFTY").bars["NIFTY"]
    assert [b.start_utc.astimezone(IST).date() for b in bars] == [date(2024, 1, 2), date(2024, 1, 3)]


def test_option_files_are_refused_here(importer, sample_data):
    with pytest.raises(UserError, match="option archive"):
        importer.load(sample_data / "options" / "nifty_options_eod_2024-05-21_exp_2024-05-23.csv", "NIFTY")


def test_a_stray_row_drops_alone_with_its_time(importer, tmp_path):
    rows = ["date,open,high,low,close,volume"]
    rows += [
        f"2024-01-02 {9 + (15 + m) // 60:02d}:{(15 + m) % 60:02d}:00,100,101,99,100.5,0" for m in range(375)
    ]
    rows += ["2024-01-02 15:31:07,100,101,99,100.5,0", "2024-01-02 08:59:00,100,101,99,100.5,0"]
    path = tmp_path / "stray.csv"
    path.write_text("\n".join(rows))
    result = importer.load(path, "NIFTY", Timeframe.M1)
    assert len(result.bars["NIFTY"]) == 375 and all(bar.complete for bar in result.bars["NIFTY"])
    problems = sorted(issue.problem for issue in result.issues if issue.action == "dropped")
    assert problems == ["row at 08:59:00 IST outside the session", "row at 15:31:07 IST outside the session"]
    assert result.skipped["outside_session"] == 2


def test_conflicting_duplicates_drop_only_that_minute(importer, tmp_path):
    rows = ["date,open,high,low,close,volume"]
    rows += [f"2024-01-02 09:{m:02d}:00,100,101,99,100.5,0" for m in (15, 16, 17)]
    rows += ["2024-01-02 09:16:00,100,102,99,101.5,0"]
    path = tmp_path / "dup.csv"
    path.write_text("\n".join(rows))
    result = importer.load(path, "NIFTY", Timeframe.M1)
    assert [bar.start_utc.astimezone(IST).minute for bar in result.bars["NIFTY"]] == [15, 17]
    assert ("2 conflicting rows at 09:16 IST", "dropped") in {(i.problem, i.action) for i in result.issues}


def test_symbol_column_splits_series_and_gz_is_read(importer, sample_data, tmp_path):
    source = sample_data / "intraday" / "futures_1min_2022-11" / "FUT_I_2022-11-01.csv"
    packed = tmp_path / "fut.csv.gz"
    packed.write_bytes(gzip.compress(source.read_bytes()))
    result = importer.load(packed, None)
    assert {name: len(bars) for name, bars in result.bars.items()} == {
        "NIFTY-I": 375,
        "BANKNIFTY-I": 375,
        "FINNIFTY-I": 138,
    }
    assert result.bars["NIFTY-I"][0].start_utc == datetime(2022, 11, 1, 9, 15, tzinfo=IST)
    with pytest.raises(UserError, match="leave out --symbol"):
        importer.load(source, "NIFTY")
    index = sample_data / "intraday" / "nifty50_1min_nsechart_2022-11-01_to_2022-11-15.csv"
    with pytest.raises(UserError, match="--symbol"):
        importer.load(index, None)


def test_naive_stamps_forced_to_utc(importer, tmp_path):
    path = tmp_path / "utc.csv"
    path.write_text(
        "timestamp,open,high,low,close\n2022-11-01 03:45:00,10,11,9,10\n2022-11-01 03:46:00,10,11,9,10\n"
    )
    assert importer.load(path, "X").bars["X"][0].start_utc == datetime(2022, 11, 1, 9, 15, tzinfo=IST)
    nse_ist = tmp_path / "ist.csv"
    nse_ist.write_text(
        "timestamp,open,high,low,close\n2022-11-01 09:15:00,10,11,9,10\n2022-11-01 13:46:00,10,11,9,10\n"
    )
    ist_minutes = importer.load(nse_ist, "X", Timeframe.M1)
    assert ist_minutes.bars["X"][0].start_utc == datetime(2022, 11, 1, 9, 15, tzinfo=IST)
    forced = importer.load(nse_ist, "X", Timeframe.M1, tz="utc")  # 09:15Z is 14:45 IST
    assert forced.bars["X"][0].start_utc == datetime(2022, 11, 1, 14, 45, tzinfo=IST)
    assert forced.skipped["outside_session"] == 1  # 13:46Z = 19:16 IST


def test_snapshot_and_bad_files(importer, sample_data, tmp_path):
    snap = sample_data / "options" / "nifty_option_chain_snapshot_2026-08-07_close_exp_2026-08-11.csv"
    with pytest.raises(UserError, match="snapshot"):
        importer.load(snap, "NIFTY")
    chain = load_chain_snapshot(snap)
    assert chain.expiry == date(2026, 8, 11)
    assert chain.quotes[(21650.0, OptionType.CE)].ltp is None  # LTP 0 = no trade
    assert chain.quotes[(21600.0, OptionType.PE)].implied_volatility == 40.55
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(UserError, match="unrecognised"):
        importer.load(bad, "NIFTY")
    wrong = sample_data / "intraday" / "nifty50_1min_yf_2025-09-04_to_2025-09-10.csv"
    with pytest.raises(UserError, match="1m bars"):
        importer.load(wrong, "NIFTY", Timeframe.M15)


def test_yahoo_vix_synthetic_opens_reported(importer, sample_data):
    result = importer.load(
        sample_data / "daily" / "indiavix_daily_yf_2019-01-01_to_2024-12-31.csv", "INDIA VIX"
    )
    assert any("opens are not real" in issue.problem for issue in result.issues)
    nse = importer.load(sample_data / "daily" / "nifty50_daily_nse_2016-09-15_to_2021-09-13.csv", "NIFTY")
    assert not any("opens are not real" in issue.problem for issue in nse.issues)


def test_three_minute_bars_are_detected_and_stored_as_3m(importer, tmp_path):
    """A vendor's 3-minute file (Angel One's THREE_MINUTE candles): detected from the steps, 125 a day."""
    rows = ["date,open,high,low,close,volume"]
    start = datetime(2024, 1, 2, 9, 15)  # naive IST
    for index in range(125):
        moment = start + timedelta(minutes=3 * index)
        rows.append(f"{moment.isoformat(sep=' ')},100,101,99,100.5,10")
    path = tmp_path / "nifty_3m.csv"
    path.write_text("\n".join(rows))
    result = importer.load(path, "NIFTY")
    assert result.timeframe is Timeframe.M3 and not result.issues
    bars = result.bars["NIFTY"]
    assert len(bars) == 125 and all(bar.complete for bar in bars)
    assert bars[-1].end_utc == datetime(2024, 1, 2, 15, 30, tzinfo=IST)


def test_rows_with_a_time_of_day_are_never_daily_bars(importer, tmp_path):
    path = tmp_path / "two.csv"
    path.write_text(
        "timestamp,open,high,low,close\n"
        "2022-11-01 09:15:00,18100,18110,18090,18100\n"
        "2022-11-01 09:16:00,x,1,1,1\n"
    )
    with pytest.raises(UserError, match="not daily bars.*pass --timeframe"):
        importer.load(path, "NIFTY")
    with pytest.raises(UserError, match="not daily bars"):
        importer.load(path, "NIFTY", Timeframe.D1)
    minute = importer.load(path, "NIFTY", Timeframe.M1)
    assert minute.timeframe is Timeframe.M1 and len(minute.bars["NIFTY"]) == 1
    midnight = tmp_path / "midnight.csv"
    midnight.write_text(
        "date,open,high,low,close\n2022-11-01 00:00:00,1,2,1,2\n2022-11-02 00:00:00,2,3,2,3\n"
    )
    assert importer.load(midnight, "NIFTY").timeframe is Timeframe.D1


def test_a_forced_zone_putting_most_rows_outside_the_session_is_refused(importer, sample_data):
    index = sample_data / "intraday" / "nifty50_1min_nsechart_2022-11-01_to_2022-11-15.csv"
    with pytest.raises(UserError, match=r"--tz utc puts 3300 of 3750 1m rows .* look like IST"):
        importer.load(index, "NIFTY", tz="utc")
    assert importer.load(index, "NIFTY", tz="ist").bar_count == 3750
    lenient = Importer(get_calendar(), max_outside_session_share=0.9)
    assert lenient.load(index, "NIFTY", tz="utc").skipped["outside_session"] == 3300  # obeyed


def test_conflicting_bars_are_those_more_than_a_tick_away():
    start = datetime(2022, 11, 1, 9, 15, tzinfo=IST)

    def bar(close, minute=0):
        moment = start + timedelta(minutes=minute)
        return Bar(
            ts_utc=moment, token="", symbol="NIFTY", timeframe=Timeframe.M1, start_utc=moment,
            end_utc=moment, open=100.0, high=101.0, low=99.0, close=close,
        )  # fmt: skip

    stored = [bar(100.0), bar(100.0, 1)]
    assert conflicting_bars(stored, [bar(100.05), bar(100.0, 2)]) == []
    assert conflicting_bars(stored, [bar(100.0), bar(100.1, 1)]) == [bar(100.1, 1)]
