"""SmartAPI REST routes (reference §2) and how each must be treated on failure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal


class SendKind(Enum):
    """What a failure after the request left the client means."""

    READ = "read"  # idempotent: retried with backoff
    ORDER_WRITE = "order_write"  # place/modify/cancel, GTT create/modify: unknown outcome -> UnresolvedOrder
    WRITE = "write"  # other state changes (cancel, logout, GTT...): not retried, reported as transient


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    method: Literal["GET", "POST"]
    path: str
    kind: SendKind = SendKind.READ
    authenticated: bool = True


_SECURE = "/rest/secure/angelbroking"

ENDPOINTS: dict[str, Endpoint] = {
    endpoint.name: endpoint
    for endpoint in (
        Endpoint(
            "login",
            "POST",
            "/rest/auth/angelbroking/user/v1/loginByPassword",
            SendKind.WRITE,
            authenticated=False,
        ),
        Endpoint("generate_tokens", "POST", "/rest/auth/angelbroking/jwt/v1/generateTokens", SendKind.WRITE),
        Endpoint("profile", "GET", f"{_SECURE}/user/v1/getProfile"),
        Endpoint("logout", "POST", f"{_SECURE}/user/v1/logout", SendKind.WRITE),
        Endpoint("rms", "GET", f"{_SECURE}/user/v1/getRMS"),
        Endpoint("place_order", "POST", f"{_SECURE}/order/v1/placeOrder", SendKind.ORDER_WRITE),
        Endpoint("modify_order", "POST", f"{_SECURE}/order/v1/modifyOrder", SendKind.ORDER_WRITE),
        Endpoint("cancel_order", "POST", f"{_SECURE}/order/v1/cancelOrder", SendKind.ORDER_WRITE),
        Endpoint("order_book", "GET", f"{_SECURE}/order/v1/getOrderBook"),
        Endpoint("trade_book", "GET", f"{_SECURE}/order/v1/getTradeBook"),
        Endpoint("order_details", "GET", f"{_SECURE}/order/v1/details"),
        Endpoint("ltp", "POST", f"{_SECURE}/order/v1/getLtpData"),
        Endpoint("position", "GET", f"{_SECURE}/order/v1/getPosition"),
        Endpoint("convert_position", "POST", f"{_SECURE}/order/v1/convertPosition", SendKind.WRITE),
        Endpoint("holding", "GET", f"{_SECURE}/portfolio/v1/getHolding"),
        Endpoint("all_holding", "GET", f"{_SECURE}/portfolio/v1/getAllHolding"),
        Endpoint("quote", "POST", f"{_SECURE}/market/v1/quote"),
        Endpoint("search_scrip", "POST", f"{_SECURE}/order/v1/searchScrip"),
        Endpoint("candles", "POST", f"{_SECURE}/historical/v1/getCandleData"),
        Endpoint("oi_data", "POST", f"{_SECURE}/historical/v1/getOIData"),
        Endpoint("margin", "POST", f"{_SECURE}/margin/v1/batch"),
        Endpoint("estimate_charges", "POST", f"{_SECURE}/brokerage/v1/estimateCharges"),
        Endpoint("gtt_create", "POST", f"{_SECURE}/gtt/v1/createRule", SendKind.ORDER_WRITE),
        Endpoint("gtt_modify", "POST", f"{_SECURE}/gtt/v1/modifyRule", SendKind.ORDER_WRITE),
        Endpoint("gtt_cancel", "POST", f"{_SECURE}/gtt/v1/cancelRule", SendKind.WRITE),
        Endpoint("gtt_details", "POST", f"{_SECURE}/gtt/v1/ruleDetails"),
        Endpoint("gtt_list", "POST", f"{_SECURE}/gtt/v1/ruleList"),
        Endpoint("option_greek", "POST", f"{_SECURE}/marketData/v1/optionGreek"),
        Endpoint("gainers_losers", "POST", f"{_SECURE}/marketData/v1/gainersLosers"),
        Endpoint("put_call_ratio", "GET", f"{_SECURE}/marketData/v1/putCallRatio"),
        Endpoint("oi_buildup", "POST", f"{_SECURE}/marketData/v1/OIBuildup"),
        Endpoint("verify_dis", "POST", f"{_SECURE}/edis/v1/verifyDis", SendKind.WRITE),
        Endpoint("generate_tpin", "POST", f"{_SECURE}/edis/v1/generateTPIN", SendKind.WRITE),
        Endpoint("edis_status", "POST", f"{_SECURE}/edis/v1/getTranStatus"),
        Endpoint("cautionary_scrips", "GET", f"{_SECURE}/securities/v1/cautionaryScrips"),
    )
}
