"""Order state in the simulated exchange and its SmartAPI row rendering (reference §3, §6)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from optbot.core.timeutil import to_ist
from optbot.sim.exchange.instruments import InstrumentSpec


class OrderStatus(StrEnum):
    OPEN_PENDING = "open pending"
    OPEN = "open"
    COMPLETE = "complete"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    TRIGGER_PENDING = "trigger pending"
    MODIFIED = "modified"
    MODIFY_PENDING = "modify pending"
    AMO_RECEIVED = "after market order req received"
    AMO_MODIFY_RECEIVED = "modify after market order req received"
    AMO_CANCELLED = "cancelled after market order"


#: Order-update socket codes (reference §6).
STATUS_CODES: dict[OrderStatus, str] = {
    OrderStatus.OPEN: "AB01",
    OrderStatus.CANCELLED: "AB02",
    OrderStatus.REJECTED: "AB03",
    OrderStatus.MODIFIED: "AB04",
    OrderStatus.COMPLETE: "AB05",
    OrderStatus.AMO_RECEIVED: "AB06",
    OrderStatus.AMO_CANCELLED: "AB07",
    OrderStatus.AMO_MODIFY_RECEIVED: "AB08",
    OrderStatus.OPEN_PENDING: "AB09",
    OrderStatus.TRIGGER_PENDING: "AB10",
    OrderStatus.MODIFY_PENDING: "AB11",
}

#: States in which an order can still trade, be modified or be cancelled.
WORKING_STATUSES = frozenset(
    {
        OrderStatus.OPEN,
        OrderStatus.OPEN_PENDING,
        OrderStatus.TRIGGER_PENDING,
        OrderStatus.MODIFIED,
        OrderStatus.MODIFY_PENDING,
        OrderStatus.AMO_RECEIVED,
        OrderStatus.AMO_MODIFY_RECEIVED,
    }
)
AMO_STATUSES = frozenset({OrderStatus.AMO_RECEIVED, OrderStatus.AMO_MODIFY_RECEIVED})

VARIETIES = ("NORMAL", "STOPLOSS", "ROBO")
ORDER_TYPES = ("MARKET", "LIMIT", "STOPLOSS_LIMIT", "STOPLOSS_MARKET")
PRODUCT_TYPES = ("DELIVERY", "CARRYFORWARD", "MARGIN", "INTRADAY", "BO")
DURATIONS = ("DAY", "IOC")
TRANSACTION_TYPES = ("BUY", "SELL")
EXCHANGES = ("NSE", "BSE", "NFO", "BFO", "MCX", "CDS", "NCDEX")

RowStyle = Literal["book", "detail"]


def exchange_time_text(moment: datetime) -> str:
    """`20-Oct-2020 13:10:59`, IST (reference §3)."""
    return to_ist(moment).strftime("%d-%b-%Y %H:%M:%S")


@dataclass
class SimOrder:
    """One order; mutable because the exchange moves it through its states."""

    client_code: str
    order_id: str
    unique_order_id: str
    spec: InstrumentSpec
    variety: str
    transaction_type: str
    order_type: str
    product_type: str
    duration: str
    quantity: int
    price: float
    trigger_price: float
    disclosed_quantity: int
    order_tag: str
    created_at: datetime
    status: OrderStatus = OrderStatus.OPEN_PENDING
    text: str = ""
    filled_quantity: int = 0
    filled_value: float = 0.0
    cancelled_quantity: int = 0
    exchange_order_id: str = ""
    updated_at: datetime | None = None
    exchange_updated_at: datetime | None = None
    last_fill_id: str = ""
    last_fill_time: str = ""
    limit_price: float = 0.0  # effective limit: the price, or the protected price of a MARKET order
    triggered: bool = False
    blocked_margin: float = 0.0
    history: list[OrderStatus] = field(default_factory=list)

    @property
    def is_buy(self) -> bool:
        return self.transaction_type == "BUY"

    @property
    def pending_quantity(self) -> int:
        return self.quantity - self.filled_quantity - self.cancelled_quantity

    @property
    def average_price(self) -> float:
        return self.filled_value / self.filled_quantity if self.filled_quantity else 0.0

    @property
    def working(self) -> bool:
        return self.status in WORKING_STATUSES

    @property
    def is_stop(self) -> bool:
        return self.order_type in ("STOPLOSS_LIMIT", "STOPLOSS_MARKET")

    def row(self, style: RowStyle = "detail") -> dict[str, Any]:
        """The reference §3 order row. Book rows carry prices as strings, detail rows as numbers."""
        spec = self.spec

        def money(value: float) -> float | str:
            return f"{value:.2f}" if style == "book" else round(value, 2)

        updated = self.updated_at or self.created_at
        return {
            "variety": self.variety,
            "ordertype": self.order_type,
            "producttype": self.product_type,
            "duration": self.duration,
            "price": money(self.price),
            "triggerprice": money(self.trigger_price),
            "quantity": str(self.quantity),
            "disclosedquantity": str(self.disclosed_quantity),
            "squareoff": money(0.0),
            "stoploss": money(0.0),
            "trailingstoploss": money(0.0),
            "tradingsymbol": spec.symbol,
            "transactiontype": self.transaction_type,
            "exchange": spec.exchange,
            "symboltoken": spec.token,
            "ordertag": self.order_tag,
            "instrumenttype": spec.instrument_type,
            "strikeprice": money(spec.strike) if spec.is_option else (f"{-1:.2f}" if style == "book" else -1),
            "optiontype": spec.option_type,
            "expirydate": spec.expiry_text,
            "lotsize": str(max(spec.lot_size, 1)),
            "cancelsize": str(self.cancelled_quantity),
            "averageprice": money(self.average_price),
            "filledshares": str(self.filled_quantity),
            "unfilledshares": str(self.quantity - self.filled_quantity),
            "orderid": self.order_id,
            "text": self.text,
            "status": str(self.status),
            "orderstatus": str(self.status),
            "updatetime": exchange_time_text(updated),
            "exchtime": exchange_time_text(self.exchange_updated_at) if self.exchange_updated_at else "",
            "exchorderupdatetime": (
                exchange_time_text(self.exchange_updated_at) if self.exchange_updated_at else ""
            ),
            "fillid": self.last_fill_id,
            "filltime": self.last_fill_time,
            "parentorderid": "",
            "uniqueorderid": self.unique_order_id,
            "exchangeorderid": self.exchange_order_id,
        }
