"""Issue 18 defects 3 and 4 against the SmartAPI simulator on loopback, through the real client stack.

The simulator's clock is pumped ~25x faster than real time, as a replay is, and the bot's clock follows
it over HTTP exactly as `optbot run --follow-sim` does (`FollowingClock`); the faults (`slow_replies`,
`server_errors`) are the ones `optbot sim fault` injects. Orders go over HTTP, fills come back on the
trade book / order book, and every run ends with a reconciliation.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from optbot.broker.angelone.auth import AuthService
from optbot.broker.angelone.broker import AngelOneBroker
from optbot.broker.angelone.rest import AngelOneRestClient
from optbot.broker.angelone.secrets import SecretStore
from optbot.config.sections.broker import BrokerSettings
from optbot.config.settings import Settings
from optbot.core.bus import EventBus
from optbot.core.clock import SimClock
from optbot.core.enums import IntentPurpose, OrderStatus, OrderType, Side
from optbot.core.events import Event, Fill
from optbot.core.instrument import Instrument
from optbot.engine.follow import FollowingClock
from optbot.execution.order_manager import OrderManager
from optbot.execution.reconciliation import Reconciler
from optbot.persistence.store import Store
from optbot.sim.server import Simulator
from optbot.test_kit.broker import MemoryKeyring
from optbot.test_kit.execution import option_instrument, option_intent
from optbot.test_kit.sim import NIFTY_CE_TOKEN, TEST_ACCOUNT, StaticMarket, market_hours_start

REAL_SECONDS_PER_PUMP = 0.002
SIM_SECONDS_PER_PUMP = 0.05  # 25x: 30 simulated seconds pass in 1.2 real seconds


@dataclass
class Rig:
    clock: FollowingClock
    market: StaticMarket
    sim: Simulator
    broker: AngelOneBroker
    store: Store
    manager: OrderManager
    reconciler: Reconciler
    instrument: Instrument
    fills: list[Fill]

    def intent(self, name: str, side: Side, purpose: IntentPurpose, quantity: int = 75):  # type: ignore[no-untyped-def]
        return option_intent(
            name,
            side=side,
            quantity=quantity,
            limit_price=None,
            order_type=OrderType.LIMIT,
            purpose=purpose,
            instrument=self.instrument,
            strategy=name,
            when=self.clock.now_utc(),
        )

    def events(self, ordertag: str) -> list[tuple[OrderStatus, OrderStatus, bool, str]]:
        return [
            (event.previous_status, event.new_status, event.accepted, event.source)
            for event in self.store.order_events(ordertag)
        ]

    def net(self) -> int:
        return sum(position.net_quantity for position in self.store.positions())


async def _pump(clock: SimClock) -> None:
    while True:
        await asyncio.sleep(REAL_SECONDS_PER_PUMP)
        clock.advance(SIM_SECONDS_PER_PUMP)


async def _poll_until(rig: Rig, done: Callable[[], bool], real_seconds: float) -> None:
    """The order manager's verification loop (poll, chase, exit retries) until `done` or a timeout."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(real_seconds):
            while not done():
                await rig.manager.poll_once()
                await rig.manager.check_auto_cancel()
                await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def order_rig(tmp_path: Path, execution: dict[str, object]) -> AsyncIterator[Rig]:
    clock = SimClock(market_hours_start())
    market = StaticMarket(clock)
    market.set_quote("NFO", NIFTY_CE_TOKEN, 150.0, spread=0.10, quantity=750)
    sim = Simulator(market, clock, [TEST_ACCOUNT])
    await sim.start()
    pump = asyncio.create_task(_pump(clock))
    bot_clock = await FollowingClock.connect(sim.base_url)
    stop_following = asyncio.Event()
    following = asyncio.create_task(bot_clock.follow(stop_following))
    broker_settings = BrokerSettings(
        client_code=TEST_ACCOUNT.client_code, rest_base_url=sim.base_url, http_timeout_seconds=1.0
    )
    secrets = SecretStore(MemoryKeyring(), "optbot-faults", environ={})
    secrets.set("api_key", TEST_ACCOUNT.api_key)
    secrets.set("pin", TEST_ACCOUNT.pin)
    secrets.set("totp_secret", TEST_ACCOUNT.totp_secret)
    rest = AngelOneRestClient(broker_settings, bot_clock, TEST_ACCOUNT.api_key, rng=random.Random(18))
    broker = AngelOneBroker(rest, bot_clock, broker_settings)
    auth = AuthService(broker_settings, secrets, bot_clock, rest)
    store = Store.open(tmp_path / "optbot.sqlite", bot_clock)
    bus = EventBus(synchronous=True)
    fills: list[Fill] = []

    async def collect(event: Event) -> None:
        if isinstance(event, Fill):
            fills.append(event)

    bus.subscribe("test-fills", (Fill,), collect)
    await bus.start()
    try:
        await auth.ensure_session_until()
        instrument = option_instrument(token=NIFTY_CE_TOKEN, symbol=market.symbol("NFO", NIFTY_CE_TOKEN))
        settings = Settings(execution={"duplicate_intent_window_seconds": 0.0, **execution})
        manager = OrderManager(
            broker,
            store,
            bot_clock,
            settings,
            lambda exchange, token: instrument if token == NIFTY_CE_TOKEN else None,
            bus=bus,
        )
        reconciler = Reconciler(broker, store, bot_clock, settings, order_manager=manager)
        assert (await reconciler.run("startup")).clean
        yield Rig(bot_clock, market, sim, broker, store, manager, reconciler, instrument, fills)
    finally:
        stop_following.set()
        await following
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        await bus.close()
        store.close()
        await rest.aclose()
        await sim.stop()


