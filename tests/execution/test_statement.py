"""The contract-note charges rule: an order's fills carry, between them, exactly its contract note."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optbot.charges import RateCard, option_charges
from optbot.core.enums import Exchange, Side
from optbot.execution.statement import (
    contract_note_charges,
    fill_charges,
    order_charges,
    with_contract_note_charges,
)
from optbot.persistence.records import FillRecord

CARD = RateCard.load()
DAY = date(2026, 8, 7)
START = datetime(2026, 8, 7, 4, 30, tzinfo=UTC)

parts = st.lists(
    st.tuples(st.integers(1, 6), st.integers(500, 40_000)), min_size=1, max_size=6
)  # (lots of 75, price in paise)


def _fills(order_id: str, side: Side, pieces: list[tuple[int, int]]) -> list[FillRecord]:
    return [
        FillRecord(
            fill_id=f"{order_id}-{number}",
            broker_order_id=order_id,
            ordertag=None,
            intent_id="",
            exchange=Exchange.NFO,
            token="43210",
            symbol="NIFTY26AUG2624550CE",
            side=side,
            quantity=lots * 75,
            price=paise / 100,
            trade_date=DAY,
            ts_utc=START + timedelta(seconds=number),
        )
        for number, (lots, paise) in enumerate(pieces)
    ]


@given(pieces=parts, side=st.sampled_from([Side.BUY, Side.SELL]))
def test_fills_booked_one_by_one_add_up_to_the_orders_contract_note(
    pieces: list[tuple[int, int]], side: Side
) -> None:
    fills = _fills("A1", side, pieces)
    booked = [fill_charges(fills[:number], fill, CARD, "paisa") for number, fill in enumerate(fills)]
    note = contract_note_charges(fills, CARD, "paisa")
    assert sum(booked) == pytest.approx(note.total, abs=1e-9)
    restated = with_contract_note_charges(fills, CARD, "paisa")
    assert [fill.charges for fill in restated] == pytest.approx(booked, abs=1e-9)
    [order] = order_charges(fills, CARD, "paisa")
    assert order.charges == note
    for _, amount in note.components():
        assert round(amount * 100, 6).is_integer()  # each component is whole paise


@given(pieces=parts, side=st.sampled_from([Side.BUY, Side.SELL]))
def test_unrounded_the_rule_is_the_per_fill_charges_with_the_brokerage_on_the_first_fill(
    pieces: list[tuple[int, int]], side: Side
) -> None:
    """Independent check: without rounding, charges are linear in turnover plus one flat brokerage."""
    fills = _fills("B1", side, pieces)
    per_fill = [
        option_charges(
            CARD,
            fill.exchange,
            fill.side,
            fill.quantity,
            fill.price,
            DAY,
            executed_orders=1 if number == 0 else 0,
            rounding="exact",
        ).total
        for number, fill in enumerate(fills)
    ]
    restated = with_contract_note_charges(fills, CARD, "exact")
    assert [fill.charges for fill in restated] == pytest.approx(per_fill, rel=1e-9, abs=1e-9)
