"""SmartAPI rows <-> broker-neutral models (`optbot.broker.models`).

Every converter tolerates the recorded type drift (see `parsing`) and raises `ValueError` naming the
field when a row is unusable, so callers can count and skip it instead of crashing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from optbot.broker.angelone.parsing import parse_exchange_time, to_float, to_int, to_str
from optbot.broker.angelone.status_map import UnknownBrokerStatus, map_order_row_status
from optbot.broker.models import (
    BrokerOrder,
    BrokerPosition,
    BrokerTrade,
    Candle,
    ChargeComponent,
    ChargeEstimate,
    DepthLevel,
    MarginRequirement,
    ModifyRequest,
    OrderRequest,
    Quote,
)
from optbot.core.enums import Exchange, OrderStatus, OrderType, ProductType, Side, Variety
from optbot.core.funds import Funds
from optbot.core.timeutil import IST, require_aware, to_ist

#: Reference §3: ordertag must be shorter than 20 characters, else AB4008.
MAX_ORDERTAG_LENGTH = 19


class InvalidOrderRequest(ValueError):
    """An order that the broker would refuse for a reason we can see before sending it."""


def _enum(enum_type: Any, value: Any, field_name: str) -> Any:
    text = to_str(value).upper()
    try:
        return enum_type(text)
    except ValueError:
        raise ValueError(f"{field_name}: unknown value {value!r}") from None


def _variety(value: Any) -> Variety:
    text = to_str(value).upper()
    # The order book may still show AMO although orders are placed as NORMAL (reference §3).
    if text in ("AMO", ""):
        return Variety.NORMAL
    return Variety(_enum(Variety, text, "variety"))


def format_number(value: float) -> str:
    """Numbers go out as strings, like the SDK samples; at most 4 decimals (currency ticks)."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def validate_ordertag(ordertag: str) -> None:
    if not ordertag:
        raise InvalidOrderRequest("ordertag is required: every order carries its intent's client tag")
    if len(ordertag) > MAX_ORDERTAG_LENGTH:
        raise InvalidOrderRequest(
            f"ordertag {ordertag!r} has {len(ordertag)} characters; SmartAPI allows at most "
            f"{MAX_ORDERTAG_LENGTH} (AB4008)"
        )


def _validate_order_numbers(
    quantity: int, order_type: OrderType, price: float, trigger_price: float, what: str
) -> None:
    if quantity <= 0:
        raise InvalidOrderRequest(f"{what}: quantity must be positive, got {quantity}")
    if order_type in (OrderType.LIMIT, OrderType.STOPLOSS_LIMIT) and price <= 0:
        raise InvalidOrderRequest(f"{what}: {order_type.value} needs a positive price, got {price}")
    if order_type in (OrderType.STOPLOSS_LIMIT, OrderType.STOPLOSS_MARKET) and trigger_price <= 0:
        raise InvalidOrderRequest(f"{what}: {order_type.value} needs a positive trigger price")


def place_order_body(request: OrderRequest) -> dict[str, str]:
    validate_ordertag(request.ordertag)
    _validate_order_numbers(
        request.quantity, request.order_type, request.price, request.trigger_price, "placeOrder"
    )
    variety = request.variety
    if request.order_type in (OrderType.STOPLOSS_LIMIT, OrderType.STOPLOSS_MARKET):
        variety = Variety.STOPLOSS
    body = {
        "variety": variety.value,
        "tradingsymbol": request.symbol,
        "symboltoken": request.token,
        "exchange": request.exchange.value,
        "transactiontype": request.side.value,
        "ordertype": request.order_type.value,
        "producttype": request.product.value,
        "duration": request.duration.value,
        "price": format_number(request.price if request.order_type is not OrderType.MARKET else 0.0),
        "quantity": str(request.quantity),
        "ordertag": request.ordertag,
    }
    if request.order_type in (OrderType.STOPLOSS_LIMIT, OrderType.STOPLOSS_MARKET):
        body["triggerprice"] = format_number(request.trigger_price)
    return body


