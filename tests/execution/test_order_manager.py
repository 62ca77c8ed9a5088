from __future__ import annotations

from datetime import timedelta

import pytest

from optbot.core.enums import IntentPurpose, OrderStatus, OrderType, Side
from optbot.core.events import Alert, Fill, PositionChanged
from optbot.core.ids import ordertag_for
from optbot.test_kit.execution import Fault, build_harness, option_instrument, option_intent, option_quote


async def test_happy_path_ack_is_not_a_fill() -> None:
    harness = build_harness(fill_policy="none")
    result = await harness.manager.submit(option_intent())
    assert result.accepted and not result.duplicate
    [tag] = result.ordertags
    assert tag == ordertag_for("intent-1", 0)
    order = harness.store.get_order(tag)
    assert order is not None and order.status is OrderStatus.SUBMITTED
    assert order.broker_order_id and order.filled_quantity == 0
    await harness.deliver()  # 'open' from the socket
    assert harness.store.get_order(tag).status is OrderStatus.OPEN  # type: ignore[union-attr]
    assert harness.store.positions() == []
    harness.broker.fill(order.broker_order_id, 25 * 3)
    await harness.deliver()  # 'complete' from the socket: still no position until the trade book
    assert harness.store.get_order(tag).status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert harness.store.positions() == []
    await harness.manager.poll_once()
    [position] = harness.store.positions()
    assert position.net_quantity == 75 and position.average_price == pytest.approx(100.5)
    assert harness.store.get_order(tag).filled_quantity == 75  # type: ignore[union-attr]
    assert harness.store.verify_chain().ok


async def test_repeated_intent_id_is_not_sent_twice() -> None:
    harness = build_harness()
    first = await harness.manager.submit(option_intent())
    again = await harness.manager.submit(option_intent())
    assert again.duplicate and again.ordertags == first.ordertags
    assert len(harness.broker.placed_requests) == 1


async def test_double_signal_with_new_id_is_recognised_by_content_hash() -> None:
    harness = build_harness()
    await harness.manager.submit(option_intent("a"))
    twin = await harness.manager.submit(option_intent("b"))
    assert twin.duplicate and not twin.accepted
    assert len(harness.broker.placed_requests) == 1
    # outside the window the same content is a new, legitimate order
    harness.clock.advance(61)
    later = await harness.manager.submit(option_intent("c"))
    assert later.accepted
    assert len(harness.broker.placed_requests) == 2


@pytest.mark.parametrize("fault", [Fault.REPLY_LOST, Fault.SERVER_ERROR_PLACED, Fault.TIMEOUT_AFTER_SEND])
async def test_lost_reply_is_unresolved_and_settled_by_ordertag_never_resent(fault: Fault) -> None:
    harness = build_harness()
    harness.broker.inject(fault)
    result = await harness.manager.submit(option_intent())
    [tag] = result.ordertags
    assert harness.store.get_order(tag).status is OrderStatus.UNRESOLVED  # type: ignore[union-attr]
    await harness.manager.poll_once()
    order = harness.store.get_order(tag)
    assert order is not None and order.status is OrderStatus.FILLED
    assert order.broker_order_id and order.filled_quantity == 75
    assert harness.broker.orders_with_tag(tag) == 1
    assert len(harness.broker.placed_requests) == 1


async def test_unresolved_not_placed_settles_rejected_after_grace_without_resend() -> None:
    harness = build_harness()
    harness.broker.inject(Fault.SERVER_ERROR_NOT_PLACED)
    [tag] = (await harness.manager.submit(option_intent())).ordertags
    await harness.manager.poll_once()
    assert harness.store.get_order(tag).status is OrderStatus.UNRESOLVED  # type: ignore[union-attr]
    harness.clock.advance(31)
    await harness.manager.poll_once()
    assert harness.store.get_order(tag).status is OrderStatus.REJECTED  # type: ignore[union-attr]
    assert harness.broker.placed_requests == []


async def test_transient_errors_retry_with_backoff_then_send() -> None:
    harness = build_harness()
    harness.broker.inject(Fault.TRANSIENT_BEFORE_SEND, Fault.RATE_LIMITED)
    start = harness.clock.monotonic()
    task = harness.manager.submit(option_intent())
    import asyncio

    running = asyncio.ensure_future(task)
    await harness.clock.run_until(harness.clock.now_utc() + timedelta(seconds=10))
    result = await running
    assert harness.store.get_order(result.ordertags[0]).status is OrderStatus.SUBMITTED  # type: ignore[union-attr]
    await harness.manager.poll_once()
    assert harness.store.get_order(result.ordertags[0]).status is OrderStatus.FILLED  # type: ignore[union-attr]
    events = [e.detail for e in harness.store.order_events(result.ordertags[0]) if e.source == "retry"]
    assert len(events) == 2 and "in 1 s" in events[0] and "in 2 s" in events[1]
    assert harness.clock.monotonic() - start >= 3
    assert len(harness.broker.placed_requests) == 1