async def test_slow_place_reply_is_not_settled_rejected_on_replay_time(tmp_path: Path) -> None:
    """Defect 4: the reply to placeOrder takes 4 real seconds (the client gives up after 1); the grace
    of 6 s is real time, so the order is found in the book and filled — never declared REJECTED,
    although 6 s of the fast simulated clock pass in a quarter of a second."""
    async with order_rig(tmp_path, {"unresolved_not_found_grace_seconds": 6.0}) as rig:
        rig.sim.faults.slow_replies(4.0, count=1, endpoints=["placeOrder"])
        result = await rig.manager.submit(rig.intent("slow-entry", Side.BUY, IntentPurpose.ENTRY))
        [tag] = result.ordertags
        assert rig.store.get_order(tag).status is OrderStatus.UNRESOLVED  # type: ignore[union-attr]

        await _poll_until(rig, lambda: rig.net() == 75, real_seconds=15)

        order = rig.store.get_order(tag)
        assert order is not None and order.status is OrderStatus.FILLED, rig.events(tag)
        assert not [event for event in rig.events(tag) if event[1] is OrderStatus.REJECTED]
        assert rig.net() == 75 and [fill.intent_id for fill in rig.fills] == ["slow-entry"]
        assert (await rig.reconciler.run("periodic")).clean


async def test_order_settled_rejected_is_adopted_when_the_broker_fills_it_late(tmp_path: Path) -> None:
    """Defect 4: the reply is lost for longer than the grace, so the order is settled REJECTED; when the
    broker then fills it, the order is adopted (REJECTED -> FILLED, recorded as an adoption), the fill
    books the position, the owner hears of the fill, and reconciliation is clean."""
    execution = {"unresolved_not_found_grace_seconds": 1.0, "unresolved_not_found_checks": 2}
    async with order_rig(tmp_path, execution) as rig:
        rig.sim.faults.slow_replies(5.0, count=1, endpoints=["placeOrder"])
        result = await rig.manager.submit(rig.intent("late-entry", Side.BUY, IntentPurpose.ENTRY))
        [tag] = result.ordertags

        def rejected() -> bool:
            order = rig.store.get_order(tag)
            return order is not None and order.status is OrderStatus.REJECTED

        await _poll_until(rig, rejected, real_seconds=4)
        assert rejected(), rig.events(tag)
        assert rig.net() == 0

        def placed() -> bool:
            return any(order.order_tag == tag for order in rig.sim.exchange.orders(TEST_ACCOUNT.client_code))

        async with asyncio.timeout(10):
            while not placed():  # noqa: ASYNC110 - the simulator's handler finishes after its delay
                await asyncio.sleep(0.1)
        await rig.manager.sync_fills()  # the broker's trade book lists a fill of an order id we never saw

        order = rig.store.get_order(tag)
        assert order is not None and order.status is OrderStatus.FILLED, rig.events(tag)
        assert (OrderStatus.REJECTED, OrderStatus.FILLED, True, "order_book") in rig.events(tag)
        assert rig.net() == 75 and [fill.intent_id for fill in rig.fills] == ["late-entry"]
        assert (await rig.reconciler.run("periodic")).clean


