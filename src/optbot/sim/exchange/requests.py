"""Parsing and validating order request bodies into typed requests (synchronous REST failures)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from optbot.sim.exchange.orders import (
    DURATIONS,
    EXCHANGES,
    ORDER_TYPES,
    PRODUCT_TYPES,
    TRANSACTION_TYPES,
)

VARIETY_MESSAGE = "Invalid Order Variety. Value should be NORMAL, STOPLOSS, ROBO."


class OrderRequestError(Exception):
    """A request the broker refuses outright (HTTP 200, status false, an AB code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class OrderRequest:
    variety: str
    tradingsymbol: str
    symboltoken: str
    exchange: str
    transaction_type: str
    order_type: str
    product_type: str
    duration: str
    quantity: int
    price: float
    trigger_price: float
    disclosed_quantity: int
    order_tag: str


def text_field(body: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise OrderRequestError("AB1007", f"Invalid {name}: field is required")
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise OrderRequestError("AB1007", f"Invalid {name}: expected a string")
    return str(value).strip()


def int_field(body: dict[str, Any], name: str, *, required: bool = True, default: int = 0) -> int:
    raw = body.get(name)
    if raw is None or raw == "":
        if required:
            raise OrderRequestError("AB1007", f"Invalid {name}: field is required")
        return default
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise OrderRequestError("AB1007", f"Invalid {name}: {raw!r} is not a number") from None
    if isinstance(raw, bool) or not math.isfinite(number) or number != int(number):
        raise OrderRequestError("AB1007", f"Invalid {name}: {raw!r} is not a whole number")
    return int(number)


def float_field(body: dict[str, Any], name: str, *, default: float = 0.0) -> float:
    raw = body.get(name)
    if raw is None or raw == "":
        return default
    try:
        if isinstance(raw, bool):
            raise ValueError
        number = float(raw)
    except (TypeError, ValueError):
        raise OrderRequestError("AB1007", f"Invalid {name}: {raw!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise OrderRequestError("AB1007", f"Invalid {name}: {raw!r} is not a finite number")
    return number


def check_variety(variety: str, *, allow_robo: bool = False) -> str:
    value = variety.upper()
    if value == "ROBO" and not allow_robo:
        raise OrderRequestError("AB2002", "ROBO order is block")
    if value not in ("NORMAL", "STOPLOSS", "ROBO"):
        raise OrderRequestError("AB1008", VARIETY_MESSAGE)
    return value


def choice(body: dict[str, Any], name: str, allowed: tuple[str, ...], code: str = "AB1007") -> str:
    value = text_field(body, name).upper()
    if value not in allowed:
        raise OrderRequestError(code, f"Invalid {name}: {value!r}; expected one of {', '.join(allowed)}")
    return value


def parse_order_request(body: dict[str, Any], ordertag_max_length: int) -> OrderRequest:
    variety = check_variety(text_field(body, "variety"))
    order_type = choice(body, "ordertype", ORDER_TYPES)
    is_stop = order_type in ("STOPLOSS_LIMIT", "STOPLOSS_MARKET")
    if is_stop != (variety == "STOPLOSS"):
        raise OrderRequestError("AB1008", VARIETY_MESSAGE)
    product_type = choice(body, "producttype", PRODUCT_TYPES, code="AB1012")
    if product_type == "BO":
        raise OrderRequestError("AB1012", "Invalid Product Type")
    tag = text_field(body, "ordertag", required=False)
    if len(tag) > ordertag_max_length:
        raise OrderRequestError("AB4008", "ordertag length should be less than 20 characters")
    quantity = int_field(body, "quantity")
    if quantity <= 0:
        raise OrderRequestError("AB1007", f"Invalid quantity: {quantity}; must be positive")
    price = float_field(body, "price")
    trigger = float_field(body, "triggerprice")
    if price < 0 or trigger < 0:
        raise OrderRequestError("AB1007", "Invalid price: prices cannot be negative")
    if order_type in ("LIMIT", "STOPLOSS_LIMIT") and price <= 0:
        raise OrderRequestError("AB1007", f"Invalid price: a {order_type} order needs a price > 0")
    if is_stop and trigger <= 0:
        raise OrderRequestError("AB1007", "Invalid triggerprice: a stop-loss order needs a trigger price")
    exchange = choice(body, "exchange", EXCHANGES)
    duration = choice(body, "duration", DURATIONS)
    if duration == "IOC" and exchange in ("MCX", "NCDEX"):
        raise OrderRequestError("AB1007", "Invalid duration: IOC is not allowed on commodities")
    disclosed = int_field(body, "disclosedquantity", required=False)
    if disclosed < 0 or disclosed > quantity:
        raise OrderRequestError("AB1007", f"Invalid disclosedquantity: {disclosed}")
    return OrderRequest(
        variety=variety,
        tradingsymbol=text_field(body, "tradingsymbol"),
        symboltoken=text_field(body, "symboltoken"),
        exchange=exchange,
        transaction_type=choice(body, "transactiontype", TRANSACTION_TYPES),
        order_type=order_type,
        product_type=product_type,
        duration=duration,
        quantity=quantity,
        price=price if order_type in ("LIMIT", "STOPLOSS_LIMIT") else 0.0,
        trigger_price=trigger if is_stop else 0.0,
        disclosed_quantity=disclosed,
        order_tag=tag,
    )
