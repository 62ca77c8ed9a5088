"""The one table that maps SmartAPI order statuses onto optbot's `OrderStatus` (reference §3, §6).

Broker texts are lower case with spaces (`trigger pending`); the order-update socket sends codes
(`AB01`..`AB11`). A partial fill stays `open` at the broker with filledshares > 0, which
`map_order_row_status` turns into PARTIALLY_FILLED.
"""

from __future__ import annotations

from optbot.broker.models import row_order_status
from optbot.core.enums import OrderStatus

#: Order-update socket codes -> broker status text (reference §6).
ORDER_UPDATE_CODES: dict[str, str] = {
    "AB01": "open",
    "AB02": "cancelled",
    "AB03": "rejected",
    "AB04": "modified",
    "AB05": "complete",
    "AB06": "after market order req received",
    "AB07": "cancelled after market order",
    "AB08": "modify after market order req received",
    "AB09": "open pending",
    "AB10": "trigger pending",
    "AB11": "modify pending",
}

#: Broker status text -> OrderStatus. Working orders (incl. trigger pending) are OPEN; orders the
#: broker holds but the exchange has not yet acknowledged (AMO, validation) are SUBMITTED.
STATUS_TABLE: dict[str, OrderStatus] = {
    "open": OrderStatus.OPEN,
    "complete": OrderStatus.FILLED,
    "cancelled": OrderStatus.CANCELLED,
    "rejected": OrderStatus.REJECTED,
    "modified": OrderStatus.OPEN,
    "trigger pending": OrderStatus.OPEN,
    "open pending": OrderStatus.SUBMITTED,
    "modify pending": OrderStatus.OPEN,
    "after market order req received": OrderStatus.SUBMITTED,
    "modify after market order req received": OrderStatus.SUBMITTED,
    "cancelled after market order": OrderStatus.CANCELLED,
    "validation pending": OrderStatus.SUBMITTED,
    "put order req received": OrderStatus.SUBMITTED,
    "modify validation pending": OrderStatus.OPEN,
    "modify order req received": OrderStatus.OPEN,
    "cancel pending": OrderStatus.CANCEL_PENDING,
    "cancel order req received": OrderStatus.CANCEL_PENDING,
    "not modified": OrderStatus.OPEN,
    "not cancelled": OrderStatus.OPEN,
    "expired": OrderStatus.EXPIRED,
}


class UnknownBrokerStatus(ValueError):
    """A status text or code that is not in the table: log it and settle from the order book."""


def broker_status_text(status_text_or_code: str) -> str:
    """Normalise a status text or AB code to the broker's lower-case text."""
    key = " ".join(status_text_or_code.strip().split()).lower()
    upper = key.upper()
    if upper in ORDER_UPDATE_CODES:
        return ORDER_UPDATE_CODES[upper]
    return key


def map_broker_status(status_text_or_code: str) -> OrderStatus:
    """`"trigger pending"` / `"AB10"` -> OrderStatus.OPEN; raises UnknownBrokerStatus otherwise."""
    text = broker_status_text(status_text_or_code)
    try:
        return STATUS_TABLE[text]
    except KeyError:
        raise UnknownBrokerStatus(f"unknown broker order status {status_text_or_code!r}") from None


def map_order_row_status(status_text_or_code: str, filled_quantity: int, quantity: int) -> OrderStatus:
    """Like `map_broker_status`, but an open order with some fills is PARTIALLY_FILLED."""
    return row_order_status(map_broker_status(status_text_or_code), filled_quantity, quantity)
