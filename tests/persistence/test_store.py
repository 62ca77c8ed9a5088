from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, IntentPurpose, OrderStatus, OrderType, ProductType, Side, Variety
from optbot.persistence import FillRecord, IntentRecord, OrderEventRecord, OrderRecord, PositionRecord, Store
from optbot.persistence.db import DatabaseError, open_database, schema_version
from optbot.persistence.migrations import MIGRATIONS

START = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


def _store(tmp_path) -> Store:
    return Store.open(tmp_path / "state" / "optbot.sqlite", SimClock(START))


def _intent(intent_id: str = "i1") -> IntentRecord:
    return IntentRecord(
        intent_id=intent_id,
        content_hash="h" + intent_id,
        strategy="s",
        exchange=Exchange.NFO,
        token="1",
        symbol="NIFTY",
        side=Side.BUY,
        quantity=75,
        purpose=IntentPurpose.ENTRY,
        order_type=OrderType.LIMIT,
        product=ProductType.INTRADAY,
        limit_price=100.0,
        trigger_price=None,
        created_utc=START,
    )


def _order(tag: str = "t1", intent_id: str = "i1") -> OrderRecord:
    return OrderRecord(
        ordertag=tag,
        intent_id=intent_id,
        child_index=0,
        exchange=Exchange.NFO,
        token="1",
        symbol="NIFTY",
        side=Side.BUY,
        quantity=75,
        order_type=OrderType.LIMIT,
        product=ProductType.INTRADAY,
        variety=Variety.NORMAL,
        price=100.0,
        trigger_price=0.0,
        purpose=IntentPurpose.ENTRY,
        status=OrderStatus.PENDING_SUBMIT,
        created_utc=START,
        updated_utc=START,
    )


def test_wal_full_sync_and_migrations(tmp_path) -> None:
    store = _store(tmp_path)
    connection = store.connection
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert schema_version(connection) == len(MIGRATIONS)
    store.close()
    # reopening does not re-run migrations
    again = open_database(tmp_path / "state" / "optbot.sqlite")
    assert schema_version(again) == len(MIGRATIONS)


def test_newer_schema_is_refused(tmp_path) -> None:
    path = tmp_path / "x.sqlite"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    raw.close()
    with pytest.raises(DatabaseError, match="newer"):
        open_database(path)


def test_intent_orders_and_events_round_trip(tmp_path) -> None:
    store = _store(tmp_path)
    assert not store.has_orders_in_flight()
    store.insert_intent(_intent(), [_order()])
    assert store.has_orders_in_flight()
    assert store.find_intent("i1") is not None
    assert store.find_intent_by_hash("hi1", START) is not None
    [order] = store.orders_in_flight()
    assert order.status is OrderStatus.PENDING_SUBMIT
    from dataclasses import replace

    submitted = replace(order, status=OrderStatus.SUBMITTED, broker_order_id="B1")
    store.save_order(
        submitted,
        OrderEventRecord("t1", START, "place", OrderStatus.PENDING_SUBMIT, OrderStatus.SUBMITTED, True),
    )
    assert store.order_by_broker_id("B1") == submitted
    assert [e.new_status for e in store.order_events("t1")] == [OrderStatus.SUBMITTED]
    assert store.verify_chain().ok
    assert store.has_orders_in_flight()
    store.save_order(
        replace(submitted, status=OrderStatus.CANCELLED),
        OrderEventRecord("t1", START, "cancel", OrderStatus.SUBMITTED, OrderStatus.CANCELLED, True),
    )
    assert not store.has_orders_in_flight() and store.orders_in_flight() == []


def test_intent_insert_is_atomic(tmp_path) -> None:
    store = _store(tmp_path)
    with pytest.raises(sqlite3.IntegrityError):
        # two orders with the same tag: the whole intent must roll back
        store.insert_intent(_intent(), [_order(), _order()])
    assert store.find_intent("i1") is None
    assert store.all_orders() == []


def test_fill_is_deduplicated(tmp_path) -> None:
    store = _store(tmp_path)
    store.insert_intent(_intent(), [_order()])
    fill = FillRecord(
        "F1", "B1", "t1", "i1", Exchange.NFO, "1", "NIFTY", Side.BUY, 75, 100.0, date(2026, 3, 2), START
    )
    position = PositionRecord(Exchange.NFO, "1", "NIFTY", 75, 100.0, 0.0, 0.0, 75, 0, 7500.0, 0.0, START)
    assert store.apply_fill(fill, None, position)
    assert not store.apply_fill(fill, None, position)
    assert len(store.fills()) == 1
    assert store.position(Exchange.NFO, "1") == position


