from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from optbot.broker.models import DepthLevel
from optbot.config.sections.execution import ExecutionSettings
from optbot.core.clock import SimClock
from optbot.core.enums import OrderType, ProductType, Side
from optbot.execution.throttle import OrderThrottle, ThrottlePriority
from optbot.execution.validation import (
    OrderValidationError,
    depth_price,
    plan_order,
    round_to_tick,
    split_for_freeze,
)
from optbot.test_kit.execution import TEST_START, option_instrument, option_intent, option_quote

SETTINGS = ExecutionSettings()
INSTRUMENT = option_instrument()


@given(st.integers(1, 10_000_000), st.sampled_from([0.05, 0.1, 0.5, 1.0]))
def test_round_to_tick_lands_on_grid_and_direction(paise: int, tick: float) -> None:
    price = paise / 100
    down = round_to_tick(price, tick, "down")
    up = round_to_tick(price, tick, "up")
    assert down <= price + 1e-9 <= up + 2e-9
    for value in (down, up):
        steps = value / tick
        assert abs(steps - round(steps)) < 1e-6
    assert up - down < tick + 1e-9


@given(st.integers(1, 400), st.sampled_from([15, 25, 50, 75]), st.sampled_from([None, 900, 1800, 40]))
def test_freeze_split_preserves_quantity_and_lots(lots: int, lot: int, freeze: int | None) -> None:
    children = split_for_freeze(lots * lot, lot, freeze)
    assert sum(children) == lots * lot
    assert all(child % lot == 0 for child in children)
    if freeze and freeze >= lot:
        assert all(child <= freeze for child in children)


def test_depth_price_walks_levels() -> None:
    quote = option_quote(depth_quantity=100)
    assert depth_price(quote.asks, 50) == quote.asks[0].price
    assert depth_price(quote.asks, 250) == quote.asks[2].price


def test_plan_rejects_with_every_reason() -> None:
    intent = option_intent(quantity=70, limit_price=150.0)
    intent = replace(intent, product=ProductType.DELIVERY)
    with pytest.raises(OrderValidationError) as caught:
        plan_order(intent, INSTRUMENT, option_quote(), SETTINGS)
    text = str(caught.value)
    assert "whole number of lots" in text and "DELIVERY" in text and "slippage fence" in text


def test_plan_band_and_unknown_instrument() -> None:
    quote = option_quote(ltp=100.0, upper_circuit=100.2)
    with pytest.raises(OrderValidationError, match="upper circuit"):
        plan_order(option_intent(limit_price=100.5), INSTRUMENT, quote, SETTINGS)
    with pytest.raises(OrderValidationError, match="unknown instrument"):
        plan_order(option_intent(), None, quote, SETTINGS)
    # a depth-priced buy is clamped to the band instead
    plan = plan_order(option_intent(limit_price=None), INSTRUMENT, quote, SETTINGS)
    assert plan.price == 100.2


def test_slm_emulated_as_stop_limit_and_market_is_never_sent() -> None:
    stop = option_intent(
        side=Side.SELL, order_type=OrderType.STOPLOSS_MARKET, trigger_price=90.03, limit_price=None
    )
    plan = plan_order(stop, INSTRUMENT, option_quote(), SETTINGS)
    assert plan.order_type is OrderType.STOPLOSS_LIMIT
    assert plan.trigger_price == 90.05 and plan.price == round_to_tick(90.05 * 0.98, 0.05, "down")
    market = option_intent(order_type=OrderType.MARKET, limit_price=None)
    assert plan_order(market, INSTRUMENT, option_quote(), SETTINGS).order_type is OrderType.LIMIT
    # SEBI retail-algo rules: the settings refuse to let a MARKET order through at all
    for refused in ({"allow_market_orders": True}, {"allowed_order_types": ["LIMIT", "MARKET"]}):
        with pytest.raises(ValidationError, match="SEBI"):
            ExecutionSettings(**refused)  # type: ignore[arg-type]


