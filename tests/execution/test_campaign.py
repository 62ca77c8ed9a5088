"""Many orders through the full path under injected faults: nothing lost, nothing duplicated."""

from __future__ import annotations

import os
import random
from typing import Any

import pytest

from optbot.config.settings import Settings
from optbot.core.enums import IntentPurpose, Side
from optbot.execution.reconciliation import Reconciler
from optbot.test_kit.execution import Fault, build_harness, drive, option_intent

FAULT_MIX = [
    None,
    None,
    None,
    Fault.REPLY_LOST,
    Fault.SERVER_ERROR_PLACED,
    Fault.SERVER_ERROR_NOT_PLACED,
    Fault.TIMEOUT_AFTER_SEND,
    Fault.TRANSIENT_BEFORE_SEND,
    Fault.RATE_LIMITED,
    Fault.REJECT,
]


async def _campaign(orders: int, seed: int, tmp_path) -> None:
    rng = random.Random(seed)
    harness = build_harness(tmp_path / "optbot.sqlite", fill_policy="none")
    reconciler = Reconciler(
        harness.broker, harness.store, harness.clock, Settings(), order_manager=harness.manager
    )
    assert (await reconciler.run("startup")).clean
    faults = 0
    for index in range(orders):
        fault = rng.choice(FAULT_MIX)
        if fault is not None:
            harness.broker.inject(fault)
            faults += 1
        side = rng.choice([Side.BUY, Side.SELL])
        intent = option_intent(
            f"c{index}",
            side=side,
            quantity=75 * rng.randint(1, 3),
            limit_price=100.5 if side is Side.BUY else 99.5,
            purpose=IntentPurpose.ENTRY if side is Side.BUY else IntentPurpose.EXIT,
            strategy=f"s{index}",
            when=harness.clock.now_utc(),
        )
        await drive(harness.clock, harness.manager.submit(intent))
        harness.broker.place_faults.clear()
        if rng.random() < 0.05:  # a strategy double-fires the same intent
            await drive(harness.clock, harness.manager.submit(intent))
        for order in list(harness.broker.orders.values()):
            if order.status == "open" and rng.random() < 0.6:
                remaining = order.request.quantity - order.filled_quantity
                lots = remaining // 75
                harness.broker.fill(order.order_id, 75 * rng.randint(1, lots) if lots > 1 else remaining)
        updates = harness.broker.drain_updates()
        rng.shuffle(updates)
        for update in updates:
            if rng.random() < 0.7:  # the order socket drops ~30 % of messages
                await harness.manager.on_order_update(update)
        harness.clock.advance(rng.choice([0.2, 1.0, 3.0]))
        if index % 5 == 0:
            await harness.manager.poll_once()
            await harness.manager.check_auto_cancel()
        if index % 97 == 96:  # a restart in the middle of the day
            faults += 1
            harness.store.close()
            harness = harness.restart(tmp_path / "optbot.sqlite")
            reconciler = Reconciler(
                harness.broker, harness.store, harness.clock, Settings(), order_manager=harness.manager
            )
            await harness.manager.recover()
    harness.broker.expire_open_orders()
    harness.clock.advance(60)
    await harness.manager.poll_once()
    await harness.manager.poll_once()

    store, broker = harness.store, harness.broker
    local_tags = {order.ordertag for order in store.all_orders()}
    broker_tags = [order.request.ordertag for order in broker.orders.values()]
    assert len(broker_tags) == len(set(broker_tags)), "duplicate order at the broker"
    assert set(broker_tags) <= local_tags, "an order at the broker is unknown locally (lost)"
    assert all(order.status.is_terminal for order in store.all_orders())
    assert {(f.broker_order_id, f.fill_id) for f in store.fills()} == {
        (t.order_id, t.fill_id) for t in broker.trades
    }
    report = await reconciler.run("eod")
    _record_figures(orders, seed, faults, broker_tags, local_tags, store, broker, report.discrepancies)
    assert report.clean, report.discrepancies
    assert store.verify_chain().ok
    store.close()


def _record_figures(
    count: int,
    seed: int,
    faults: int,
    broker_tags: list[str],
    local_tags: set[str],
    store: Any,
    broker: Any,
    breaks: Any,
) -> None:
    """For `make soak`'s table: one row per seed of the order campaign."""
    from tests.soak.figures import CampaignRow, record, record_campaign

    local = {(f.broker_order_id, f.fill_id) for f in store.fills()}
    remote = {(t.order_id, t.fill_id) for t in broker.trades}
    campaign = f"order campaign seed {seed}"
    record(
        campaign,
        "orders / duplicates / lost",
        f"{count} / {len(broker_tags) - len(set(broker_tags))} / {len(set(broker_tags) - local_tags)}",
        "n / 0 / 0",
    )
    record(campaign, "fills lost / phantom", f"{len(remote - local)} / {len(local - remote)}", "0 / 0")
    record(campaign, "EOD reconciliation breaks", len(breaks), "0")
    duplicates = len(broker_tags) - len(set(broker_tags))
    lost = len(remote - local) + len(local - remote) + len(set(broker_tags) - local_tags)
    record_campaign(
        CampaignRow(
            f"{campaign} (in process, {count} orders)",
            runs=1,
            faults=faults,
            duplicates=duplicates,
            lost_fills=lost,
            breaks=len(breaks),
            met=not (duplicates or lost or breaks),
        )
    )


async def test_campaign_1000_orders_under_faults(tmp_path) -> None:
    await _campaign(1000, seed=11, tmp_path=tmp_path)


#: `make soak`: seeds of the 5,000-order campaign (about 3 minutes each); OPTBOT_SOAK_ORDER_SEEDS sizes it.
ORDER_SEEDS = int(os.environ.get("OPTBOT_SOAK_ORDER_SEEDS", "3"))


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(1, ORDER_SEEDS + 1))
async def test_campaign_5000_orders_under_faults_many_seeds(tmp_path, seed: int) -> None:
    await _campaign(5000, seed=seed, tmp_path=tmp_path)
