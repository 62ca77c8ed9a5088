"""Limit-only execution under the SEBI retail-algo rules: the chase policy's prices and the order gate."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.broker.models import DepthLevel, OrderRequest, Quote
from optbot.config.sections.execution import ExecutionSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Duration, Exchange, OrderType, ProductType, Side
from optbot.execution.chase import ChasePolicy
from optbot.execution.order_gate import ForbiddenOrder, OrderGate, SegmentRateLimiter
from optbot.test_kit.execution import TEST_START, FakeBroker

POLICY = ChasePolicy(protection_pct=5.0, step_ticks=2, interval_seconds=3.0, max_attempts=5)


def quote(ltp: float, bid: float | None, ask: float | None, band: float | None = None) -> Quote:
    return Quote(
        Exchange.NFO,
        "58784",
        "NIFTYCE",
        ltp,
        bids=(DepthLevel(bid, 750, 1),) if bid else (),
        asks=(DepthLevel(ask, 750, 1),) if ask else (),
        upper_circuit=band,
        lower_circuit=None,
    )


def test_chase_starts_at_the_touch_and_steps_through_it_inside_the_band() -> None:
    market = quote(100.0, 99.95, 100.05)
    assert POLICY.price(Side.BUY, market, 0.05, 0) == 100.05
    assert POLICY.price(Side.BUY, market, 0.05, 1) == 100.15
    assert POLICY.price(Side.SELL, market, 0.05, 2) == 99.75
    assert POLICY.price(Side.BUY, market, 0.05, 500) == 105.0  # LPP band: ltp + 5 %
    assert POLICY.price(Side.SELL, market, 0.05, 500) == 95.0
    assert POLICY.price(Side.BUY, quote(100.0, 99.95, 100.05, band=102.0), 0.05, 500) == 102.0
    assert POLICY.price(Side.BUY, quote(0.0, None, None), 0.05, 0) is None
    assert POLICY.exhausted(5) and not POLICY.exhausted(4)


@settings(derandomize=True, max_examples=300)
@given(
    st.integers(20, 100_000),
    st.integers(0, 40),
    st.integers(0, 12),
    st.booleans(),
    st.sampled_from([0.05, 0.1, 1.0]),
)
def test_chase_price_is_on_the_tick_inside_the_band_and_never_backs_off(
    ltp_paise: int, spread_ticks: int, attempt: int, buy: bool, tick: float
) -> None:
    ltp = ltp_paise / 100
    bid = max(tick, ltp - spread_ticks * tick)
    market = quote(ltp, bid, ltp + spread_ticks * tick)
    side = Side.BUY if buy else Side.SELL
    price = POLICY.price(side, market, tick, attempt)
    band = POLICY.band(market, tick)
    assert price is not None and band is not None
    assert band.low - 1e-9 <= price <= band.high + 1e-9
    assert abs(price / tick - round(price / tick)) < 1e-6
    following = POLICY.price(side, market, tick, attempt + 1)
    assert following is not None
    assert (following >= price) if buy else (following <= price)  # each step is at least as aggressive


def request(order_type: OrderType = OrderType.LIMIT, **changes: object) -> OrderRequest:
    fields: dict[str, object] = {
        "exchange": Exchange.NFO,
        "token": "58784",
        "symbol": "NIFTYCE",
        "side": Side.BUY,
        "quantity": 75,
        "order_type": order_type,
        "product": ProductType.INTRADAY,
        "ordertag": "obtag",
        "price": 100.0,
        **changes,
    }
    return OrderRequest(**fields)  # type: ignore[arg-type]


async def test_gate_refuses_market_ioc_and_untagged_orders_before_sending() -> None:
    clock = SimClock(TEST_START)
    broker = FakeBroker(clock)
    gate = OrderGate(broker, clock, 10)
    for bad in (
        request(OrderType.MARKET),
        request(OrderType.STOPLOSS_MARKET),
        request(duration=Duration.IOC),
        request(ordertag=""),
    ):
        with pytest.raises(ForbiddenOrder):
            await gate.place(bad)
    assert broker.placed_requests == [] and gate.sent["place"] == 0
    await gate.place(request())
    assert len(broker.placed_requests) == 1


async def test_segment_limiter_never_lets_more_than_n_into_any_second_per_segment() -> None:
    clock = SimClock(TEST_START)
    limiter = SegmentRateLimiter(clock, 10)
    granted: list[tuple[Exchange, float]] = []

    async def send(segment: Exchange) -> None:
        await limiter.acquire(segment)
        granted.append((segment, clock.monotonic()))

    tasks = [asyncio.ensure_future(send(Exchange.NFO)) for _ in range(35)]
    tasks += [asyncio.ensure_future(send(Exchange.BFO)) for _ in range(10)]
    while not all(task.done() for task in tasks):
        await clock.settle()
        clock.advance(0.05)
    await asyncio.gather(*tasks)
    for segment in (Exchange.NFO, Exchange.BFO):
        moments = sorted(moment for seen, moment in granted if seen is segment)
        for index, start in enumerate(moments):
            assert sum(1 for moment in moments[index:] if moment < start + 1.0) <= 10
    nfo = sorted(moment for seen, moment in granted if seen is Exchange.NFO)
    assert nfo[-1] >= 3.0  # 35 messages need at least 3 more seconds after the first 10
    assert max(moment for seen, moment in granted if seen is Exchange.BFO) == 0.0  # never waits on NFO


def test_the_rate_setting_cannot_exceed_the_unregistered_algo_limit() -> None:
    assert ExecutionSettings().max_orders_per_second_per_segment == 10
    with pytest.raises(ValueError, match="less than or equal to 10"):
        ExecutionSettings(max_orders_per_second_per_segment=11)


async def test_an_exit_whose_every_re_price_is_refused_stops_after_the_chase_limit_and_alerts() -> None:
    """A working exit the broker will not let move (every modify refused) counts each refusal as a chase
    step: after `chase_max_attempts` it rests and a person is told, instead of a modify every interval
    all day with no alert (seen in the kill -9 campaign: an exit's modify refused 900 times)."""
    from optbot.broker.errors import BrokerRejected
    from optbot.core.enums import AlertPriority, IntentPurpose
    from optbot.core.events import Alert
    from optbot.test_kit.execution import build_harness, drive, option_intent

    harness = build_harness(fill_policy="none")
    alerts: list[Alert] = []
    harness.bus.subscribe("a", (Alert,), alerts.append)
    entry = await drive(harness.clock, harness.manager.submit(option_intent("in", limit_price=100.0)))
    harness.broker.fill(harness.store.get_order(entry.ordertags[0]).broker_order_id)  # type: ignore[union-attr]
    await harness.deliver()
    await harness.manager.poll_once()
    exit_intent = option_intent("out", side=Side.SELL, limit_price=180.0, purpose=IntentPurpose.EXIT)
    await drive(harness.clock, harness.manager.submit(exit_intent))
    refused: list[str] = []

    async def modify_order(request: object) -> None:
        refused.append(str(request))
        raise BrokerRejected("AB1007", "modification refused")

    harness.broker.modify_order = modify_order  # type: ignore[assignment,method-assign]
    limit = harness.manager.chase_policy.max_attempts
    for _ in range(limit + 5):
        harness.clock.advance(harness.manager.chase_policy.interval_seconds + 0.1)
        await harness.manager.check_auto_cancel()
    assert len(refused) == limit
    assert [alert.title for alert in alerts if alert.priority is AlertPriority.CRITICAL] == [
        "Exit not filling"
    ]
