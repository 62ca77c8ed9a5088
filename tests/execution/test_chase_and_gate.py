"""Limit-only execution under the SEBI retail-algo rules: the chase policy's prices and the order gate."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optbot.broker.errors import BrokerRejected
from optbot.broker.models import DepthLevel, ModifyRequest, OrderRequest, Quote
from optbot.config.sections.execution import ExecutionSettings
from optbot.core.clock import SimClock
from optbot.core.enums import AlertPriority, Duration, Exchange, OrderStatus, OrderType, ProductType, Side
from optbot.core.events import Alert
from optbot.execution.chase import ChasePolicy, PriceBand
from optbot.execution.order_gate import ForbiddenOrder, OrderGate, SegmentRateLimiter
from optbot.test_kit.execution import TEST_START, ExecutionHarness, FakeBroker

POLICY = ChasePolicy(
    protection_pct=5.0, step_ticks=2, interval_seconds=3.0, max_attempts=5, protection_min_rupees=20.0
)


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
    assert POLICY.price(Side.BUY, market, 0.05, 500) == 120.0  # LPP band: ltp + Rs 20 (wider than 5 %)
    assert POLICY.price(Side.SELL, market, 0.05, 500) == 80.0
    dear = quote(1000.0, 999.95, 1000.05)
    assert POLICY.price(Side.BUY, dear, 0.05, 5000) == 1050.0  # ltp + 5 % (wider than Rs 20)
    assert POLICY.price(Side.SELL, dear, 0.05, 5000) == 950.0
    assert POLICY.price(Side.BUY, quote(100.0, 99.95, 100.05, band=102.0), 0.05, 500) == 102.0
    assert POLICY.price(Side.BUY, quote(0.0, None, None), 0.05, 0) is None
    assert POLICY.exhausted(5) and not POLICY.exhausted(4)


def test_a_cheap_options_band_reaches_its_bid_so_an_exit_can_sell_at_the_touch() -> None:
    """Issue 18 (the e2e iron-condor unwind that rested): a far-OTM wing last traded at 0.75 with the bid
    at 0.70. A 5 % band around 0.75 rounds to the single price 0.75, so a sell could never reach the bid;
    NSE's LPP for such a premium is Rs 20 either side, and so is the default band now."""
    wing = quote(0.75, 0.70, 0.80)
    band = ChasePolicy.from_settings(ExecutionSettings()).band(wing, 0.05)
    assert band is not None and band.low == 0.05 and band.high == 20.75
    assert ChasePolicy.from_settings(ExecutionSettings()).price(Side.SELL, wing, 0.05, 0) == 0.70
    five_percent_only = ChasePolicy.from_settings(ExecutionSettings(limit_price_protection_min_rupees=0))
    assert five_percent_only.band(wing, 0.05) == PriceBand(0.75, 0.75)  # the band that held the exit


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


# --- issue 18: chase steps the price band holds still count, and the band follows the market ---------
STALE_LAST = 100.0  # the last trade: the market has since fallen to a bid of 80 (bid/ask 80.00/80.10)
BAND_ONLY = {"limit_price_protection_pct": 5.0, "limit_price_protection_min_rupees": 0.0}


def market_at(ltp: float, bid: float, ask: float) -> Quote:
    from optbot.test_kit.execution import option_instrument

    instrument = option_instrument()
    return Quote(
        Exchange.NFO,
        instrument.token,
        instrument.symbol,
        ltp,
        bids=(DepthLevel(bid, 750, 1),),
        asks=(DepthLevel(ask, 750, 1),),
        lower_circuit=0.05,
        upper_circuit=1000.0,
    )


async def held_exit(execution: dict[str, object]) -> tuple[ExecutionHarness, str, list[Alert]]:
    """A long position and a working SELL exit, with nothing filling on its own."""
    from optbot.config.settings import Settings
    from optbot.core.enums import IntentPurpose
    from optbot.test_kit.execution import build_harness, drive, option_intent

    harness = build_harness(fill_policy="none", settings=Settings(execution=execution))
    alerts: list[Alert] = []
    harness.bus.subscribe("a", (Alert,), alerts.append)
    entry = await drive(harness.clock, harness.manager.submit(option_intent("in", limit_price=100.0)))
    harness.broker.fill(harness.store.get_order(entry.ordertags[0]).broker_order_id)  # type: ignore[union-attr]
    await harness.deliver()
    await harness.manager.poll_once()
    harness.broker.set_quote(market_at(STALE_LAST, 80.0, 80.10))
    exit_intent = option_intent("out", side=Side.SELL, limit_price=None, purpose=IntentPurpose.EXIT)
    result = await drive(harness.clock, harness.manager.submit(exit_intent))
    await harness.deliver()  # the broker's acknowledgement: the exit is OPEN
    return harness, result.ordertags[0], alerts


async def chase_interval(harness: ExecutionHarness) -> None:
    harness.clock.advance(harness.manager.chase_policy.interval_seconds + 0.1)
    await harness.manager.check_auto_cancel()


def critical(alerts: list[Alert]) -> list[str]:
    return [alert.title for alert in alerts if alert.priority is AlertPriority.CRITICAL]