async def test_retries_are_capped() -> None:
    harness = build_harness()
    harness.broker.inject(*[Fault.TRANSIENT_BEFORE_SEND] * 4)
    import asyncio

    running = asyncio.ensure_future(harness.manager.submit(option_intent()))
    await harness.clock.run_until(harness.clock.now_utc() + timedelta(seconds=30))
    result = await running
    order = harness.store.get_order(result.ordertags[0])
    assert order is not None and order.status is OrderStatus.REJECTED and "3 retries" in order.message
    assert harness.broker.placed_requests == []


async def test_broker_reject_alerts() -> None:
    harness = build_harness()
    alerts: list[Alert] = []
    harness.bus.subscribe("t", (Alert,), alerts.append)
    harness.broker.inject(Fault.REJECT)
    result = await harness.manager.submit(option_intent())
    assert harness.store.get_order(result.ordertags[0]).status is OrderStatus.REJECTED  # type: ignore[union-attr]
    assert alerts and "rejected" in alerts[0].title.lower()


async def test_freeze_split_children_have_distinct_tags() -> None:
    instrument = option_instrument(freeze_quantity=1800)
    harness = build_harness(instrument=instrument)
    result = await harness.manager.submit(option_intent(quantity=75 * 50, instrument=instrument))
    quantities = [harness.store.get_order(tag).quantity for tag in result.ordertags]  # type: ignore[union-attr]
    assert quantities == [1800, 1800, 150]
    assert len(set(result.ordertags)) == 3
    await harness.manager.poll_once()
    [position] = harness.store.positions()
    assert position.net_quantity == 3750


async def test_invalid_intent_is_rejected_before_sending() -> None:
    harness = build_harness()
    result = await harness.manager.submit(option_intent(quantity=70))
    assert not result.accepted and "whole number of lots" in result.reasons[0]
    assert harness.broker.placed_requests == []
    assert harness.store.find_intent("intent-1").status == "REJECTED"  # type: ignore[union-attr]


async def test_partial_fills_are_counted_once_from_trade_book() -> None:
    harness = build_harness(fill_policy="partial")
    fills: list[Fill] = []
    changes: list[PositionChanged] = []
    harness.bus.subscribe("fills", (Fill,), fills.append)
    harness.bus.subscribe("pos", (PositionChanged,), changes.append)
    result = await harness.manager.submit(option_intent(quantity=150))
    tag = result.ordertags[0]
    await harness.deliver()
    await harness.manager.poll_once()
    await harness.manager.poll_once()
    order = harness.store.get_order(tag)
    assert order is not None and order.status is OrderStatus.PARTIALLY_FILLED and order.filled_quantity == 75
    harness.broker.fill(order.broker_order_id)
    await harness.deliver()
    await harness.manager.poll_once()
    await harness.manager.sync_fills()
    assert harness.store.get_order(tag).status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert [f.quantity for f in fills] == [75, 75]
    assert changes[-1].net_quantity == 150


async def test_illegal_transition_is_refused_and_recorded() -> None:
    harness = build_harness()
    result = await harness.manager.submit(option_intent())
    await harness.manager.poll_once()
    tag = result.ordertags[0]
    order = harness.store.get_order(tag)
    assert order is not None and order.status is OrderStatus.FILLED
    from optbot.core.events import OrderUpdate

    await harness.manager.on_order_update(
        OrderUpdate(harness.clock.now_utc(), order.broker_order_id, OrderStatus.OPEN, "open", ordertag=tag)
    )
    assert harness.store.get_order(tag).status is OrderStatus.FILLED  # type: ignore[union-attr]
    from optbot.core.events import OrderUpdate as Update

    await harness.manager.on_order_update(
        Update(
            harness.clock.now_utc(), order.broker_order_id, OrderStatus.CANCELLED, "cancelled", ordertag=tag
        )
    )
    assert harness.store.get_order(tag).status is OrderStatus.FILLED  # type: ignore[union-attr]
    refused = [e.detail for e in harness.store.order_events(tag) if not e.accepted]
    assert refused[0].startswith("stale report ignored") and refused[1].startswith(
        "illegal transition refused"
    )


