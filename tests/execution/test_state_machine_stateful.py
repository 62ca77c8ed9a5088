"""The order state machine under random sequences of broker behaviour, late fills included (issue 18).

A Hypothesis rule-based machine drives the real `OrderManager` against the in-memory broker: orders
sent with lost replies, 5xx that did or did not place, business rejects, replies lost while the broker
places the order only much later (after optbot settled it REJECTED); fills, dropped and reordered
order-update messages, verification polls and time passing. After every step: each recorded
transition is legal, no order is over-filled, and no fill is booked twice. Whenever everything is
settled: the local book equals the broker's — positions, every order's fills, and no order optbot
holds REJECTED that the broker filled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from optbot.config.settings import Settings
from optbot.core.enums import IntentPurpose, OrderStatus, Side
from optbot.execution.state_machine import is_legal
from optbot.test_kit.execution import ExecutionHarness, Fault, build_harness, drive, option_intent

T = TypeVar("T")
GRACE_SECONDS = 5.0
SEND_FAULTS = [
    None,
    Fault.REPLY_LOST,
    Fault.SERVER_ERROR_PLACED,
    Fault.SERVER_ERROR_NOT_PLACED,
    Fault.PLACED_LATE,
    Fault.REJECT,
]


class OrderLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.harness: ExecutionHarness = build_harness(
            fill_policy="none",
            settings=Settings(
                execution={
                    "unresolved_not_found_grace_seconds": GRACE_SECONDS,
                    "unresolved_not_found_checks": 2,
                    "duplicate_intent_window_seconds": 0.0,
                }
            ),
        )
        self.sent = 0

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(drive(self.harness.clock, awaitable))

    def teardown(self) -> None:
        self.harness.store.close()
        self.loop.close()

    # ------------------------------------------------------------------ rules
    @rule(fault=st.sampled_from(SEND_FAULTS), buy=st.booleans(), lots=st.integers(1, 3))
    def send(self, fault: Fault | None, buy: bool, lots: int) -> None:
        if fault is not None:
            self.harness.broker.inject(fault)
        self.sent += 1
        intent = option_intent(
            f"o{self.sent}",
            side=Side.BUY if buy else Side.SELL,
            quantity=75 * lots,
            limit_price=100.5 if buy else 99.5,
            purpose=IntentPurpose.ENTRY,
            strategy=f"s{self.sent}",
            when=self.harness.clock.now_utc(),
        )
        self.run(self.harness.manager.submit(intent))
        self.harness.broker.place_faults.clear()

    @rule(data=st.data())
    def broker_fills(self, data: st.DataObject) -> None:
        working = [order for order in self.harness.broker.orders.values() if order.status == "open"]
        if not working:
            return
        order = data.draw(st.sampled_from(working))
        lots = (order.request.quantity - order.filled_quantity) // 75
        self.harness.broker.fill(order.order_id, 75 * data.draw(st.integers(1, lots)))

    @rule()
    def broker_places_late_orders(self) -> None:
        self.harness.broker.release_late()

    @rule(data=st.data())
    def socket_delivers(self, data: st.DataObject) -> None:
        updates = self.harness.broker.drain_updates()
        kept = [update for update in updates if data.draw(st.booleans())]  # the socket drops some
        for update in data.draw(st.permutations(kept)):
            self.run(self.harness.manager.on_order_update(update))

    @rule(seconds=st.sampled_from([0.5, 2.0, 6.0]))
    def time_passes(self, seconds: float) -> None:
        self.harness.clock.advance(seconds)

    @rule()
    def verify(self) -> None:
        self.run(self.harness.manager.poll_once())

    @precondition(lambda self: self.sent > 0)
    @rule()
    def everything_settles(self) -> None:
        """Past the grace (so an order whose reply was lost is settled REJECTED), the broker places
        its late orders and fills them; the manager catches up and the books must agree."""
        broker, manager = self.harness.broker, self.harness.manager
        for _ in range(3):
            self.harness.clock.advance(GRACE_SECONDS + 1)
            self.run(manager.poll_once())
        late = {request.ordertag for request in broker.late_requests}
        broker.release_late()
        for order in list(broker.orders.values()):
            if order.request.ordertag in late:
                broker.fill(order.order_id)
        for _ in range(2):
            self.run(manager.poll_once())
        self.run(manager.sync_fills())
        store = self.harness.store
        local = {order.ordertag: order for order in store.all_orders()}
        for broker_order in broker.orders.values():
            mine = local[broker_order.request.ordertag]
            assert mine.filled_quantity == broker_order.filled_quantity, (mine, broker_order)
            if broker_order.filled_quantity:
                assert mine.status is not OrderStatus.REJECTED, store.order_events(mine.ordertag)
        broker_net = sum(
            trade.quantity if trade.side is Side.BUY else -trade.quantity for trade in broker.trades
        )
        assert sum(position.net_quantity for position in store.positions()) == broker_net

    # ------------------------------------------------------------- invariants
    @invariant()
    def transitions_are_legal_and_fills_bounded(self) -> None:
        store = self.harness.store
        for order in store.all_orders():
            assert 0 <= order.filled_quantity <= order.quantity
            for event in store.order_events(order.ordertag):
                if not event.accepted or event.previous_status is event.new_status:
                    continue
                unseen = event.previous_status is OrderStatus.REJECTED
                assert is_legal(event.previous_status, event.new_status, unseen=unseen), event
        fills = store.fills()
        assert len({(fill.broker_order_id, fill.fill_id) for fill in fills}) == len(fills)


TestOrderLifecycle = OrderLifecycle.TestCase
TestOrderLifecycle.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
