"""The store's remembered orders answer exactly as a query of the database would, after any writes."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, IntentPurpose, OrderStatus, OrderType, ProductType, Side, Variety
from optbot.persistence import FillRecord, IntentRecord, OrderEventRecord, OrderRecord, PositionRecord, Store

START = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
IST = timezone(timedelta(hours=5, minutes=30))
TAGS = ("t0", "t1", "t2", "t3")


def _intent(intent_id: str) -> IntentRecord:
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
        limit_price=100,  # type: ignore[arg-type]  # an int, and an IST time: stored as REAL, UTC
        trigger_price=None,
        created_utc=START.astimezone(IST),
    )


def _order(tag: str, created: datetime) -> OrderRecord:
    """A new child order whose numbers are ints and times IST (as a caller might pass them), and
    whose broker columns are set although an insert leaves them at their defaults."""
    return OrderRecord(
        ordertag=tag,
        intent_id="i" + tag,
        child_index=0,
        exchange=Exchange.NFO,
        token="1",
        symbol="NIFTY",
        side=Side.BUY,
        quantity=75,
        order_type=OrderType.LIMIT,
        product=ProductType.INTRADAY,
        variety=Variety.NORMAL,
        price=100,  # type: ignore[arg-type]
        trigger_price=0,  # type: ignore[arg-type]
        purpose=IntentPurpose.ENTRY,
        status=OrderStatus.PENDING_SUBMIT,
        created_utc=created.astimezone(IST),
        updated_utc=created,
        broker_order_id="not-stored",
        filled_quantity=5,
        reference_price=25000,  # type: ignore[arg-type]
    )


def _answers(store: Store) -> list[str]:
    """Everything the cache answers, as text (so 100 and 100.0, or IST and UTC, differ)."""
    answers = [repr(store.get_order(tag)) for tag in (*TAGS, "unknown")]
    answers += [repr(store.order_by_broker_id(f"B{tag}")) for tag in TAGS]
    answers.append(repr(store.orders_in_flight()))
    answers.append(repr(store.orders_awaiting_fills()))
    answers.append(repr(store.has_orders_in_flight()))
    answers += [repr(store.find_intent("i" + tag)) for tag in TAGS]
    return answers


STATUSES = st.sampled_from(list(OrderStatus))
STEP = st.tuples(
    st.sampled_from(("insert", "save", "fill", "rollback", "other")),
    st.sampled_from(TAGS),
    STATUSES,
    st.integers(min_value=0, max_value=80),
    st.sampled_from((101, 101.5, 99.25)),
    st.integers(min_value=0, max_value=3),
)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, max_size=14))
def test_remembered_orders_equal_a_fresh_read_after_any_writes(tmp_path_factory, steps) -> None:  # type: ignore[no-untyped-def]
    """Inserts, updates, fills, rolled-back writes and another connection's commits, interleaved with
    reads: every answer equals that of a store that remembers nothing (a fresh connection)."""
    path: Path = tmp_path_factory.mktemp("cache") / "optbot.sqlite"
    clock = SimClock(START)
    store, other = Store.open(path, clock), Store.open(path, clock)
    fill_number = 0
    for action, tag, status, quantity, price, minutes in steps:
        moment = START + timedelta(minutes=minutes)
        writer = other if action == "other" else store
        order = writer.get_order(tag)
        if order is None:
            writer.insert_intent(_intent("i" + tag), [_order(tag, moment)])
        elif action in ("save", "other", "rollback"):
            changed = replace(
                order,
                status=status,
                reported_filled_quantity=min(quantity, 75),
                broker_order_id=order.broker_order_id or f"B{tag}",
                price=price,
                message=f"{action} {status.value}",
                submitted_utc=moment.astimezone(IST),
                updated_utc=moment,
            )
            event = OrderEventRecord(tag, moment, action, order.status, status, True)
            if action == "rollback":
                with pytest.raises(RuntimeError), store.transaction():
                    store.save_order(changed, event)
                    assert store.get_order(tag) == changed  # seen inside the transaction
                    raise RuntimeError("rolled back")
            else:
                writer.save_order(changed, event)
        elif action == "fill" and order.filled_quantity < order.quantity:
            fill_number += 1
            filled = min(order.quantity, order.filled_quantity + max(quantity, 1))
            fill = FillRecord(
                f"F{fill_number}", order.broker_order_id or "B?", tag, order.intent_id, Exchange.NFO, "1",
                "NIFTY", Side.BUY, filled - order.filled_quantity, 100.0, date(2026, 3, 2), moment,
            )  # fmt: skip
            position = PositionRecord(Exchange.NFO, "1", "NIFTY", 0, 0.0, 0.0, 0.0, 0, 0, 0.0, 0.0, moment)
            store.apply_fill(fill, replace(order, filled_quantity=filled, average_price=100), position)
        fresh = Store.open(path, clock)
        assert _answers(store) == _answers(fresh)
        fresh.close()
    store.close()
    other.close()


def test_an_update_of_an_unknown_order_caches_nothing(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "optbot.sqlite", SimClock(START))
    ghost = replace(_order("t9", START), created_utc=START)
    with pytest.raises(sqlite3.IntegrityError):  # its event names no order: the write is rolled back
        store.save_order(ghost, OrderEventRecord("t9", START, "x", ghost.status, ghost.status, True))
    assert store.get_order("t9") is None and store.orders_in_flight() == []
    store.close()


KEYS = ((Exchange.NFO, "1"), (Exchange.NFO, "2"), (Exchange.BFO, "1"))


def _position_answers(store: Store) -> list[str]:
    answers = [repr(store.position(*key)) for key in (*KEYS, (Exchange.NSE, "9"))]
    return [*answers, repr(store.positions()), repr(store.open_positions())]


POSITION_STEP = st.tuples(
    st.sampled_from(("save", "rollback", "other", "read")),
    st.sampled_from(KEYS),
    st.integers(min_value=-2, max_value=2),
    st.sampled_from((100, 100.5, None)),
)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(POSITION_STEP, max_size=12))
def test_remembered_positions_equal_a_fresh_read_after_any_writes(tmp_path_factory, steps) -> None:  # type: ignore[no-untyped-def]
    """Position rows written as ints and IST times, flat and open, rolled back or written by another
    connection: every position answer equals that of a fresh connection."""
    path: Path = tmp_path_factory.mktemp("positions") / "optbot.sqlite"
    clock = SimClock(START)
    store, other = Store.open(path, clock), Store.open(path, clock)
    for number, (action, (exchange, token), lots, price) in enumerate(steps):
        moment = (START + timedelta(minutes=number)).astimezone(IST)
        position = PositionRecord(
            exchange, token, f"SYM{token}", 75 * lots, price or 0, number, 1, 75, 0, 7500, 0, moment, price
        )  # type: ignore[arg-type]
        if action == "read":
            store.positions()
        elif action == "rollback":
            with pytest.raises(RuntimeError), store.transaction():
                store.save_position(position)
                assert store.position(exchange, token) is not None
                raise RuntimeError("rolled back")
        else:
            (other if action == "other" else store).save_position(position)
        fresh = Store.open(path, clock)
        assert _position_answers(store) == _position_answers(fresh)
        fresh.close()
    store.close()
    other.close()


def test_the_fills_signature_kept_by_apply_fill_is_the_tables_and_new_fills_are_found_by_rowid(
    tmp_path: Path,
) -> None:
    """apply_fill updates the remembered (count, max rowid) itself; a repeated fill changes nothing and
    a fill that breaks a constraint other than its key still raises."""
    path = tmp_path / "optbot.sqlite"
    store = Store.open(path, SimClock(START))
    position = PositionRecord(Exchange.NFO, "1", "NIFTY", 75, 100.0, 0.0, 0.0, 75, 0, 7500.0, 0.0, START)

    def fill(number: int, quantity: int = 75) -> FillRecord:
        return FillRecord(
            f"F{number}", "B1", None, "", Exchange.NFO, "1", "NIFTY", Side.BUY, quantity, 100.0,
            date(2026, 3, 2), START - timedelta(minutes=number),
        )  # fmt: skip

    assert store.fills_signature() == (0, None)
    for number in (1, 2, 2, 3):
        store.apply_fill(fill(number), None, position)
        fresh = Store.open(path, SimClock(START))
        assert store.fills_signature() == fresh.fills_signature()
        fresh.close()
    assert store.fills_signature()[0] == 3
    with pytest.raises(sqlite3.IntegrityError):
        store.apply_fill(fill(4, quantity=0), None, position)
    assert store.fills_signature()[0] == 3
    assert [f.fill_id for f in store.fills_after(1)] == ["F3", "F2"]  # table order: by time
    assert store.fills_after(3) == []
    store.close()