async def test_exit_refused_by_a_503_is_sent_again_until_flat(tmp_path: Path) -> None:
    """Defect 3: the flatten order meets a 503 (the simulator did not place it); it is settled not
    found, then sent again as a new order of the same intent at once, and the position is flat in
    seconds instead of waiting for the next flatten deadline."""
    execution = {
        "unresolved_not_found_grace_seconds": 1.0,
        "exit_retry_interval_seconds": 1.0,
    }
    async with order_rig(tmp_path, execution) as rig:
        entry = await rig.manager.submit(rig.intent("entry", Side.BUY, IntentPurpose.ENTRY))
        await _poll_until(rig, lambda: rig.net() == 75, real_seconds=5)
        assert rig.net() == 75, rig.events(entry.ordertags[0])

        rig.sim.faults.server_errors(count=1, status=503, endpoints=["placeOrder"])
        flatten = await rig.manager.submit(rig.intent("flatten", Side.SELL, IntentPurpose.FLATTEN))
        [first] = flatten.ordertags
        assert rig.store.get_order(first).status is OrderStatus.UNRESOLVED  # type: ignore[union-attr]

        await _poll_until(rig, lambda: rig.net() == 0, real_seconds=10)

        orders = rig.store.orders_for_intent("flatten")
        assert [order.status for order in orders] == [OrderStatus.REJECTED, OrderStatus.FILLED], [
            rig.events(order.ordertag) for order in orders
        ]
        assert rig.net() == 0
        assert all(order.order_type is OrderType.LIMIT for order in rig.store.all_orders())
        assert (await rig.reconciler.run("periodic")).clean


async def test_resting_exit_is_chased_by_modifying_it_inside_the_price_band(tmp_path: Path) -> None:
    """An exit priced at the touch that the market ran away from is re-priced (a modify of the same
    order, same tag) a chase step at a time until it fills, never past the protection band."""
    execution = {"chase_interval_seconds": 0.3, "chase_step_ticks": 4, "limit_price_protection_pct": 5.0}
    async with order_rig(tmp_path, execution) as rig:
        await rig.manager.submit(rig.intent("entry", Side.BUY, IntentPurpose.ENTRY))
        await _poll_until(rig, lambda: rig.net() == 75, real_seconds=5)
        assert rig.net() == 75
        rig.market.set_quote("NFO", NIFTY_CE_TOKEN, 150.0, spread=0.10, quantity=10)  # bids < a lot: rests
        exit_ = await rig.manager.submit(rig.intent("exit", Side.SELL, IntentPurpose.EXIT))
        [tag] = exit_.ordertags
        rests_at = rig.store.get_order(tag).price  # type: ignore[union-attr]
        rig.market.set_quote("NFO", NIFTY_CE_TOKEN, 149.0, spread=0.10, quantity=750)  # bid 148.95
        await _poll_until(rig, lambda: rig.net() == 0, real_seconds=10)

        order = rig.store.get_order(tag)
        assert order is not None and order.status is OrderStatus.FILLED, rig.events(tag)
        assert rig.store.orders_for_intent("exit") == [order]  # the same order, modified in place
        assert rests_at > order.price >= round(149.0 * 0.95, 2), rig.events(tag)
        reprices = [event for event in rig.store.order_events(tag) if event.source == "reprice"]
        assert reprices and all("modified in place" in event.detail for event in reprices)
        assert rig.manager.gate.sent["modify"] == len(reprices)
        assert (await rig.reconciler.run("periodic")).clean
