"""The orders table as this store last wrote or read it: the order manager re-reads an order on every
report, fill and verification pass, and it is the only writer of its own orders. (Intent rows, never
updated once inserted, are kept the same way: `intent_as_stored`.)

`OrderCache` holds rows exactly as a query would return them (`as_stored` mirrors SQLite's column
affinities and the store's UTC timestamps), by ordertag and by broker order id, plus two complete
sets kept up to date on every write once loaded: the orders in flight and the orders awaiting fills.
It knows nothing of validity: the store clears it whenever another connection commits (SQLite's
data_version moves) or a transaction rolls back, so an answer from it is always the database's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

from optbot.core.enums import OrderStatus
from optbot.core.timeutil import to_utc
from optbot.persistence.records import IntentRecord, OrderRecord

#: An order whose broker id another cached order also carries: its lookups go to the database.
_AMBIGUOUS = ""


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is UTC else to_utc(moment)


def _float(value: float) -> float:
    return value if type(value) is float else float(value)


def _int(value: int) -> int:
    return value if type(value) is int else int(value)


def _text(value: str) -> str:
    return value if type(value) is str else str(value)


def _optional_float(value: float | None) -> float | None:
    return None if value is None else _float(value)


def as_stored(order: OrderRecord) -> OrderRecord:
    """`order` as a read of its row returns it: REAL columns as floats, INTEGER columns as ints, TEXT
    as str, timestamps in UTC. The same object when it already is (the order manager's records are)."""
    submitted = order.submitted_utc
    if (
        type(order.price) is float
        and type(order.trigger_price) is float
        and type(order.average_price) is float
        and (order.reference_price is None or type(order.reference_price) is float)
        and (order.vix_baseline is None or type(order.vix_baseline) is float)
        and type(order.child_index) is int
        and type(order.quantity) is int
        and type(order.filled_quantity) is int
        and type(order.reported_filled_quantity) is int
        and type(order.broker_order_id) is str
        and type(order.unique_order_id) is str
        and type(order.broker_status) is str
        and type(order.message) is str
        and order.created_utc.tzinfo is UTC
        and order.updated_utc.tzinfo is UTC
        and (submitted is None or submitted.tzinfo is UTC)
    ):
        return order
    return stored_order(order, order)


def stored_order(fixed: OrderRecord, changing: OrderRecord) -> OrderRecord:
    """The row after an UPDATE of the columns `Store.save_order` writes: those from `changing`, the
    columns no update touches (identity, contract, quantity, placement context) from `fixed`."""
    submitted = changing.submitted_utc
    return OrderRecord(
        ordertag=fixed.ordertag,
        intent_id=fixed.intent_id,
        child_index=_int(fixed.child_index),
        exchange=fixed.exchange,
        token=fixed.token,
        symbol=fixed.symbol,
        side=fixed.side,
        quantity=_int(fixed.quantity),
        order_type=changing.order_type,
        product=fixed.product,
        variety=fixed.variety,
        price=_float(changing.price),
        trigger_price=_float(changing.trigger_price),
        purpose=fixed.purpose,
        status=changing.status,
        created_utc=_utc(fixed.created_utc),
        updated_utc=_utc(changing.updated_utc),
        broker_order_id=_text(changing.broker_order_id),
        unique_order_id=_text(changing.unique_order_id),
        broker_status=_text(changing.broker_status),
        reported_filled_quantity=_int(changing.reported_filled_quantity),
        filled_quantity=_int(changing.filled_quantity),
        average_price=_float(changing.average_price),
        message=_text(changing.message),
        underlying=fixed.underlying,
        reference_price=_optional_float(fixed.reference_price),
        submitted_utc=None if submitted is None else _utc(submitted),
        vix_baseline=_optional_float(fixed.vix_baseline),
    )


def inserted_order(order: OrderRecord) -> OrderRecord:
    """The row `Store` inserts for a new child order: the broker's columns take their defaults."""
    fresh = OrderRecord(
        ordertag=order.ordertag,
        intent_id=order.intent_id,
        child_index=order.child_index,
        exchange=order.exchange,
        token=order.token,
        symbol=order.symbol,
        side=order.side,
        quantity=order.quantity,
        order_type=order.order_type,
        product=order.product,
        variety=order.variety,
        price=order.price,
        trigger_price=order.trigger_price,
        purpose=order.purpose,
        status=order.status,
        created_utc=order.created_utc,
        updated_utc=order.updated_utc,
        underlying=order.underlying,
        reference_price=order.reference_price,
        vix_baseline=order.vix_baseline,
    )
    return as_stored(fresh)


def awaits_fills(order: OrderRecord) -> bool:
    """`Store.orders_awaiting_fills`'s condition: reported fills not all recorded yet."""
    return order.filled_quantity < order.reported_filled_quantity or (
        order.status is OrderStatus.FILLED and order.filled_quantity < order.quantity
    )


def _creation_order(order: OrderRecord) -> tuple[datetime, str]:
    """ORDER BY created_utc, ordertag: the stored UTC ISO texts sort as the instants they name."""
    return order.created_utc, order.ordertag


class OrderCache:
    """Orders by tag and broker id, and (once loaded) the complete in-flight and awaiting-fill sets."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._by_tag: dict[str, OrderRecord] = {}
        self._tag_by_broker_id: dict[str, str] = {}
        self._in_flight: dict[str, OrderRecord] | None = None
        self._awaiting: dict[str, OrderRecord] | None = None
        self._in_flight_sorted: list[OrderRecord] | None = None
        self._awaiting_sorted: list[OrderRecord] | None = None

    # ------------------------------------------------------------ lookups
    def get(self, ordertag: str) -> OrderRecord | None:
        return self._by_tag.get(ordertag)

    def by_broker_id(self, broker_order_id: str) -> OrderRecord | None:
        """The cached order with this broker id; None when none is cached (or two are: ask SQLite)."""
        tag = self._tag_by_broker_id.get(broker_order_id)
        order = self._by_tag.get(tag) if tag else None
        return order if order is not None and order.broker_order_id == broker_order_id else None

    @property
    def in_flight_known(self) -> bool:
        return self._in_flight is not None

    @property
    def awaiting_known(self) -> bool:
        return self._awaiting is not None

    def in_flight(self) -> list[OrderRecord]:
        """The in-flight orders in creation order (`in_flight_known` must be true)."""
        if self._in_flight_sorted is None:
            assert self._in_flight is not None
            self._in_flight_sorted = sorted(self._in_flight.values(), key=_creation_order)
        return self._in_flight_sorted

    def has_in_flight(self) -> bool:
        return bool(self._in_flight)

    def awaiting(self) -> list[OrderRecord]:
        """The orders awaiting fills in creation order (`awaiting_known` must be true)."""
        if self._awaiting_sorted is None:
            assert self._awaiting is not None
            self._awaiting_sorted = sorted(self._awaiting.values(), key=_creation_order)
        return self._awaiting_sorted

    # ------------------------------------------------------------ filling
    def load_in_flight(self, orders: Iterable[OrderRecord]) -> None:
        """Every in-flight order, as just read from the database."""
        self._in_flight = {}
        self._in_flight_sorted = None
        for order in orders:
            self.put(order)

    def load_awaiting(self, orders: Iterable[OrderRecord]) -> None:
        """Every order awaiting fills, as just read from the database."""
        self._awaiting = {}
        self._awaiting_sorted = None
        for order in orders:
            self.put(order)

    def put(self, order: OrderRecord) -> None:
        """An order row as it now stands in the database (read, inserted or updated)."""
        tag = order.ordertag
        self._by_tag[tag] = order
        broker_id = order.broker_order_id
        if broker_id:
            known = self._tag_by_broker_id.get(broker_id)
            if known is None:
                self._tag_by_broker_id[broker_id] = tag
            elif known != tag:
                self._tag_by_broker_id[broker_id] = _AMBIGUOUS
        in_flight = self._in_flight
        if in_flight is not None:
            if not order.status.is_terminal:
                in_flight[tag] = order
                self._in_flight_sorted = None
            elif in_flight.pop(tag, None) is not None:
                self._in_flight_sorted = None
        awaiting = self._awaiting
        if awaiting is not None:
            if awaits_fills(order):
                awaiting[tag] = order
                self._awaiting_sorted = None
            elif awaiting.pop(tag, None) is not None:
                self._awaiting_sorted = None

    def forget(self, ordertag: str) -> None:
        """Nothing is known of this order any more (a write whose result was not seen): the sets that
        might hold it are dropped too, to be read again."""
        self._by_tag.pop(ordertag, None)
        self._in_flight = self._awaiting = None
        self._in_flight_sorted = self._awaiting_sorted = None


def intent_as_stored(intent: IntentRecord) -> IntentRecord:
    """`intent` as a read of its row returns it (REAL columns as floats, INTEGER as int, TEXT as str,
    the time in UTC); the same object when it already is."""
    numbers = (intent.limit_price, intent.trigger_price, intent.underlying_reference_price)
    texts = (intent.strategy, intent.token, intent.symbol, intent.underlying, intent.trace_id)
    if (
        all(value is None or type(value) is float for value in numbers)
        and type(intent.quantity) is int
        and all(type(text) is str for text in (*texts, intent.status, intent.reason, intent.content_hash))
        and intent.created_utc.tzinfo is UTC
    ):
        return intent
    return replace(
        intent,
        content_hash=_text(intent.content_hash),
        strategy=_text(intent.strategy),
        token=_text(intent.token),
        symbol=_text(intent.symbol),
        quantity=_int(intent.quantity),
        limit_price=_optional_float(intent.limit_price),
        trigger_price=_optional_float(intent.trigger_price),
        created_utc=_utc(intent.created_utc),
        status=_text(intent.status),
        reason=_text(intent.reason),
        underlying=_text(intent.underlying),
        underlying_reference_price=_optional_float(intent.underlying_reference_price),
        trace_id=_text(intent.trace_id),
    )