def modify_order_body(request: ModifyRequest) -> dict[str, str]:
    if not request.order_id:
        raise InvalidOrderRequest("modifyOrder: order_id is required")
    _validate_order_numbers(
        request.quantity, request.order_type, request.price, request.trigger_price, "modifyOrder"
    )
    variety = request.variety
    if request.order_type in (OrderType.STOPLOSS_LIMIT, OrderType.STOPLOSS_MARKET):
        variety = Variety.STOPLOSS
    body = {
        "variety": variety.value,
        "orderid": request.order_id,
        "ordertype": request.order_type.value,
        "producttype": request.product.value,
        "duration": request.duration.value,
        "price": format_number(request.price if request.order_type is not OrderType.MARKET else 0.0),
        "quantity": str(request.quantity),
        "tradingsymbol": request.symbol,
        "symboltoken": request.token,
        "exchange": request.exchange.value,
    }
    if request.order_type in (OrderType.STOPLOSS_LIMIT, OrderType.STOPLOSS_MARKET):
        body["triggerprice"] = format_number(request.trigger_price)
    return body


def _order_status(status: str, filled: int, quantity: int) -> OrderStatus | None:
    """The neutral status of an order-book row; None for a text the status table does not know."""
    try:
        return map_order_row_status(status, filled, quantity)
    except UnknownBrokerStatus:
        return None


def order_from_row(row: dict[str, Any]) -> BrokerOrder:
    order_id = to_str(row.get("orderid"))
    if not order_id:
        raise ValueError("order row: orderid is missing")
    quantity = to_int(row.get("quantity"), "quantity")
    filled = to_int(row.get("filledshares"), "filledshares")
    status = " ".join(to_str(row.get("status") or row.get("orderstatus")).lower().split())
    return BrokerOrder(
        order_id=order_id,
        unique_order_id=to_str(row.get("uniqueorderid")),
        exchange=_enum(Exchange, row.get("exchange"), "exchange"),
        token=to_str(row.get("symboltoken")),
        symbol=to_str(row.get("tradingsymbol")),
        side=_enum(Side, row.get("transactiontype"), "transactiontype"),
        order_type=_enum(OrderType, row.get("ordertype"), "ordertype"),
        product=_enum(ProductType, row.get("producttype"), "producttype"),
        variety=_variety(row.get("variety")),
        quantity=quantity,
        filled_quantity=filled,
        price=to_float(row.get("price"), "price"),
        trigger_price=to_float(row.get("triggerprice"), "triggerprice"),
        average_price=to_float(row.get("averageprice"), "averageprice"),
        status=status,
        order_status=_order_status(status, filled, quantity),
        ordertag=to_str(row.get("ordertag")),
        text=to_str(row.get("text")),
        update_time=parse_exchange_time(row.get("updatetime")),
        exchange_time=parse_exchange_time(row.get("exchorderupdatetime") or row.get("exchtime")),
    )


def trade_from_row(row: dict[str, Any], session_date: date) -> BrokerTrade:
    fill_id = to_str(row.get("fillid"))
    order_id = to_str(row.get("orderid"))
    if not fill_id or not order_id:
        raise ValueError("trade row: fillid and orderid are required")
    fill_time: datetime | None = None
    text = to_str(row.get("filltime"))
    if text:
        try:
            fill_time = datetime.combine(session_date, time.fromisoformat(text), tzinfo=IST)
        except ValueError:
            fill_time = parse_exchange_time(text)
    return BrokerTrade(
        fill_id=fill_id,
        order_id=order_id,
        exchange=_enum(Exchange, row.get("exchange"), "exchange"),
        token=to_str(row.get("symboltoken")),
        symbol=to_str(row.get("tradingsymbol")),
        side=_enum(Side, row.get("transactiontype"), "transactiontype"),
        product=_enum(ProductType, row.get("producttype"), "producttype"),
        quantity=to_int(row.get("fillsize"), "fillsize"),
        price=to_float(row.get("fillprice"), "fillprice"),
        fill_time=fill_time,
    )


