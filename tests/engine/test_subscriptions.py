"""The two-refresh rule for dropping strikes that left the ATM window."""

from __future__ import annotations

from optbot.core.enums import Exchange
from optbot.core.instrument import InstrumentKey
from optbot.engine.subscriptions import LeavingStrikes

A, B, C = (InstrumentKey(Exchange.NFO, token) for token in ("1", "2", "3"))


def test_a_contract_leaves_at_its_second_unwanted_refresh_in_a_row() -> None:
    leaving = LeavingStrikes()
    assert leaving.due([A, B, C], {A, B, C}) == []
    assert leaving.due([A, B, C], {A}) == []  # B and C unwanted once
    assert leaving.due([A, B, C], {A, B}) == [C]  # B is wanted again: its count starts over
    assert leaving.due([A, B], {A}) == []
    assert leaving.due([A, B], {A}) == [B]
    assert leaving.due([A], {A}) == []
