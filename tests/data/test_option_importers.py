from __future__ import annotations

import csv
import gzip
from datetime import UTC, date, datetime, timedelta

import pytest

from optbot.calendar import get_calendar
from optbot.core.errors import UserError
from optbot.core.timeutil import IST
from optbot.data.archive import OptionArchive
from optbot.data.importers import detect_format
from optbot.data.option_importers import OptionImporter, SymbolParser, infer_lot_size, option_format

NOV = "options/nov2022_1min"
UDIFF = "options/bhavcopy_udiff_2025-01"
REDUCED = "options/nifty_options_eod_2024-05-21_exp_2024-05-23.csv"
HEADER = "timestamp,symbol,expiry,strike,option_type,open,high,low,close,volume,oi,ticks"


@pytest.fixture
def archive(tmp_path):
    return OptionArchive(tmp_path / "root")


@pytest.fixture
def importer(archive):
    return OptionImporter(get_calendar(), archive)


def load(importer, path, **options):
    kind = option_format(path)
    assert kind is not None, f"{path} not recognised as an option file"
    return importer.load(path, kind, **options)


def test_vendor_minute_file_gz_ist_detected(importer, sample_data):
    path = sample_data / NOV / "NIFTY" / "NIFTY_2022-11-01_exp2022-11-03.csv.gz"
    assert detect_format(path) == "option_bars"
    result = load(importer, path)
    assert result.timeframe == "1m" and not result.dropped
    assert "detected as IST" in result.notes[0]
    first = result.rows[0]
    assert first.symbol == "NIFTY03NOV2217500CE" and first.underlying == "NIFTY"
    assert first.ts == datetime(2022, 11, 1, 9, 15, tzinfo=IST)
    assert (first.open, first.close, first.volume, first.oi) == (601.5, 615.25, 5401, 837850)
    assert first.expiry == date(2022, 11, 3) and first.source == "vendor"
    assert result.contracts == 58 and result.days == [("NIFTY", date(2022, 11, 1))]


def _rewrite(source, target, transform, header=HEADER):
    with gzip.open(source, "rt") as handle:
        lines = handle.read().splitlines()[1:]
    target.write_text("\n".join([header, *(transform(line) for line in lines)]) + "\n")


def test_utc_stamps_detected_or_forced(importer, sample_data, tmp_path):
    source = sample_data / NOV / "BANKNIFTY" / "BANKNIFTY_2022-11-01_exp2022-11-03.csv.gz"

    def to_utc(line):
        stamp, rest = line.split(",", 1)
        moment = datetime.fromisoformat(stamp) - timedelta(hours=5, minutes=30)
        return f"{moment:%Y-%m-%d %H:%M:%S},{rest}"

    utc_file = tmp_path / "utc.csv"
    _rewrite(source, utc_file, to_utc)
    ist = load(importer, source)
    utc = load(importer, utc_file)
    assert "detected as UTC" in utc.notes[0]
    assert [(r.symbol, r.ts, r.close) for r in utc.rows] == [(r.symbol, r.ts, r.close) for r in ist.rows]
    forced = load(importer, utc_file, tz="ist")  # wrong on purpose: rows land before the open
    assert forced.dropped["outside the session's trading hours"] > 0


def test_symbol_only_files_parse_every_symbol_style(importer, tmp_path):
    header = "timestamp,symbol,open,high,low,close,volume,oi"
    styles = [
        "NIFTY03NOV2218000CE",  # Angel One
        "NIFTY22N0318050PE",  # NSE weekly
        "NIFTY22110318100CE",  # vendor YYMMDD (also reads as an NSE weekly with a silly strike)
        "NIFTY22NOV18150CE",  # NSE monthly -> the calendar's monthly expiry
    ]
    rows = [f"2022-11-01 09:15:00,{symbol},10,11,9,10.5,50,1000" for symbol in styles]
    path = tmp_path / "symbols.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    result = load(importer, path)
    assert sorted(r.symbol for r in result.rows) == [
        "NIFTY03NOV2218000CE",
        "NIFTY03NOV2218050PE",
        "NIFTY03NOV2218100CE",
        "NIFTY24NOV2218150CE",
    ]


