"""SimExchange: orders matched against the replayed market, with RMS checks, books and funds.

Everything is synchronous inside the event loop and deterministic on the `Clock` plus a seed:
order ids, fill ids and the matching outcome depend only on the inputs and the quotes seen.
Working orders are re-checked on every quote the market publishes (`MarketView.subscribe_quotes`).
"""

from __future__ import annotations

import logging
import math
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from optbot.calendar import CalendarRangeError, Segment, get_calendar
from optbot.config.sections.sim import SimSettings
from optbot.core.clock import Clock
from optbot.core.errors import UserError
from optbot.core.timeutil import ist_date, to_ist
from optbot.sim.auth import HoldingSeed, SimAccount
from optbot.sim.contracts import MarketView, OrderEvent, OrderEventListener, SimQuote
from optbot.sim.exchange.holdings import (
    SimHolding,
    is_cash_instrument,
    seed_problems,
    unlisted_equity_spec,
)
from optbot.sim.exchange.instruments import InstrumentIndex, InstrumentSpec
from optbot.sim.exchange.ledger import AccountLedger, SimPosition, SimTrade
from optbot.sim.exchange.margin import Exposure, MarginModel, PortfolioMargin
from optbot.sim.exchange.orders import AMO_STATUSES, STATUS_CODES, OrderStatus, SimOrder
from optbot.sim.exchange.requests import (
    OrderRequest,
    OrderRequestError,
    check_variety,
    float_field,
    int_field,
    parse_order_request,
    text_field,
)

log = logging.getLogger(__name__)

PRICE_EPSILON = 1e-6


@dataclass(frozen=True, slots=True)
class RmsRejection:
    text: str


def _on_tick(price: float, tick: float) -> bool:
    if tick <= 0:
        return True
    steps = price / tick
    return abs(steps - round(steps)) < 1e-6


def _round_to_tick(price: float, tick: float, *, up: bool) -> float:
    if tick <= 0:
        return round(price, 4)
    steps = price / tick
    whole = math.ceil(steps - 1e-9) if up else math.floor(steps + 1e-9)
    return round(whole * tick, 4)


