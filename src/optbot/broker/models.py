"""Broker-neutral request and response models (rupees, whole units of quantity)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from optbot.core.enums import Duration, Exchange, OrderStatus, OrderType, ProductType, Side, Variety


@dataclass(frozen=True, slots=True)
class OrderRequest:
    exchange: Exchange
    token: str
    symbol: str
    side: Side
    quantity: int
    order_type: OrderType
    product: ProductType
    ordertag: str
    price: float = 0.0
    trigger_price: float = 0.0
    duration: Duration = Duration.DAY
    variety: Variety = Variety.NORMAL


@dataclass(frozen=True, slots=True)
class ModifyRequest:
    order_id: str
    exchange: Exchange
    token: str
    symbol: str
    quantity: int
    order_type: OrderType
    product: ProductType
    price: float = 0.0
    trigger_price: float = 0.0
    duration: Duration = Duration.DAY
    variety: Variety = Variety.NORMAL


@dataclass(frozen=True, slots=True)
class PlaceResult:
    order_id: str
    unique_order_id: str


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """One order-book row. `status` is the broker's own lower-case text, e.g. 'open', 'complete' (kept
    for records and messages); `order_status` is what the venue's adapter translated it to, so the
    order manager and reconciliation never read a broker's vocabulary. `None` means the adapter did not
    know the text: the order stays in flight until it is settled another way."""

    order_id: str
    unique_order_id: str
    exchange: Exchange
    token: str
    symbol: str
    side: Side
    order_type: OrderType
    product: ProductType
    variety: Variety
    quantity: int
    filled_quantity: int
    price: float
    trigger_price: float
    average_price: float
    status: str
    ordertag: str = ""
    text: str = ""
    update_time: datetime | None = None
    exchange_time: datetime | None = None
    order_status: OrderStatus | None = None

    @property
    def unfilled_quantity(self) -> int:
        return self.quantity - self.filled_quantity


@dataclass(frozen=True, slots=True)
class BrokerTrade:
    fill_id: str
    order_id: str
    exchange: Exchange
    token: str
    symbol: str
    side: Side
    product: ProductType
    quantity: int
    price: float
    fill_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    exchange: Exchange
    token: str
    symbol: str
    product: ProductType
    net_quantity: int
    buy_quantity: int
    sell_quantity: int
    buy_amount: float
    sell_amount: float
    average_net_price: float = 0.0
    lot_size: int = 1


@dataclass(frozen=True, slots=True)
class DepthLevel:
    price: float
    quantity: int
    orders: int


@dataclass(frozen=True, slots=True)
class Quote:
    exchange: Exchange
    token: str
    symbol: str
    ltp: float
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float | None = None
    volume: int | None = None
    open_interest: int | None = None
    upper_circuit: float | None = None
    lower_circuit: float | None = None
    bids: tuple[DepthLevel, ...] = field(default_factory=tuple)
    asks: tuple[DepthLevel, ...] = field(default_factory=tuple)
    exchange_time: datetime | None = None

    @property
    def best_bid(self) -> float | None:
        return next((level.price for level in self.bids if level.price > 0), None)

    @property
    def best_ask(self) -> float | None:
        return next((level.price for level in self.asks if level.price > 0), None)


@dataclass(frozen=True, slots=True)
class Candle:
    """A historical candle; `start` is the candle's start time (IST offset as given by the broker)."""

    start: datetime
    open: float
    high: float
    low: float
    close: float
    volume: int


@dataclass(frozen=True, slots=True)
class MarginRequirement:
    total: float
    span: float = 0.0
    exposure: float = 0.0
    premium: float = 0.0


@dataclass(frozen=True, slots=True)
class ChargeComponent:
    name: str
    amount: float


@dataclass(frozen=True, slots=True)
class ChargeEstimate:
    total: float
    trade_value: float
    components: tuple[ChargeComponent, ...]


def row_order_status(status: OrderStatus, filled_quantity: int, quantity: int) -> OrderStatus:
    """A broker keeps a partly filled order `open`; with some (not all) quantity filled it is
    PARTIALLY_FILLED for the order manager. Every adapter applies this to its translated status."""
    if status is OrderStatus.OPEN and 0 < filled_quantity < max(quantity, filled_quantity + 1):
        return OrderStatus.PARTIALLY_FILLED
    return status
