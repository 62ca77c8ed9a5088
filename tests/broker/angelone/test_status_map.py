from __future__ import annotations

import pytest

from optbot.broker.angelone.status_map import (
    ORDER_UPDATE_CODES,
    UnknownBrokerStatus,
    map_broker_status,
    map_order_row_status,
)
from optbot.core.enums import OrderStatus


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("open", OrderStatus.OPEN),
        ("complete", OrderStatus.FILLED),
        ("cancelled", OrderStatus.CANCELLED),
        ("rejected", OrderStatus.REJECTED),
        ("trigger pending", OrderStatus.OPEN),
        ("  Trigger   Pending ", OrderStatus.OPEN),
        ("open pending", OrderStatus.SUBMITTED),
        ("after market order req received", OrderStatus.SUBMITTED),
        ("cancelled after market order", OrderStatus.CANCELLED),
        ("AB05", OrderStatus.FILLED),
        ("ab03", OrderStatus.REJECTED),
        ("AB10", OrderStatus.OPEN),
        ("cancel pending", OrderStatus.CANCEL_PENDING),
    ],
)
def test_mapping(given: str, expected: OrderStatus) -> None:
    assert map_broker_status(given) is expected


def test_every_order_update_code_maps() -> None:
    for code in ORDER_UPDATE_CODES:
        assert isinstance(map_broker_status(code), OrderStatus)


def test_unknown_status_is_an_error_naming_it() -> None:
    with pytest.raises(UnknownBrokerStatus, match="teleported"):
        map_broker_status("teleported")


def test_partial_fill_of_open_order() -> None:
    assert map_order_row_status("open", 25, 75) is OrderStatus.PARTIALLY_FILLED
    assert map_order_row_status("open", 0, 75) is OrderStatus.OPEN
    assert map_order_row_status("complete", 75, 75) is OrderStatus.FILLED
    assert map_order_row_status("cancelled", 25, 75) is OrderStatus.CANCELLED


def test_order_book_rows_carry_the_neutral_status_and_none_for_an_unknown_text() -> None:
    """The adapter translates; the order manager and reconciliation read only `order_status`."""
    from optbot.broker.angelone.mapping import order_from_row

    row = {
        "orderid": "1",
        "uniqueorderid": "u1",
        "exchange": "NFO",
        "symboltoken": "45000",
        "tradingsymbol": "NIFTY",
        "transactiontype": "BUY",
        "ordertype": "LIMIT",
        "producttype": "INTRADAY",
        "variety": "NORMAL",
        "quantity": "75",
        "filledshares": "25",
        "price": "100",
        "triggerprice": "0",
        "averageprice": "100",
        "status": "Open",
    }
    assert order_from_row(row).order_status is OrderStatus.PARTIALLY_FILLED
    assert (
        order_from_row(row | {"filledshares": "75", "status": "complete"}).order_status is OrderStatus.FILLED
    )
    unknown = order_from_row(row | {"status": "teleported"})
    assert unknown.status == "teleported" and unknown.order_status is None
