from __future__ import annotations

import json
from datetime import date

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optbot.core.enums import Exchange, InstrumentKind, OptionType, Settlement
from optbot.instruments.scripmaster import RowError, parse_expiry, parse_master, parse_row
from optbot.test_kit.instruments import equity_row, option_row, sample_master_rows


def test_real_excerpt_parses(sample_data):
    payload = (sample_data / "broker" / "angelone_scripmaster_index_tokens_excerpt.json").read_bytes()
    instruments, report = parse_master(payload)
    assert report.rejected_total == 0
    by_token = {item.token: item for item in instruments}
    nifty = by_token["99926000"]
    assert nifty.kind is InstrumentKind.INDEX and nifty.underlying == "NIFTY"
    icici = by_token["4963"]
    assert icici.kind is InstrumentKind.EQUITY
    assert icici.tick_size == pytest.approx(0.10)  # 10 paise
    assert icici.freeze_quantity == 64561


def test_option_row_strike_tick_lot_expiry():
    row = option_row(58784, "NIFTY", date(2025, 10, 28), 24400, "CE", lot_size=75)
    instrument = parse_row(row)
    assert instrument.strike == 24400.0
    assert instrument.tick_size == pytest.approx(0.05)
    assert instrument.lot_size == 75
    assert instrument.expiry == date(2025, 10, 28)
    assert instrument.option_type is OptionType.CE
    assert instrument.exchange is Exchange.NFO
    assert instrument.settlement is Settlement.CASH


def test_stock_option_is_physically_settled():
    row = option_row(1, "SBIN", date(2025, 10, 28), 800, "PE", 750, instrument_type="OPTSTK")
    assert parse_row(row).settlement is Settlement.PHYSICAL


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"token": "abc"}, "bad_token"),
        ({"exch_seg": "nse_xx"}, "unknown_segment"),
        ({"instrumenttype": "WEIRD"}, "unknown_instrument_type"),
        ({"strike": "-1.000000"}, "bad_strike"),
        ({"strike": "n/a"}, "bad_strike"),
        ({"lotsize": "0"}, "bad_lot_size"),
        ({"lotsize": "7.5"}, "bad_lot_size"),
        ({"tick_size": "0.000000"}, "bad_tick_size"),
        ({"expiry": "2025-10-28"}, "bad_expiry"),
        ({"expiry": "31FEB2025"}, "bad_expiry"),
        ({"expiry": ""}, "bad_expiry"),
        ({"symbol": "NIFTY28OCT2524400XX"}, "bad_option_type"),
    ],
)
def test_bad_rows_name_the_problem(change, reason):
    row = {**option_row(1, "NIFTY", date(2025, 10, 28), 24400, "CE"), **change}
    with pytest.raises(RowError) as caught:
        parse_row(row)
    assert caught.value.reason == reason


def test_bad_rows_are_counted_and_skipped_not_fatal():
    rows = sample_master_rows()
    good = len(rows)
    rows += [{"token": "x"}, "not a row", {**equity_row(5, "X"), "exch_seg": "??"}]
    instruments, report = parse_master(orjson.dumps(rows))
    assert len(instruments) == good
    assert report.rejected_total == 3
    assert report.rejected["bad_token"] == 1 and report.rejected["not_an_object"] == 1


def test_truncated_file_is_an_error_not_empty():
    payload = json.dumps(sample_master_rows()).encode()[:-50]
    with pytest.raises(ValueError, match="truncated"):
        parse_master(payload)
    with pytest.raises(ValueError, match="array"):
        parse_master(b'{"a": 1}')


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_expiry_format_round_trips(day):
    assert parse_expiry(day.strftime("%d%b%Y").upper()) == day
