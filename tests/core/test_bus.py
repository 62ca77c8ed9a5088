from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.core.bus import EventBus
from optbot.core.enums import Exchange, Side
from optbot.core.events import Event, FeedHealth, Fill, Tick

T0 = datetime(2024, 5, 21, 3, 45, tzinfo=UTC)


def tick(price: float) -> Tick:
    return Tick(ts_utc=T0, token="26000", exchange=Exchange.NSE, symbol="NIFTY", ltp=price)


def fill(number: int) -> Fill:
    return Fill(
        ts_utc=T0,
        fill_id=f"F{number}",
        order_id="O1",
        token="1",
        exchange=Exchange.NFO,
        symbol="NIFTY24MAY22500CE",
        side=Side.BUY,
        quantity=25,
        price=100.0,
    )


async def test_ticks_shed_oldest_and_count() -> None:
    bus = EventBus(queue_size=3)
    seen: list[float] = []
    gate = asyncio.Event()

    async def slow(event: Tick) -> None:
        await gate.wait()
        seen.append(event.ltp)

    bus.subscribe("strategy", (Tick,), slow)
    await asyncio.sleep(0)
    for price in range(10):
        await bus.publish(tick(float(price)))
    gate.set()
    await bus.drain()
    await bus.close()
    # Publishing market data never yields, so the queue kept the newest three and shed the rest.
    assert seen == [7.0, 8.0, 9.0]
    assert bus.stats.shed["strategy"] == 7
    assert bus.stats.published["Tick"] == 10


async def test_critical_events_are_never_dropped_publisher_waits() -> None:
    bus = EventBus(queue_size=2)
    seen: list[str] = []
    gate = asyncio.Event()

    async def slow(event: Fill) -> None:
        await gate.wait()
        seen.append(event.fill_id)

    bus.subscribe("portfolio", (Fill,), slow)
    await asyncio.sleep(0)
    publisher = asyncio.create_task(_publish_all(bus, [fill(n) for n in range(6)]))
    await asyncio.sleep(0.01)
    assert not publisher.done()  # blocked: queue full, nothing dropped
    gate.set()
    await asyncio.wait_for(publisher, timeout=2)
    await bus.close()
    assert seen == [f"F{n}" for n in range(6)]
    assert sum(bus.stats.shed.values()) == 0


async def test_shedding_never_drops_a_queued_critical_event() -> None:
    """A subscriber to both ticks and fills: ticks arriving on a full queue must not push out a fill."""
    bus = EventBus(queue_size=3)
    seen: list[str] = []
    gate = asyncio.Event()

    async def slow(event: Event) -> None:
        await gate.wait()
        seen.append(event.fill_id if isinstance(event, Fill) else f"T{event.ltp:.0f}")  # type: ignore[attr-defined]

    bus.subscribe("portfolio", (Tick, Fill), slow)
    await asyncio.sleep(0)
    await bus.publish(tick(0))  # taken by the consumer, which then blocks
    await asyncio.sleep(0)
    await bus.publish(fill(1))
    await bus.publish(fill(2))
    for price in range(1, 6):
        await bus.publish(tick(float(price)))
    gate.set()
    await bus.drain()
    await bus.close()
    assert "F1" in seen and "F2" in seen
    assert seen.index("F1") < seen.index("F2")
    assert seen[-1] == "T5"


async def test_publish_nowait_refuses_critical_events() -> None:
    bus = EventBus()
    with pytest.raises(TypeError):
        bus.publish_nowait(fill(1))
    bus.publish_nowait(FeedHealth(ts_utc=T0, connected=True, stale_seconds=0.0, reconnects=0))
    await bus.close()


async def test_synchronous_mode_runs_inline_in_order() -> None:
    bus = EventBus(synchronous=True)
    order: list[str] = []

    async def first(event: Event) -> None:
        order.append(f"first:{type(event).__name__}")
        if isinstance(event, Tick) and event.ltp == 1.0:
            await bus.publish(fill(9))  # nested publish is handled before the outer one returns

    def second(event: Event) -> None:
        order.append(f"second:{type(event).__name__}")

    bus.subscribe("first", (Tick, Fill), first)
    bus.subscribe("second", (Tick, Fill), second)
    await bus.publish(tick(1.0))
    await bus.publish(fill(2))
    assert order == [
        "first:Tick",
        "first:Fill",
        "second:Fill",
        "second:Tick",
        "first:Fill",
        "second:Fill",
    ]


async def test_handler_error_is_counted_and_does_not_stop_delivery() -> None:
    bus = EventBus(synchronous=True)
    seen: list[float] = []

    def flaky(event: Tick) -> None:
        if event.ltp == 1.0:
            raise RuntimeError("boom")
        seen.append(event.ltp)

    bus.subscribe("flaky", (Tick,), flaky)
    for price in (0.0, 1.0, 2.0):
        await bus.publish(tick(price))
    assert seen == [0.0, 2.0]
    assert bus.stats.handler_errors["flaky"] == 1


async def test_an_awaited_handler_error_is_counted_and_the_next_subscriber_still_hears() -> None:
    bus = EventBus(synchronous=True)
    seen: list[float] = []

    async def failing(event: Tick) -> None:
        raise RuntimeError(f"boom at {event.ltp}")

    bus.subscribe("failing", (Tick,), failing)
    bus.subscribe("after", (Tick,), lambda event: seen.append(event.ltp))
    await bus.publish(tick(3.0))
    assert seen == [3.0] and bus.stats.handler_errors["failing"] == 1


async def test_subscribe_before_loop_start_then_start() -> None:
    bus = EventBus()
    seen: list[float] = []
    bus.subscribe("late", (Tick,), lambda event: seen.append(event.ltp))
    await bus.start()
    await bus.publish(tick(1.0))
    await bus.drain()
    await bus.close()
    assert seen == [1.0]


@settings(max_examples=30, deadline=None)
@given(kinds=st.lists(st.booleans(), min_size=1, max_size=40), size=st.integers(min_value=1, max_value=5))
def test_fills_always_arrive_in_order_whatever_the_tick_pressure(kinds: list[bool], size: int) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        bus = EventBus(queue_size=size)
        seen: list[str] = []
        gate = asyncio.Event()

        async def slow(event: Event) -> None:
            await gate.wait()
            if isinstance(event, Fill):
                seen.append(event.fill_id)

        bus.subscribe("s", (Tick, Fill), slow)
        await asyncio.sleep(0)
        sent: list[str] = []

        async def produce() -> None:
            for index, is_fill in enumerate(kinds):
                if is_fill:
                    sent.append(f"F{index}")
                    await bus.publish(fill(index))
                else:
                    await bus.publish(tick(float(index)))

        producer = asyncio.create_task(produce())
        await asyncio.sleep(0)
        gate.set()
        await producer
        await bus.drain()
        await bus.close()
        return sent, seen

    sent, seen = asyncio.run(scenario())
    assert seen == sent


async def _publish_all(bus: EventBus, events: list[Fill]) -> None:
    for event in events:
        await bus.publish(event)