def test_a_date_column_and_a_time_column_make_one_stamp(importer, tmp_path):
    path = tmp_path / "split.csv"
    path.write_text(
        "date,time,underlying,expiry,strike,option_type,open,high,low,close,volume,oi\n"
        "2022-11-01,09:15,NIFTY,2022-11-03,18100,CE,120.5,125,118,122,15000,300000\n"
        "2022-11-01,09:16,NIFTY,2022-11-03,18100,CE,122,126,121,124.5,9000,301500\n",
        encoding="utf-8",
    )
    result = load(importer, path)
    assert not result.dropped
    assert [row.ts for row in result.rows] == [
        datetime(2022, 11, 1, 9, 15, tzinfo=IST).astimezone(UTC),
        datetime(2022, 11, 1, 9, 16, tzinfo=IST).astimezone(UTC),
    ]


def test_symbol_parser_refuses_what_cannot_be_settled():
    parser = SymbolParser(get_calendar())
    assert parser.parse("NIFTY03NOV2218000CE", date(2022, 11, 1)).strike == 18000.0
    assert parser.parse("NIFTY03NOV2218000CE", date(2022, 11, 4)) is None  # expired: not plausible
    assert parser.parse("NIFTY18000CE", date(2022, 11, 1)) is None


def test_a_stray_row_is_dropped_with_its_time_not_the_session(importer, sample_data, tmp_path):
    source = sample_data / NOV / "NIFTY" / "NIFTY_2022-11-02_exp2022-11-03.csv.gz"
    path = tmp_path / "stray.csv"
    _rewrite(source, path, lambda line: line)
    with path.open("a") as handle:
        handle.write("2022-11-02 15:47:10,NIFTY22110318000CE,2022-11-03,18000,CE,80,80,80,80,50,1000,1\n")
    clean = load(importer, source)
    result = load(importer, path)
    assert result.dropped == {"outside the session's trading hours": 1}
    assert result.details["outside the session's trading hours"] == [
        "NIFTY03NOV2218000CE 2022-11-02 15:47 IST"
    ]
    assert len(result.rows) == len(clean.rows)


def test_untraded_and_broken_minute_rows_are_not_stored(importer, tmp_path):
    path = tmp_path / "zero.csv"
    path.write_text(
        HEADER + "\n"
        "2022-11-01 09:15:00,X,2022-11-03,18000,CE,0,0,0,0,0,1000,0\n"
        "2022-11-01 09:16:00,X,2022-11-03,18000,CE,10,9,11,10,5,1000,1\n"
        "2022-11-01 09:17:00,X,2022-11-03,18000,CE,10,11,9,10,5,1000,1\n"
        "2022-11-01 09:17:00,X,2022-11-03,18000,CE,10,12,9,11,6,1000,1\n",
        encoding="utf-8",
    )
    result = load(importer, path, underlying="NIFTY")
    assert result.dropped["no traded price (zero or missing OHLC)"] == 1
    assert result.dropped["inconsistent OHLC"] == 1
    assert result.dropped["duplicate contract and minute (the last row kept)"] == 1
    (row,) = result.rows
    assert row.close == 11 and row.symbol == "NIFTY03NOV2218000CE"


def test_udiff_bhavcopy(importer, sample_data):
    path = sample_data / UDIFF / "2025-01-02" / "BANKNIFTY.csv"
    result = load(importer, path)
    assert result.format == "bhavcopy_udiff" and result.timeframe == "1d"
    assert result.dropped["not an option (futures row)"] == 3
    assert result.dropped["not traded (zero OHLC/volume; close and settle are theoretical)"] > 100
    with path.open() as handle:
        traded = [
            r
            for r in csv.DictReader(handle)
            if r["FinInstrmTp"] == "IDO" and float(r["OpnPric"]) > 0 and float(r["TtlTradgVol"]) > 0
        ]
    assert len(result.rows) == len(traded)
    sample = traded[0]
    row = next(r for r in result.rows if r.expiry.isoformat() == sample["XpryDt"] and r.strike == float(
        sample["StrkPric"]) and r.option_type == sample["OptnTp"])  # fmt: skip
    assert row.volume == int(sample["TtlTradgVol"]) * int(sample["NewBrdLotQty"])
    assert row.oi == int(sample["OpnIntrst"]) and row.close == float(sample["ClsPric"])
    assert row.ts == datetime(2025, 1, 2, 9, 15, tzinfo=IST) and row.source == "bhavcopy"
    assert all(r.open > 0 and r.low > 0 for r in result.rows)


