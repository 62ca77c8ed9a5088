"""`AngelOneBroker`: the `Broker` protocol on top of the SmartAPI REST client.

Rows that cannot be mapped are logged, counted in `skipped_rows` and skipped: one odd row in an
order book must not hide the other orders from reconciliation.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from optbot.broker.angelone import mapping
from optbot.broker.angelone.mapping import (
    CautionaryScrip,
    EdisStatus,
    EdisVerification,
    GttRule,
    Holding,
    HoldingsSummary,
    MarketMover,
    OpenInterestPoint,
    OptionGreek,
    Profile,
    PutCallRatio,
    ScripMatch,
)
from optbot.broker.angelone.parsing import as_list, as_rows, to_float, to_str
from optbot.broker.angelone.ratelimit import Priority
from optbot.broker.angelone.rest import AngelOneRestClient
from optbot.broker.angelone.session import SessionTokens, generate_tokens, login_by_password, logout
from optbot.broker.base import CandleInterval, QuoteMode
from optbot.broker.errors import BrokerRejected, TransientError, UnresolvedOrder
from optbot.broker.models import (
    BrokerOrder,
    BrokerPosition,
    BrokerTrade,
    Candle,
    ChargeEstimate,
    MarginRequirement,
    ModifyRequest,
    OrderRequest,
    PlaceResult,
    Quote,
)
from optbot.config.sections.broker import BrokerSettings
from optbot.core.clock import Clock
from optbot.core.enums import Exchange, ProductType, Variety
from optbot.core.funds import Funds
from optbot.core.timeutil import require_aware

log = logging.getLogger("optbot.broker.angelone")
RowT = TypeVar("RowT")

#: Reference §4: maximum days per getCandleData request, by interval.
CANDLE_MAX_DAYS: dict[str, int] = {
    "ONE_MINUTE": 30,
    "THREE_MINUTE": 60,
    "FIVE_MINUTE": 100,
    "TEN_MINUTE": 100,
    "FIFTEEN_MINUTE": 200,
    "THIRTY_MINUTE": 200,
    "ONE_HOUR": 400,
    "ONE_DAY": 2000,
}
GAINERS_LOSERS_TYPES = ("PercOIGainers", "PercOILosers", "PercPriceGainers", "PercPriceLosers")
OI_BUILDUP_TYPES = ("Long Built Up", "Short Built Up", "Short Covering", "Long Unwinding")
EXPIRY_TYPES = ("NEAR", "NEXT", "FAR")
GTT_STATUSES = ("NEW", "CANCELLED", "ACTIVE", "SENTTOEXCHANGE", "FORALL")
EDIS_ISIN_LENGTH = 12
#: Reference §4: up to 50 tokens per quote request.
QUOTE_TOKENS_PER_REQUEST = 50


def _place_result(data: Any, what: str, ordertag: str = "") -> PlaceResult:
    if not isinstance(data, dict) or not to_str(data.get("orderid")):
        # The broker said success but gave no id: the order may exist, so never treat it as failed.
        raise UnresolvedOrder(ordertag, f"{what} reply without orderid")
    return PlaceResult(to_str(data.get("orderid")), to_str(data.get("uniqueorderid")))


def _rows(data: Any, what: str, arrays: bool = False) -> list[Any]:
    """Rows of a list reply; a reply of the wrong shape is a broker fault, not a crash."""
    try:
        return as_list(data, what) if arrays else as_rows(data, what)
    except ValueError as exc:
        raise TransientError(f"malformed reply: {exc}") from None


def _one(convert: Callable[[Any], RowT], data: Any, what: str) -> RowT:
    """One object reply mapped to a model; a broken one is a broker fault, not a crash."""
    try:
        return convert(data)
    except (ValueError, TypeError) as exc:
        raise TransientError(f"malformed {what} reply: {exc}") from None


class AngelOneBroker:
    """Implements `optbot.broker.base.Broker` for a live Angel One account."""

    def __init__(self, rest: AngelOneRestClient, clock: Clock, settings: BrokerSettings) -> None:
        self.rest = rest
        self._clock = clock
        self._settings = settings
        self.skipped_rows: Counter[str] = Counter()

    # -- mapping helper ---------------------------------------------------------------------------

    def _map_rows(self, rows: list[Any], convert: Callable[[Any], RowT], what: str) -> list[RowT]:
        mapped: list[RowT] = []
        for row in rows:
            try:
                mapped.append(convert(row))
            except (ValueError, TypeError, KeyError) as exc:
                self.skipped_rows[what] += 1
                log.warning("skipped malformed %s row: %s", what, exc)
        return mapped

    # -- session ----------------------------------------------------------------------------------

    async def login(self, client_code: str, pin: str, totp: str) -> SessionTokens:
        return await login_by_password(
            self.rest, client_code, pin, totp, self._clock.now_utc(), self._settings.session_expiry_time_ist
        )

    async def refresh(self, tokens: SessionTokens) -> SessionTokens:
        return await generate_tokens(
            self.rest, tokens, self._clock.now_utc(), self._settings.session_expiry_time_ist
        )

    async def logout(self, client_code: str) -> None:
        await logout(self.rest, client_code)

    async def profile(self) -> Profile:
        return _one(mapping.profile_from_data, await self.rest.call("profile"), "getProfile")

    # -- orders -----------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest, priority: Priority = Priority.ENTRY) -> PlaceResult:
        """Never retried. Raises BrokerRejected, RateLimited, TokenExpired or UnresolvedOrder."""
        body = mapping.place_order_body(request)
        data = await self.rest.call("place_order", body, priority=priority, ordertag=request.ordertag)
        return _place_result(data, "placeOrder", request.ordertag)

    async def modify_order(self, request: ModifyRequest, priority: Priority = Priority.EXIT) -> PlaceResult:
        body = mapping.modify_order_body(request)
        data = await self.rest.call("modify_order", body, priority=priority, ordertag=request.order_id)
        return _place_result(data, "modifyOrder", request.order_id)

    async def cancel_order(self, order_id: str, variety: Variety = Variety.NORMAL) -> PlaceResult:
        if not order_id:
            raise mapping.InvalidOrderRequest("cancelOrder: order_id is required")
        # An unknown outcome raises UnresolvedOrder (its ordertag holds the order id): settle it from
        # the order book or the order-update socket before cancelling again.
        data = await self.rest.call(
            "cancel_order",
            {"variety": variety.value, "orderid": order_id},
            priority=Priority.CANCEL,
            ordertag=order_id,
        )
        if not isinstance(data, dict):
            return PlaceResult(order_id, "")
        return PlaceResult(to_str(data.get("orderid")) or order_id, to_str(data.get("uniqueorderid")))

    async def order_book(self) -> list[BrokerOrder]:
        rows = _rows(await self.rest.call("order_book"), "getOrderBook")
        return self._map_rows(rows, mapping.order_from_row, "order")

    async def order_details(self, unique_order_id: str) -> BrokerOrder | None:
        if not unique_order_id or "/" in unique_order_id:
            raise mapping.InvalidOrderRequest(f"order details: bad unique order id {unique_order_id!r}")
        try:
            data = await self.rest.call("order_details", path_suffix=unique_order_id)
        except BrokerRejected as exc:
            if exc.code == "AB1013":  # Order not found
                return None
            raise
        if not isinstance(data, dict) or not data:
            return None
        mapped = self._map_rows([data], mapping.order_from_row, "order")
        return mapped[0] if mapped else None

    async def trade_book(self) -> list[BrokerTrade]:
        rows = _rows(await self.rest.call("trade_book"), "getTradeBook")
        session_date = self._clock.now_ist().date()
        return self._map_rows(rows, lambda row: mapping.trade_from_row(row, session_date), "trade")

    async def positions(self) -> list[BrokerPosition]:
        rows = _rows(await self.rest.call("position"), "getPosition")
        return self._map_rows(rows, mapping.position_from_row, "position")

    async def funds(self) -> Funds:
        return _one(mapping.funds_from_rms, await self.rest.call("rms"), "getRMS")

    # -- market data ------------------------------------------------------------------------------

    async def quotes(self, mode: QuoteMode, tokens: dict[Exchange, Sequence[str]]) -> list[Quote]:
        if mode not in ("LTP", "OHLC", "FULL"):
            raise ValueError(f"quote mode must be LTP, OHLC or FULL, got {mode!r}")
        pairs = [(exchange, token) for exchange, items in tokens.items() for token in dict.fromkeys(items)]
        quotes: list[Quote] = []
        for start in range(0, len(pairs), QUOTE_TOKENS_PER_REQUEST):
            chunk: dict[str, list[str]] = {}
            for exchange, token in pairs[start : start + QUOTE_TOKENS_PER_REQUEST]:
                chunk.setdefault(Exchange(exchange).value, []).append(token)
            data = await self.rest.call("quote", {"mode": mode, "exchangeTokens": chunk})
            if not isinstance(data, dict):
                continue
            quotes.extend(
                self._map_rows(_rows(data.get("fetched"), "quote"), mapping.quote_from_row, "quote")
            )
            for missing in _rows(data.get("unfetched"), "quote.unfetched"):
                self.skipped_rows["quote.unfetched"] += 1
                log.warning(
                    "quote not fetched: exchange=%s token=%s %s %s",
                    missing.get("exchange"),
                    missing.get("symbolToken"),
                    missing.get("errorCode"),
                    missing.get("message"),
                )
        return quotes

    async def ltp(self, exchange: Exchange, symbol: str, token: str) -> float:
        data = await self.rest.call(
            "ltp", {"exchange": exchange.value, "tradingsymbol": symbol, "symboltoken": token}
        )
        if not isinstance(data, dict):
            raise TransientError(f"getLtpData: no data for {exchange.value}:{token}")
        try:
            price = to_float(data.get("ltp"), "ltp", default=math.nan)
        except (ValueError, TypeError) as exc:
            raise TransientError(f"malformed getLtpData reply for {exchange.value}:{token}: {exc}") from None
        if not price > 0:  # missing (nan), zero or negative: not a traded price
            raise TransientError(f"getLtpData: no usable ltp for {exchange.value}:{token} ({price})")
        return price

    async def candles(
        self, exchange: Exchange, token: str, interval: CandleInterval, start: datetime, end: datetime
    ) -> list[Candle]:
        """Splits long ranges into requests within the per-interval day limits (reference §4)."""
        if interval not in CANDLE_MAX_DAYS:
            raise ValueError(f"unknown candle interval {interval!r}; one of {', '.join(CANDLE_MAX_DAYS)}")
        require_aware(start)
        require_aware(end)
        if end < start:
            raise ValueError(f"candle range ends before it starts: {start} > {end}")
        span = timedelta(days=CANDLE_MAX_DAYS[interval])
        by_start: dict[datetime, Candle] = {}
        chunk_start = start
        while chunk_start <= end:
            chunk_end = min(end, chunk_start + span - timedelta(minutes=1))
            body = {
                "exchange": exchange.value,
                "symboltoken": token,
                "interval": interval,
                "fromdate": mapping.candle_time_text(chunk_start),
                "todate": mapping.candle_time_text(chunk_end),
            }
            rows = _rows(await self.rest.call("candles", body), "getCandleData", arrays=True)
            for candle in self._map_rows(rows, mapping.candle_from_row, "candle"):
                by_start[candle.start] = candle
            chunk_start = chunk_end + timedelta(minutes=1)
        return [by_start[key] for key in sorted(by_start)]

    async def search_scrip(self, exchange: Exchange, text: str) -> list[ScripMatch]:
        if not text.strip():
            raise ValueError("search text must not be empty")
        data = await self.rest.call("search_scrip", {"exchange": exchange.value, "searchscrip": text})
        return self._map_rows(
            _rows(data, "searchScrip"),
            lambda row: ScripMatch(
                to_str(row.get("exchange")), to_str(row.get("tradingsymbol")), to_str(row.get("symboltoken"))
            ),
            "scrip",
        )

    async def option_greeks(self, underlying: str, expiry: str) -> list[OptionGreek]:
        """`expiry` as SmartAPI wants it, e.g. `25JAN2024` (NSE only, 1 request/s)."""
        data = await self.rest.call("option_greek", {"name": underlying, "expirydate": expiry.upper()})
        return self._map_rows(_rows(data, "optionGreek"), mapping.greek_from_row, "greek")

    async def margin_required(self, requests: Sequence[OrderRequest]) -> MarginRequirement:
        if not requests:
            return MarginRequirement(total=0.0)
        data = await self.rest.call("margin", {"positions": mapping.margin_positions(requests)})
        return _one(mapping.margin_from_data, data, "margin")

    async def estimate_charges(self, requests: Sequence[OrderRequest]) -> ChargeEstimate:
        if not requests:
            return ChargeEstimate(total=0.0, trade_value=0.0, components=())
        data = await self.rest.call("estimate_charges", {"orders": mapping.charge_orders(requests)})
        return _one(mapping.charges_from_data, data, "estimateCharges")

    # -- analytics, holdings, conversions, GTT ------------------------------------------------------

    async def oi_data(
        self, exchange: Exchange, token: str, interval: CandleInterval, start: datetime, end: datetime
    ) -> list[OpenInterestPoint]:
        """getOIData (live F&O contracts only); same body as getCandleData."""
        if interval not in CANDLE_MAX_DAYS:
            raise ValueError(f"unknown interval {interval!r}; one of {', '.join(CANDLE_MAX_DAYS)}")
        body = {
            "exchange": exchange.value,
            "symboltoken": token,
            "interval": interval,
            "fromdate": mapping.candle_time_text(start),
            "todate": mapping.candle_time_text(end),
        }
        data = await self.rest.call("oi_data", body)
        return self._map_rows(_rows(data, "getOIData"), mapping.oi_point_from_row, "oi")

    async def put_call_ratio(self) -> list[PutCallRatio]:
        data = await self.rest.call("put_call_ratio")
        return self._map_rows(
            _rows(data, "putCallRatio"),
            lambda row: PutCallRatio(to_str(row.get("tradingSymbol")), to_float(row.get("pcr"), "pcr")),
            "pcr",
        )

    async def gainers_losers(self, data_type: str, expiry_type: str = "NEAR") -> list[MarketMover]:
        """data_type: PercOIGainers, PercOILosers, PercPriceGainers, PercPriceLosers; expiry NEAR/NEXT/FAR."""
        if data_type not in GAINERS_LOSERS_TYPES or expiry_type not in EXPIRY_TYPES:
            raise ValueError(
                f"gainersLosers: datatype one of {', '.join(GAINERS_LOSERS_TYPES)}, "
                f"expirytype one of {', '.join(EXPIRY_TYPES)}"
            )
        data = await self.rest.call("gainers_losers", {"datatype": data_type, "expirytype": expiry_type})
        return self._map_rows(_rows(data, "gainersLosers"), mapping.mover_from_row, "mover")

    async def oi_buildup(self, data_type: str, expiry_type: str = "NEAR") -> list[MarketMover]:
        """data_type: "Long Built Up", "Short Built Up", "Short Covering", "Long Unwinding"."""
        if data_type not in OI_BUILDUP_TYPES or expiry_type not in EXPIRY_TYPES:
            raise ValueError(
                f"OIBuildup: datatype one of {', '.join(OI_BUILDUP_TYPES)}, "
                f"expirytype one of {', '.join(EXPIRY_TYPES)}"
            )
        data = await self.rest.call("oi_buildup", {"expirytype": expiry_type, "datatype": data_type})
        return self._map_rows(_rows(data, "OIBuildup"), mapping.mover_from_row, "mover")

    async def holdings(self) -> list[Holding]:
        data = await self.rest.call("holding")
        return self._map_rows(_rows(data, "getHolding"), mapping.holding_from_row, "holding")

    async def all_holdings(self) -> HoldingsSummary:
        """getAllHolding: every holding row plus the account totals."""
        data = await self.rest.call("all_holding")
        if not isinstance(data, dict):
            raise TransientError("malformed getAllHolding reply: not an object")
        rows = self._map_rows(
            _rows(data.get("holdings") or [], "getAllHolding"), mapping.holding_from_row, "holding"
        )
        return _one(lambda payload: mapping.holdings_summary_totals(payload, rows), data, "getAllHolding")

    async def verify_dis(self, isin: str, quantity: int) -> EdisVerification:
        """EDIS step 1: ask to sell `quantity` shares of `isin` from the demat account. Not retried."""
        isin_text = isin.strip().upper()
        if len(isin_text) != EDIS_ISIN_LENGTH or not isin_text.isalnum():
            raise ValueError(f"verifyDis: isin must be a 12-character ISIN, got {isin!r}")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise ValueError(
                f"verifyDis: quantity must be a positive whole number of shares, got {quantity!r}"
            )
        data = await self.rest.call("verify_dis", {"isin": isin_text, "quantity": str(quantity)})
        return _one(mapping.edis_verification_from_data, data, "verifyDis")

    async def generate_tpin(self, verification: EdisVerification, pan: str) -> None:
        """EDIS step 2: CDSL sends a TPIN to the registered mobile. Not retried."""
        if not pan.strip():
            raise ValueError("generateTPIN: pan is required")
        body = {
            "dpId": verification.dp_id,
            "ReqId": verification.request_id,
            "boid": verification.bo_id,
            "pan": pan.strip().upper(),
        }
        await self.rest.call("generate_tpin", body)

    async def edis_status(self, request_id: str) -> EdisStatus:
        """EDIS step 3: whether CDSL authorised the request."""
        if not request_id.strip():
            raise ValueError("getTranStatus: request id is required")
        data = await self.rest.call("edis_status", {"ReqId": request_id.strip()})
        return _one(lambda payload: mapping.edis_status_from_data(payload, request_id), data, "getTranStatus")

    async def cautionary_scrips(self) -> list[CautionaryScrip]:
        """Scrips the broker flags (ASM/GSM and the like), with its message for each."""
        data = await self.rest.call("cautionary_scrips")
        return self._map_rows(
            _rows(data or [], "cautionaryScrips"), mapping.cautionary_from_row, "cautionary"
        )

    async def convert_position(
        self, position: BrokerPosition, new_product: ProductType, quantity: int
    ) -> None:
        """Not retried: a lost reply is reported as TransientError; re-read positions before trying again."""
        body = mapping.convert_position_body(position, new_product, quantity)
        await self.rest.call("convert_position", body, priority=Priority.EXIT)

    async def gtt_create(self, rule: GttRule) -> str:
        """Returns the rule id. Never retried: an unknown outcome raises UnresolvedOrder."""
        tag = f"gtt:{rule.token}"
        data = await self.rest.call("gtt_create", mapping.gtt_rule_body(rule), ordertag=tag)
        rule_id = to_str(data.get("id")) if isinstance(data, dict) else to_str(data)
        if not rule_id:
            raise UnresolvedOrder(tag, "gttCreateRule reply without id")
        return rule_id

    async def gtt_modify(self, rule_id: str, rule: GttRule) -> str:
        body = {"id": rule_id, **mapping.gtt_rule_body(rule)}
        for key in ("tradingsymbol", "transactiontype", "producttype", "timeperiod"):
            body.pop(key, None)
        data = await self.rest.call("gtt_modify", body, ordertag=f"gtt:{rule_id}")
        return to_str(data.get("id")) if isinstance(data, dict) else rule_id

    async def gtt_cancel(self, rule_id: str, exchange: Exchange, token: str) -> str:
        body = {"id": rule_id, "symboltoken": token, "exchange": exchange.value}
        data = await self.rest.call("gtt_cancel", body, priority=Priority.CANCEL)
        return to_str(data.get("id")) if isinstance(data, dict) else rule_id

    async def gtt_details(self, rule_id: str) -> dict[str, Any]:
        data = await self.rest.call("gtt_details", {"id": rule_id})
        if not isinstance(data, dict):
            raise TransientError(f"gtt ruleDetails: no rule object for {rule_id}")
        return data

    async def gtt_list(self, statuses: Sequence[str], page: int = 1, count: int = 10) -> list[dict[str, Any]]:
        unknown = [status for status in statuses if status not in GTT_STATUSES]
        if not statuses or unknown:
            raise ValueError(
                f"gtt ruleList: statuses must be among {', '.join(GTT_STATUSES)}; got {unknown or 'none'}"
            )
        body = {"status": list(statuses), "page": page, "count": count}
        data = await self.rest.call("gtt_list", body)
        if isinstance(data, dict) and isinstance(data.get("rules"), list):
            data = data["rules"]
        return _rows(data, "gtt ruleList")

    async def aclose(self) -> None:
        await self.rest.aclose()
