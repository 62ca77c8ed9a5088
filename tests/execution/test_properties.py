"""Property tests: random interleavings of reports, duplicates, faults and restarts never double-count
a fill, never send an intent twice and never store an illegal transition."""

from __future__ import annotations

import asyncio
import random
import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optbot.core.enums import OrderStatus, Side
from optbot.core.events import OrderUpdate
from optbot.execution.state_machine import TRANSITIONS, is_legal
from optbot.test_kit.execution import Fault, SimulatedCrash, build_harness, drive, option_intent

STATUSES = list(OrderStatus)


def _assert_history_legal(store) -> None:
    for order in store.all_orders():
        status = OrderStatus.PENDING_SUBMIT
        for event in store.order_events(order.ordertag):
            if not event.accepted:
                continue
            assert event.previous_status is status
            if event.new_status is not status:
                assert is_legal(status, event.new_status), (status, event.new_status)
            status = event.new_status
        assert status is order.status


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(STATUSES), min_size=1, max_size=25))
def test_random_status_reports_only_follow_the_table(reports: list[OrderStatus]) -> None:
    async def scenario() -> None:
        harness = build_harness(fill_policy="none")
        result = await harness.manager.submit(option_intent())
        tag = result.ordertags[0]
        order = harness.store.get_order(tag)
        assert order is not None
        seen_terminal: OrderStatus | None = None
        for status in reports:
            await harness.manager.on_order_update(
                OrderUpdate(
                    harness.clock.now_utc(), order.broker_order_id, status, status.value.lower(), ordertag=tag
                )
            )
            current = harness.store.get_order(tag).status  # type: ignore[union-attr]
            if seen_terminal is not None:
                assert current is seen_terminal  # terminal states never change
            if current.is_terminal:
                seen_terminal = current
        _assert_history_legal(harness.store)

    asyncio.run(scenario())


def test_transition_table_is_closed_and_terminals_are_final() -> None:
    for source, targets in TRANSITIONS.items():
        assert source not in targets
        if source.is_terminal:
            assert not targets


OPERATIONS = st.sampled_from(
    [
        "submit",
        "duplicate",
        "fill",
        "partial",
        "deliver",
        "deliver_shuffled",
        "poll",
        "sync",
        "cancel",
        "restart",
    ]
)
FAULTS = st.sampled_from([None, *list(Fault)])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(st.lists(st.tuples(OPERATIONS, FAULTS, st.integers(0, 10_000)), min_size=1, max_size=40))
def test_interleavings_never_duplicate_orders_or_fills(steps) -> None:
    async def scenario(path: Path) -> None:
        harness = build_harness(path, fill_policy="none")
        submitted = 0
        for operation, fault, salt in steps:
            rng = random.Random(salt)
            broker = harness.broker
            if operation in ("submit", "duplicate"):
                if fault is not None:
                    broker.inject(fault)
                index = submitted if operation == "submit" or submitted == 0 else rng.randrange(submitted)
                side = Side.BUY if index % 2 == 0 else Side.SELL
                price = 100.5 if side is Side.BUY else 99.5
                intent = option_intent(f"i{index}", side=side, limit_price=price, strategy=f"s{index}")
                try:
                    await drive(
                        harness.clock, harness.manager.submit(replace(intent, ts_utc=harness.clock.now_utc()))
                    )
                except SimulatedCrash:
                    harness.store.close()
                    harness = harness.restart(path)
                    await harness.manager.recover()
                broker.place_faults.clear()
                if operation == "submit":
                    submitted += 1
            elif operation in ("fill", "partial"):
                open_orders = [o for o in broker.orders.values() if o.status == "open"]
                if open_orders:
                    target = rng.choice(open_orders)
                    remaining = target.request.quantity - target.filled_quantity
                    quantity = remaining if operation == "fill" or remaining < 2 else remaining // 2
                    broker.fill(target.order_id, quantity)
            elif operation == "deliver":
                updates = broker.drain_updates()
                for update in updates + updates[: rng.randrange(len(updates) + 1)]:
                    await harness.manager.on_order_update(update)
            elif operation == "deliver_shuffled":
                updates = broker.drain_updates()
                rng.shuffle(updates)
                for update in updates:
                    await harness.manager.on_order_update(update)
            elif operation == "poll":
                await harness.manager.poll_once()
            elif operation == "sync":
                await harness.manager.sync_fills()
            elif operation == "cancel":
                working = [o for o in harness.store.orders_in_flight() if o.broker_order_id]
                if working:
                    await harness.manager.cancel(rng.choice(working).ordertag, "test")
            elif operation == "restart":
                harness.store.close()
                harness = harness.restart(path)
                await harness.manager.recover()
            harness.clock.advance(rng.choice([0, 1, 5, 40]))
        # settle everything
        harness.clock.advance(60)
        await harness.manager.recover()
        await harness.manager.poll_once()
        await harness.manager.sync_fills()

        store, broker = harness.store, harness.broker
        for order in store.all_orders():
            assert broker.orders_with_tag(order.ordertag) <= 1
            assert 0 <= order.filled_quantity <= order.quantity
        assert len(broker.placed_requests) == len({r.ordertag for r in broker.placed_requests})
        local_fills = {(f.broker_order_id, f.fill_id) for f in store.fills()}
        broker_fills = {(t.order_id, t.fill_id) for t in broker.trades}
        assert local_fills == broker_fills
        local_positions = {p.token: p.net_quantity for p in store.positions() if p.net_quantity}
        broker_positions = {p.token: p.net_quantity for p in await broker.positions() if p.net_quantity}
        assert local_positions == broker_positions
        _assert_history_legal(store)
        assert store.verify_chain().ok
        store.close()

    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(scenario(Path(directory) / "optbot.sqlite"))
