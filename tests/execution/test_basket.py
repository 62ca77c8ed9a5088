"""The basket state machine: hedges first, writes after, unwinds without a naked short at any point."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.core.enums import Exchange, IntentPurpose, Side
from optbot.core.events import OrderIntent
from optbot.core.ids import new_id
from optbot.execution.basket import Basket, BasketPhase

NOW = datetime(2026, 8, 7, 5, 0, tzinfo=UTC)


def leg(side: Side, token: str, quantity: int = 65) -> OrderIntent:
    return OrderIntent(
        NOW, new_id(), "ic", token, Exchange.NFO, f"NIFTY{token}", side, quantity, IntentPurpose.ENTRY
    )


def condor() -> tuple[Basket, list[OrderIntent]]:
    intents = [leg(Side.SELL, "ce_s"), leg(Side.BUY, "ce_l"), leg(Side.SELL, "pe_s"), leg(Side.BUY, "pe_l")]
    return Basket("ic", intents), intents


def test_hedges_go_first_and_writes_only_after_every_hedge_filled() -> None:
    basket, (ce_s, ce_l, pe_s, pe_l) = condor()
    assert [i.token for i in basket.to_send()] == ["ce_l", "pe_l"]
    assert basket.on_fill(ce_l.intent_id, 65, NOW) == []
    writes = basket.on_fill(pe_l.intent_id, 65, NOW)
    assert [i.token for i in writes] == ["ce_s", "pe_s"] and basket.phase is BasketPhase.WRITES
    basket.on_fill(ce_s.intent_id, 65, NOW)
    basket.on_fill(pe_s.intent_id, 65, NOW)
    assert basket.phase is BasketPhase.COMPLETE


def test_a_failed_hedge_closes_the_other_hedge_and_never_sends_a_write() -> None:
    basket, (_, ce_l, _, pe_l) = condor()
    basket.to_send()
    basket.on_fill(ce_l.intent_id, 65, NOW)
    closing = basket.on_leg_ended(pe_l.intent_id, "rejected", NOW)
    assert [(i.side, i.token, i.quantity) for i in closing] == [(Side.SELL, "ce_l", 65)]
    assert basket.to_send() == [] and "rejected" in basket.failure


@settings(max_examples=150, derandomize=True, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["fill_ce_s", "fill_pe_s", "end_ce_s", "end_pe_s", "close"]), st.integers(1, 65)
        ),
        max_size=12,
    )
)
def test_while_unwinding_hedges_are_sold_only_when_no_write_is_open_or_working(
    events: list[tuple[str, int]],
) -> None:
    basket, (ce_s, ce_l, pe_s, pe_l) = condor()
    basket.to_send()
    basket.on_fill(ce_l.intent_id, 65, NOW)
    basket.on_fill(pe_l.intent_id, 65, NOW)
    basket.on_fill(ce_s.intent_id, 65, NOW)  # one write in, the other still working
    held = {"ce_s": -65, "pe_s": 0, "ce_l": 65, "pe_l": 65}
    pending = basket.fail("test", NOW)
    ids = {ce_s.intent_id: ce_s, pe_s.intent_id: pe_s}
    for kind, quantity in events:
        if kind == "close":
            out, pending = pending, []
            for intent in out:
                held[intent.token] += intent.quantity if intent.side is Side.BUY else -intent.quantity
                if intent.token.endswith("_l"):  # a hedge sold: no written leg may be short or working
                    assert held["ce_s"] == 0 and held["pe_s"] == 0
                    assert all(basket.legs[i].ended or basket.legs[i].complete for i in ids)
                pending += basket.on_fill(intent.intent_id, intent.quantity, NOW)
            continue
        target = ce_s if kind.endswith("ce_s") else pe_s
        state = basket.legs[target.intent_id]
        if kind.startswith("fill") and not state.ended and not state.complete:
            quantity = min(quantity, target.quantity - state.filled)
            held[target.token] -= quantity
            pending += basket.on_fill(target.intent_id, quantity, NOW)
        elif kind.startswith("end"):
            pending += basket.on_leg_ended(target.intent_id, "cancelled", NOW)