def position_from_row(row: dict[str, Any]) -> BrokerPosition:
    buy_quantity = to_int(row.get("buyqty"), "buyqty") + to_int(row.get("cfbuyqty"), "cfbuyqty")
    sell_quantity = to_int(row.get("sellqty"), "sellqty") + to_int(row.get("cfsellqty"), "cfsellqty")
    net_quantity = to_int(row.get("netqty"), "netqty", default=buy_quantity - sell_quantity)
    lot_size = to_int(row.get("lotsize") or row.get("boardlotsize"), "lotsize", default=1)
    return BrokerPosition(
        exchange=_enum(Exchange, row.get("exchange"), "exchange"),
        token=to_str(row.get("symboltoken")),
        symbol=to_str(row.get("tradingsymbol")),
        product=_enum(ProductType, row.get("producttype"), "producttype"),
        net_quantity=net_quantity,
        buy_quantity=buy_quantity,
        sell_quantity=sell_quantity,
        buy_amount=to_float(row.get("totalbuyvalue") or row.get("buyamount"), "buyamount"),
        sell_amount=to_float(row.get("totalsellvalue") or row.get("sellamount"), "sellamount"),
        average_net_price=to_float(row.get("avgnetprice") or row.get("netprice"), "avgnetprice"),
        lot_size=max(lot_size, 1),
    )


def funds_from_rms(data: Any) -> Funds:
    if not isinstance(data, dict):
        raise ValueError("getRMS: data is not an object")
    return Funds(
        net=to_float(data.get("net"), "net"),
        available_cash=to_float(data.get("availablecash"), "availablecash"),
        utilised_margin=to_float(data.get("utiliseddebits"), "utiliseddebits"),
        realised_m2m=to_float(data.get("m2mrealized"), "m2mrealized"),
        unrealised_m2m=to_float(data.get("m2munrealized"), "m2munrealized"),
    )


def _depth(levels: Any) -> tuple[DepthLevel, ...]:
    if not isinstance(levels, list):
        return ()
    return tuple(
        DepthLevel(
            to_float(level.get("price"), "depth.price"),
            to_int(level.get("quantity"), "depth.quantity"),
            to_int(level.get("orders"), "depth.orders"),
        )
        for level in levels
        if isinstance(level, dict)
    )


def _optional_float(row: dict[str, Any], key: str) -> float | None:
    return to_float(row[key], key) if row.get(key) not in (None, "") else None


def _optional_int(row: dict[str, Any], key: str) -> int | None:
    return int(to_float(row[key], key)) if row.get(key) not in (None, "") else None


def quote_from_row(row: dict[str, Any]) -> Quote:
    token = to_str(row.get("symbolToken") or row.get("symboltoken"))
    if not token:
        raise ValueError("quote row: symbolToken is missing")
    depth: dict[str, Any] = row["depth"] if isinstance(row.get("depth"), dict) else {}
    return Quote(
        exchange=_enum(Exchange, row.get("exchange"), "exchange"),
        token=token,
        symbol=to_str(row.get("tradingSymbol") or row.get("tradingsymbol")),
        ltp=to_float(row.get("ltp"), "ltp"),
        open=_optional_float(row, "open"),
        high=_optional_float(row, "high"),
        low=_optional_float(row, "low"),
        close=_optional_float(row, "close"),
        volume=_optional_int(row, "tradeVolume"),
        open_interest=_optional_int(row, "opnInterest"),
        upper_circuit=_optional_float(row, "upperCircuit"),
        lower_circuit=_optional_float(row, "lowerCircuit"),
        bids=_depth(depth.get("buy")),
        asks=_depth(depth.get("sell")),
        exchange_time=parse_exchange_time(row.get("exchFeedTime")),
    )


def candle_from_row(row: Any) -> Candle:
    if not isinstance(row, list | tuple) or len(row) < 6:
        raise ValueError(f"candle row: expected [time, o, h, l, c, v], got {row!r:.80}")
    start = parse_exchange_time(row[0])
    if start is None:
        raise ValueError(f"candle row: bad timestamp {row[0]!r}")
    return Candle(
        start=start,
        open=to_float(row[1], "open"),
        high=to_float(row[2], "high"),
        low=to_float(row[3], "low"),
        close=to_float(row[4], "close"),
        volume=int(to_float(row[5], "volume")),
    )


def candle_time_text(moment: datetime) -> str:
    """`yyyy-MM-dd HH:mm` in IST, as getCandleData expects (reference §4)."""
    return to_ist(require_aware(moment)).strftime("%Y-%m-%d %H:%M")