def test_depth_limit_walks_book_and_is_capped_by_fence() -> None:
    thin = option_quote(depth_quantity=10)
    plan = plan_order(option_intent(quantity=75 * 4, limit_price=None), INSTRUMENT, thin, SETTINGS)
    assert plan.price == thin.asks[-1].price  # 300 units need every level of a 5 × 10 book
    steep = replace(
        thin, asks=(DepthLevel(100.0, 75, 1), DepthLevel(105.0, 75, 1), DepthLevel(110.0, 500, 1))
    )
    capped = plan_order(option_intent(quantity=75 * 4, limit_price=None), INSTRUMENT, steep, SETTINGS)
    assert capped.price == 102.0 and any("fence" in note for note in capped.notes)


async def test_throttle_caps_per_second_and_serves_exits_first() -> None:
    clock = SimClock(TEST_START)
    throttle = OrderThrottle(clock, per_second=9, per_minute=500, per_hour=1000)
    order: list[str] = []

    async def take(name: str, priority: ThrottlePriority) -> None:
        await throttle.acquire(priority)
        order.append(f"{name}@{clock.monotonic():.0f}")

    tasks = [asyncio.ensure_future(take(f"e{i}", ThrottlePriority.ENTRY)) for i in range(12)]
    await clock.settle()
    tasks.append(asyncio.ensure_future(take("exit", ThrottlePriority.EXIT)))
    tasks.append(asyncio.ensure_future(take("cancel", ThrottlePriority.CANCEL)))
    await clock.run_until(clock.now_utc().replace(second=5))
    await asyncio.gather(*tasks)
    first_second = [name for name in order if name.endswith("@0")]
    assert len(first_second) == 9
    later = [name.split("@")[0] for name in order if not name.endswith("@0")]
    assert later[:2] == ["cancel", "exit"]


def _earliest_grant(history: list[float], arrival: float, windows: list[tuple[float, int]]) -> float:
    """The reference rule, from the whole history: the first moment from `arrival` at which no window
    of width w holds `limit` grants (a grant leaves a window exactly w seconds after it)."""
    moment = arrival
    while True:
        later = moment
        for width, limit in windows:
            recent = [grant for grant in history if moment - grant < width]
            if len(recent) >= limit:
                later = max(later, recent[len(recent) - limit] + width)
        if later == moment:
            return moment
        moment = later


@settings(deadline=None, max_examples=60, derandomize=True)
@given(st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0, 7.5, 30.0, 600.0]), min_size=1, max_size=40))
def test_throttle_grants_each_order_at_the_earliest_moment_every_window_allows(gaps: list[float]) -> None:
    windows = [(1.0, 2), (60.0, 5), (3600.0, 8)]

    async def run() -> list[tuple[float, float]]:
        clock = SimClock(TEST_START)
        throttle = OrderThrottle(clock, per_second=2, per_minute=5, per_hour=8)
        grants: list[tuple[float, float]] = []
        for gap in gaps:
            clock.advance(gap)
            arrival = clock.monotonic()
            task = asyncio.ensure_future(throttle.acquire(ThrottlePriority.ENTRY))
            await clock.settle()
            while not task.done():
                deadline = clock.next_deadline()
                assert deadline is not None, "a waiting acquire has no timer to wake it"
                clock.advance_to(deadline)
                await clock.settle()
            grants.append((arrival, clock.monotonic()))
        return grants

    history: list[float] = []
    for arrival, granted in asyncio.run(run()):
        assert granted == pytest.approx(_earliest_grant(history, arrival, windows), abs=1e-6)
        history.append(granted)


async def test_throttle_per_minute_cap() -> None:
    clock = SimClock(TEST_START)
    throttle = OrderThrottle(clock, per_second=100, per_minute=20, per_hour=1000)
    for _ in range(20):
        await throttle.acquire(ThrottlePriority.ENTRY)
    waiting = asyncio.ensure_future(throttle.acquire(ThrottlePriority.ENTRY))
    await clock.settle()
    assert not waiting.done()
    await clock.run_until(clock.now_utc().replace(minute=1, second=1))
    assert waiting.done()
    assert clock.monotonic() >= 60
