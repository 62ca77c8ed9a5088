"""AngelOneBroker: request bodies and row mapping against recorded-shape replies."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import orjson
import pytest

from optbot.broker.angelone.broker import AngelOneBroker
from optbot.broker.angelone.mapping import InvalidOrderRequest
from optbot.broker.angelone.ratelimit import Priority
from optbot.broker.base import Broker
from optbot.broker.errors import UnresolvedOrder
from optbot.broker.models import ModifyRequest, OrderRequest
from optbot.config.sections.broker import BrokerSettings
from optbot.core.enums import Exchange, OrderType, ProductType, Side
from optbot.core.timeutil import IST
from optbot.test_kit.broker import business_failure, order_row, success

from .helpers import drive, make_client

REQUEST = OrderRequest(
    exchange=Exchange.NFO,
    token="58784",
    symbol="NIFTY28OCT2524400CE",
    side=Side.BUY,
    quantity=75,
    order_type=OrderType.LIMIT,
    product=ProductType.INTRADAY,
    ordertag="intent-1",
    price=194.05,
)


def _broker(routes: dict[str, object]):  # type: ignore[no-untyped-def]
    def answer(request: httpx.Request) -> httpx.Response:
        for suffix, reply in routes.items():
            if request.url.path.endswith(suffix):
                if callable(reply):
                    return reply(request)
                return httpx.Response(200, content=reply)  # type: ignore[arg-type]
        return httpx.Response(404, content=b"")

    client, recorder, clock = make_client(answer)
    return AngelOneBroker(client, clock, BrokerSettings()), recorder, clock


def test_is_a_broker() -> None:
    broker, _, _ = _broker({})
    assert isinstance(broker, Broker)


async def test_place_order_body_and_result() -> None:
    broker, recorder, _ = _broker(
        {"placeOrder": success({"script": "X", "orderid": "251024000000970", "uniqueorderid": "u-1"})}
    )
    result = await broker.place_order(REQUEST, priority=Priority.EXIT)
    assert (result.order_id, result.unique_order_id) == ("251024000000970", "u-1")
    body = orjson.loads(recorder.requests[0].content)
    assert body == {
        "variety": "NORMAL",
        "tradingsymbol": "NIFTY28OCT2524400CE",
        "symboltoken": "58784",
        "exchange": "NFO",
        "transactiontype": "BUY",
        "ordertype": "LIMIT",
        "producttype": "INTRADAY",
        "duration": "DAY",
        "price": "194.05",
        "quantity": "75",
        "ordertag": "intent-1",
    }


async def test_stoploss_order_uses_stoploss_variety_and_trigger() -> None:
    broker, recorder, _ = _broker({"placeOrder": success({"orderid": "1", "uniqueorderid": "u"})})
    request = OrderRequest(
        Exchange.NFO, "1", "S", Side.SELL, 75, OrderType.STOPLOSS_MARKET, ProductType.INTRADAY, "t", 0, 90.5
    )
    await broker.place_order(request)
    body = orjson.loads(recorder.requests[0].content)
    assert body["variety"] == "STOPLOSS" and body["triggerprice"] == "90.5" and body["price"] == "0"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"ordertag": "x" * 20}, "at most 19"),
        ({"ordertag": ""}, "ordertag is required"),
        ({"quantity": 0}, "quantity must be positive"),
        ({"price": 0.0}, "needs a positive price"),
    ],
)
async def test_invalid_orders_never_leave(change: dict[str, object], match: str) -> None:
    broker, recorder, _ = _broker({})
    fields = {name: getattr(REQUEST, name) for name in REQUEST.__dataclass_fields__}
    fields.update(change)
    with pytest.raises(InvalidOrderRequest, match=match):
        await broker.place_order(OrderRequest(**fields))  # type: ignore[arg-type]
    assert recorder.requests == []


async def test_success_without_orderid_is_unresolved() -> None:
    broker, _, _ = _broker({"placeOrder": success(None)})
    with pytest.raises(UnresolvedOrder):
        await broker.place_order(REQUEST)


async def test_modify_and_cancel_bodies() -> None:
    broker, recorder, _ = _broker(
        {
            "modifyOrder": success({"orderid": "9", "uniqueorderid": "u9"}),
            "cancelOrder": success({"orderid": "9", "uniqueorderid": "u9"}),
        }
    )
    await broker.modify_order(
        ModifyRequest("9", Exchange.NFO, "58784", "SYM", 150, OrderType.LIMIT, ProductType.INTRADAY, 195.0)
    )
    result = await broker.cancel_order("9")
    assert result.order_id == "9"
    modify = orjson.loads(recorder.requests[0].content)
    assert modify["orderid"] == "9" and modify["quantity"] == "150" and modify["price"] == "195"
    assert orjson.loads(recorder.requests[1].content) == {"variety": "NORMAL", "orderid": "9"}


async def test_order_book_maps_rows_and_skips_bad_ones() -> None:
    rows = [
        order_row(),
        order_row(orderid="2", status="complete", filledshares="75", averageprice="193.95", price=194.0),
        order_row(orderid="3", transactiontype="HOLD"),
        "junk",
    ]
    broker, _, _ = _broker({"getOrderBook": success(rows)})
    orders = await broker.order_book()
    assert [o.order_id for o in orders] == ["251024000000970", "2"]
    assert orders[0].price == 194.0 and orders[0].status == "open" and orders[0].ordertag == "intent-1"
    assert orders[0].exchange_time == datetime(2025, 10, 24, 10, 15, 1, tzinfo=IST)
    assert orders[1].filled_quantity == 75 and orders[1].average_price == pytest.approx(193.95)
    assert broker.skipped_rows["order"] == 1


async def test_empty_books_are_null() -> None:
    broker, _, _ = _broker(
        {"getOrderBook": success(None), "getTradeBook": success(None), "getPosition": success(None)}
    )
    assert await broker.order_book() == []
    assert await broker.trade_book() == []
    assert await broker.positions() == []


async def test_order_details_uses_unique_id_path_and_not_found_is_none() -> None:
    broker, recorder, _ = _broker(
        {"/details/u-1": success(order_row()), "/details/u-2": business_failure("AB1013", "Order not found")}
    )
    order = await broker.order_details("u-1")
    assert order is not None and order.unique_order_id.startswith("d6b3")
    assert await broker.order_details("u-2") is None
    assert recorder.requests[0].url.path.endswith("/order/v1/details/u-1")
    with pytest.raises(InvalidOrderRequest):
        await broker.order_details("../x/y")


async def test_trades_positions_funds() -> None:
    trade = {
        "exchange": "NFO",
        "producttype": "INTRADAY",
        "tradingsymbol": "S",
        "symboltoken": "1",
        "transactiontype": "SELL",
        "fillprice": 101.5,
        "fillsize": "75",
        "orderid": "9",
        "fillid": "55",
        "filltime": "13:27:53",
    }
    position = {
        "exchange": "NFO",
        "symboltoken": "1",
        "producttype": "CARRYFORWARD",
        "tradingsymbol": "S",
        "buyqty": "0",
        "sellqty": "75",
        "cfbuyqty": "0",
        "cfsellqty": "0",
        "netqty": "-75",
        "totalbuyvalue": "0",
        "totalsellvalue": "7612.50",
        "avgnetprice": "101.50",
        "netvalue": "- 2235.80",
        "lotsize": "75",
    }
    rms = {
        "net": "100000.00",
        "availablecash": "95000.00",
        "utiliseddebits": "5000.00",
        "m2mrealized": None,
        "m2munrealized": "-12.5",
    }
    broker, _, clock = _broker(
        {"getTradeBook": success([trade]), "getPosition": success([position]), "getRMS": success(rms)}
    )
    (fill,) = await broker.trade_book()
    assert fill.quantity == 75 and fill.side is Side.SELL and fill.price == 101.5
    assert fill.fill_time is not None and fill.fill_time.date() == clock.now_ist().date()
    (pos,) = await broker.positions()
    assert pos.net_quantity == -75 and pos.sell_amount == 7612.5 and pos.lot_size == 75
    funds = await broker.funds()
    assert funds.net == 100000 and funds.available_cash == 95000 and funds.unrealised_m2m == -12.5


async def test_quotes_chunk_by_fifty_and_map_depth() -> None:
    def quote(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        fetched = []
        for exchange, tokens in body["exchangeTokens"].items():
            for token in tokens:
                fetched.append(
                    {
                        "exchange": exchange,
                        "tradingSymbol": f"S{token}",
                        "symbolToken": token,
                        "ltp": 10.5,
                        "open": 10,
                        "high": 11,
                        "low": 9,
                        "close": 10.1,
                        "tradeVolume": 1000,
                        "opnInterest": 5,
                        "exchFeedTime": "21-Jun-2023 10:46:10",
                        "depth": {
                            "buy": [{"price": 10.45, "quantity": 75, "orders": 2}]
                            + [{"price": 0.0, "quantity": 0, "orders": 0}] * 4,
                            "sell": [{"price": 10.55, "quantity": 150, "orders": 1}] * 5,
                        },
                    }
                )
        return httpx.Response(
            200,
            content=success(
                {
                    "fetched": fetched,
                    "unfetched": [
                        {
                            "exchange": "NFO",
                            "symbolToken": "",
                            "message": "Symbol token cannot be empty",
                            "errorCode": "AB4018",
                        }
                    ],
                }
            ),
        )

    broker, recorder, clock = _broker({"market/v1/quote": quote})
    tokens = [str(i) for i in range(120)]
    quotes = await drive(clock, broker.quotes("FULL", {Exchange.NFO: tokens + tokens[:5]}))
    assert len(recorder.requests) == 3 and len(quotes) == 120
    first = quotes[0]
    assert first.best_bid == 10.45 and first.best_ask == 10.55 and first.volume == 1000
    assert broker.skipped_rows["quote.unfetched"] == 3


async def test_candles_split_long_ranges_and_deduplicate() -> None:
    def candles(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        start = datetime.strptime(body["fromdate"], "%Y-%m-%d %H:%M").replace(tzinfo=IST)
        rows = [[start.isoformat(), 1, 2, 0.5, 1.5, 10], [start.isoformat(), 1, 2, 0.5, 1.5, 10]]
        return httpx.Response(200, content=success(rows))

    broker, recorder, clock = _broker({"getCandleData": candles})
    start = datetime(2025, 1, 1, 9, 15, tzinfo=IST)
    result = await drive(
        clock, broker.candles(Exchange.NSE, "99926000", "ONE_MINUTE", start, start + timedelta(days=65))
    )
    assert len(recorder.requests) == 3  # 30-day chunks
    assert len(result) == 3
    first = orjson.loads(recorder.requests[0].content)
    assert first["fromdate"] == "2025-01-01 09:15" and first["interval"] == "ONE_MINUTE"
    with pytest.raises(ValueError, match="interval"):
        await broker.candles(Exchange.NSE, "1", "BOGUS", start, start)  # type: ignore[arg-type]


async def test_margin_charges_greeks_search_profile_ltp() -> None:
    broker, recorder, clock = _broker(
        {
            "margin/v1/batch": success(
                {"totalMarginRequired": 15000.5, "marginComponents": {"netPremium": 0, "spanMargin": 12000.0}}
            ),
            "estimateCharges": success(
                {
                    "summary": {
                        "total_charges": "25.10",
                        "trade_value": 14553.75,
                        "breakup": [{"name": "Brokerage", "amount": 20.0, "msg": "", "breakup": []}],
                    },
                    "charges": [],
                }
            ),
            "optionGreek": success(
                [
                    {
                        "name": "NIFTY",
                        "expiry": "25JAN2024",
                        "strikePrice": "21000.000000",
                        "optionType": "CE",
                        "delta": "0.5",
                        "gamma": "0.001",
                        "theta": "-10",
                        "vega": "12",
                        "impliedVolatility": "14.2",
                        "tradeVolume": "100",
                    }
                ]
            ),
            "searchScrip": success([{"exchange": "NSE", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045"}]),
            "getProfile": success(
                {"clientcode": "A1", "name": "X", "exchanges": ["nse_fo"], "products": ["MIS"], "broker": ""}
            ),
            "getLtpData": success({"exchange": "NSE", "ltp": 978.5}),
        }
    )
    margin = await broker.margin_required([REQUEST])
    assert margin.total == 15000.5 and margin.span == 12000.0
    charges = await broker.estimate_charges([REQUEST])
    assert charges.total == 25.10 and charges.components[0].name == "Brokerage"
    (greek,) = await broker.option_greeks("NIFTY", "25jan2024")
    assert greek.strike == 21000 and greek.delta == 0.5
    assert (await broker.search_scrip(Exchange.NSE, "SBIN"))[0].token == "3045"
    assert (await broker.profile()).exchanges == ("nse_fo",)
    assert await broker.ltp(Exchange.NSE, "SBIN-EQ", "3045") == 978.5
    margin_body = orjson.loads(recorder.requests[0].content)
    assert margin_body["positions"][0] == {
        "exchange": "NFO",
        "qty": 75,
        "price": 194.05,
        "productType": "INTRADAY",
        "token": "58784",
        "tradeType": "BUY",
        "orderType": "LIMIT",
    }
