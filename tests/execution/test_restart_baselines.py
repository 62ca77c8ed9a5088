"""The VIX baseline and underlying reference price of an order survive a restart (issue 7, §6.2)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from optbot.core.enums import OrderStatus
from optbot.persistence.db import open_database, schema_version
from optbot.persistence.migrations import MIGRATIONS
from optbot.test_kit.execution import build_harness, option_intent


async def test_vix_jump_cancels_after_restart_relative_to_the_baseline_at_placement(tmp_path: Path) -> None:
    path = tmp_path / "optbot.sqlite"
    first = build_harness(path, fill_policy="none")
    first.manager.observe_vix(14.0)
    placed = await first.manager.submit(option_intent("vix-restart"))
    tag = placed.ordertags[0]
    stored = first.store.get_order(tag)
    assert stored is not None and stored.vix_baseline == 14.0
    first.store.close()

    second = first.restart(path)
    second.manager.observe_vix(18.5)  # +4.5 from the placement baseline: no cancel
    assert (await second.manager.check_auto_cancel()).tags == []
    second.manager.observe_vix(19.5)  # +5.5 from 14.0 (the new process never saw 14.0 itself)
    assert (await second.manager.check_auto_cancel()).tags == [tag]
    await second.deliver()
    assert second.store.get_order(tag).status is OrderStatus.CANCELLED  # type: ignore[union-attr]


async def test_underlying_reference_defaults_to_the_price_observed_at_placement(tmp_path: Path) -> None:
    path = tmp_path / "optbot.sqlite"
    first = build_harness(path, fill_policy="none")
    first.manager.observe_underlying("NIFTY", 24000.0)
    placed = await first.manager.submit(option_intent("ref-restart"))  # intent carries no reference
    tag = placed.ordertags[0]
    assert first.store.get_order(tag).reference_price == 24000.0  # type: ignore[union-attr]
    first.store.close()

    second = first.restart(path)
    second.manager.observe_underlying("NIFTY", 24000.0 * 1.009)
    assert (await second.manager.check_auto_cancel()).tags == []
    second.manager.observe_underlying("NIFTY", 24000.0 * 0.988)
    assert (await second.manager.check_auto_cancel()).tags == [tag]


async def test_order_without_an_observed_vix_has_no_baseline_and_is_not_vix_cancelled(tmp_path: Path) -> None:
    harness = build_harness(tmp_path / "optbot.sqlite", fill_policy="none")
    placed = await harness.manager.submit(option_intent("no-vix"))
    assert harness.store.get_order(placed.ordertags[0]).vix_baseline is None  # type: ignore[union-attr]
    harness.manager.observe_vix(40.0)
    assert (await harness.manager.check_auto_cancel()).tags == []


def test_version_1_database_is_migrated_and_keeps_its_orders(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    raw = sqlite3.connect(path)
    raw.executescript(f"{MIGRATIONS[0]};\nPRAGMA user_version = 1;")
    raw.execute(
        "INSERT INTO intents(intent_id, content_hash, strategy, exchange, token, symbol, side, quantity,"
        " purpose, order_type, product, status, created_utc) VALUES"
        " ('i','h','s','NFO','1','X','BUY',75,'ENTRY','LIMIT','INTRADAY','ACCEPTED',"
        " '2026-03-02T04:00:00+00:00')"
    )
    raw.execute(
        "INSERT INTO orders(ordertag, intent_id, child_index, exchange, token, symbol, side, quantity,"
        " order_type, product, variety, price, trigger_price, purpose, status, created_utc, updated_utc)"
        " VALUES ('t','i',0,'NFO','1','X','BUY',75,'LIMIT','INTRADAY','NORMAL',100,0,'ENTRY','OPEN',"
        " '2026-03-02T04:00:00+00:00','2026-03-02T04:00:00+00:00')"
    )
    raw.commit()
    raw.close()
    connection = open_database(path)
    assert schema_version(connection) == len(MIGRATIONS)
    row = connection.execute("SELECT ordertag, vix_baseline FROM orders").fetchone()
    assert (row["ordertag"], row["vix_baseline"]) == ("t", None)
    connection.close()
