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
