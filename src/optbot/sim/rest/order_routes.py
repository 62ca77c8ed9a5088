"""Orders, books, positions and holdings (reference §2, §3)."""

from __future__ import annotations

from aiohttp import web

from optbot.sim.exchange import OrderRequestError
from optbot.sim.rest.envelope import business_failure, ok
from optbot.sim.rest.framework import Call, Endpoint

ROOT = "/rest/secure/angelbroking/order/v1"


async def place_order(call: Call) -> web.StreamResponse:
    side = call.body.get("transactiontype")
    forced = call.state.faults.take_rms_reject("placeOrder", str(side).upper() if side else None)
    try:
        order = call.state.exchange.place(call.client_code, call.body, forced_rejection=forced)
    except OrderRequestError as exc:
        return business_failure(exc.code, exc.message)
    return ok(
        {"script": order.spec.symbol, "orderid": order.order_id, "uniqueorderid": order.unique_order_id}
    )


async def modify_order(call: Call) -> web.StreamResponse:
    try:
        order = call.state.exchange.modify(call.client_code, call.body)
    except OrderRequestError as exc:
        return business_failure(exc.code, exc.message)
    return ok({"orderid": order.order_id, "uniqueorderid": order.unique_order_id})


async def cancel_order(call: Call) -> web.StreamResponse:
    try:
        order = call.state.exchange.cancel(call.client_code, call.body)
    except OrderRequestError as exc:
        return business_failure(exc.code, exc.message)
    return ok({"orderid": order.order_id, "uniqueorderid": order.unique_order_id})


async def order_book(call: Call) -> web.StreamResponse:
    rows = [order.row("book") for order in call.state.exchange.orders(call.client_code)]
    return ok(rows or None)


async def trade_book(call: Call) -> web.StreamResponse:
    rows = [trade.row() for trade in call.state.exchange.trades(call.client_code)]
    return ok(rows or None)


async def order_details(call: Call) -> web.StreamResponse:
    unique_id = call.request.match_info.get("unique_order_id", "")
    order = call.state.exchange.order_by_unique_id(call.client_code, unique_id)
    if order is None:
        return business_failure("AB1013", "Order not found")
    return ok(order.row("detail"))


async def positions(call: Call) -> web.StreamResponse:
    exchange = call.state.exchange
    rows = [position.row(exchange.ltp(position.spec)) for position in exchange.positions(call.client_code)]
    return ok(rows or None)


async def convert_position(call: Call) -> web.StreamResponse:
    try:
        call.state.exchange.convert_position(call.client_code, call.body)
    except OrderRequestError as exc:
        return business_failure(exc.code, exc.message)
    return ok(None)


async def holdings(call: Call) -> web.StreamResponse:
    """An empty demat account is `data: []` (recorded), unlike the books' `null`."""
    return ok(call.state.exchange.holding_rows(call.client_code))


async def all_holdings(call: Call) -> web.StreamResponse:
    return ok(call.state.exchange.holdings_summary(call.client_code))


PORTFOLIO = "/rest/secure/angelbroking/portfolio/v1"
ENDPOINTS = [
    Endpoint("placeOrder", "POST", (f"{ROOT}/placeOrder",), place_order, bucket="orders"),
    Endpoint("modifyOrder", "POST", (f"{ROOT}/modifyOrder",), modify_order, bucket="orders"),
    Endpoint("cancelOrder", "POST", (f"{ROOT}/cancelOrder",), cancel_order, bucket="orders"),
    Endpoint("getOrderBook", "GET", (f"{ROOT}/getOrderBook",), order_book, bucket="order_book"),
    Endpoint("getTradeBook", "GET", (f"{ROOT}/getTradeBook",), trade_book, bucket="trade_book"),
    Endpoint(
        "details", "GET", (f"{ROOT}/details/{{unique_order_id}}",), order_details, bucket="order_details"
    ),
    Endpoint("getPosition", "GET", (f"{ROOT}/getPosition",), positions, bucket="positions"),
    Endpoint(
        "convertPosition", "POST", (f"{ROOT}/convertPosition",), convert_position, bucket="convert_position"
    ),
    Endpoint("getHolding", "GET", (f"{PORTFOLIO}/getHolding",), holdings, bucket="holdings"),
    Endpoint("getAllHolding", "GET", (f"{PORTFOLIO}/getAllHolding",), all_holdings, bucket="holdings"),
]