def _old_format(sample_data, target):
    """The reduced sample rewritten in NSE's pre-2024 F&O bhavcopy columns (same numbers)."""
    with (sample_data / REDUCED).open() as handle:
        rows = list(csv.DictReader(handle))
    header = "INSTRUMENT,SYMBOL,EXPIRY_DT,STRIKE_PR,OPTION_TYP,OPEN,HIGH,LOW,CLOSE,SETTLE_PR,CONTRACTS,"
    header += "VAL_INLAKH,OPEN_INT,CHG_IN_OI,TIMESTAMP,"
    lines = [
        header,
        "FUTIDX,NIFTY,30-May-2024,0,XX,22500,22600,22400,22550,22550,100,56000,1000,10,21-MAY-2024,",
    ]
    for r in rows:
        contracts = float(r["volume"])
        value = contracts * 25 * (float(r["strike"]) + float(r["close"])) / 1e5
        lines.append(
            f"OPTIDX,NIFTY,23-May-2024,{r['strike']},{r['opt_type']},{r['open']},{r['high']},{r['low']},"
            f"{r['close']},{r['settle']},{r['volume']},{value:.2f},{r['oi']},{r['oi_change']},21-MAY-2024,"
        )
    target.write_text("\n".join(lines) + "\n")
    return rows


def test_old_format_bhavcopy_infers_the_lot_size(importer, sample_data, tmp_path):
    path = tmp_path / "fo21MAY2024bhav.csv"
    source_rows = _old_format(sample_data, path)
    result = load(importer, path)
    assert result.format == "bhavcopy_fo"
    assert any("lot size 25" in note for note in result.notes)
    row = next(r for r in result.rows if r.symbol == "NIFTY23MAY2420200CE")
    assert (row.close, row.oi, row.volume) == (2300.95, 975, 12 * 25)
    traded = [r for r in source_rows if float(r["open"]) > 0]
    assert len(result.rows) == len(traded) == 146
    forced = load(importer, path, lot_size=50)
    assert next(r for r in forced.rows if r.symbol == "NIFTY23MAY2420200CE").volume == 600


def test_reduced_bhavcopy_needs_the_underlying(importer, sample_data):
    path = sample_data / REDUCED
    with pytest.raises(UserError, match="--symbol"):
        load(importer, path)
    result = load(importer, path, underlying="NIFTY")
    assert result.dropped["not traded (zero OHLC/volume; close and settle are theoretical)"] == 24
    assert next(r for r in result.rows if r.symbol == "NIFTY23MAY2420200CE").volume == 12 * 25


def test_infer_lot_size():
    assert infer_lot_size([975, 1425, 2700, 21175], []) == 25
    assert infer_lot_size([1500, 3000, 4500], [75.2, 74.9]) == 75
    assert infer_lot_size([50, 100], [24.8]) == 25  # too few OI figures: the traded value decides
    assert infer_lot_size([], []) is None


ATM_HEADER = "timestamp,underlying,expiry,offset,type,open,high,low,close,spot"


def _listed(archive, importer, sample_data):
    archive.write(
        load(importer, sample_data / NOV / "NIFTY" / "NIFTY_2022-11-01_exp2022-11-03.csv.gz").table(), "1m"
    )


