from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta

import numpy as np
import pytest

from optbot.calendar import get_calendar
from optbot.core.instrument import option_symbol
from optbot.sim.market.instruments import (
    BANKNIFTY,
    FINNIFTY,
    INDEX_ROWS,
    MIDCPNIFTY,
    NIFTY,
    SENSEX,
    ContractBook,
    OptionContract,
    build_option_contracts,
    listed_expiries,
    listed_strikes,
    option_token,
)
from tests.conftest import SAMPLE_DATA


def test_index_rows_match_the_recorded_master_excerpt() -> None:
    excerpt = json.loads((SAMPLE_DATA / "broker/angelone_scripmaster_index_tokens_excerpt.json").read_text())
    recorded = {row["token"]: row for row in excerpt}
    nse = [row for row in INDEX_ROWS if row["exch_seg"] == "NSE"]
    assert {row["name"] for row in nse} == {"NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "INDIA VIX"}
    for row in nse:
        assert row == recorded[row["token"]]
    # SENSEX is a BSE index: the row of the broker reference's scrip-master example (§9)
    (sensex,) = [row for row in INDEX_ROWS if row["exch_seg"] != "NSE"]
    assert sensex == {
        "token": "99919000",
        "symbol": "SENSEX",
        "name": "SENSEX",
        "expiry": "",
        "strike": "0.000000",
        "lotsize": "1",
        "instrumenttype": "AMXIDX",
        "exch_seg": "BSE",
        "tick_size": "0.000000",
    }


def test_every_index_of_the_universe_lists_options_on_its_own_segment_and_strike_grid() -> None:
    calendar = get_calendar()
    day = date(2024, 1, 10)
    for spec, reference, exchange, lot in (
        (FINNIFTY, 21500.0, "NFO", 40),
        (MIDCPNIFTY, 10512.0, "NFO", 75),
        (SENSEX, 71500.0, "BFO", 10),
    ):
        contracts = build_option_contracts(spec, calendar, day, reference, 4, 3, 6.0, 15.0)
        assert contracts and {c.exchange for c in contracts} == {exchange}
        assert {c.lot_size for c in contracts} == {lot}
        assert len({c.token for c in contracts}) == len(contracts)  # no token collides
        # the listing packs each token as option_token does (its expiry part computed once per expiry)
        assert all(c.token == option_token(spec, c.expiry, c.strike, c.option_type) for c in contracts)
        assert {c.scrip_row()["exch_seg"] for c in contracts} == {exchange}
    midcap = listed_strikes(MIDCPNIFTY, 10512.0, 6.0, 15.0)
    assert {b - a for a, b in zip(midcap, midcap[1:], strict=False) if abs(a - 10512) < 300} == {25}
    # the expiry weekday comes from the calendar's rules: SENSEX weeklies were Fridays in January 2024
    assert all(expiry.weekday() == 4 for expiry in listed_expiries(calendar, "SENSEX", day, 2, 0))
    assert FINNIFTY.lot_size(date(2022, 11, 1), date(2022, 11, 1)) == 40  # the Nov 2022 option files
    assert SENSEX.lot_size(date(2025, 1, 2), date(2025, 1, 7)) == 20


def test_a_strike_off_the_underlyings_grid_has_no_token() -> None:
    with pytest.raises(ValueError, match="cannot assign a token"):
        option_token(NIFTY, date(2024, 5, 23), 22525.0, "CE")
    assert option_token(MIDCPNIFTY, date(2024, 5, 23), 10525.0, "CE") != option_token(
        MIDCPNIFTY, date(2024, 5, 23), 10500.0, "CE"
    )


def test_lot_and_freeze_sizes_follow_the_date() -> None:
    assert NIFTY.lot_size(date(2024, 5, 21), date(2024, 5, 23)) == 25
    assert NIFTY.lot_size(date(2025, 9, 8), date(2025, 9, 9)) == 75
    assert NIFTY.lot_size(date(2025, 11, 3), date(2026, 1, 27)) == 65
    assert NIFTY.lot_size(date(2025, 11, 3), date(2025, 12, 30)) == 75
    assert NIFTY.freeze_quantity(date(2025, 9, 8)) == 1800
    assert BANKNIFTY.lot_size(date(2025, 9, 8), date(2025, 9, 30)) == 35
    assert BANKNIFTY.lot_size(date(2025, 11, 3), date(2026, 1, 27)) == 30


def test_listed_expiries_come_from_the_calendar() -> None:
    calendar = get_calendar()
    nifty = listed_expiries(calendar, "NIFTY", date(2025, 9, 8), 4, 3)
    assert nifty[:4] == [date(2025, 9, 9), date(2025, 9, 16), date(2025, 9, 23), date(2025, 9, 30)]
    assert date(2025, 10, 28) in nifty and date(2025, 11, 25) in nifty
    assert all(day.weekday() == 1 for day in nifty)  # Tuesdays from September 2025
    assert listed_expiries(calendar, "BANKNIFTY", date(2025, 9, 8), 4, 3) == [
        date(2025, 9, 30),
        date(2025, 10, 28),
        date(2025, 11, 25),
    ]
    assert listed_expiries(calendar, "NIFTY", date(2024, 5, 21), 4, 3)[0] == date(2024, 5, 23)


def test_strikes_are_fine_near_the_money_and_wider_far_out() -> None:
    strikes = listed_strikes(NIFTY, 24741.0, 6.0, 15.0)
    near = [s for s in strikes if abs(s - 24741) <= 1000]
    far = [s for s in strikes if s > 24741 * 1.07]
    assert set(np.diff(near)) == {50}
    assert set(np.diff(far)) == {100}
    assert 24750 in strikes and min(strikes) >= 24741 * 0.85


def test_tokens_are_stable_unique_and_rows_are_reference_format() -> None:
    contracts = build_option_contracts(NIFTY, get_calendar(), date(2025, 9, 8), 24741.0, 4, 3, 6.0, 15.0)
    again = build_option_contracts(NIFTY, get_calendar(), date(2025, 9, 9), 24773.15, 4, 3, 6.0, 15.0)
    tokens = [contract.token for contract in contracts]
    assert len(set(tokens)) == len(tokens)
    same = {c.symbol: c.token for c in again}
    assert all(same[c.symbol] == c.token for c in contracts if c.symbol in same)
    atm = next(c for c in contracts if c.symbol == "NIFTY09SEP2524750CE")
    assert atm.token == option_token(NIFTY, date(2025, 9, 9), 24750, "CE")
    assert atm.scrip_row() == {
        "token": atm.token,
        "symbol": "NIFTY09SEP2524750CE",
        "name": "NIFTY",
        "expiry": "09SEP2025",
        "strike": "2475000.000000",
        "lotsize": "75",
        "instrumenttype": "OPTIDX",
        "exch_seg": "NFO",
        "tick_size": "5.000000",
        "freeze_qty": "1800",
        "is_cas_enabled": False,
    }


def test_known_contracts_come_back_unchanged_across_days() -> None:
    """A multi-day replay lists mostly the same contracts: with `known` they are the same objects,
    and the listing is exactly the one built without it."""
    known = ContractBook()
    first = build_option_contracts(NIFTY, get_calendar(), date(2025, 9, 8), 24741.0, 4, 3, 6.0, 15.0, known)
    second = build_option_contracts(NIFTY, get_calendar(), date(2025, 9, 9), 24773.15, 4, 3, 6.0, 15.0, known)
    plain = build_option_contracts(NIFTY, get_calendar(), date(2025, 9, 9), 24773.15, 4, 3, 6.0, 15.0)
    assert second == plain
    before = {contract.token: contract for contract in first}
    assert any(contract is before.get(contract.token) for contract in second)
    assert all(contract is known[contract.token] for contract in second)
    changed = build_option_contracts(
        NIFTY, get_calendar(), date(2025, 12, 1), 24773.15, 4, 3, 6.0, 15.0, known
    )
    assert changed == build_option_contracts(
        NIFTY, get_calendar(), date(2025, 12, 1), 24773.15, 4, 3, 6.0, 15.0
    )


def test_a_contract_put_in_the_book_is_handed_back_instead_of_the_filed_strike() -> None:
    """The book files each strike's pair per series; a contract put in under a token (an archive's,
    spelt its own way) replaces the filed pair's, as a lookup by token would give it, and a lot-size
    change lists new objects."""
    calendar = get_calendar()
    known = ContractBook()
    first = build_option_contracts(NIFTY, calendar, date(2025, 9, 8), 24741.0, 4, 3, 6.0, 15.0, known)
    call = next(c for c in first if c.symbol == "NIFTY09SEP2524750CE")
    archived = dataclasses.replace(call, symbol="NIFTY25SEP0924750CE")
    known[call.token] = archived
    second = build_option_contracts(NIFTY, calendar, date(2025, 9, 9), 24773.15, 4, 3, 6.0, 15.0, known)
    plain = build_option_contracts(NIFTY, calendar, date(2025, 9, 9), 24773.15, 4, 3, 6.0, 15.0)
    assert [c.token for c in second] == [c.token for c in plain]
    assert all(c is known[c.token] for c in second)
    assert next(c for c in second if c.token == call.token) is archived
    assert [c for c in second if c.token != call.token] == [c for c in plain if c.token != call.token]
    put = next(c for c in second if c.symbol == "NIFTY09SEP2524750PE")
    assert put is next(c for c in first if c.token == put.token)  # its pair partner stays the same object
    relisted = build_option_contracts(NIFTY, calendar, date(2025, 9, 9), 24773.15, 4, 3, 6.0, 15.0, known)
    assert all(a is b for a, b in zip(relisted, second, strict=True))
    # NIFTY's lot size moves to 65 for contracts expiring from 2026: the same strikes come back new
    later = build_option_contracts(NIFTY, calendar, date(2025, 12, 29), 24773.15, 4, 3, 6.0, 15.0, known)
    assert later == build_option_contracts(NIFTY, calendar, date(2025, 12, 29), 24773.15, 4, 3, 6.0, 15.0)
    assert all(c is known[c.token] for c in later)


def test_expiries_are_spelled_as_the_date_formats_them_every_day_of_a_year() -> None:
    """The symbol's and the scrip row's expiry texts are formatted once per expiry and reused."""
    for offset in range(0, 366 * 2):  # twice over: the second pass reads what the first formatted
        expiry = date(2024, 1, 1) + timedelta(days=offset % 366)
        contract = OptionContract("1", "X", "NIFTY", expiry, 22000.0, "PE", 25, 1800)
        assert contract.scrip_row()["expiry"] == expiry.strftime("%d%b%Y").upper()
        symbol = option_symbol("NIFTY", expiry, 22000.0, "PE")
        assert symbol == f"NIFTY{expiry.strftime('%d%b%y').upper()}22000PE"