class SimExchange:
    def __init__(
        self,
        market: MarketView,
        clock: Clock,
        accounts: list[SimAccount],
        settings: SimSettings | None = None,
        seed: int = 0,
    ) -> None:
        self.market = market
        self.clock = clock
        self.settings = settings or SimSettings()
        self.margin_model = MarginModel(self.settings)
        self.portfolio_margin = PortfolioMargin(self.margin_model)
        self._random = random.Random(seed)
        self._listeners: list[OrderEventListener] = []
        self._ledgers = {
            account.client_code: AccountLedger(account.client_code, account.funds) for account in accounts
        }
        self._orders: dict[str, SimOrder] = {}  # by orderid
        self._by_unique_id: dict[str, SimOrder] = {}
        self._order_sequence: dict[date, int] = {}
        self._exchange_sequence = 0
        self._fill_sequence = 0
        self._working: dict[tuple[str, str], list[SimOrder]] = {}
        self._amo: list[SimOrder] = []
        self._consumed: dict[tuple[str, str], tuple[tuple[Any, ...], dict[tuple[str, float], int]]] = {}
        self._index: InstrumentIndex | None = None
        self._index_day: date | None = None
        self._subscribed = False
        self._operation_depth = 0
        self._trading_day = ist_date(clock.now_utc())
        self.archived_orders: list[SimOrder] = []  # earlier sessions' orders (not in today's book)
        self._deferred_quotes: list[SimQuote] = []
        self._pending_seeds: dict[str, list[HoldingSeed]] = {
            account.client_code: list(account.holdings) for account in accounts if account.holdings
        }

    # -- wiring -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe to quotes (idempotent): working orders re-check on every tick."""
        if not self._subscribed:
            self.market.subscribe_quotes(self.on_quote)
            self._subscribed = True

    def add_listener(self, listener: OrderEventListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: OrderEventListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def instruments(self) -> InstrumentIndex:
        today = ist_date(self.clock.now_utc())
        if self._index is None or self._index_day != today:
            self._index = InstrumentIndex(self.market.scrip_master_rows())
            self._index_day = today
        return self._index

    def ledger(self, client_code: str) -> AccountLedger:
        if client_code not in self._ledgers:
            raise KeyError(f"unknown simulator client code {client_code!r}")
        return self._ledgers[client_code]

    # -- queries --------------------------------------------------------------------------------

    def orders(self, client_code: str) -> list[SimOrder]:
        self.sweep()
        return [order for order in self._orders.values() if order.client_code == client_code]

    def order(self, client_code: str, order_id: str) -> SimOrder | None:
        order = self._orders.get(order_id)
        return order if order is not None and order.client_code == client_code else None

    def order_by_unique_id(self, client_code: str, unique_order_id: str) -> SimOrder | None:
        self.sweep()
        order = self._by_unique_id.get(unique_order_id)
        return order if order is not None and order.client_code == client_code else None

    def trades(self, client_code: str) -> list[SimTrade]:
        self.roll_day_if_needed()
        return list(self.ledger(client_code).trades)

    def positions(self, client_code: str) -> list[SimPosition]:
        self.roll_day_if_needed()
        return [p for p in self.ledger(client_code).positions.values() if p.active]

    # -- holdings -------------------------------------------------------------------------------

    def resolve_holding_seeds(self) -> None:
        """Book the accounts' seeded holdings (once); a bad seed raises UserError naming it."""
        pending, self._pending_seeds = self._pending_seeds, {}
        for client_code, seeds in pending.items():
            for seed in seeds:
                self.seed_holding(client_code, seed)

    def seed_holding(self, client_code: str, seed: HoldingSeed) -> SimHolding:
        """Add settled shares to an account (accounts file or admin API)."""
        ledger = self.ledger(client_code)
        problems = seed_problems(seed)
        spec = None if problems else self.instruments.by_symbol(seed.exchange.upper(), seed.tradingsymbol)
        if spec is None and not problems and seed.symboltoken:
            spec = self.instruments.get(seed.exchange, seed.symboltoken) or unlisted_equity_spec(seed)
        if not problems and (spec is None or not is_cash_instrument(spec)):
            problems.append(
                f"{seed.exchange}:{seed.tradingsymbol} is not a cash equity in the instrument master "
                "(give symboltoken for an equity the replayed market does not list)"
            )
        if problems or spec is None:
            raise UserError(f"holding seed for {client_code} ({seed.tradingsymbol}): {'; '.join(problems)}")
        return ledger.holdings.seed(spec, seed.isin.upper(), seed.quantity, seed.average_price)

    def holdings(self, client_code: str) -> list[SimHolding]:
        self.roll_day_if_needed()
        self.resolve_holding_seeds()
        return self.ledger(client_code).holdings.all()

    def holding_rows(self, client_code: str) -> list[dict[str, Any]]:
        rows = []
        for holding in self.holdings(client_code):
            quote = self.market.quote(holding.spec.exchange, holding.spec.token)
            rows.append(holding.row(quote.ltp if quote else None, quote.close if quote else None))
        return rows

    def holdings_summary(self, client_code: str) -> dict[str, Any]:
        """getAllHolding payload: the rows plus `totalholding` (reference §2)."""
        current = invested = 0.0
        for holding in self.holdings(client_code):
            value, cost, _ = holding.values(self.ltp(holding.spec))
            current += value
            invested += cost
        pnl = current - invested
        return {
            "holdings": self.holding_rows(client_code),
            "totalholding": {
                "totalholdingvalue": round(current, 2),
                "totalinvvalue": round(invested, 2),
                "totalprofitandloss": round(pnl, 2),
                "totalpnlpercentage": round(pnl / invested * 100, 2) if invested else 0,
            },
        }

    def _settles_after(self, trade_day: date) -> date:
        """T+1: a delivery buy on `trade_day` settles at the end of the next equity trading day."""
        try:
            return get_calendar().next_trading_day(trade_day, Segment.EQUITY)
        except CalendarRangeError:
            return trade_day + timedelta(days=1)

    def ltp(self, spec: InstrumentSpec) -> float | None:
        quote = self.market.quote(spec.exchange, spec.token)
        return quote.ltp if quote is not None else None

    def underlying_price(self, spec: InstrumentSpec) -> float:
        underlying = self.instruments.underlying_of(spec)
        if underlying is not None:
            price = self.ltp(underlying)
            if price:
                return price
        return max(spec.strike, 0.0)

    def position_exposures(self, client_code: str) -> list[Exposure]:
        return [
            Exposure(
                position.spec,
                position.product_type,
                position.open_quantity,
                position.open_average,
                self.underlying_price(position.spec),
            )
            for position in self.ledger(client_code).positions.values()
            if position.open_quantity
        ]

    def _order_exposure(self, order: SimOrder, price: float) -> Exposure:
        signed = order.pending_quantity if order.is_buy else -order.pending_quantity
        return Exposure(order.spec, order.product_type, signed, price, self.underlying_price(order.spec))

    def margin_used(self, client_code: str) -> dict[str, float]:
        """Portfolio margin of open positions (hedges count) plus margin blocked by working orders."""
        total = self.portfolio_margin.total(self.position_exposures(client_code))
        blocked = sum(
            o.blocked_margin for o in self._orders.values() if o.client_code == client_code and o.working
        )
        return {
            "premium": total.premium,
            "span": total.span,
            "exposure": total.exposure,
            "other": total.delivery + total.non_fno,
            "orders": blocked,
        }

    def available_funds(self, client_code: str) -> float:
        ledger = self.ledger(client_code)
        used = self.margin_used(client_code)
        return ledger.opening_balance + ledger.realised - sum(used.values())

    def rms(self, client_code: str) -> dict[str, Any]:
        """getRMS payload: decimal strings, some null (reference §2)."""
        self.roll_day_if_needed()
        ledger = self.ledger(client_code)
        used = self.margin_used(client_code)
        unrealised = sum(p.unrealised(self.ltp(p.spec)) for p in ledger.positions.values())
        cash = ledger.opening_balance + ledger.realised
        net = cash - sum(used.values())

        def money(value: float) -> str:
            return f"{value:.2f}"

        return {
            "net": money(net),
            "availablecash": money(cash),
            "availableintradaypayin": "0.00",
            "availablelimitmargin": "0.00",
            "collateral": "0.00",
            "m2munrealized": money(unrealised),
            "m2mrealized": money(ledger.realised),
            "utiliseddebits": money(sum(used.values())),
            "utilisedspan": money(used["span"]),
            "utilisedoptionpremium": money(used["premium"]),
            "utilisedholdingsales": None,
            "utilisedexposure": money(used["exposure"]),
            "utilisedturnover": None,
            "utilisedpayout": "0.00",
        }

    # -- order entry ----------------------------------------------------------------------------

    def place(self, client_code: str, body: dict[str, Any], forced_rejection: str | None = None) -> SimOrder:
        """Accept an order (it may still end up rejected by RMS) or raise OrderRequestError.
        `forced_rejection`: an injected RMS reject with this text (fault injection)."""
        with self._operation():
            return self._place(client_code, body, forced_rejection)

    def _place(self, client_code: str, body: dict[str, Any], forced_rejection: str | None = None) -> SimOrder:
        self.ledger(client_code)
        self.sweep()
        request = parse_order_request(body, self.settings.ordertag_max_length)
        spec = self._resolve(request.exchange, request.symboltoken, request.tradingsymbol)
        order = self._new_order(client_code, request, spec)
        rejection = self._rms_check(order, is_new=True)
        if forced_rejection is not None or rejection is not None:
            self._reject(order, forced_rejection or (rejection.text if rejection else ""))
            return order
        if not self.market.is_market_open(spec.exchange):
            order.status = OrderStatus.AMO_RECEIVED
            order.history.append(order.status)
            self._amo.append(order)
            return order  # no postbacks for AMOs until they go to the exchange (reference §6)
        self._send_to_exchange(order)
        return order

    def modify(self, client_code: str, body: dict[str, Any]) -> SimOrder:
        with self._operation():
            return self._modify(client_code, body)

    def _modify(self, client_code: str, body: dict[str, Any]) -> SimOrder:
        self.sweep()
        check_variety(text_field(body, "variety"))
        order = self._owned_order(client_code, text_field(body, "orderid"))
        if not order.working:
            raise OrderRequestError("AB1007", f"Order cannot be modified: it is {order.status}")
        order_type = text_field(body, "ordertype", required=False).upper() or order.order_type
        if order_type not in ("MARKET", "LIMIT", "STOPLOSS_LIMIT", "STOPLOSS_MARKET"):
            raise OrderRequestError("AB1007", f"Invalid ordertype: {order_type!r}")
        if (order_type in ("STOPLOSS_LIMIT", "STOPLOSS_MARKET")) != order.is_stop:
            raise OrderRequestError(
                "AB1007", "Invalid ordertype: cannot change between stop and plain orders"
            )
        quantity = int_field(body, "quantity", required=False, default=order.quantity)
        price = float_field(body, "price", default=order.price)
        trigger = float_field(body, "triggerprice", default=order.trigger_price)
        if quantity <= order.filled_quantity:
            raise OrderRequestError(
                "AB1007", f"Invalid quantity: {quantity} is not above the filled {order.filled_quantity}"
            )
        if order_type in ("LIMIT", "STOPLOSS_LIMIT") and price <= 0:
            raise OrderRequestError("AB1007", f"Invalid price: a {order_type} order needs a price > 0")
        previous = (order.order_type, order.quantity, order.price, order.trigger_price, order.blocked_margin)
        order.order_type, order.quantity = order_type, quantity
        order.price = price if order_type in ("LIMIT", "STOPLOSS_LIMIT") else 0.0
        order.trigger_price = trigger if order.is_stop else 0.0
        order.blocked_margin = 0.0
        rejection = self._rms_check(order, is_new=False)
        if rejection is not None:
            order.order_type, order.quantity, order.price, order.trigger_price, order.blocked_margin = (
                previous
            )
            raise OrderRequestError("AB1007", rejection.text)
        order.text = ""
        now = self.clock.now_utc()
        order.updated_at = now
        if order.status in AMO_STATUSES:
            order.status = OrderStatus.AMO_MODIFY_RECEIVED
            order.history.append(order.status)
            return order
        self._set_status(order, OrderStatus.MODIFY_PENDING)
        order.exchange_updated_at = now
        self._set_status(order, OrderStatus.MODIFIED)
        if order.is_stop and not order.triggered:
            self._set_status(order, OrderStatus.TRIGGER_PENDING)
        else:
            self._prepare_limit(order)
            self._set_status(order, OrderStatus.OPEN)
        self._try_match(order, resting=False)
        return order

    def cancel(self, client_code: str, body: dict[str, Any]) -> SimOrder:
        with self._operation():
            return self._cancel(client_code, body)

    def _cancel(self, client_code: str, body: dict[str, Any]) -> SimOrder:
        self.sweep()
        check_variety(text_field(body, "variety"))
        order = self._owned_order(client_code, text_field(body, "orderid"))
        if not order.working:
            raise OrderRequestError("AB1007", f"Order cannot be cancelled: it is {order.status}")
        if order.status in AMO_STATUSES:
            order.cancelled_quantity = order.pending_quantity
            order.blocked_margin = 0.0
            order.updated_at = self.clock.now_utc()
            order.status = OrderStatus.AMO_CANCELLED
            order.history.append(order.status)
            self._amo.remove(order)
            return order
        self._cancel_remaining(order, "")
        return order

    def convert_position(self, client_code: str, body: dict[str, Any]) -> None:
        ledger = self.ledger(client_code)
        exchange = text_field(body, "exchange").upper()
        token = text_field(body, "symboltoken")
        old_product = text_field(body, "oldproducttype").upper()
        new_product = text_field(body, "newproducttype").upper()
        side = text_field(body, "transactiontype").upper()
        quantity = int_field(body, "quantity")
        if old_product == new_product:
            raise OrderRequestError("AB1017", "Position conversion failed: old and new product are the same")
        position = ledger.positions.get((exchange, token, old_product))
        if position is None or position.open_quantity == 0:
            raise OrderRequestError("AB1017", "Position conversion failed: no open position to convert")
        long = position.open_quantity > 0
        if (side == "BUY") != long or quantity <= 0 or quantity > abs(position.open_quantity):
            raise OrderRequestError(
                "AB1017",
                f"Position conversion failed: {side} {quantity} does not match the open "
                f"quantity {position.open_quantity}",
            )
        average = position.open_average
        position.apply_fill(not long, quantity, average)
        ledger.position(position.spec, new_product).apply_fill(long, quantity, average)

    # -- market events --------------------------------------------------------------------------

    @contextmanager
    def _operation(self) -> Iterator[None]:
        """Quotes published while an order operation runs (a market catching up when asked for a
        quote) are held back and applied afterwards, so an order never fills half-modified."""
        self._operation_depth += 1
        try:
            yield
        finally:
            self._operation_depth -= 1
            if self._operation_depth == 0:
                while self._deferred_quotes:
                    self.on_quote(self._deferred_quotes.pop(0))

    def on_quote(self, quote: SimQuote) -> None:
        """Re-check working orders of the instrument; release AMOs once the market opens."""
        if self._operation_depth:
            self._deferred_quotes.append(quote)
            return
        self.roll_day_if_needed()
        if self._amo:
            self._release_amos()
        orders = self._working.get((quote.exchange, quote.token))
        if not orders:
            return
        for order in list(orders):
            if order.working:
                self._try_match(order, resting=True, quote=quote)

    def sweep(self) -> None:
        """Time-driven transitions: AMOs to the exchange at the open, DAY orders cancelled at the close."""
        self.roll_day_if_needed()
        if self._amo:
            self._release_amos()
        for orders in list(self._working.values()):
            for order in list(orders):
                if order.working and not self.market.is_market_open(order.spec.exchange):
                    self._cancel_remaining(order, "Order cancelled by the exchange at market close")

    def roll_day_if_needed(self) -> None:
        """On a new IST date: books show only today's orders (AMOs stay), positions carry forward."""
        if self._pending_seeds:
            self.resolve_holding_seeds()
        today = ist_date(self.clock.now_utc())
        if today == self._trading_day:
            return
        settles_after = self._settles_after(self._trading_day)
        self._trading_day = today
        for order in list(self._orders.values()):
            if order.working and order.status not in AMO_STATUSES:
                self._cancel_remaining(order, "Order cancelled by the exchange at market close")
        kept = {order_id: o for order_id, o in self._orders.items() if o.status in AMO_STATUSES}
        self.archived_orders.extend(o for order_id, o in self._orders.items() if order_id not in kept)
        self._orders = kept
        self._by_unique_id = {o.unique_order_id: o for o in kept.values()}
        for ledger in self._ledgers.values():
            ledger.roll_day(today, self.ltp, self.underlying_price, settles_after)

    # -- internals: lifecycle -------------------------------------------------------------------

    def _owned_order(self, client_code: str, order_id: str) -> SimOrder:
        order = self.order(client_code, order_id)
        if order is None:
            raise OrderRequestError("AB1013", "Order not found")
        return order

    def _resolve(self, exchange: str, token: str, symbol: str) -> InstrumentSpec:
        spec = self.instruments.get(exchange, token)
        if spec is None or not spec.tradable:
            raise OrderRequestError("AB1009", "Symbol Not Found")
        if symbol and symbol.upper() != spec.symbol.upper():
            raise OrderRequestError("AB1009", "Symbol Not Found")
        return spec

    def _new_order(self, client_code: str, request: OrderRequest, spec: InstrumentSpec) -> SimOrder:
        now = self.clock.now_utc()
        day = ist_date(now)
        sequence = self._order_sequence.get(day, 0) + 1
        self._order_sequence[day] = sequence
        order_id = f"{to_ist(now):%y%m%d}{sequence:09d}"
        unique = str(uuid.UUID(int=self._random.getrandbits(128), version=4))
        order = SimOrder(
            client_code=client_code,
            order_id=order_id,
            unique_order_id=unique,
            spec=spec,
            variety=request.variety,
            transaction_type=request.transaction_type,
            order_type=request.order_type,
            product_type=request.product_type,
            duration=request.duration,
            quantity=request.quantity,
            price=request.price,
            trigger_price=request.trigger_price,
            disclosed_quantity=request.disclosed_quantity,
            order_tag=request.order_tag,
            created_at=now,
            updated_at=now,
        )
        self._orders[order_id] = order
        self._by_unique_id[unique] = order
        return order

    def _rms_check(self, order: SimOrder, *, is_new: bool) -> RmsRejection | None:
        spec = order.spec
        lot = max(spec.lot_size, 1)
        if order.quantity % lot:
            return RmsRejection(
                f"Your order has been rejected as the quantity {order.quantity} is not a multiple of "
                f"the lot size {lot}."
            )
        if spec.freeze_quantity > 0 and order.quantity > spec.freeze_quantity:
            return RmsRejection(
                f"Your order has been rejected as the quantity {order.quantity} exceeds the freeze "
                f"quantity {spec.freeze_quantity}. Please split the order."
            )
        if spec.expiry is not None and spec.expiry < ist_date(self.clock.now_utc()):
            return RmsRejection("Your order has been rejected as the contract has expired.")
        short_of_shares = self._delivery_sell_rejection(order)
        if short_of_shares is not None:
            return short_of_shares
        for label, value in (("price", order.price), ("trigger price", order.trigger_price)):
            if value > 0 and not _on_tick(value, spec.tick_size):
                return RmsRejection(
                    f"Your order has been rejected as the {label} {value:.2f} is not a multiple of the "
                    f"tick size {spec.tick_size:.2f}."
                )
        quote = self.market.quote(spec.exchange, spec.token)
        if quote is None or quote.ltp <= 0:
            return RmsRejection("Your order has been rejected as no market price is available for the scrip.")
        for label, value in (("price", order.price), ("trigger price", order.trigger_price)):
            if (
                value > 0
                and quote.upper_circuit > 0
                and not (quote.lower_circuit - PRICE_EPSILON <= value <= quote.upper_circuit + PRICE_EPSILON)
            ):
                return RmsRejection(
                    f"Your order has been rejected as the {label} {value:.2f} is outside the price band "
                    f"{quote.lower_circuit:.2f} - {quote.upper_circuit:.2f}."
                )
        if order.is_stop and not order.triggered:
            stop = self._stop_rejection(order, quote.ltp)
            if stop is not None:
                return stop
        reference_price = order.price if order.price > 0 else self._protected_price(order, quote)
        if reference_price * order.quantity > self.settings.max_order_value_rupees:
            return RmsRejection(
                f"Your order has been rejected as the order value exceeds Rs. "
                f"{self.settings.max_order_value_rupees:.2f}."
            )
        required = self._incremental_margin(order, reference_price)
        available = self.available_funds(order.client_code)
        if required > available + PRICE_EPSILON:
            return RmsRejection(
                f"Your order has been rejected due to Insufficient Funds. Available funds - Rs. "
                f"{max(available, 0.0):.2f} . You require Rs. {required:.2f} funds to execute this order."
            )
        order.blocked_margin = required
        return None

    def _incremental_margin(self, order: SimOrder, reference_price: float) -> float:
        """Margin the book needs with this order filled minus without it (never negative)."""
        book = self.position_exposures(order.client_code)
        for other in self._orders.values():
            if other is order or other.client_code != order.client_code or not other.working:
                continue
            price = other.price or other.limit_price or self.ltp(other.spec) or 0.0
            book.append(self._order_exposure(other, price))
        before = self.portfolio_margin.total(book).total
        after = self.portfolio_margin.total([*book, self._order_exposure(order, reference_price)]).total
        return max(after - before, 0.0)

    def _delivery_sell_rejection(self, order: SimOrder) -> RmsRejection | None:
        """A DELIVERY sell of an equity needs the shares: holdings plus today's delivery net buys,
        less what other working delivery sells already claim."""
        if order.is_buy or order.product_type != "DELIVERY" or not is_cash_instrument(order.spec):
            return None
        spec = order.spec
        ledger = self.ledger(order.client_code)
        holding = ledger.holdings.holdings.get((spec.exchange, spec.token))
        today = ledger.positions.get((spec.exchange, spec.token, "DELIVERY"))
        claimed = sum(
            other.pending_quantity
            for other in [*self._working.get((spec.exchange, spec.token), []), *self._amo]
            if other is not order
            and other.spec == spec
            and other.client_code == order.client_code
            and other.product_type == "DELIVERY"
            and not other.is_buy
        )
        held = (holding.quantity if holding else 0) + (today.open_quantity if today else 0)
        available = held - claimed
        if order.pending_quantity <= available:
            return None
        return RmsRejection(
            f"Your order has been rejected as the sell quantity {order.pending_quantity} exceeds the "
            f"{max(available, 0)} shares of {spec.symbol} available to sell from holdings."
        )

    @staticmethod
    def _stop_rejection(order: SimOrder, ltp: float) -> RmsRejection | None:
        if order.is_buy and order.trigger_price <= ltp:
            return RmsRejection("Trigger price for stop loss buy order should be higher than LTP.")
        if not order.is_buy and order.trigger_price >= ltp:
            return RmsRejection("Trigger price for stop loss sell order should be lower than LTP.")
        if order.order_type == "STOPLOSS_LIMIT":
            if order.is_buy and order.price < order.trigger_price:
                return RmsRejection("Limit price of a stop loss buy order cannot be below the trigger price.")
            if not order.is_buy and order.price > order.trigger_price:
                return RmsRejection(
                    "Limit price of a stop loss sell order cannot be above the trigger price."
                )
        return None

    def _protected_price(self, order: SimOrder, quote: SimQuote) -> float:
        """MARKET orders become LIMITs a protection band beyond the LTP, inside the circuit."""
        band = self.settings.market_protection_pct / 100
        tick = order.spec.tick_size
        if order.is_buy:
            price = _round_to_tick(quote.ltp * (1 + band), tick, up=True)
            if quote.upper_circuit > 0:
                price = min(price, quote.upper_circuit)
        else:
            price = _round_to_tick(quote.ltp * (1 - band), tick, up=False)
            price = max(price, quote.lower_circuit, tick if tick > 0 else 0.01)
        return price

    def _prepare_limit(self, order: SimOrder) -> None:
        if order.order_type in ("LIMIT", "STOPLOSS_LIMIT"):
            order.limit_price = order.price
            return
        quote = self.market.quote(order.spec.exchange, order.spec.token)
        if quote is not None:
            order.limit_price = self._protected_price(order, quote)
            order.price = order.limit_price

    def _send_to_exchange(self, order: SimOrder) -> None:
        self._set_status(order, OrderStatus.OPEN_PENDING)
        self._exchange_sequence += 1
        order.exchange_order_id = f"{1100000000000000 + self._exchange_sequence}"
        order.exchange_updated_at = self.clock.now_utc()
        self._working.setdefault((order.spec.exchange, order.spec.token), []).append(order)
        if order.is_stop:
            self._set_status(order, OrderStatus.TRIGGER_PENDING)
            self._try_match(order, resting=False)
            return
        self._prepare_limit(order)
        self._set_status(order, OrderStatus.OPEN)
        self._try_match(order, resting=False)

    def _release_amos(self) -> None:
        for order in list(self._amo):
            if not self.market.is_market_open(order.spec.exchange):
                continue
            self._amo.remove(order)
            order.blocked_margin = 0.0
            rejection = self._rms_check(order, is_new=False)
            if rejection is not None:
                self._reject(order, rejection.text)
                continue
            self._send_to_exchange(order)

    def _try_match(self, order: SimOrder, *, resting: bool, quote: SimQuote | None = None) -> None:
        spec = order.spec
        quote = quote or self.market.quote(spec.exchange, spec.token)
        if quote is None or not order.working:
            return
        if order.is_stop and not order.triggered:
            hit = quote.ltp >= order.trigger_price if order.is_buy else quote.ltp <= order.trigger_price
            if not hit:
                return
            order.triggered = True
            self._prepare_limit(order)
            self._set_status(order, OrderStatus.OPEN)
            resting = False
        limit = order.limit_price
        fills = self._fills_against(order, quote, limit, resting)
        for price, quantity in fills:
            self._fill(order, price, quantity)
        if order.working and order.duration == "IOC":
            self._cancel_remaining(order, "")

    def _fills_against(
        self, order: SimOrder, quote: SimQuote, limit: float, resting: bool
    ) -> list[tuple[float, int]]:
        lot = max(order.spec.lot_size, 1)
        remaining = order.pending_quantity
        side = "ask" if order.is_buy else "bid"
        levels = quote.asks if order.is_buy else quote.bids
        consumed = self._consumed_for(quote)
        fills: list[tuple[float, int]] = []
        displayed = [level for level in levels if level.price > 0 and level.quantity > 0]
        for level in displayed:
            if remaining <= 0:
                break
            crosses = (
                level.price <= limit + PRICE_EPSILON if order.is_buy else level.price >= limit - PRICE_EPSILON
            )
            if not crosses:
                break
            key = (side, level.price)
            available = level.quantity - consumed.get(key, 0)
            take = min(available, remaining)
            take -= take % lot
            if take <= 0:
                continue
            consumed[key] = consumed.get(key, 0) + take
            fills.append((level.price, take))
            remaining -= take
        if remaining > 0 and not displayed:
            # No displayed depth (thin replay data): trade at the LTP when it is within the limit.
            within = (
                quote.ltp <= limit + PRICE_EPSILON if order.is_buy else quote.ltp >= limit - PRICE_EPSILON
            )
            if within and quote.ltp > 0:
                fills.append((quote.ltp, remaining))
                remaining = 0
        if remaining > 0 and resting and quote.ltp > 0:
            # A resting limit is traded through when the market prints beyond it.
            through = quote.ltp < limit - PRICE_EPSILON if order.is_buy else quote.ltp > limit + PRICE_EPSILON
            if through:
                fills.append((limit, remaining))
        return fills

    def _consumed_for(self, quote: SimQuote) -> dict[tuple[str, float], int]:
        """Depth already taken from this very quote, so one snapshot is not filled twice."""
        identity = (quote.sequence, quote.exchange_time, quote.ltp, quote.volume)
        key = (quote.exchange, quote.token)
        stored = self._consumed.get(key)
        if stored is None or stored[0] != identity:
            stored = (identity, {})
            self._consumed[key] = stored
        return stored[1]

    def _fill(self, order: SimOrder, price: float, quantity: int) -> None:
        now = self.clock.now_utc()
        self._fill_sequence += 1
        fill_id = f"{self._fill_sequence:08d}"
        fill_time = to_ist(now).strftime("%H:%M:%S")
        share = quantity / max(order.pending_quantity, 1)
        order.blocked_margin -= order.blocked_margin * share
        order.filled_quantity += quantity
        order.filled_value += price * quantity
        order.last_fill_id = fill_id
        order.last_fill_time = fill_time
        order.updated_at = order.exchange_updated_at = now
        trade = SimTrade(
            fill_id,
            order.order_id,
            order.spec,
            order.product_type,
            order.transaction_type,
            price,
            quantity,
            fill_time,
        )
        self.ledger(order.client_code).book_fill(trade)
        if order.pending_quantity == 0:
            order.blocked_margin = 0.0
            self._set_status(order, OrderStatus.COMPLETE)
            self._unlist(order)
        else:
            self._set_status(order, OrderStatus.OPEN)

    def _cancel_remaining(self, order: SimOrder, text: str) -> None:
        order.cancelled_quantity += order.pending_quantity
        order.blocked_margin = 0.0
        order.text = text
        order.updated_at = order.exchange_updated_at = self.clock.now_utc()
        self._unlist(order)
        self._set_status(order, OrderStatus.CANCELLED)

    def _reject(self, order: SimOrder, text: str) -> None:
        order.text = text
        order.blocked_margin = 0.0
        order.cancelled_quantity = order.pending_quantity
        order.updated_at = self.clock.now_utc()
        self._unlist(order)
        self._set_status(order, OrderStatus.REJECTED)

    def _unlist(self, order: SimOrder) -> None:
        orders = self._working.get((order.spec.exchange, order.spec.token))
        if orders and order in orders:
            orders.remove(order)

    def _set_status(self, order: SimOrder, status: OrderStatus) -> None:
        order.status = status
        order.history.append(status)
        order.updated_at = self.clock.now_utc()
        self._emit(order)

    def _emit(self, order: SimOrder) -> None:
        event = OrderEvent(
            client_code=order.client_code,
            status_code=STATUS_CODES[order.status],
            order_row=order.row("detail"),
            error_message=order.text if order.status == OrderStatus.REJECTED else "",
        )
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # one broken subscriber must not stop the exchange
                log.exception("order event listener failed")

    # -- admin ----------------------------------------------------------------------------------

    def state(self, client_code: str) -> dict[str, Any]:
        """Orders, trades, positions and funds for reconciliation tests (`/sim/v1/state`)."""
        return {
            "client_code": client_code,
            "orders": [
                order.row("detail") | {"history": [str(s) for s in order.history]}
                for order in self.orders(client_code)
            ],
            "trades": [trade.row() for trade in self.trades(client_code)],
            "positions": [p.row(self.ltp(p.spec)) for p in self.positions(client_code)],
            "holdings": self.holding_rows(client_code),
            "funds": self.rms(client_code),
        }