async def test_fill_for_unknown_order_is_recorded_not_applied() -> None:
    harness = build_harness()
    alerts: list[Alert] = []
    harness.bus.subscribe("t", (Alert,), alerts.append)
    from optbot.broker.models import BrokerTrade
    from optbot.core.enums import ProductType

    trade = BrokerTrade(
        "9", "999", harness.instrument.exchange, "58784", "X", Side.BUY, ProductType.INTRADAY, 75, 1.0
    )
    assert not await harness.manager.apply_trade(trade)
    bad = BrokerTrade(
        "", "999", harness.instrument.exchange, "58784", "X", Side.BUY, ProductType.INTRADAY, -5, 1.0
    )
    assert not await harness.manager.apply_trade(bad)
    assert harness.store.positions() == []
    kinds = [a["kind"] for a in harness.store.anomalies()]
    assert kinds == ["fill_for_unknown_order", "malformed_trade"]
    assert len(alerts) == 2


async def test_auto_cancel_after_pending_timeout() -> None:
    harness = build_harness(fill_policy="none")
    result = await harness.manager.submit(option_intent())
    tag = result.ordertags[0]
    assert (await harness.manager.check_auto_cancel()).tags == []
    harness.clock.advance(46)
    assert (await harness.manager.check_auto_cancel()).tags == [tag]
    await harness.deliver()
    assert harness.store.get_order(tag).status is OrderStatus.CANCELLED  # type: ignore[union-attr]


async def test_auto_cancel_on_underlying_move_and_vix_jump() -> None:
    harness = build_harness(fill_policy="none")
    moved = await harness.manager.submit(option_intent("m", underlying_reference_price=24000.0))
    harness.manager.observe_vix(14.0)
    jumped = await harness.manager.submit(option_intent("v", side=Side.SELL, limit_price=99.5))
    harness.manager.observe_underlying("NIFTY", 24000 * 1.005)
    assert (await harness.manager.check_auto_cancel()).tags == []
    harness.manager.observe_underlying("NIFTY", 24000 * 1.011)
    harness.manager.observe_vix(19.5)
    acted = (await harness.manager.check_auto_cancel()).tags
    assert set(acted) == {moved.ordertags[0], jumped.ordertags[0]}


async def test_auto_cancel_before_session_close() -> None:
    from datetime import datetime

    from optbot.core.timeutil import IST

    def session_close(day):  # 15:30 IST
        return datetime(day.year, day.month, day.day, 15, 30, tzinfo=IST)

    harness = build_harness(fill_policy="none", session_close=session_close)
    harness.clock.advance_to(datetime(2026, 3, 2, 15, 20, tzinfo=IST))
    result = await harness.manager.submit(option_intent())
    assert (await harness.manager.check_auto_cancel()).tags == []
    harness.clock.advance_to(datetime(2026, 3, 2, 15, 25, tzinfo=IST))
    assert (await harness.manager.check_auto_cancel()).tags == list(result.ordertags)


async def test_exit_limit_from_depth_and_market_converted() -> None:
    harness = build_harness()
    result = await harness.manager.submit(
        option_intent(
            side=Side.SELL, limit_price=None, order_type=OrderType.MARKET, purpose=IntentPurpose.EXIT
        )
    )
    request = harness.broker.placed_requests[0]
    assert request.order_type is OrderType.LIMIT
    assert request.price == pytest.approx(99.75)  # best bid of the fake quote
    assert result.accepted


async def test_risk_decision_recorded_refusal_and_reduced_quantity() -> None:
    from optbot.core.enums import RiskState, SignalDirection
    from optbot.core.events import RiskDecision, Signal

    harness = build_harness()
    now = harness.clock.now_utc()
    harness.manager.record_signal(Signal(now, "test", "NIFTY", SignalDirection.BULLISH, "adx", trace_id="t1"))
    refused = RiskDecision(now, "r1", False, ("daily loss limit",), 0, RiskState.HALTED, trace_id="t1")
    result = await harness.manager.submit(option_intent("r1"), decision=refused)
    assert not result.accepted and "daily loss limit" in result.reasons[0]
    assert harness.broker.placed_requests == []
    reduced = RiskDecision(now, "r2", True, ("size halved",), 75, RiskState.REDUCING, trace_id="t1")
    result = await harness.manager.submit(
        option_intent("r2", quantity=150, strategy="other"), decision=reduced
    )
    assert result.accepted and harness.broker.placed_requests[0].quantity == 75
    kinds = [row["kind"] for row in harness.store.audit_rows()]
    assert kinds[0] == "signal" and "risk_decision" in kinds and "fill" not in kinds
    assert len(harness.store.risk_decisions("r2")) == 1