def margin_positions(requests: Sequence[OrderRequest]) -> list[dict[str, Any]]:
    return [
        {
            "exchange": request.exchange.value,
            "qty": request.quantity,
            "price": request.price,
            "productType": request.product.value,
            "token": request.token,
            "tradeType": request.side.value,
            "orderType": request.order_type.value,
        }
        for request in requests
    ]


def margin_from_data(data: Any) -> MarginRequirement:
    if not isinstance(data, dict):
        raise ValueError("margin batch: data is not an object")
    components: dict[str, Any] = (
        data["marginComponents"] if isinstance(data.get("marginComponents"), dict) else {}
    )
    premium = components.get("netPremium")
    if premium in (None, ""):
        premium = components.get("totOptionsPremium")
    return MarginRequirement(
        total=to_float(data.get("totalMarginRequired"), "totalMarginRequired"),
        span=to_float(components.get("spanMargin"), "spanMargin"),
        exposure=to_float(components.get("exposureMargin"), "exposureMargin"),
        premium=to_float(premium, "netPremium"),
    )


def charge_orders(requests: Sequence[OrderRequest]) -> list[dict[str, Any]]:
    return [
        {
            "product_type": request.product.value,
            "transaction_type": request.side.value,
            "quantity": str(request.quantity),
            "price": format_number(request.price),
            "exchange": request.exchange.value,
            "symbol_name": request.symbol,
            "token": request.token,
        }
        for request in requests
    ]


def charges_from_data(data: Any) -> ChargeEstimate:
    if not isinstance(data, dict) or not isinstance(data.get("summary"), dict):
        raise ValueError("estimateCharges: data.summary is missing")
    summary = data["summary"]
    breakup: list[Any] = summary["breakup"] if isinstance(summary.get("breakup"), list) else []
    return ChargeEstimate(
        total=to_float(summary.get("total_charges"), "total_charges"),
        trade_value=to_float(summary.get("trade_value"), "trade_value"),
        components=tuple(
            ChargeComponent(to_str(node.get("name")), to_float(node.get("amount"), "amount"))
            for node in breakup
            if isinstance(node, dict)
        ),
    )


@dataclass(frozen=True, slots=True)
class Profile:
    client_code: str
    name: str
    exchanges: tuple[str, ...]
    products: tuple[str, ...]
    last_login: str = ""


def profile_from_data(data: Any) -> Profile:
    if not isinstance(data, dict):
        raise ValueError("getProfile: data is not an object")
    exchanges: list[Any] = data["exchanges"] if isinstance(data.get("exchanges"), list) else []
    products: list[Any] = data["products"] if isinstance(data.get("products"), list) else []
    return Profile(
        client_code=to_str(data.get("clientcode")),
        name=to_str(data.get("name")),
        exchanges=tuple(to_str(item) for item in exchanges),
        products=tuple(to_str(item) for item in products),
        last_login=to_str(data.get("lastlogintime")),
    )


@dataclass(frozen=True, slots=True)
class ScripMatch:
    exchange: str
    symbol: str
    token: str


@dataclass(frozen=True, slots=True)
class OptionGreek:
    name: str
    expiry: str
    strike: float
    option_type: str
    delta: float
    gamma: float
    theta: float
    vega: float
    implied_volatility: float
    trade_volume: float


def greek_from_row(row: dict[str, Any]) -> OptionGreek:
    return OptionGreek(
        name=to_str(row.get("name")),
        expiry=to_str(row.get("expiry")),
        strike=to_float(row.get("strikePrice"), "strikePrice"),
        option_type=to_str(row.get("optionType")).upper(),
        delta=to_float(row.get("delta"), "delta"),
        gamma=to_float(row.get("gamma"), "gamma"),
        theta=to_float(row.get("theta"), "theta"),
        vega=to_float(row.get("vega"), "vega"),
        implied_volatility=to_float(row.get("impliedVolatility"), "impliedVolatility"),
        trade_volume=to_float(row.get("tradeVolume"), "tradeVolume"),
    )


@dataclass(frozen=True, slots=True)
class OpenInterestPoint:
    time: datetime
    open_interest: int


def oi_point_from_row(row: dict[str, Any]) -> OpenInterestPoint:
    moment = parse_exchange_time(row.get("time"))
    if moment is None:
        raise ValueError(f"OI row: bad time {row.get('time')!r}")
    return OpenInterestPoint(moment, int(to_float(row.get("oi"), "oi")))


