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


def test_after_a_cut_over_every_unwanted_contract_leaves_at_the_next_refresh() -> None:
    """Spec §3.4: after an opening gap the old window goes at once; wanted contracts stay."""
    leaving = LeavingStrikes()
    assert leaving.due([A, B, C], {A}) == []  # B and C unwanted once
    leaving.cut_over()
    assert leaving.due([A, B, C], {A, C}) == [B]  # C wanted again (the new window) stays
    assert leaving.due([A, C], {A}) == []  # back to the two-refresh rule
    assert leaving.due([A, C], {A}) == [C]


def test_a_cut_over_drops_contracts_unwanted_for_the_first_time() -> None:
    leaving = LeavingStrikes()
    leaving.cut_over()
    assert leaving.due([A, B, C], {A}) == [B, C]
    assert leaving.due([A], {A}) == []
