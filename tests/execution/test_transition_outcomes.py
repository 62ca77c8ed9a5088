"""Every report an order manager applies ends as the transition rules say: what it returns, what it
stores and whether it writes an event, for any status pair and any report (the manager builds one
record per outcome and skips the write when a same-status report changes nothing)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.core.enums import OrderStatus
from optbot.execution.state_machine import is_legal
from optbot.persistence.records import OrderEventRecord, OrderRecord
from optbot.test_kit.execution import build_harness, option_intent

_TEXT = st.sampled_from(["", "A1", "B2"])


def _expected(order: OrderRecord, target: OrderStatus, source: str, report: dict[str, object], now):  # type: ignore[no-untyped-def]
    """The rules written out plainly: (record returned, record stored or None when nothing is written)."""
    updated = replace(
        order,
        broker_order_id=order.broker_order_id or report["broker_order_id"],
        unique_order_id=order.unique_order_id or report["unique_order_id"],
        broker_status=report["broker_status"] or order.broker_status,
        reported_filled_quantity=max(order.reported_filled_quantity, report["reported_filled"] or 0),  # type: ignore[call-overload]
        message=report["detail"] or order.message,
        submitted_utc=order.submitted_utc
        or (now if report["submitted"] or report["broker_order_id"] else None),
        updated_utc=now,
    )
    current = order.status
    if target is current:
        return updated, (updated if updated != replace(order, updated_utc=now) else None)
    late_ack = current not in (OrderStatus.PENDING_SUBMIT, OrderStatus.UNRESOLVED)
    if target is OrderStatus.SUBMITTED and late_ack:
        return updated, replace(updated, message=order.message)
    unseen = current is OrderStatus.REJECTED and not order.broker_order_id and source != "place"
    if is_legal(current, target, unseen=unseen):
        saved = replace(updated, status=target)
        return saved, saved
    return updated, replace(updated, message=order.message)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    current=st.sampled_from(list(OrderStatus)),
    target=st.sampled_from(list(OrderStatus)),
    source=st.sampled_from(["socket", "details", "place"]),
    held_broker_id=_TEXT,
    held_message=_TEXT,
    held_reported=st.integers(0, 75),
    report=st.fixed_dictionaries(
        {
            "broker_order_id": _TEXT,
            "unique_order_id": _TEXT,
            "broker_status": _TEXT,
            "reported_filled": st.none() | st.integers(0, 75),
            "detail": _TEXT,
            "submitted": st.booleans(),
        }
    ),
)
def test_a_report_ends_as_the_rules_say(
    current: OrderStatus,
    target: OrderStatus,
    source: str,
    held_broker_id: str,
    held_message: str,
    held_reported: int,
    report: dict[str, object],
) -> None:
    async def scenario() -> None:
        harness = build_harness(fill_policy="none")
        result = await harness.manager.submit(option_intent())
        tag = result.ordertags[0]
        sent = harness.store.get_order(tag)
        assert sent is not None
        harness.clock.advance(1)
        order = replace(
            sent,
            status=current,
            broker_order_id=held_broker_id,
            message=held_message,
            reported_filled_quantity=held_reported,
            updated_utc=harness.clock.now_utc(),
        )
        harness.store.save_order(
            order, OrderEventRecord(tag, order.updated_utc, "test", sent.status, current, True, "set up")
        )
        harness.clock.advance(1)
        now = harness.clock.now_utc()
        events_before = len(harness.store.order_events(tag))
        returned = await harness.manager._transition(  # noqa: SLF001 - the rules themselves
            tag,
            target,
            source,
            str(report["detail"]),
            broker_order_id=str(report["broker_order_id"]),
            unique_order_id=str(report["unique_order_id"]),
            broker_status=str(report["broker_status"]),
            reported_filled=report["reported_filled"],  # type: ignore[arg-type]
            submitted=bool(report["submitted"]),
        )
        want_returned, want_stored = _expected(order, target, source, report, now)
        assert returned == want_returned
        assert harness.store.get_order(tag) == (want_stored if want_stored is not None else order)
        written = len(harness.store.order_events(tag)) - events_before
        assert written == (0 if want_stored is None else 1)

    asyncio.run(scenario())