async def test_an_exit_the_price_band_holds_still_counts_each_step_and_alerts_after_the_chase_limit() -> None:
    """The e2e unwind that rested silently: every step clamps the sell at the bottom of the band (95, the
    last trade less 5 %) while the bid is 80, so no modify is sent. Each such step is a chase step: after
    `chase_max_attempts` the critical "Exit not filling" alert goes out (before: no step ever counted, the
    exit rested all day and nobody was told)."""
    harness, tag, alerts = await held_exit(BAND_ONLY)
    assert harness.store.get_order(tag).price == 95.0  # type: ignore[union-attr]  # clamped into the band
    limit = harness.manager.chase_policy.max_attempts
    for _ in range(limit - 1):
        await chase_interval(harness)
    assert critical(alerts) == []  # one step still to go
    for _ in range(6):
        await chase_interval(harness)
    assert critical(alerts) == ["Exit not filling"]  # once, not once per interval
    alert = next(alert for alert in alerts if alert.title == "Exit not filling")
    assert f"0 re-price(s), 0 refused by the broker, {limit} held by the price band" in alert.message
    assert harness.manager.gate.sent["modify"] == 0
    blocked = [event for event in harness.store.order_events(tag) if event.source == "reprice_blocked"]
    assert len(blocked) == limit
    assert "limit stays at 95.00 (touch 80.00, last 100.00, price band [95.00, 105.00])" in blocked[0].detail
    order = harness.store.get_order(tag)
    assert order is not None and order.status is OrderStatus.OPEN and order.price == 95.0  # rests, marked


async def test_the_band_follows_the_market_so_a_later_step_reaches_the_bid() -> None:
    """Each chase step reads a fresh quote and anchors the band on its last price: once the market trades
    down to the bid, the next step moves the same order (a modify) to the bid and through it, and it fills;
    the steps the band held still count, so the chase stays bounded."""
    harness, tag, alerts = await held_exit(BAND_ONLY)
    await chase_interval(harness)
    await chase_interval(harness)
    assert harness.manager.gate.sent["modify"] == 0  # held at 95 by the band around 100
    harness.broker.set_quote(market_at(80.05, 80.0, 80.10))  # a trade at 80.05: band [76.05, 84.05]
    await chase_interval(harness)
    order = harness.store.get_order(tag)
    assert order is not None and harness.manager.gate.sent["modify"] == 1
    step = harness.manager.chase_policy.step_ticks * 0.05
    assert order.price == round(80.0 - 3 * step, 2)  # chase step 3: the bid less three steps
    assert 76.05 <= order.price <= 84.05
    harness.broker.fill(order.broker_order_id)
    await harness.deliver()
    await harness.manager.poll_once()
    assert harness.store.get_order(tag).status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert critical(alerts) == []


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-200, 200), st.integers(1, 600), st.booleans()), min_size=1, max_size=12),
    st.sampled_from([0.0, 20.0]),
)
def test_every_chase_interval_is_one_step_until_the_limit_then_one_alert(
    moves: list[tuple[int, int, bool]], min_rupees: float
) -> None:
    """Whatever the market does between steps (the last trade moves; the bid sits up to Rs 30 under it,
    often outside the band, so steps are held still) and
    whether the broker takes or refuses each modify: every interval is exactly one chase step until
    `chase_max_attempts`, every modify sent is on the tick grid inside the band of the quote it was priced
    from, and a working exit gets exactly one critical alert once the steps run out, never before."""
    execution = {"limit_price_protection_pct": 5.0, "limit_price_protection_min_rupees": min_rupees}

    async def run() -> None:
        harness, tag, alerts = await held_exit(execution)
        policy = harness.manager.chase_policy
        sent: list[tuple[float, Quote]] = []
        accept = harness.broker.modify_order
        refuse_next = [False]

        async def modify_order(request: ModifyRequest) -> object:
            sent.append((request.price, harness.broker.quotes_by_token[request.token]))
            if refuse_next[0]:
                raise BrokerRejected("AB1007", "modification refused")
            return await accept(request)

        harness.broker.modify_order = modify_order  # type: ignore[assignment,method-assign]
        for index, (move_ticks, gap_ticks, refuse) in enumerate(moves, start=1):
            ltp = round(80.0 + move_ticks * 0.05, 2)
            bid = max(0.05, round(ltp - gap_ticks * 0.05, 2))
            harness.broker.set_quote(market_at(ltp, bid, round(ltp + 0.05, 2)))
            refuse_next[0] = refuse
            await chase_interval(harness)
            steps = sum(
                1
                for event in harness.store.order_events(tag)
                if event.source in ("reprice", "reprice_failed", "reprice_blocked")
            )
            assert steps == min(index, policy.max_attempts)
            assert critical(alerts) == (["Exit not filling"] if index > policy.max_attempts else [])
        for price, quote in sent:
            band = policy.band(quote, 0.05)
            assert band is not None and band.low - 1e-9 <= price <= band.high + 1e-9
            assert abs(price / 0.05 - round(price / 0.05)) < 1e-6

    asyncio.run(run())