def test_atm_series_resolved_from_listed_strikes(importer, archive, sample_data, tmp_path):
    _listed(archive, importer, sample_data)
    path = tmp_path / "atm.csv"
    path.write_text(
        ATM_HEADER + "\n"
        "2022-11-01 09:20:00,NIFTY,2022-11-03,ATM,CE,100,101,99,100.5,18137.2\n"
        "2022-11-01 09:20:00,NIFTY,2022-11-03,ATM+2,CE,40,41,39,40.5,18137.2\n"
        "2022-11-01 09:20:00,NIFTY,2022-11-03,ATM-1,PE,30,31,29,30.5,18137.2\n"
        "2022-11-01 09:21:00,NIFTY,2022-11-03,ATM,CE,100,101,99,100.5,18125.0\n"  # midway 18100/18150
        "2022-11-01 09:22:00,NIFTY,2022-11-03,ATM+90,CE,1,1,1,1,18137.2\n",
        encoding="utf-8",
    )
    assert option_format(path) == "option_atm_series"
    result = load(importer, path)
    assert sorted(r.symbol for r in result.rows) == [
        "NIFTY03NOV2218100PE",
        "NIFTY03NOV2218150CE",
        "NIFTY03NOV2218250CE",
    ]
    assert result.details["ambiguous ATM: spot midway between two listed strikes"] == [
        "NIFTY 2022-11-01 09:21 IST spot 18125"
    ]
    assert result.dropped["offset beyond the listed strikes"] == 1


def test_atm_series_without_listed_strikes(importer, tmp_path):
    path = tmp_path / "atm.csv"
    path.write_text(ATM_HEADER + "\n2022-11-01 09:20:00,NIFTY,2022-11-03,ATM+1,PE,40,41,39,40.5,18137.2\n")
    with pytest.raises(UserError, match="no option rows"):
        load(importer, path)
    result = load(importer, path, strike_step=50.0)
    assert [r.symbol for r in result.rows] == ["NIFTY03NOV2218200PE"]
    assert any("--strike-step" in note for note in result.notes)


def test_atm_offsets_that_collide_with_different_prices_are_dropped(importer, archive, sample_data, tmp_path):
    _listed(archive, importer, sample_data)
    path = tmp_path / "atm.csv"
    path.write_text(
        ATM_HEADER + "\n"
        "2022-11-01 09:20:00,NIFTY,2022-11-03,ATM+1,CE,40,41,39,40.5,18137.2\n"
        "2022-11-01 09:20:00,NIFTY,2022-11-03,ATM,CE,50,51,49,50.5,18180.0\n"
        "2022-11-01 09:21:00,NIFTY,2022-11-03,ATM,CE,50,51,49,50.5,18180.0\n"
    )
    result = load(importer, path)
    assert result.dropped["ambiguous: two offsets resolve to one contract with different prices"] == 2
    assert [(r.symbol, r.ts.astimezone(UTC).minute) for r in result.rows] == [("NIFTY03NOV2218200CE", 51)]


def test_index_and_futures_files_are_not_option_files(sample_data):
    assert option_format(sample_data / "intraday" / "futures_1min_2022-11" / "FUT_I_2022-11-01.csv") is None
    assert (
        option_format(sample_data / "intraday" / "nifty50_1min_nsechart_2022-11-01_to_2022-11-15.csv") is None
    )


def test_the_file_names_its_underlying_before_symbol_option(importer, sample_data):
    path = sample_data / NOV / "BANKNIFTY" / "BANKNIFTY_2022-11-01_exp2022-11-03.csv.gz"
    result = load(importer, path, underlying="NIFTY")
    assert {row.underlying for row in result.rows} == {"BANKNIFTY"}


def test_every_bhavcopy_format_goes_through_one_loop_to_the_same_rows(importer, sample_data, tmp_path):
    """The same trades in the pre-2024 columns and in the reduced columns: identical archive rows."""
    path = tmp_path / "fo21MAY2024bhav.csv"
    _old_format(sample_data, path)
    old = load(importer, path)
    reduced = load(importer, sample_data / REDUCED, underlying="NIFTY")
    assert old.rows == reduced.rows and old.rows
