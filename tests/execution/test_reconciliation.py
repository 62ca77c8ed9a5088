from __future__ import annotations

import random

import pytest

from optbot.broker.models import BrokerTrade
from optbot.charges import RateCard
from optbot.config.settings import Settings
from optbot.core.enums import IntentPurpose, OrderStatus, ProductType, Side
from optbot.core.events import Alert
from optbot.core.timeutil import ist_date
from optbot.execution.reconciliation import Reconciler
from optbot.execution.statement import contract_note
from optbot.test_kit.execution import Fault, build_harness, drive, option_intent


def _reconciler(harness, funds_model: str = "realised_m2m") -> Reconciler:
    settings = Settings(execution={"reconcile_funds_model": funds_model})
    return Reconciler(
        harness.broker, harness.store, harness.clock, settings, order_manager=harness.manager, bus=harness.bus
    )


async def test_simulated_day_reconciles_to_the_paisa_with_charges() -> None:
    harness = build_harness(fill_policy="none")
    reconciler = _reconciler(harness)
    assert (await reconciler.run("startup")).clean
    rng = random.Random(7)
    for index in range(30):
        side = Side.BUY if index % 2 == 0 else Side.SELL
        purpose = IntentPurpose.ENTRY if side is Side.BUY else IntentPurpose.EXIT
        price = round(100 + rng.uniform(-3, 3), 1)
        intent = option_intent(
            f"day-{index}", side=side, quantity=75 * rng.randint(1, 4), limit_price=price, purpose=purpose
        )
        # sizes differ, so exits may over/under-shoot: the books must still agree
        await drive(harness.clock, harness.manager.submit(intent, quote=None))
        for order in list(harness.broker.orders.values()):
            if order.status == "open":
                remaining = order.request.quantity - order.filled_quantity
                first = max(1, remaining // 75 // 2) * 75 if remaining > 75 else remaining
                harness.broker.fill(order.order_id, first)
        await harness.deliver()
        harness.clock.advance(5)
        await harness.manager.poll_once()
        if index % 10 == 9:
            assert (await reconciler.run("periodic")).clean
    harness.broker.expire_open_orders()
    await harness.deliver()
    await harness.manager.poll_once()
    report = await reconciler.run("eod")
    assert report.clean, report.discrepancies
    assert reconciler.trading_allowed()
    # to the paisa: the broker's funds == start + cash flow - contract-note charges
    card = RateCard.load()
    note = contract_note(harness.store.fills(), card, "paisa", ist_date(harness.clock.now_utc()))
    funds = await harness.broker.funds()
    assert funds.net == pytest.approx(harness.broker.initial_cash + note.net_amount, abs=0.005)
    local_charges = sum(fill.charges for fill in harness.store.fills())
    assert local_charges == pytest.approx(harness.broker.charges_total(), abs=0.005)


async def test_startup_mismatch_blocks_until_ack() -> None:
    harness = build_harness()
    alerts: list[Alert] = []
    harness.bus.subscribe("a", (Alert,), alerts.append)
    # a manual trade at the broker that optbot did not place
    harness.broker.trades.append(
        BrokerTrade(
            "77", "999", harness.instrument.exchange, "58784", "X", Side.SELL, ProductType.INTRADAY, 75, 90.0
        )
    )
    reconciler = _reconciler(harness)
    report = await reconciler.run("startup")
    assert not report.clean
    kinds = {item.kind for item in report.discrepancies}
    assert {"fill", "position"} <= kinds
    assert not reconciler.trading_allowed()
    assert any("Reconciliation mismatch" in alert.title for alert in alerts)
    assert reconciler.acknowledge("alice") == 1
    assert reconciler.trading_allowed()


async def test_position_mismatch_from_lost_local_fill_is_reported() -> None:
    harness = build_harness()
    reconciler = _reconciler(harness)
    await harness.manager.submit(option_intent())
    # no poll: the fill is at the broker but not applied locally; periodic run syncs it first
    report = await reconciler.run("periodic")
    assert report.clean, report.discrepancies
    assert harness.store.positions()[0].net_quantity == 75


async def test_funds_variance_alerts_cash_flow_model() -> None:
    harness = build_harness()
    reconciler = _reconciler(harness, "cash_flow_net_of_charges")
    await reconciler.run("startup")
    harness.broker.initial_cash -= 50.0  # money left the account without a trade
    report = await reconciler.run("periodic")
    assert [item.kind for item in report.discrepancies] == ["funds"]


async def test_realised_m2m_model_matches_round_trip_then_flags_variance() -> None:
    harness = build_harness()
    reconciler = _reconciler(harness)
    await harness.manager.submit(option_intent("buy"))
    await harness.manager.submit(option_intent("sell", side=Side.SELL, limit_price=101.0))
    report = await reconciler.run("periodic")
    assert report.clean, report.discrepancies
    assert harness.broker.realised_m2m() == pytest.approx(75 * 0.5)
    harness.broker.realised_m2m = lambda: 500.0  # type: ignore[method-assign]
    report = await reconciler.run("periodic")
    assert [item.key for item in report.discrepancies] == ["realised_m2m"]


async def test_periodic_loop_runs_on_the_clock_and_survives_broker_errors() -> None:
    import asyncio
    from datetime import timedelta

    from optbot.broker.errors import TransientError

    harness = build_harness()
    reconciler = _reconciler(harness)
    stop = asyncio.Event()
    harness.broker.fail_next_read(TransientError("down"))
    task = asyncio.ensure_future(reconciler.run_periodic(stop))
    await harness.clock.run_until(harness.clock.now_utc() + timedelta(seconds=301))  # first run: broker down
    await harness.clock.run_until(harness.clock.now_utc() + timedelta(seconds=300))  # second run: clean
    stop.set()
    await harness.clock.run_until(harness.clock.now_utc() + timedelta(seconds=300))
    await task
    latest = harness.store.latest_reconciliation()
    assert latest is not None and latest.kind == "periodic" and latest.clean


async def test_an_order_settled_rejected_that_the_broker_has_after_all_is_adopted_not_a_mismatch() -> None:
    """Issue 18: the reply was lost, the book missed the order past the grace (REJECTED), then the
    broker shows it working: reconciliation adopts it instead of raising a mismatch every run."""
    harness = build_harness(
        fill_policy="none",
        settings=Settings(
            execution={"unresolved_not_found_grace_seconds": 5.0, "unresolved_not_found_checks": 2}
        ),
    )
    reconciler = _reconciler(harness)
    harness.broker.inject(Fault.PLACED_LATE)
    result = await drive(harness.clock, harness.manager.submit(option_intent("late", limit_price=100.0)))
    [tag] = result.ordertags
    for _ in range(2):
        harness.clock.advance(6)
        await harness.manager.poll_once()
    assert harness.store.get_order(tag).status is OrderStatus.REJECTED  # type: ignore[union-attr]
    assert harness.broker.release_late() == 1
    report = await reconciler.run("periodic")
    assert report.clean, report.discrepancies
    order = harness.store.get_order(tag)
    assert order is not None and order.status is OrderStatus.OPEN and order.broker_order_id