def test_audit_chain_detects_tampering(tmp_path) -> None:
    store = _store(tmp_path)
    for index in range(5):
        store.audit("note", f"s{index}", {"n": index})
    assert store.verify_chain().ok
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.connection.execute("UPDATE audit SET payload = '{}' WHERE seq = 3")
    # a tamperer who drops the triggers is still caught by the hash chain
    store.connection.execute("DROP TRIGGER audit_no_update")
    store.connection.execute("UPDATE audit SET payload = '{\"n\":99}' WHERE seq = 3")
    result = store.verify_chain()
    assert not result.ok and result.first_bad_seq == 3


def test_reconciliation_ack(tmp_path) -> None:
    store = _store(tmp_path)
    store.record_reconciliation("startup", False, ["position NFO:1 local 75 broker 0"])
    assert len(store.unacknowledged_mismatches()) == 1
    assert store.acknowledge_mismatches("alice") == 1
    assert store.unacknowledged_mismatches() == []


def test_positions_version_and_fills_signature_see_writes_from_any_connection(tmp_path) -> None:
    """The portfolio's caches key on these instead of reading the store's SQLite itself."""
    store = _store(tmp_path)
    version, signature = store.positions_version(), store.fills_signature()
    assert signature == (0, None)
    other = Store.open(tmp_path / "state" / "optbot.sqlite", SimClock(START))
    other.audit("test", "subject", {})
    assert store.positions_version() != version
    assert store.fills_signature() == signature
    other.insert_intent(_intent(), [_order()])
    fill = FillRecord(
        "F1", "B1", "t1", "i1", Exchange.NFO, "1", "NIFTY", Side.BUY, 75, 100.0, date(2026, 3, 2), START
    )
    position = PositionRecord(Exchange.NFO, "1", "NIFTY", 75, 100.0, 0.0, 0.0, 75, 0, 7500.0, 0.0, START)
    other.apply_fill(fill, None, position)
    assert store.fills_signature()[0] == 1


def test_orders_and_fills_of_a_broker_book_are_found_by_tag_or_broker_id(tmp_path) -> None:
    """The end-of-day reconciliation reads the orders and fills the broker's book names, not all."""
    from dataclasses import replace

    store = _store(tmp_path)
    for number in range(1, 4):
        store.insert_intent(_intent(f"i{number}"), [_order(f"t{number}", f"i{number}")])
    [second] = store.orders_for_intent("i2")
    submitted = replace(second, status=OrderStatus.SUBMITTED, broker_order_id="B2")
    store.save_order(
        submitted,
        OrderEventRecord("t2", START, "place", OrderStatus.PENDING_SUBMIT, OrderStatus.SUBMITTED, True),
    )
    tags = [order.ordertag for order in store.orders_matching(["t3", "t1", ""], ["B2", "nope"])]
    assert tags == [order.ordertag for order in store.all_orders()]  # t1, t2 (by B2), t3; creation order
    assert store.orders_matching([], []) == []
    assert [o.ordertag for o in store.orders_matching(["t1"], [])] == ["t1"]
    position = PositionRecord(Exchange.NFO, "1", "NIFTY", 75, 100.0, 0.0, 0.0, 75, 0, 7500.0, 0.0, START)
    fills = [
        FillRecord(
            f"F{n}",
            broker,
            "t1",
            "i1",
            Exchange.NFO,
            "1",
            "NIFTY",
            Side.BUY,
            75,
            100.0,
            date(2026, 3, n),
            START,
        )
        for n, broker in ((1, "B1"), (2, "B1"), (3, "B2"))
    ]
    for fill in fills:
        store.apply_fill(fill, None, position)
    assert [f.fill_id for f in store.fills_of_broker_orders(["B1"])] == ["F1", "F2"]
    assert [f.fill_id for f in store.fills_of_broker_orders(["B2", "B1", "B9"])] == ["F1", "F2", "F3"]
    assert store.fills_of_broker_orders([]) == []


def test_remembered_order_reads_follow_writes_rollbacks_and_other_connections(tmp_path) -> None:
    """In-flight and awaiting-fill answers are remembered between order writes, never past one."""
    from dataclasses import replace

    store = _store(tmp_path)
    other = Store.open(tmp_path / "state" / "optbot.sqlite", SimClock(START))
    assert not store.has_orders_in_flight() and store.orders_awaiting_fills() == []
    other.insert_intent(_intent(), [_order()])  # another connection (e.g. a CLI) commits an order
    assert store.has_orders_in_flight()
    [order] = store.orders_in_flight()
    reported = replace(order, status=OrderStatus.FILLED, reported_filled_quantity=75, broker_order_id="B1")
    with pytest.raises(RuntimeError), store.transaction():
        store.save_order(
            reported, OrderEventRecord("t1", START, "fill", order.status, OrderStatus.FILLED, True)
        )
        assert [o.ordertag for o in store.orders_awaiting_fills()] == ["t1"]  # inside: not remembered
        raise RuntimeError("roll back")
    assert store.orders_awaiting_fills() == [] and store.has_orders_in_flight()
    store.save_order(reported, OrderEventRecord("t1", START, "fill", order.status, OrderStatus.FILLED, True))
    assert [o.ordertag for o in store.orders_awaiting_fills()] == ["t1"]
    assert not store.has_orders_in_flight()
    other.close()


