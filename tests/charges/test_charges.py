from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optbot.charges import RateCard, option_charges, round_trip
from optbot.core.enums import Exchange, Side
from optbot.core.errors import UserError

CARD = RateCard.load()
SAMPLE = (
    Path(__file__).resolve().parents[2]
    / "data"
    / "sample"
    / "broker"
    / "kite_mock_virtual_contract_note.json"
)


def test_stt_steps_by_trade_date() -> None:
    def stt(day: date) -> float:
        return option_charges(CARD, Exchange.NFO, Side.SELL, 100, 100.0, day, rounding="exact").stt

    assert stt(date(2024, 9, 30)) == pytest.approx(10000 * 0.0625 / 100)
    assert stt(date(2024, 10, 1)) == pytest.approx(10.0)
    assert stt(date(2026, 3, 31)) == pytest.approx(10.0)
    assert stt(date(2026, 4, 1)) == pytest.approx(15.0)
    assert option_charges(CARD, Exchange.NFO, Side.BUY, 100, 100.0, date(2026, 4, 1)).stt == 0


def test_nse_option_components_2025() -> None:
    buy = option_charges(CARD, Exchange.NFO, Side.BUY, 75, 100.0, date(2025, 1, 10), rounding="exact")
    assert buy.turnover == 7500
    assert buy.brokerage == 20
    assert buy.exchange_txn == pytest.approx(7500 * 0.03503 / 100)
    assert buy.sebi == pytest.approx(7500 * 10 / 1e7)
    assert buy.stamp == pytest.approx(7500 * 0.003 / 100)
    assert buy.ipft == pytest.approx(7500 * 0.0005 / 100)
    assert buy.gst == pytest.approx(0.18 * (20 + buy.exchange_txn + buy.sebi + buy.ipft))
    # earlier NSE rate
    old = option_charges(CARD, Exchange.NFO, Side.BUY, 75, 100.0, date(2024, 9, 30), rounding="exact")
    assert old.exchange_txn == pytest.approx(7500 * 0.0495 / 100)
    bse = option_charges(CARD, Exchange.BFO, Side.BUY, 10, 100.0, date(2025, 1, 10), rounding="exact")
    assert bse.exchange_txn == pytest.approx(1000 * 0.0325 / 100) and bse.ipft == 0


def test_paisa_rounding() -> None:
    rounded = option_charges(CARD, Exchange.NFO, Side.SELL, 75, 123.45, date(2025, 1, 10))
    for _, amount in rounded.components():
        assert round(amount, 2) == amount


def test_kite_2023_contract_note_arithmetic() -> None:
    """The NIFTY option row of the 2023 Kite contract-note sample, with that note's own rates."""
    rows = json.loads(SAMPLE.read_text())["data"]
    row = next(r for r in rows if r["exchange"] == "NFO")
    kite_card = RateCard.from_mapping(
        {
            "name": "kite-2023",
            "brokerage_flat_per_executed_order": [{"from": "2023-01-01", "value": 20}],
            "stt_option_sell_pct": [{"from": "2023-01-01", "value": 0.0625}],
            "stt_exercised_itm_pct": [{"from": "2023-01-01", "value": 0.125}],
            "exchange_txn_pct": {"NSE": [{"from": "2023-01-01", "value": 0.0505}]},
            "ipft_pct": {"NSE": [{"from": "2023-01-01", "value": 0.0}]},
            "sebi_per_crore": [{"from": "2023-01-01", "value": 10}],
            "stamp_buy_pct": [{"from": "2023-01-01", "value": 0.0}],
            "gst_pct": [{"from": "2023-01-01", "value": 18}],
        }
    )
    charges = option_charges(
        kite_card, Exchange.NFO, Side.BUY, row["quantity"], row["price"], date(2023, 7, 10), rounding="exact"
    )
    expected = row["charges"]
    assert charges.brokerage == expected["brokerage"]
    assert charges.stt == expected["transaction_tax"]
    assert charges.exchange_txn == pytest.approx(expected["exchange_turnover_charge"])
    assert charges.sebi == pytest.approx(expected["sebi_turnover_charge"])
    assert charges.gst == pytest.approx(expected["gst"]["total"], abs=1e-3)
    assert charges.total == pytest.approx(expected["total"], abs=0.01)  # to the paisa


def test_round_trip_breakevens() -> None:
    trip = round_trip(CARD, Exchange.NFO, 75, 100.0, 110.0, date(2025, 1, 10))
    assert trip.gross_pnl == pytest.approx(750)
    assert trip.net_pnl == pytest.approx(750 - trip.charges.total)
    exact_exit = option_charges(
        CARD, Exchange.NFO, Side.SELL, 75, trip.breakeven_sell_price, date(2025, 1, 10), rounding="exact"
    )
    assert (trip.breakeven_sell_price - 100) * 75 == pytest.approx(
        trip.buy.total + exact_exit.total, abs=1e-6
    )
    assert 100 < trip.breakeven_sell_price < 101.5
    assert 108.5 < trip.breakeven_buy_price < 110


@given(
    quantity=st.integers(1, 5000),
    price=st.floats(0.05, 5000, allow_nan=False),
    day=st.dates(date(2023, 1, 1), date(2027, 12, 31)),
)
def test_charges_are_non_negative_and_sell_costs_more_stt(quantity: int, price: float, day: date) -> None:
    buy = option_charges(CARD, Exchange.NFO, Side.BUY, quantity, price, day, rounding="exact")
    sell = option_charges(CARD, Exchange.NFO, Side.SELL, quantity, price, day, rounding="exact")
    assert buy.total > 0 and sell.total > 0
    assert sell.stt > 0 and buy.stt == 0 and buy.stamp >= 0 and sell.stamp == 0


def test_bad_rate_card_names_the_problem(tmp_path) -> None:
    path = tmp_path / "card.json"
    path.write_text('{"brokerage_flat_per_executed_order": [{"from": "x", "value": 1}]}')
    with pytest.raises(UserError, match="brokerage_flat_per_executed_order\\[0\\]"):
        RateCard.load(path)
    with pytest.raises(UserError, match="no option rates for exchange MCX"):
        CARD.rates_on(Exchange.MCX, date(2025, 1, 1))
