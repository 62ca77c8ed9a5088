"""Market data, search, candles, margin and charges calculators, scrip master (reference §2, §4, §9)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from aiohttp import web

from optbot.core.timeutil import IST, ist_date, to_ist
from optbot.sim.contracts import SimQuote
from optbot.sim.exchange.charges import ChargeLine, charges_for, rate_card_for
from optbot.sim.exchange.margin import Exposure, MarginBreakdown
from optbot.sim.exchange.orders import exchange_time_text
from optbot.sim.exchange.requests import OrderRequestError, float_field, int_field, text_field
from optbot.sim.rest.envelope import bad_request_empty, business_failure, json_response, ok
from optbot.sim.rest.framework import Call, Endpoint

QUOTE_MODES = ("LTP", "OHLC", "FULL")
CANDLE_TIME_FORMAT = "%Y-%m-%d %H:%M"


@runtime_checkable
class OpenInterestHistory(Protocol):
    """Optional market capability behind getOIData."""

    def open_interest_history(
        self, exchange: str, token: str, interval: str, start: datetime, end: datetime
    ) -> list[dict[str, Any]]: ...


async def ltp_data(call: Call) -> web.StreamResponse:
    exchange = str(call.body.get("exchange") or "").upper()
    token = str(call.body.get("symboltoken") or "")
    if not exchange or not token:
        return business_failure("AB1007", "Invalid exchange or symboltoken: both are required")
    spec = call.state.exchange.instruments.get(exchange, token)
    quote = call.state.market.quote(exchange, token)
    if spec is None or quote is None:
        return business_failure("AB1009", "Symbol Not Found")
    return ok(
        {
            "exchange": exchange,
            "tradingsymbol": spec.symbol,
            "symboltoken": token,
            "open": quote.open,
            "high": quote.high,
            "low": quote.low,
            "close": quote.close,
            "ltp": quote.ltp,
            **_synthetic_label(quote),
        }
    )


def _synthetic_label(quote: SimQuote) -> dict[str, bool]:
    """Model-priced (not traded) data says so (issue 4); real replayed data keeps the exact format."""
    return {"synthetic": True} if quote.synthetic else {}


def _depth(levels: tuple[Any, ...]) -> list[dict[str, Any]]:
    rows = [
        {"price": level.price, "quantity": level.quantity, "orders": level.orders} for level in levels[:5]
    ]
    while len(rows) < 5:
        rows.append({"price": 0.0, "quantity": 0, "orders": 0})
    return rows


def quote_row(mode: str, symbol: str, quote: SimQuote) -> dict[str, Any]:
    row: dict[str, Any] = {
        "exchange": quote.exchange,
        "tradingSymbol": symbol,
        "symbolToken": quote.token,
        "ltp": quote.ltp,
    }
    if mode in ("OHLC", "FULL"):
        row.update(open=quote.open, high=quote.high, low=quote.low, close=quote.close)
    if mode == "FULL":
        change = quote.ltp - quote.close
        row.update(
            lastTradeQty=quote.last_quantity,
            exchFeedTime=exchange_time_text(quote.exchange_time),
            exchTradeTime=exchange_time_text(quote.exchange_time),
            netChange=round(change, 2),
            percentChange=round(change / quote.close * 100, 2) if quote.close else 0.0,
            avgPrice=quote.average_price,
            tradeVolume=quote.volume,
            opnInterest=quote.open_interest,
            lowerCircuit=quote.lower_circuit,
            upperCircuit=quote.upper_circuit,
            totBuyQuan=sum(level.quantity for level in quote.bids),
            totSellQuan=sum(level.quantity for level in quote.asks),
        )
        row["52WeekLow"] = quote.week52_low
        row["52WeekHigh"] = quote.week52_high
        row["depth"] = {"buy": _depth(quote.bids), "sell": _depth(quote.asks)}
    row.update(_synthetic_label(quote))
    return row


async def market_quote(call: Call) -> web.StreamResponse:
    mode = str(call.body.get("mode") or "").upper()
    if mode not in QUOTE_MODES:
        return business_failure("AB1007", f"Invalid mode: {mode!r}; expected LTP, OHLC or FULL")
    exchange_tokens = call.body.get("exchangeTokens")
    if not isinstance(exchange_tokens, dict) or not exchange_tokens:
        return business_failure("AB1007", "Invalid exchangeTokens: expected {exchange: [tokens]}")
    requested = [
        (str(exchange).upper(), token)
        for exchange, tokens in exchange_tokens.items()
        for token in (tokens if isinstance(tokens, list) else [tokens])
    ]
    limit = call.state.settings.quote_max_tokens
    if len(requested) > limit:
        return business_failure("AB1007", f"Invalid exchangeTokens: at most {limit} tokens per request")
    fetched: list[dict[str, Any]] = []
    unfetched: list[dict[str, Any]] = []
    instruments = call.state.exchange.instruments
    for exchange, raw_token in requested:
        token = str(raw_token).strip() if raw_token is not None else ""
        if not token:
            unfetched.append(
                {
                    "exchange": exchange,
                    "symbolToken": token,
                    "message": "Symbol token cannot be empty",
                    "errorCode": "AB4018",
                }
            )
            continue
        spec = instruments.get(exchange, token)
        quote = call.state.market.quote(exchange, token)
        if spec is None or quote is None:
            unfetched.append(
                {
                    "exchange": exchange,
                    "symbolToken": token,
                    "message": "Symbol Not Found",
                    "errorCode": "AB1009",
                }
            )
            continue
        fetched.append(quote_row(mode, spec.symbol, quote))
    return ok({"fetched": fetched, "unfetched": unfetched})


async def search_scrip(call: Call) -> web.StreamResponse:
    exchange = str(call.body.get("exchange") or "").upper()
    text = str(call.body.get("searchscrip") or "").strip().upper()
    if not exchange or not text:
        return business_failure("AB1007", "Invalid exchange or searchscrip: both are required")
    matches = [
        {"exchange": spec.exchange, "tradingsymbol": spec.symbol, "symboltoken": spec.token}
        for spec in call.state.exchange.instruments.all()
        if spec.exchange == exchange and text in spec.symbol.upper()
    ]
    matches.sort(key=lambda row: row["tradingsymbol"])
    return ok(matches)


def _parse_candle_time(call: Call, name: str) -> datetime:
    raw = str(call.body.get(name) or "")
    try:
        return datetime.strptime(raw, CANDLE_TIME_FORMAT).replace(tzinfo=IST)
    except ValueError:
        raise OrderRequestError("AB1007", f"Invalid {name}: {raw!r}; expected yyyy-MM-dd HH:mm") from None


def _candle_window(call: Call) -> tuple[str, str, str, datetime, datetime] | web.StreamResponse:
    interval = str(call.body.get("interval") or "")
    max_days = call.state.settings.candle_max_days
    if interval not in max_days:
        return bad_request_empty()
    exchange = str(call.body.get("exchange") or "").upper()
    token = str(call.body.get("symboltoken") or "")
    try:
        start = _parse_candle_time(call, "fromdate")
        end = _parse_candle_time(call, "todate")
    except OrderRequestError as exc:
        return business_failure(exc.code, exc.message)
    if end < start:
        return business_failure("AB1007", "Invalid todate: it is before fromdate")
    if end - start > timedelta(days=max_days[interval]):
        return business_failure(
            "AB1007", f"Invalid date range: {interval} allows at most {max_days[interval]} days per request"
        )
    if call.state.exchange.instruments.get(exchange, token) is None:
        return business_failure("AB1009", "Symbol Not Found")
    return exchange, token, interval, start, end


async def candle_data(call: Call) -> web.StreamResponse:
    window = _candle_window(call)
    if isinstance(window, web.StreamResponse):
        return window
    exchange, token, interval, start, end = window
    now = to_ist(call.state.clock.now_utc())
    rows = call.state.market.candles(exchange, token, interval, start, min(end, now))
    return ok(rows)


async def oi_data(call: Call) -> web.StreamResponse:
    window = _candle_window(call)
    if isinstance(window, web.StreamResponse):
        return window
    exchange, token, interval, start, end = window
    spec = call.state.exchange.instruments.get(exchange, token)
    if spec is None or not (spec.is_option or spec.is_future):
        return business_failure("AB1007", "Invalid symboltoken: OI data is for live F&O contracts only")
    market = call.state.market
    if not isinstance(market, OpenInterestHistory):
        return business_failure("AB2000", "OI history is not available from this simulator's market")
    now = to_ist(call.state.clock.now_utc())
    return ok(market.open_interest_history(exchange, token, interval, start, min(end, now)))


def _field(row: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in row:
            return row[name]
    return None


async def margin_batch(call: Call) -> web.StreamResponse:
    positions = call.body.get("positions")
    if not isinstance(positions, list) or not positions:
        return business_failure("AB1007", "Invalid positions: expected a non-empty list")
    exchange = call.state.exchange
    legs: list[Exposure] = []
    naked = MarginBreakdown()
    net_premium = 0.0
    for index, row in enumerate(positions):
        if not isinstance(row, dict):
            return business_failure("AB1007", f"Invalid positions[{index}]: expected an object")
        normalised = {
            "exchange": _field(row, "exchange"),
            "qty": _field(row, "qty", "quantity"),
            "price": _field(row, "price"),
            "token": _field(row, "token", "symboltoken"),
            "tradeType": _field(row, "tradeType", "tradetype"),
            "productType": _field(row, "productType", "producttype"),
        }
        try:
            quantity = int_field(normalised, "qty")
            side = text_field(normalised, "tradeType").upper()
            product = text_field(normalised, "productType", required=False).upper() or "CARRYFORWARD"
            spec = exchange.instruments.get(
                text_field(normalised, "exchange").upper(), text_field(normalised, "token")
            )
            price = float_field(normalised, "price")
        except OrderRequestError as exc:
            return business_failure(exc.code, f"positions[{index}]: {exc.message}")
        if spec is None:
            return business_failure("AB1009", f"positions[{index}]: Symbol Not Found")
        if side not in ("BUY", "SELL") or quantity <= 0:
            return business_failure("AB1007", f"positions[{index}]: tradeType must be BUY/SELL, qty > 0")
        if price <= 0:
            price = exchange.ltp(spec) or 0.0
        underlying = exchange.underlying_price(spec)
        naked = naked + exchange.margin_model.opening(
            spec, side == "BUY", product, quantity, price, underlying
        )
        legs.append(Exposure(spec, product, quantity if side == "BUY" else -quantity, price, underlying))
        if spec.is_option:
            net_premium += price * quantity * (1 if side == "BUY" else -1)
    total = exchange.portfolio_margin.total(legs)
    return ok(
        {
            "totalMarginRequired": round(total.total, 2),
            "marginComponents": {
                "netPremium": round(net_premium, 2),
                "spanMargin": round(total.span, 2),
                "marginBenefit": round(max(naked.total - total.total, 0.0), 2),
                "deliveryMargin": round(total.delivery, 2),
                "nonNFOMargin": round(total.non_fno, 2),
                "totOptionsPremium": round(total.premium, 2),
            },
        }
    )


async def estimate_charges(call: Call) -> web.StreamResponse:
    orders = call.body.get("orders")
    if not isinstance(orders, list) or not orders:
        return business_failure("AB1007", "Invalid orders: expected a non-empty list")
    exchange = call.state.exchange
    card = rate_card_for(ist_date(call.state.clock.now_utc()))
    lines: list[ChargeLine] = []
    for index, row in enumerate(orders):
        if not isinstance(row, dict):
            return business_failure("AB1007", f"Invalid orders[{index}]: expected an object")
        try:
            quantity = int_field(row, "quantity")
            price = float_field(row, "price")
            side = text_field(row, "transaction_type").upper()
            product = text_field(row, "product_type").upper()
            spec = exchange.instruments.get(text_field(row, "exchange").upper(), text_field(row, "token"))
        except OrderRequestError as exc:
            return business_failure(exc.code, f"orders[{index}]: {exc.message}")
        if spec is None:
            return business_failure("AB1009", f"orders[{index}]: Symbol Not Found")
        if side not in ("BUY", "SELL") or quantity <= 0 or price <= 0:
            return business_failure("AB1007", f"orders[{index}]: needs BUY/SELL, quantity > 0 and price > 0")
        lines.append(charges_for(card, spec, product, side == "BUY", quantity, price))
    summary = lines[0]
    for line in lines[1:]:
        summary = summary + line
    return ok({"summary": summary.node(), "charges": [line.node() for line in lines]})


def _intraday_list(call: Call, exchange: str) -> list[dict[str, Any]]:
    """Cash scrips allowed for intraday, with the leverage the margin model grants (100 / MIS %)."""
    multiplier = round(100 / call.state.settings.equity_intraday_margin_pct, 2)
    return [
        {"exchange": exchange, "SymbolName": spec.name, "Multiplier": f"{multiplier:g}"}
        for spec in call.state.exchange.instruments.all()
        if spec.exchange == exchange and spec.instrument_type == "" and spec.symbol.endswith("-EQ")
    ]


async def nse_intraday(call: Call) -> web.StreamResponse:
    return ok(_intraday_list(call, "NSE"))


async def bse_intraday(call: Call) -> web.StreamResponse:
    return ok(_intraday_list(call, "BSE"))


async def scrip_master(call: Call) -> web.StreamResponse:
    return json_response(call.state.market.scrip_master_rows())


ROOT = "/rest/secure/angelbroking"
ENDPOINTS = [
    Endpoint(
        "getLtpData",
        "POST",
        (f"{ROOT}/order/v1/getLtpData", f"/order-service{ROOT}/order/v1/getLtpData"),
        ltp_data,
        bucket="ltp",
    ),
    Endpoint(
        "quote", "POST", (f"{ROOT}/market/v1/quote", f"{ROOT}/market/v1/quote/"), market_quote, bucket="quote"
    ),
    Endpoint("searchScrip", "POST", (f"{ROOT}/order/v1/searchScrip",), search_scrip, bucket="search_scrip"),
    Endpoint(
        "getCandleData", "POST", (f"{ROOT}/historical/v1/getCandleData",), candle_data, bucket="candles"
    ),
    Endpoint("getOIData", "POST", (f"{ROOT}/historical/v1/getOIData",), oi_data),
    Endpoint("margin", "POST", (f"{ROOT}/margin/v1/batch",), margin_batch, bucket="margin"),
    Endpoint("estimateCharges", "POST", (f"{ROOT}/brokerage/v1/estimateCharges",), estimate_charges),
    Endpoint("nseIntraday", "GET", (f"{ROOT}/marketData/v1/nseIntraday",), nse_intraday),
    Endpoint("bseIntraday", "GET", (f"{ROOT}/marketData/v1/bseIntraday",), bse_intraday),
    Endpoint(
        "scripMaster", "GET", ("/OpenAPI_File/files/OpenAPIScripMaster.json",), scrip_master, auth="none"
    ),
]