def test_position_owner_names_the_strategy_of_each_contracts_last_entry(tmp_path) -> None:
    """Exits do not change the owner; a later entry by another strategy does; another connection's
    entry is seen at once."""
    from dataclasses import replace

    store = _store(tmp_path)
    store.insert_intent(replace(_intent("i1"), strategy="straddle"), [_order("t1", "i1")])
    store.insert_intent(
        replace(_intent("i2"), strategy="flatten", purpose=IntentPurpose.EXIT), [_order("t2", "i2")]
    )
    assert store.position_owner(Exchange.NFO, "1") == "straddle"
    assert store.position_owner(Exchange.NFO, "2") == ""
    other = Store.open(tmp_path / "state" / "optbot.sqlite", SimClock(START))
    other.insert_intent(replace(_intent("i3"), strategy="condor", token="2"), [_order("t3", "i3")])
    assert store.position_owner(Exchange.NFO, "2") == "condor"
    store.insert_intent(replace(_intent("i4"), strategy="strangle"), [_order("t4", "i4")])
    assert store.position_owner(Exchange.NFO, "1") == "strangle"
    assert store.position_owner(Exchange.NSE, "1") == ""
    other.close()


def test_a_cold_position_owner_lookup_searches_an_index_instead_of_scanning_intents(tmp_path) -> None:
    """The statement `position_owner` runs, as SQLite plans it: a search of the contract index, with no
    sort (the index is in created_utc order); it was a full scan plus a temporary B-tree."""
    store = _store(tmp_path)
    store.insert_intent(_intent("i1"), [_order("t1", "i1")])
    statements: list[str] = []
    store.connection.set_trace_callback(statements.append)
    try:
        assert store.position_owner(Exchange.NFO, "1") == "s"
    finally:
        store.connection.set_trace_callback(None)
    lookup = next(sql for sql in statements if sql.upper().startswith("SELECT STRATEGY FROM INTENTS"))
    plan = " / ".join(row[3] for row in store.connection.execute(f"EXPLAIN QUERY PLAN {lookup}"))
    assert "USING INDEX intents_contract" in plan and "SCAN" not in plan and "TEMP B-TREE" not in plan, plan
    store.close()


def test_a_transaction_asks_for_the_data_version_once_and_a_commit_elsewhere_is_still_seen(tmp_path) -> None:
    """Nobody else can commit while a transaction holds the write lock, so the store asks SQLite for
    data_version once per transaction; after it, another connection's commit is seen again."""
    store = _store(tmp_path)
    other = Store.open(tmp_path / "state" / "optbot.sqlite", SimClock(START))
    asked: list[str] = []
    store.connection.set_trace_callback(lambda sql: asked.append(sql) if "data_version" in sql else None)
    with store.transaction():
        store.audit("note", "a", {})
        store.audit("note", "b", {})
        store.insert_intent(_intent("i1"), [_order("t1", "i1")])
    assert len(asked) == 1
    other.audit("note", "elsewhere", {})  # moves the tip this store remembered
    store.audit("note", "c", {})
    assert store.verify_chain().ok
    assert [row["subject"] for row in store.audit_rows() if row["kind"] == "note"] == [
        "a",
        "b",
        "elsewhere",
        "c",
    ]
    other.close()


def test_remembered_answers_survive_neither_a_rollback_nor_another_connections_commit(tmp_path) -> None:
    """The audit chain tip, the fills signature and the owners kept between queries: a rolled-back
    transaction or another connection's commit makes the next answer come from the database."""
    from dataclasses import replace

    store = _store(tmp_path)
    other = Store.open(tmp_path / "state" / "optbot.sqlite", SimClock(START))
    store.insert_intent(replace(_intent("i1"), strategy="straddle"), [_order("t1", "i1")])
    assert store.position_owner(Exchange.NFO, "1") == "straddle"
    store.audit("note", "a", {})
    other.audit("note", "b", {})  # the chain continues on the other connection
    store.audit("note", "c", {})
    with pytest.raises(RuntimeError), store.transaction():
        store.insert_intent(replace(_intent("i2"), strategy="condor"), [_order("t2", "i2")])
        store.audit("note", "rolled back", {})
        assert store.position_owner(Exchange.NFO, "1") == "condor"
        raise RuntimeError("roll back")
    assert store.position_owner(Exchange.NFO, "1") == "straddle"
    store.audit("note", "d", {})
    assert store.verify_chain().ok
    assert [
        row["subject"] for row in store.connection.execute("SELECT subject FROM audit WHERE kind='note'")
    ] == [
        "a",
        "b",
        "c",
        "d",
    ]
    signature = store.fills_signature()
    fill = FillRecord(
        "F1", "B1", "t1", "i1", Exchange.NFO, "1", "NIFTY", Side.BUY, 75, 100.0, date(2026, 3, 2), START
    )
    position = PositionRecord(Exchange.NFO, "1", "NIFTY", 75, 100.0, 0.0, 0.0, 75, 0, 7500.0, 0.0, START)
    with pytest.raises(RuntimeError), store.transaction():
        store.apply_fill(fill, None, position)
        raise RuntimeError("roll back")
    assert store.fills_signature() == signature
    assert store.apply_fill(fill, None, position)
    assert store.fills_signature()[0] == signature[0] + 1
    other.close()