@dataclass(frozen=True, slots=True)
class PutCallRatio:
    symbol: str
    pcr: float


@dataclass(frozen=True, slots=True)
class MarketMover:
    """A gainersLosers / OIBuildup row (fields absent in one of them are 0)."""

    symbol: str
    token: str
    percent_change: float
    open_interest: float
    net_change_open_interest: float
    ltp: float = 0.0
    net_change: float = 0.0


def mover_from_row(row: dict[str, Any]) -> MarketMover:
    symbol = to_str(row.get("tradingSymbol"))
    if not symbol:
        raise ValueError("market mover row: tradingSymbol is missing")
    return MarketMover(
        symbol=symbol,
        token=to_str(row.get("symbolToken")),
        percent_change=to_float(row.get("percentChange"), "percentChange"),
        open_interest=to_float(row.get("opnInterest"), "opnInterest"),
        net_change_open_interest=to_float(row.get("netChangeOpnInterest"), "netChangeOpnInterest"),
        ltp=to_float(row.get("ltp"), "ltp"),
        net_change=to_float(row.get("netChange"), "netChange"),
    )


@dataclass(frozen=True, slots=True)
class Holding:
    """One getHolding row (reference §3 "Holding row"). `quantity` is settled + T1 shares."""

    symbol: str
    exchange: str
    token: str
    isin: str
    quantity: int
    average_price: float
    ltp: float
    profit_and_loss: float
    t1_quantity: int = 0
    realised_quantity: int = 0
    authorised_quantity: int = 0
    product: str = ""
    collateral_quantity: int | None = None
    collateral_type: str = ""
    haircut: float = 0.0
    close: float = 0.0
    pnl_percentage: float = 0.0


def holding_from_row(row: dict[str, Any]) -> Holding:
    collateral = row.get("collateralquantity")
    return Holding(
        symbol=to_str(row.get("tradingsymbol")),
        exchange=to_str(row.get("exchange")),
        token=to_str(row.get("symboltoken")),
        isin=to_str(row.get("isin")),
        quantity=to_int(row.get("quantity"), "quantity"),
        average_price=to_float(row.get("averageprice"), "averageprice"),
        ltp=to_float(row.get("ltp"), "ltp"),
        profit_and_loss=to_float(row.get("profitandloss"), "profitandloss"),
        t1_quantity=to_int(row.get("t1quantity"), "t1quantity"),
        realised_quantity=to_int(row.get("realisedquantity"), "realisedquantity"),
        authorised_quantity=to_int(row.get("authorisedquantity"), "authorisedquantity"),
        product=to_str(row.get("product")),
        collateral_quantity=None if collateral is None else to_int(collateral, "collateralquantity"),
        collateral_type=to_str(row.get("collateraltype")),
        haircut=to_float(row.get("haircut"), "haircut"),
        close=to_float(row.get("close"), "close"),
        pnl_percentage=to_float(row.get("pnlpercentage"), "pnlpercentage"),
    )


@dataclass(frozen=True, slots=True)
class HoldingsSummary:
    """getAllHolding: the rows plus `totalholding` (reference §2)."""

    holdings: tuple[Holding, ...]
    total_holding_value: float
    total_investment_value: float
    total_profit_and_loss: float
    total_pnl_percentage: float


def holdings_summary_totals(data: dict[str, Any], holdings: Sequence[Holding]) -> HoldingsSummary:
    totals = data.get("totalholding")
    if not isinstance(totals, dict):
        raise ValueError("getAllHolding: totalholding is missing")
    return HoldingsSummary(
        holdings=tuple(holdings),
        total_holding_value=to_float(totals.get("totalholdingvalue"), "totalholdingvalue"),
        total_investment_value=to_float(totals.get("totalinvvalue"), "totalinvvalue"),
        total_profit_and_loss=to_float(totals.get("totalprofitandloss"), "totalprofitandloss"),
        total_pnl_percentage=to_float(totals.get("totalpnlpercentage"), "totalpnlpercentage"),
    )


