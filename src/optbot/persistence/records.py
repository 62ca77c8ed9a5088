"""Rows of the state database as immutable values (rupees, whole units, UTC timestamps)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from optbot.core.enums import (
    Exchange,
    IntentPurpose,
    OrderStatus,
    OrderType,
    ProductType,
    Side,
    Variety,
)


@dataclass(frozen=True, slots=True)
class IntentRecord:
    intent_id: str
    content_hash: str
    strategy: str
    exchange: Exchange
    token: str
    symbol: str
    side: Side
    quantity: int
    purpose: IntentPurpose
    order_type: OrderType
    product: ProductType
    limit_price: float | None
    trigger_price: float | None
    created_utc: datetime
    status: str = "ACCEPTED"
    reason: str = ""
    underlying: str = ""
    underlying_reference_price: float | None = None
    trace_id: str = ""


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """One broker order (a freeze-split intent has several). `ordertag` is the durable key."""

    ordertag: str
    intent_id: str
    child_index: int
    exchange: Exchange
    token: str
    symbol: str
    side: Side
    quantity: int
    order_type: OrderType
    product: ProductType
    variety: Variety
    price: float
    trigger_price: float
    purpose: IntentPurpose
    status: OrderStatus
    created_utc: datetime
    updated_utc: datetime
    broker_order_id: str = ""
    unique_order_id: str = ""
    broker_status: str = ""
    reported_filled_quantity: int = 0
    filled_quantity: int = 0
    average_price: float = 0.0
    message: str = ""
    underlying: str = ""
    reference_price: float | None = None
    submitted_utc: datetime | None = None
    vix_baseline: float | None = None

    @property
    def remaining_quantity(self) -> int:
        return self.quantity - self.filled_quantity


def working_quantity(
    orders: Iterable[OrderRecord], token: str, side: Side, exchange: Exchange | None = None
) -> int:
    """Units the `orders` (in flight) can still fill in `token` on `side`, on `exchange` when given."""
    return sum(
        order.remaining_quantity
        for order in orders
        if order.token == token and order.side is side and (exchange is None or order.exchange is exchange)
    )


@dataclass(frozen=True, slots=True)
class OrderEventRecord:
    ordertag: str
    ts_utc: datetime
    source: str
    previous_status: OrderStatus
    new_status: OrderStatus
    accepted: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class FillRecord:
    fill_id: str
    broker_order_id: str
    ordertag: str | None
    intent_id: str
    exchange: Exchange
    token: str
    symbol: str
    side: Side
    quantity: int
    price: float
    trade_date: date
    ts_utc: datetime
    product: str = ""
    charges: float = 0.0
    ts_exchange: datetime | None = None
    source: str = "broker"  # "broker", or "expiry" for an exercise / expiry settlement


@dataclass(frozen=True, slots=True)
class PositionRecord:
    exchange: Exchange
    token: str
    symbol: str
    net_quantity: int
    average_price: float
    realised_pnl: float
    charges: float
    buy_quantity: int
    sell_quantity: int
    buy_value: float
    sell_value: float
    updated_utc: datetime
    last_price: float | None = None


@dataclass(frozen=True, slots=True)
class ReconciliationRecord:
    reconciliation_id: int
    ts_utc: datetime
    kind: str
    clean: bool
    diff: list[str] = field(default_factory=list)
    acknowledged_utc: datetime | None = None
    acknowledged_by: str = ""


@dataclass(frozen=True, slots=True)
class AuditVerification:
    ok: bool
    rows: int
    first_bad_seq: int | None = None
    problem: str = ""
    archived_rows: int = 0


@dataclass(frozen=True, slots=True)
class AuditArchiveRecord:
    """One archive of pruned audit rows: seq range, its chain anchors and the file's digest."""

    first_seq: int
    last_seq: int
    start_previous_hash: str
    end_hash: str
    rows: int
    file_name: str
    file_sha256: str
    cutoff_utc: datetime
    created_utc: datetime
    archive_id: int = 0