def test_an_in_memory_store_keeps_its_answers_between_its_own_writes() -> None:
    store = Store.open(":memory:", SimClock(START))
    for index in range(3):
        store.audit("note", f"s{index}", {"n": index})
        store.insert_intent(_intent(f"i{index}"), [_order(f"t{index}", f"i{index}")])
    assert store.verify_chain().ok
    assert store.position_owner(Exchange.NFO, "1") == "s"
    assert store.fills_signature() == (0, None)


def test_a_relaxed_commit_is_kept_and_full_synchronous_is_restored(tmp_path: Path) -> None:
    """`durable=False` relaxes the outermost commit only (nested, it joins the durable outer one),
    and the connection is back to synchronous=FULL after it, committed or rolled back."""
    path = tmp_path / "state.sqlite"
    store = Store.open(path, SimClock(datetime(2026, 1, 5, 4, tzinfo=UTC)))
    synchronous = "PRAGMA synchronous"
    try:
        with store.transaction(durable=False) as connection:
            assert connection.execute(synchronous).fetchone()[0] == 1  # NORMAL: no fsync of its own
            store.audit("relaxed", "row", {})
        assert store.connection.execute(synchronous).fetchone()[0] == 2
        with store.transaction() as connection:
            with store.transaction(durable=False):
                assert connection.execute(synchronous).fetchone()[0] == 2
            store.audit("durable", "row", {})
        with pytest.raises(RuntimeError), store.transaction(durable=False):
            store.audit("rolled back", "row", {})
            raise RuntimeError("abandoned")
        assert store.connection.execute(synchronous).fetchone()[0] == 2
    finally:
        store.close()
    reopened = Store.open(path, SimClock(datetime(2026, 1, 5, 4, tzinfo=UTC)))
    try:
        kinds = [row[0] for row in reopened.connection.execute("SELECT kind FROM audit ORDER BY seq")]
        assert kinds == ["relaxed", "durable"]
    finally:
        reopened.close()


def test_a_private_store_answers_known_intents_and_fills_as_its_rows_do(tmp_path) -> None:
    """A private (in-memory) database has no other writer: the store answers "is this intent / fill
    already recorded?" from the keys it loaded and wrote, exactly as the rows would, through rows that
    were there before it opened, its own inserts and a rolled-back transaction."""
    connection = open_database(":memory:")
    Store(connection, SimClock(START)).insert_intent(_intent("before"), [])
    store = Store(connection, SimClock(START))
    assert store.find_intent("before") is not None  # a row it did not write
    assert store.find_intent_by_hash("hbefore", START) is not None
    assert store.find_intent("i1") is None and store.find_intent_by_hash("hi1", START) is None
    store.insert_intent(_intent("i1"), [_order()])
    assert store.find_intent("i1") is not None and store.find_intent_by_hash("hi1", START) is not None
    fill = FillRecord(
        "F1", "B1", "t1", "i1", Exchange.NFO, "1", "NIFTY", Side.BUY, 75, 100.0, date(2026, 3, 2), START
    )
    position = PositionRecord(Exchange.NFO, "1", "NIFTY", 75, 100.0, 0.0, 0.0, 75, 0, 7500.0, 0.0, START)
    assert not store.has_fill("B1", "F1")
    with pytest.raises(RuntimeError), store.transaction():
        store.insert_intent(_intent("i2"), [])
        assert store.apply_fill(fill, None, position) and store.has_fill("B1", "F1")
        assert store.find_intent("i2") is not None
        raise RuntimeError("rolled back")
    assert not store.has_fill("B1", "F1") and store.find_intent("i2") is None
    assert store.find_intent_by_hash("hi2", START) is None
    assert store.apply_fill(fill, None, position) and store.has_fill("B1", "F1")
    assert not store.has_fill("B1", "F2")