@dataclass(frozen=True, slots=True)
class EdisVerification:
    """verifyDis reply: what the CDSL authorisation page (ReturnURL) and generateTPIN need."""

    request_id: str
    return_url: str
    dp_id: str
    bo_id: str
    transaction_details: str
    version: str


def edis_verification_from_data(data: Any) -> EdisVerification:
    if not isinstance(data, dict) or not to_str(data.get("ReqId")):
        raise ValueError("verifyDis reply without ReqId")
    return EdisVerification(
        request_id=to_str(data.get("ReqId")),
        return_url=to_str(data.get("ReturnURL")),
        dp_id=to_str(data.get("DPId")),
        bo_id=to_str(data.get("BOID")),
        transaction_details=to_str(data.get("TransDtls")),
        version=to_str(data.get("version")),
    )


@dataclass(frozen=True, slots=True)
class EdisStatus:
    """getTranStatus reply. `authorised` is None when the status field is absent or unrecognised."""

    request_id: str
    authorised: bool | None
    status_code: str
    reason: str
    remarks: str
    raw: dict[str, Any]


def edis_status_from_data(data: Any, request_id: str) -> EdisStatus:
    if not isinstance(data, dict):
        raise ValueError("getTranStatus reply is not an object")
    code = to_str(data.get("ResStatus"))
    authorised = {"0": True, "1": False}.get(code)
    return EdisStatus(
        request_id=to_str(data.get("ReqId"), request_id),
        authorised=authorised,
        status_code=code,
        reason=to_str(data.get("ResRsn")),
        remarks=to_str(data.get("Remarks")),
        raw=dict(data),
    )


@dataclass(frozen=True, slots=True)
class CautionaryScrip:
    token: str
    symbol: str
    message: str


def cautionary_from_row(row: dict[str, Any]) -> CautionaryScrip:
    token = to_str(row.get("token"))
    if not token:
        raise ValueError("cautionary scrip row: token is missing")
    return CautionaryScrip(token, to_str(row.get("symbol")), to_str(row.get("message")))


def convert_position_body(
    position: BrokerPosition, new_product: ProductType, quantity: int
) -> dict[str, Any]:
    if quantity <= 0 or quantity > abs(position.net_quantity):
        raise InvalidOrderRequest(
            f"convertPosition: quantity must be 1..{abs(position.net_quantity)} "
            f"for {position.symbol}, got {quantity}"
        )
    if new_product is position.product:
        raise InvalidOrderRequest(f"convertPosition: {position.symbol} is already {new_product.value}")
    return {
        "exchange": position.exchange.value,
        "symboltoken": position.token,
        "oldproducttype": position.product.value,
        "newproducttype": new_product.value,
        "tradingsymbol": position.symbol,
        "transactiontype": "BUY" if position.net_quantity > 0 else "SELL",
        "quantity": quantity,
        "type": "DAY",
    }


@dataclass(frozen=True, slots=True)
class GttRule:
    """A GTT rule to create or modify (NSE/BSE, DELIVERY or MARGIN only; reference §3)."""

    exchange: Exchange
    token: str
    symbol: str
    side: Side
    product: ProductType
    price: float
    quantity: int
    trigger_price: float
    disclosed_quantity: int = 0
    time_period_days: int = 365


def gtt_rule_body(rule: GttRule) -> dict[str, Any]:
    if rule.exchange not in (Exchange.NSE, Exchange.BSE):
        raise InvalidOrderRequest(f"GTT rules are NSE/BSE only, not {rule.exchange.value}")
    if rule.product not in (ProductType.DELIVERY, ProductType.MARGIN):
        raise InvalidOrderRequest(f"GTT rules need DELIVERY or MARGIN, not {rule.product.value}")
    if rule.quantity <= 0 or rule.price <= 0 or rule.trigger_price <= 0:
        raise InvalidOrderRequest("GTT rule: quantity, price and trigger price must be positive")
    return {
        "tradingsymbol": rule.symbol,
        "symboltoken": rule.token,
        "exchange": rule.exchange.value,
        "transactiontype": rule.side.value,
        "producttype": rule.product.value,
        "price": format_number(rule.price),
        "qty": str(rule.quantity),
        "triggerprice": format_number(rule.trigger_price),
        "disclosedqty": str(rule.disclosed_quantity),
        "timeperiod": str(rule.time_period_days),
    }
