"""GTT rules (reference §2, §3 "GTT"): create/modify/cancel/details/list, triggered on quotes.

A rule fires when the LTP crosses its trigger from the side it was on at creation; it then places a
NORMAL LIMIT order at the rule's price through the exchange and becomes SENTTOEXCHANGE.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from optbot.core.timeutil import to_utc
from optbot.sim.contracts import SimQuote
from optbot.sim.exchange import OrderRequestError, SimExchange
from optbot.sim.exchange.instruments import InstrumentSpec
from optbot.sim.exchange.requests import float_field, int_field
from optbot.sim.rest.envelope import business_failure, ok
from optbot.sim.rest.framework import Call, Endpoint

GTT_EXCHANGES = ("NSE", "BSE")
GTT_PRODUCTS = ("DELIVERY", "MARGIN")
GTT_STATUSES = ("NEW", "CANCELLED", "ACTIVE", "SENTTOEXCHANGE", "FORALL")
MAX_TIME_PERIOD_DAYS = 365

log = logging.getLogger(__name__)


def _stamp(moment: datetime) -> str:
    return to_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class GttRule:
    rule_id: str
    client_code: str
    spec: InstrumentSpec
    transaction_type: str
    product_type: str
    price: float
    quantity: int
    trigger_price: float
    disclosed_quantity: int
    created: datetime
    updated: datetime
    expires: datetime
    fires_when_above: bool  # True: fire when LTP >= trigger; False: when LTP <= trigger
    status: str = "NEW"
    order_id: str = ""

    def row(self) -> dict[str, Any]:
        return {
            "id": self.rule_id,
            "status": self.status,
            "createddate": _stamp(self.created),
            "updateddate": _stamp(self.updated),
            "expirydate": _stamp(self.expires),
            "clientid": self.client_code,
            "tradingsymbol": self.spec.symbol,
            "symboltoken": self.spec.token,
            "exchange": self.spec.exchange,
            "transactiontype": self.transaction_type,
            "producttype": self.product_type,
            "price": self.price,
            "qty": self.quantity,
            "triggerprice": self.trigger_price,
            "disclosedqty": self.disclosed_quantity,
        }


class GttError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class GttBook:
    exchange: SimExchange
    rules: dict[str, GttRule] = field(default_factory=dict)
    _sequence: int = 0

    def on_quote(self, quote: SimQuote) -> None:
        now = self.exchange.clock.now_utc()
        for rule in list(self.rules.values()):
            if rule.status not in ("NEW", "ACTIVE") or (rule.spec.exchange, rule.spec.token) != (
                quote.exchange,
                quote.token,
            ):
                continue
            if now >= rule.expires:
                rule.status, rule.updated = "CANCELLED", now
                continue
            crossed = (
                quote.ltp >= rule.trigger_price if rule.fires_when_above else quote.ltp <= rule.trigger_price
            )
            if crossed:
                self._fire(rule, now)

    def _fire(self, rule: GttRule, now: datetime) -> None:
        body = {
            "variety": "NORMAL",
            "tradingsymbol": rule.spec.symbol,
            "symboltoken": rule.spec.token,
            "exchange": rule.spec.exchange,
            "transactiontype": rule.transaction_type,
            "ordertype": "LIMIT",
            "producttype": rule.product_type,
            "duration": "DAY",
            "quantity": rule.quantity,
            "price": rule.price,
            "disclosedquantity": rule.disclosed_quantity,
        }
        rule.status, rule.updated = "SENTTOEXCHANGE", now
        try:
            rule.order_id = self.exchange.place(rule.client_code, body).order_id
        except OrderRequestError as exc:  # a quote callback must never raise into the replay
            log.warning("GTT rule %s could not place its order: %s", rule.rule_id, exc.message)
            rule.status = "CANCELLED"

    def create(self, client_code: str, body: dict[str, Any]) -> GttRule:
        spec, values = self._validate(body, require_side=True)
        now = self.exchange.clock.now_utc()
        period = self._int(body, "timeperiod", "AB9016", default=MAX_TIME_PERIOD_DAYS)
        if not 1 <= period <= MAX_TIME_PERIOD_DAYS:
            raise GttError("AB9016", "Invalid time period")
        ltp = self.exchange.ltp(spec) or values["triggerprice"]
        self._sequence += 1
        rule = GttRule(
            rule_id=str(1000000 + self._sequence),
            client_code=client_code,
            spec=spec,
            transaction_type=values["transactiontype"],
            product_type=values["producttype"],
            price=values["price"],
            quantity=values["qty"],
            trigger_price=values["triggerprice"],
            disclosed_quantity=values["disclosedqty"],
            created=now,
            updated=now,
            expires=now + timedelta(days=period),
            fires_when_above=values["triggerprice"] > ltp,
        )
        self.rules[rule.rule_id] = rule
        return rule

    def modify(self, client_code: str, body: dict[str, Any]) -> GttRule:
        rule = self.owned(client_code, body.get("id"))
        if rule.status not in ("NEW", "ACTIVE"):
            raise GttError("AB9013", f"Invalid rule id: rule is {rule.status}")
        _, values = self._validate(body, require_side=False, rule=rule)
        now = self.exchange.clock.now_utc()
        rule.price, rule.quantity = values["price"], values["qty"]
        rule.trigger_price, rule.disclosed_quantity = values["triggerprice"], values["disclosedqty"]
        ltp = self.exchange.ltp(rule.spec) or rule.trigger_price
        rule.fires_when_above = rule.trigger_price > ltp
        rule.updated = now
        return rule

    def cancel(self, client_code: str, body: dict[str, Any]) -> GttRule:
        rule = self.owned(client_code, body.get("id"))
        if rule.status not in ("NEW", "ACTIVE"):
            raise GttError("AB9013", f"Invalid rule id: rule is {rule.status}")
        rule.status, rule.updated = "CANCELLED", self.exchange.clock.now_utc()
        return rule

    def owned(self, client_code: str, rule_id: Any) -> GttRule:
        rule = self.rules.get(str(rule_id or ""))
        if rule is None or rule.client_code != client_code:
            raise GttError("AB9013", "Invalid rule id")
        return rule

    def listing(self, client_code: str, body: dict[str, Any]) -> list[GttRule]:
        statuses = body.get("status")
        if not isinstance(statuses, list) or not statuses or any(s not in GTT_STATUSES for s in statuses):
            raise GttError("AB9004", "Invalid status array size")
        page = self._int(body, "page", "AB9017")
        count = self._int(body, "count", "AB9018")
        if page < 1:
            raise GttError("AB9017", "Invalid page value")
        if count < 1:
            raise GttError("AB9018", "Invalid count value")
        wanted = set(statuses)
        rules = [
            rule
            for rule in self.rules.values()
            if rule.client_code == client_code and ("FORALL" in wanted or rule.status in wanted)
        ]
        return rules[(page - 1) * count : page * count]

    @staticmethod
    def _int(body: dict[str, Any], name: str, code: str, default: int | None = None) -> int:
        try:
            return int_field(body, name, required=default is None, default=default or 0)
        except OrderRequestError:
            raise GttError(code, f"Invalid {name}") from None

    def _validate(
        self, body: dict[str, Any], *, require_side: bool, rule: GttRule | None = None
    ) -> tuple[InstrumentSpec, dict[str, Any]]:
        exchange = str(body.get("exchange") or "").upper()
        if exchange not in GTT_EXCHANGES:
            raise GttError("AB9010", "Invalid exchange segment")
        token = str(body.get("symboltoken") or "")
        spec = self.exchange.instruments.get(exchange, token)
        if spec is None or not spec.tradable:
            raise GttError("AB9011", "Invalid symbol token")
        if rule is not None and (spec.exchange, spec.token) != (rule.spec.exchange, rule.spec.token):
            raise GttError("AB9011", "Invalid symbol token")
        values: dict[str, Any] = {}
        if require_side:
            symbol = str(body.get("tradingsymbol") or "")
            if symbol.upper() != spec.symbol.upper():
                raise GttError("AB9012", "Invalid trading symbol")
            side = str(body.get("transactiontype") or "").upper()
            if side not in ("BUY", "SELL"):
                raise GttError("AB9014", "Invalid order side")
            product = str(body.get("producttype") or "").upper()
            if product not in GTT_PRODUCTS:
                raise GttError("AB9015", "Invalid product type")
            values.update(transactiontype=side, producttype=product)
        quantity = self._int(body, "qty", "AB9006")
        if quantity <= 0:
            raise GttError("AB9006", "Invalid order qty")
        disclosed = self._int(body, "disclosedqty", "AB9007", default=0)
        if not 0 <= disclosed <= quantity:
            raise GttError("AB9007", "Invalid disclosed qty")
        try:
            price = float_field(body, "price")
        except OrderRequestError:
            raise GttError("AB9008", "Invalid price") from None
        try:
            trigger = float_field(body, "triggerprice")
        except OrderRequestError:
            raise GttError("AB9009", "Invalid trigger price") from None
        if price <= 0:
            raise GttError("AB9008", "Invalid price")
        if trigger <= 0:
            raise GttError("AB9009", "Invalid trigger price")
        values.update(qty=quantity, disclosedqty=disclosed, price=price, triggerprice=trigger)
        return spec, values


def _book(call: Call) -> GttBook:
    book = call.state.extras.get("gtt")
    if not isinstance(book, GttBook):
        raise RuntimeError("the simulator was assembled without a GTT book")
    return book


async def create_rule(call: Call) -> web.StreamResponse:
    try:
        rule = _book(call).create(call.client_code, call.body)
    except GttError as exc:
        return business_failure(exc.code, exc.message)
    return ok({"id": rule.rule_id})


async def modify_rule(call: Call) -> web.StreamResponse:
    try:
        rule = _book(call).modify(call.client_code, call.body)
    except GttError as exc:
        return business_failure(exc.code, exc.message)
    return ok({"id": rule.rule_id})


async def cancel_rule(call: Call) -> web.StreamResponse:
    try:
        rule = _book(call).cancel(call.client_code, call.body)
    except GttError as exc:
        return business_failure(exc.code, exc.message)
    return ok({"id": rule.rule_id})


async def rule_details(call: Call) -> web.StreamResponse:
    try:
        rule = _book(call).owned(call.client_code, call.body.get("id"))
    except GttError as exc:
        return business_failure(exc.code, exc.message)
    return ok(rule.row())


async def rule_list(call: Call) -> web.StreamResponse:
    try:
        rules = _book(call).listing(call.client_code, call.body)
    except GttError as exc:
        return business_failure(exc.code, exc.message)
    return ok([rule.row() for rule in rules])


def _paths(name: str) -> tuple[str, str]:
    plain = f"/rest/secure/angelbroking/gtt/v1/{name}"
    return plain, f"/gtt-service{plain}"


ENDPOINTS = [
    Endpoint("gttCreateRule", "POST", _paths("createRule"), create_rule, bucket="gtt_write"),
    Endpoint("gttModifyRule", "POST", _paths("modifyRule"), modify_rule, bucket="gtt_write"),
    Endpoint("gttCancelRule", "POST", _paths("cancelRule"), cancel_rule, bucket="gtt_write"),
    Endpoint("gttDetails", "POST", _paths("ruleDetails"), rule_details, bucket="gtt_read"),
    Endpoint("gttLists", "POST", _paths("ruleList"), rule_list, bucket="gtt_read"),
]