async def test_bad_broker_rows_are_recorded_not_applied() -> None:
    from optbot.broker.models import BrokerOrder
    from optbot.core.enums import ProductType, Variety
    from optbot.core.events import OrderUpdate

    harness = build_harness(fill_policy="none")
    result = await harness.manager.submit(option_intent())
    order = harness.store.get_order(result.ordertags[0])
    assert order is not None
    row = BrokerOrder(
        order.broker_order_id,
        order.unique_order_id,
        order.exchange,
        order.token,
        order.symbol,
        Side.BUY,
        OrderType.LIMIT,
        ProductType.INTRADAY,
        Variety.NORMAL,
        75,
        0,
        100.5,
        0.0,
        0.0,
        "teleported",
        ordertag=order.ordertag,
    )
    await harness.manager.apply_broker_order(row, "order_book")
    await harness.manager.on_order_update(
        OrderUpdate(
            harness.clock.now_utc(), order.broker_order_id, OrderStatus.OPEN, "open", filled_quantity=-3
        )
    )
    await harness.manager.on_order_update(
        OrderUpdate(harness.clock.now_utc(), "nope", OrderStatus.OPEN, "open")
    )
    assert harness.store.get_order(order.ordertag).status is OrderStatus.SUBMITTED  # type: ignore[union-attr]
    kinds = [a["kind"] for a in harness.store.anomalies()]
    assert kinds == ["unknown_broker_status", "negative_filled_quantity", "update_for_unknown_order"]


async def test_run_loop_verifies_and_auto_cancels_then_reprices_when_configured() -> None:
    import asyncio

    from optbot.config.settings import Settings

    harness = build_harness(fill_policy="none")
    stop = asyncio.Event()
    loop_task = asyncio.ensure_future(harness.manager.run(stop))
    result = await harness.manager.submit(option_intent())
    await harness.clock.run_until(harness.clock.now_utc() + timedelta(seconds=50))
    assert harness.store.get_order(result.ordertags[0]).status is OrderStatus.CANCELLED  # type: ignore[union-attr]
    stop.set()
    await harness.clock.run_until(harness.clock.now_utc() + timedelta(seconds=2))
    await loop_task

    repricing = build_harness(
        fill_policy="none", settings=Settings(execution={"reprice_policy": "reprice", "max_reprices": 1})
    )
    result = await repricing.manager.submit(option_intent(limit_price=100.0))
    tag = result.ordertags[0]
    repricing.clock.advance(46)
    assert (await repricing.manager.check_auto_cancel()).tags == [tag]
    order = repricing.store.get_order(tag)
    assert order is not None and order.status is OrderStatus.SUBMITTED and order.price == 100.25
    repricing.clock.advance(46)
    assert (await repricing.manager.check_auto_cancel()).tags == [tag]
    await repricing.deliver()
    assert repricing.store.get_order(tag).status is OrderStatus.CANCELLED  # type: ignore[union-attr]


async def test_an_exit_found_late_after_it_was_sent_again_is_cancelled_so_the_position_is_closed_once() -> (
    None
):
    """Issue 18: an exit's reply is lost, it is settled REJECTED and sent again; then the broker shows
    the first one after all. Both working would close the position twice (a long turned short): the
    adopted one is cancelled and the position ends flat, not short."""
    from optbot.config.settings import Settings

    harness = build_harness(
        fill_policy="none",
        settings=Settings(
            execution={"unresolved_not_found_grace_seconds": 5.0, "exit_retry_interval_seconds": 1.0}
        ),
    )
    harness.broker.quotes_by_token["58784"] = option_quote()
    entry = await harness.manager.submit(option_intent("entry", limit_price=100.0))
    harness.broker.fill(harness.store.get_order(entry.ordertags[0]).broker_order_id)  # type: ignore[union-attr]
    await harness.manager.sync_fills()
    harness.broker.inject(Fault.PLACED_LATE)
    exit_ = await harness.manager.submit(
        option_intent("exit", side=Side.SELL, limit_price=99.0, purpose=IntentPurpose.EXIT)
    )
    [first] = exit_.ordertags
    for _ in range(2):
        harness.clock.advance(6)
        await harness.manager.poll_once()
    assert harness.store.get_order(first).status is OrderStatus.REJECTED  # type: ignore[union-attr]
    harness.clock.advance(1)  # the retry interval
    resent = await harness.manager.check_auto_cancel()
    [second] = [o.ordertag for o in harness.store.orders_for_intent("exit") if o.ordertag != first]
    assert harness.store.get_order(second).status is OrderStatus.SUBMITTED and not resent.cancelled  # type: ignore[union-attr]

    harness.broker.release_late()  # the first exit reaches the book after all
    for update in harness.broker.drain_updates():
        await harness.manager.on_order_update(update)
    assert harness.store.get_order(first).status is OrderStatus.OPEN  # type: ignore[union-attr]
    actions = await harness.manager.check_auto_cancel()
    assert actions.cancelled == [first]
    harness.broker.fill(harness.store.get_order(second).broker_order_id)  # type: ignore[union-attr]
    await harness.manager.sync_fills()
    assert [position.net_quantity for position in harness.store.positions()] == [0]
