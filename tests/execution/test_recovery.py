"""Crash at each point of the send path (in-process), restart on the same DB, and recover."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from optbot.broker.models import OrderRequest, PlaceResult
from optbot.core.enums import OrderStatus
from optbot.test_kit.execution import Fault, SimulatedCrash, build_harness, option_intent


async def _crash_then_restart(tmp_path, fault: Fault):
    path = tmp_path / "optbot.sqlite"
    harness = build_harness(path)
    harness.broker.inject(fault)
    with pytest.raises(SimulatedCrash):
        await harness.manager.submit(option_intent())
    harness.store.close()
    restarted = harness.restart(path)
    return harness, restarted


async def test_crash_before_send_settles_rejected_without_resend(tmp_path) -> None:
    _, restarted = await _crash_then_restart(tmp_path, Fault.CRASH_BEFORE_SEND)
    [order] = restarted.store.all_orders()
    assert order.status is OrderStatus.PENDING_SUBMIT
    report = await restarted.manager.recover()
    assert report.in_flight == 1 and report.still_unresolved == 1
    assert restarted.store.get_order(order.ordertag).status is OrderStatus.UNRESOLVED  # type: ignore[union-attr]
    restarted.clock.advance(31)
    await restarted.manager.poll_once()
    assert restarted.store.get_order(order.ordertag).status is OrderStatus.REJECTED  # type: ignore[union-attr]
    assert restarted.broker.placed_requests == []
    # the strategy re-submitting the same intent id after restart is still recognised
    again = await restarted.manager.submit(option_intent())
    assert again.duplicate and restarted.broker.placed_requests == []


async def test_crash_between_send_and_reply_adopts_order_and_fill(tmp_path) -> None:
    _, restarted = await _crash_then_restart(tmp_path, Fault.CRASH_AFTER_SEND)
    report = await restarted.manager.recover()
    assert report.adopted == 1 and report.fills_applied == 1
    [order] = restarted.store.all_orders()
    assert order.status is OrderStatus.FILLED and order.filled_quantity == 75
    assert len(restarted.broker.placed_requests) == 1
    [position] = restarted.store.positions()
    assert position.net_quantity == 75
    # a second restart applies nothing twice
    second = restarted.restart(tmp_path / "optbot.sqlite")
    report2 = await second.manager.recover()
    assert report2.fills_applied == 0 and report2.in_flight == 0
    assert second.store.positions()[0].net_quantity == 75
    assert second.store.verify_chain().ok


async def test_restart_after_ack_before_fill_sync(tmp_path) -> None:
    path = tmp_path / "optbot.sqlite"
    harness = build_harness(path)
    await harness.manager.submit(option_intent())
    harness.store.close()
    restarted = harness.restart(path)
    report = await restarted.manager.recover()
    assert report.fills_applied == 1
    assert restarted.store.positions()[0].net_quantity == 75
    assert len(restarted.broker.placed_requests) == 1


def _durable_copy(path: Path, into: Path) -> None:
    """The database as a power cut would leave it now: the file and its log (the wal-index is
    rebuilt from the log on open)."""
    into.mkdir()
    for suffix in ("", "-wal"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            shutil.copyfile(source, into / f"{path.name}{suffix}")


async def test_a_power_cut_that_loses_the_acknowledgement_adopts_the_order_once(tmp_path: Path) -> None:
    """The acknowledgement's commit is not fsynced on its own: a power cut before the next durable
    commit can take it away, leaving the database as it was when the order was sent (PENDING_SUBMIT,
    fsynced before the send). Restarted from exactly that, recovery adopts the broker's order by its
    tag, applies its fill once and sends nothing again."""
    path = tmp_path / "optbot.sqlite"
    harness = build_harness(path)
    place_order = harness.broker.place_order
    at_send = tmp_path / "at-send"

    async def copied_then_placed(request: OrderRequest) -> PlaceResult:
        _durable_copy(path, at_send)  # everything durable when the order leaves
        return await place_order(request)

    harness.broker.place_order = copied_then_placed  # type: ignore[method-assign]
    result = await harness.manager.submit(option_intent())
    assert result.accepted
    [acknowledged] = harness.store.all_orders()
    assert acknowledged.broker_order_id and acknowledged.status is not OrderStatus.PENDING_SUBMIT
    assert harness.store.connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again
    harness.store.close()

    restarted = harness.restart(at_send / path.name)
    [lost] = restarted.store.all_orders()
    assert lost.status is OrderStatus.PENDING_SUBMIT and not lost.broker_order_id
    report = await restarted.manager.recover()
    assert report.adopted == 1 and report.still_unresolved == 0
    [order] = restarted.store.all_orders()
    assert order.broker_order_id == acknowledged.broker_order_id
    assert order.status is OrderStatus.FILLED and order.filled_quantity == 75
    assert len(restarted.broker.placed_requests) == 1
    assert restarted.broker.orders_with_tag(order.ordertag) == 1
    assert restarted.store.positions()[0].net_quantity == 75
    assert restarted.store.verify_chain().ok
