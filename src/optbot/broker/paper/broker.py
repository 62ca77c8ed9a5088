"""`PaperBroker`: the `Broker` protocol over a fill model and a quote source, state in memory.

Order ids are a per-run counter (deterministic: the same inputs give the same ids), the engine's
persistence keeps the authoritative record. Funds move with fills: premium paid on buys, received on
sells, charges from the dated rate card deducted on every fill; short option positions block margin.
Call `match()` (or `match_token`) whenever quotes change so resting orders are evaluated.

The books are per trading day, as Angel One's are: on the first call on a new IST date (or an explicit
`roll_day`) working day orders are cancelled at the previous close, the order and trade books start
empty, expired options settle at intrinsic value, INTRADAY positions still open are squared off at the
last price (the broker's auto square-off), flat positions leave the position book, other open ones
stay as carry-forward quantity at their open average, and the day's realised M2M is zero (the same
roll as the simulator's exchange, `optbot.sim.exchange.ledger.AccountLedger.roll_day`).
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from optbot.broker.base import CandleInterval, QuoteMode
from optbot.broker.daybook import BookPosition
from optbot.broker.errors import BrokerRejected
from optbot.broker.models import (
    BrokerOrder,
    BrokerPosition,
    BrokerTrade,
    Candle,
    ChargeComponent,
    ChargeEstimate,
    MarginRequirement,
    ModifyRequest,
    OrderRequest,
    PlaceResult,
    Quote,
    row_order_status,
)
from optbot.broker.paper.fill_model import FillModel, QuoteSource, WorkingOrder, tick_round
from optbot.charges import ChargeBreakdown, RateCard, option_charges
from optbot.config.sections.margin import MarginSettings
from optbot.core.atomic import atomic_write_bytes
from optbot.core.clock import Clock
from optbot.core.enums import (
    Duration,
    Exchange,
    OptionType,
    OrderStatus,
    OrderType,
    ProductType,
    Side,
    Variety,
)
from optbot.core.errors import UserError
from optbot.core.events import OrderUpdate
from optbot.core.funds import Funds
from optbot.core.instrument import Instrument
from optbot.core.span import OptionLeg, SpanMargin, SpanParameters, basket_margin
from optbot.core.timeutil import ist_date, ist_datetime
from optbot.instruments.master import InstrumentMaster, InstrumentNotFound

OPEN = "open"
TRIGGER_PENDING = "trigger pending"
COMPLETE = "complete"
CANCELLED = "cancelled"
REJECTED = "rejected"
_FINAL = (COMPLETE, CANCELLED, REJECTED)
#: The paper venue's order-book texts (Angel One's words, so its rows read like the real book) in the
#: neutral vocabulary the order manager reads.
_ORDER_STATUS = {
    OPEN: OrderStatus.OPEN,
    TRIGGER_PENDING: OrderStatus.OPEN,
    COMPLETE: OrderStatus.FILLED,
    CANCELLED: OrderStatus.CANCELLED,
    REJECTED: OrderStatus.REJECTED,
}


class CandleSource:
    """Protocol-like base for a history source; any object with this `candles` method works."""

    def candles(
        self, exchange: Exchange, token: str, interval: CandleInterval, start: datetime, end: datetime
    ) -> list[Candle]:
        raise BrokerRejected("AB4000", "this paper broker has no candle source configured")


#: Baskets whose SPAN margin a paper broker remembers (then forgotten at once): the books of the
#: last few instants, each priced alone and with the order being checked.
_SPAN_MEMO_SIZE = 64


@dataclass(frozen=True, slots=True)
class PaperFunds:
    """Starting cash and the margin model (`optbot.core.span`: SPAN + exposure, hedges count)."""

    initial_cash: float
    span: SpanParameters = field(default_factory=lambda: MarginSettings().span_parameters())


#: Modules whose classes a state file of an earlier version names, and where those classes live now.
_MOVED_MODULES = {"optbot.broker.paper.daybook": "optbot.broker.daybook"}


@dataclass(frozen=True, slots=True)
class _BookMargin:
    """The open book's option legs and their SPAN + exposure: one order's checks (its requirement on
    top of the book, the cash the book leaves free) share one computation."""

    legs: list[OptionLeg]
    margin: SpanMargin


class _StateUnpickler(pickle.Unpickler):
    """Reads state files written before a class moved, so a carried paper book survives an upgrade."""

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(_MOVED_MODULES.get(module, module), name)


def _with_order_status(order: BrokerOrder) -> BrokerOrder:
    """The row with its neutral status set from the paper venue's text (rows of earlier state files
    have no `order_status` slot at all, hence the field-by-field copy)."""
    values: dict[str, Any] = {spec.name: getattr(order, spec.name, None) for spec in fields(BrokerOrder)}
    values["order_status"] = row_order_status(
        _ORDER_STATUS[order.status], order.filled_quantity, order.quantity
    )
    return BrokerOrder(**values)


_PERSISTED_STATE = (
    "_sequence",
    "_fill_sequence",
    "_orders",
    "_working",
    "_trades",
    "_positions",
    "_cash",
    "_charges_paid",
    "_charged_orders",
    "_ioc",
    "_consumed",
    "_trading_day",
)
DAY_ORDER_EXPIRED_TEXT = "Order cancelled by the exchange at market close"


OrderListener = Callable[[BrokerOrder], None]


class PaperBroker:
    def __init__(
        self,
        clock: Clock,
        quotes: QuoteSource,
        fill_model: FillModel,
        funds: PaperFunds,
        instruments: InstrumentMaster,
        *,
        rate_card: RateCard | None = None,
        candle_source: CandleSource | None = None,
        order_id_prefix: str = "P",
        state_path: Path | None = None,
    ) -> None:
        """`state_path`: keep the paper books on disk so a restarted paper session finds its orders,
        fills, positions and cash where it left them (reconciliation then agrees, as with a real broker)."""
        self._clock = clock
        self._quotes = quotes
        self._model = fill_model
        self._funds = funds
        self._instruments = instruments
        self._card = rate_card if rate_card is not None else RateCard.load()
        self._candles = candle_source if candle_source is not None else CandleSource()
        self._prefix = order_id_prefix
        self._sequence = 0
        self._fill_sequence = 0
        self._orders: dict[str, BrokerOrder] = {}
        self._working: dict[str, WorkingOrder] = {}
        self._trades: list[BrokerTrade] = []
        self._positions: dict[tuple[Exchange, str, ProductType], BookPosition] = {}
        self._cash = funds.initial_cash
        self._charges_paid = 0.0
        self._charged_orders: set[str] = set()
        self._listeners: list[OrderListener] = []
        self._ioc: set[str] = set()
        self._consumed: dict[tuple[str, Side], tuple[datetime | None, int]] = {}
        self._trading_day: date = ist_date(clock.now_utc())
        self._day_bound: tuple[date, datetime] = (date.min, datetime.min.replace(tzinfo=UTC))
        #: SPAN margins of the last baskets priced (a pure function of the legs under `funds.span`): an
        #: entry prices the same open book several times at one instant (funds, the margin
        #: calculator, the RMS check of the order); at most `_SPAN_MEMO_SIZE` kept.
        self._span_memo: dict[tuple[OptionLeg, ...], SpanMargin] = {}
        self._state_path = state_path
        if state_path is not None and state_path.exists():
            self._load_state(state_path)

    # ---- observation -------------------------------------------------------------------------
    def subscribe(self, listener: OrderListener) -> None:
        """Order updates (every status change and fill) as the order-update socket would push them."""
        self._listeners.append(listener)

    @property
    def charges_paid(self) -> float:
        return self._charges_paid

    @property
    def cash(self) -> float:
        return self._cash

    @staticmethod
    def order_update(order: BrokerOrder) -> OrderUpdate:
        """The engine-facing event for an order-book row, as the order-update socket would deliver it."""
        return OrderUpdate(
            ts_utc=order.update_time or order.exchange_time or datetime.min.replace(tzinfo=UTC),
            order_id=order.order_id,
            status=_ORDER_STATUS[order.status],
            broker_status=order.status,
            ordertag=order.ordertag,
            token=order.token,
            symbol=order.symbol,
            filled_quantity=order.filled_quantity,
            average_price=order.average_price,
            message=order.text,
            ts_exchange=order.exchange_time,
        )

    # ---- trading day -------------------------------------------------------------------------
    @property
    def trading_day(self) -> date:
        """The IST trading date the books are on."""
        return self._trading_day

    def roll_day(self, day: date) -> bool:
        """Start the books on trading day `day`, as Angel One does overnight; False (no change) when
        they are already on `day` or later. Every public call rolls to the clock's IST date first, so
        calling this at the start of a session only makes the roll happen at a known moment."""
        if day <= self._trading_day:
            return False
        now = self._clock.now_utc()
        for order_id in sorted(self._working):
            self._working.pop(order_id, None)
            self._emit(
                replace(
                    self._orders[order_id], status=CANCELLED, text=DAY_ORDER_EXPIRED_TEXT, update_time=now
                )
            )
        carried: dict[tuple[Exchange, str, ProductType], BookPosition] = {}
        for key, position in sorted(self._positions.items()):
            exchange, token, product = key
            instrument = self._instruments.get(exchange, token)
            expired = instrument is None or (instrument.expiry is not None and instrument.expiry < day)
            if expired and position.open_quantity:
                self._cash += position.open_quantity * self._settlement_price(instrument, token, position)
                continue
            if product is ProductType.INTRADAY and position.open_quantity:
                self._cash += position.open_quantity * self._last_price(token, position)
                continue
            following = position.rolled()
            if following is not None:
                carried[key] = following
        self._positions = carried
        self._orders = {}
        self._trades = []
        self._ioc = set()
        self._charged_orders = set()
        self._consumed = {}
        self._trading_day = day
        self._save_state()
        return True

    def _sync_day(self) -> None:
        """Roll to the clock's IST date. Runs on every tick, so the next IST midnight after the books'
        day is kept and the date is only re-derived once the clock reaches it."""
        now = self._clock.now_utc()
        if self._day_bound[0] == self._trading_day and now < self._day_bound[1]:
            return
        self.roll_day(ist_date(now))
        self._day_bound = (self._trading_day, ist_datetime(self._trading_day + timedelta(days=1), time(0)))

    def _settlement_price(self, instrument: Instrument | None, token: str, position: BookPosition) -> float:
        """An expired contract's exchange settlement: an option's intrinsic value against its index's
        last price; without that, the contract's own last price; without a quote, its open average."""
        if instrument is not None and instrument.is_option and instrument.strike is not None:
            try:
                index = self._instruments.index_instrument(instrument.underlying)
            except InstrumentNotFound:
                index = None
            spot = self._quotes.quote(index.token) if index is not None else None
            if spot is not None:
                if instrument.option_type is OptionType.CE:
                    return max(spot.ltp - instrument.strike, 0.0)
                return max(instrument.strike - spot.ltp, 0.0)
        return self._last_price(token, position)

    def _last_price(self, token: str, position: BookPosition) -> float:
        quote = self._quotes.quote(token)
        return quote.ltp if quote is not None else position.open_average

    def _emit(self, order: BrokerOrder) -> None:
        order = _with_order_status(order)
        self._orders[order.order_id] = order
        self._save_state()
        for listener in list(self._listeners):
            listener(order)

    def _save_state(self) -> None:
        if self._state_path is None:
            return
        state = {name: getattr(self, name) for name in _PERSISTED_STATE}
        atomic_write_bytes(self._state_path, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))

    def _load_state(self, path: Path) -> None:
        """The bot's own file in its state directory (never user input), written atomically by _save_state."""
        try:
            state = _StateUnpickler(io.BytesIO(path.read_bytes())).load()
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ModuleNotFoundError) as exc:
            raise UserError(
                f"paper broker state {path} is unreadable ({type(exc).__name__}); move it aside"
            ) from None
        missing = [name for name in _PERSISTED_STATE if name not in state]
        if missing:
            raise UserError(f"paper broker state {path} lacks {', '.join(missing)}; move it aside")
        for name in _PERSISTED_STATE:
            setattr(self, name, state[name])
        self._orders = {order_id: _with_order_status(order) for order_id, order in self._orders.items()}

    # ---- validation --------------------------------------------------------------------------
    def _instrument(self, exchange: Exchange, token: str) -> Instrument:
        instrument = self._instruments.get(exchange, token)
        if instrument is None:
            raise BrokerRejected("AB1019", f"unknown instrument {exchange}:{token}")
        return instrument

    def _validate(
        self, instrument: Instrument, quantity: int, order_type: OrderType, price: float, trigger: float
    ) -> None:
        if quantity <= 0:
            raise BrokerRejected("AB1012", f"quantity must be positive, got {quantity}")
        lot = max(1, instrument.lot_size)
        if quantity % lot:
            raise BrokerRejected("AB1012", f"quantity {quantity} is not a multiple of lot size {lot}")
        tick = instrument.tick_size if instrument.tick_size > 0 else 0.05
        checks = []
        if order_type in (OrderType.LIMIT, OrderType.STOPLOSS_LIMIT):
            checks.append(("price", price))
        if order_type in (OrderType.STOPLOSS_LIMIT, OrderType.STOPLOSS_MARKET):
            checks.append(("trigger price", trigger))
        for name, value in checks:
            if value <= 0:
                raise BrokerRejected("AB1013", f"{name} must be positive for {order_type}, got {value}")
            if abs(tick_round(value, tick, "nearest") - value) > 1e-9:
                raise BrokerRejected("AB1013", f"{name} {value} is not a multiple of tick size {tick}")

    # ---- orders ------------------------------------------------------------------------------
    async def place_order(self, request: OrderRequest) -> PlaceResult:
        self._sync_day()
        instrument = self._instrument(request.exchange, request.token)
        self._validate(instrument, request.quantity, request.order_type, request.price, request.trigger_price)
        self._sequence += 1
        order_id = f"{self._prefix}{self._sequence:09d}"
        unique = f"{order_id}-U"
        now = self._clock.now_utc()
        stop = request.order_type in (OrderType.STOPLOSS_LIMIT, OrderType.STOPLOSS_MARKET)
        order = BrokerOrder(
            order_id=order_id,
            unique_order_id=unique,
            exchange=request.exchange,
            token=request.token,
            symbol=request.symbol,
            side=request.side,
            order_type=request.order_type,
            product=request.product,
            variety=request.variety,
            quantity=request.quantity,
            filled_quantity=0,
            price=request.price,
            trigger_price=request.trigger_price,
            average_price=0.0,
            status=TRIGGER_PENDING if stop else OPEN,
            ordertag=request.ordertag,
            update_time=now,
            exchange_time=now,
        )
        shortfall = self._band_violation(request) or self._buy_shortfall(request, instrument)
        if shortfall is not None:
            self._emit(replace(order, status=REJECTED, text=shortfall))
            return PlaceResult(order_id, unique)
        if request.duration is Duration.IOC:
            self._ioc.add(order_id)
        self._working[order_id] = WorkingOrder(
            side=request.side,
            order_type=request.order_type,
            quantity=request.quantity,
            price=request.price,
            trigger_price=request.trigger_price,
            tick_size=instrument.tick_size,
            accepted_at=now,
        )
        self._emit(order)
        return PlaceResult(order_id, unique)

    def _band_violation(self, request: OrderRequest) -> str | None:
        """Limit prices outside the day's circuit band are refused, as the exchange RMS does."""
        if request.order_type not in (OrderType.LIMIT, OrderType.STOPLOSS_LIMIT):
            return None
        quote = self._quotes.quote(request.token)
        if quote is None:
            return None
        upper, lower = quote.upper_circuit, quote.lower_circuit
        if upper and request.price > upper + 1e-9:
            return f"price {request.price} above the upper circuit {upper}"
        if lower and request.price < lower - 1e-9:
            return f"price {request.price} below the lower circuit {lower}"
        return None

    def _buy_shortfall(self, request: OrderRequest, instrument: Instrument) -> str | None:
        """RMS check: an order's premium (and, if opening a short, its margin) must fit the cash."""
        book = self._book()
        needed = self._requirement(request, instrument, book).total
        available = self._cash_over(book)
        if needed > available + 1e-6:
            return f"insufficient funds: required {needed:.2f}, available {available:.2f}"
        return None

    def _reference_price(self, request: OrderRequest, instrument: Instrument) -> float:
        if request.order_type in (OrderType.LIMIT, OrderType.STOPLOSS_LIMIT) and request.price > 0:
            return request.price
        quote = self._quotes.quote(request.token)
        if quote is None:
            return request.trigger_price
        tick = instrument.tick_size if instrument.tick_size > 0 else 0.05
        return self._model.executable_price(request.side, quote, tick)

    def _requirement(
        self, request: OrderRequest, instrument: Instrument, book: _BookMargin | None = None
    ) -> MarginRequirement:
        """What one order needs on top of the book: premium for an opening buy, the book's extra
        SPAN + exposure for an opening sell (a sell that a held long covers costs only the spread)."""
        return self._basket_requirement([(request, instrument)], book)

    def _book(self) -> _BookMargin:
        """The open book's legs and their margin, computed once for the checks of one order."""
        legs = self._book_legs()
        return _BookMargin(legs, self._span(legs))

    def _basket_requirement(
        self, orders: Sequence[tuple[OrderRequest, Instrument]], book_margin: _BookMargin | None = None
    ) -> MarginRequirement:
        if book_margin is None:
            book_margin = self._book()
        book, before = book_margin.legs, book_margin.margin
        added: list[OptionLeg] = []
        premium = 0.0
        plain = 0.0
        for request, instrument in orders:
            price = self._reference_price(request, instrument)
            signed = request.quantity if request.side is Side.BUY else -request.quantity
            leg = self._option_leg(instrument, signed, price)
            if leg is None:  # not an option: the premium/value of a buy, nothing blocked for a sell
                plain += price * request.quantity if request.side is Side.BUY else 0.0
                continue
            added.append(leg)
        after = self._span([*book, *added])
        premium = max(after.premium - before.premium, 0.0) + plain
        span = max(after.span - before.span, 0.0)
        exposure = max(after.exposure - before.exposure, 0.0)
        return MarginRequirement(
            total=premium + span + exposure, span=span, exposure=exposure, premium=premium
        )

    def _span(self, legs: list[OptionLeg]) -> SpanMargin:
        key = tuple(legs)
        held = self._span_memo.get(key)
        if held is None:
            if len(self._span_memo) >= _SPAN_MEMO_SIZE:
                self._span_memo.clear()
            held = self._span_memo[key] = basket_margin(self._funds.span, legs)
        return held

    def _spot(self, instrument: Instrument) -> float:
        """The underlying's last price (from the same quote source), else the strike."""
        try:
            index = self._instruments.index_instrument(instrument.underlying)
        except (InstrumentNotFound, KeyError):
            index = None
        quote = self._quotes.quote(index.token) if index is not None else None
        if quote is not None and quote.ltp > 0:
            return quote.ltp
        return instrument.strike or 0.0

    def _option_leg(self, instrument: Instrument, quantity: int, price: float) -> OptionLeg | None:
        if instrument.option_type is None or instrument.strike is None:
            return None
        return OptionLeg(
            instrument.underlying,
            instrument.expiry,
            instrument.option_type.value,
            instrument.strike,
            quantity,
            price,
            self._spot(instrument),
        )

    def _book_legs(self) -> list[OptionLeg]:
        legs = []
        for (exchange, token, _product), position in self._positions.items():
            if position.net == 0:
                continue
            instrument = self._instruments.get(exchange, token)
            leg = (
                None
                if instrument is None
                else self._option_leg(instrument, position.net, position.open_average)
            )
            if leg is not None:
                legs.append(leg)
        return legs

    def _book_margin(self) -> SpanMargin:
        return self._span(self._book_legs())

    def _blocked_margin(self) -> float:
        """SPAN + exposure the open shorts block (long premium was paid from cash already)."""
        book = self._book_margin()
        return book.span + book.exposure

    def _available_cash(self) -> float:
        return self._cash - self._blocked_margin()

    def _cash_over(self, book: _BookMargin) -> float:
        """`_available_cash` over a book margin already computed (the same figure)."""
        return self._cash - (book.margin.span + book.margin.exposure)

    async def modify_order(self, request: ModifyRequest) -> PlaceResult:
        self._sync_day()
        order = self._orders.get(request.order_id)
        if order is None:
            raise BrokerRejected("AB1008", f"order {request.order_id} not found")
        if order.status in _FINAL:
            raise BrokerRejected(
                "AB1009", f"order {request.order_id} is {order.status} and cannot be modified"
            )
        instrument = self._instrument(order.exchange, order.token)
        self._validate(instrument, request.quantity, request.order_type, request.price, request.trigger_price)
        if request.quantity < order.filled_quantity:
            raise BrokerRejected(
                "AB1012", f"quantity {request.quantity} below filled {order.filled_quantity}"
            )
        now = self._clock.now_utc()
        working = self._working[order.order_id]
        stop = request.order_type in (OrderType.STOPLOSS_LIMIT, OrderType.STOPLOSS_MARKET)
        triggered = working.triggered and stop
        self._working[order.order_id] = replace(
            working,
            order_type=request.order_type,
            quantity=request.quantity,
            price=request.price,
            trigger_price=request.trigger_price,
            accepted_at=now,
            triggered=triggered,
        )
        self._emit(
            replace(
                order,
                order_type=request.order_type,
                quantity=request.quantity,
                price=request.price,
                trigger_price=request.trigger_price,
                status=TRIGGER_PENDING if stop and not triggered else OPEN,
                update_time=now,
            )
        )
        self._fill_if_possible(order.order_id)
        return PlaceResult(order.order_id, order.unique_order_id)

    async def cancel_order(self, order_id: str, variety: Variety = Variety.NORMAL) -> PlaceResult:
        self._sync_day()
        order = self._orders.get(order_id)
        if order is None:
            raise BrokerRejected("AB1008", f"order {order_id} not found")
        if order.status in _FINAL:
            raise BrokerRejected("AB1010", f"order {order_id} is {order.status} and cannot be cancelled")
        self._working.pop(order_id, None)
        self._emit(replace(order, status=CANCELLED, update_time=self._clock.now_utc()))
        return PlaceResult(order.order_id, order.unique_order_id)

    # ---- matching ----------------------------------------------------------------------------
    def match(self) -> int:
        """Evaluate every resting order against the latest quotes (in id order); returns fills made."""
        self._sync_day()
        return sum(self._fill_if_possible(order_id) for order_id in sorted(self._working))

    def match_token(self, token: str) -> int:
        self._sync_day()
        if not self._working:
            return 0
        ids = sorted(oid for oid in self._working if self._orders[oid].token == token)
        return sum(self._fill_if_possible(order_id) for order_id in ids)

    def _fill_if_possible(self, order_id: str) -> int:
        """One evaluation; an IOC order's unfilled rest is cancelled after its first eligible quote."""
        fills = self._try_fill(order_id)
        working = self._working.get(order_id)
        if working is not None and order_id in self._ioc:
            quote = self._quotes.quote(self._orders[order_id].token)
            stamp = quote.exchange_time if quote is not None else None
            if stamp is not None and stamp >= self._model.eligible_from(working):
                self._working.pop(order_id, None)
                self._emit(
                    replace(
                        self._orders[order_id],
                        status=CANCELLED,
                        text="IOC: unfilled quantity cancelled",
                        update_time=self._clock.now_utc(),
                    )
                )
        return fills

    def _try_fill(self, order_id: str) -> int:
        working = self._working.get(order_id)
        if working is None:
            return 0
        order = self._orders[order_id]
        decision = self._model.decide(working, self._quotes.quote(order.token))
        if decision.triggered and not working.triggered:
            working = replace(working, triggered=True)
            self._working[order_id] = working
            self._emit(replace(order, status=OPEN, update_time=self._clock.now_utc()))
            order = self._orders[order_id]
        if decision.price is None:
            return 0
        quantity = self._available_liquidity(order, order.quantity - order.filled_quantity)
        return self._execute(order, quantity, decision.price)

    def _execute(self, order: BrokerOrder, quantity: int, price: float) -> int:
        """Book `quantity` of `order` at `price` if the funds allow (else reject it); returns fills made."""
        if quantity <= 0:
            return 0
        order_id = order.order_id
        request_like = OrderRequest(
            exchange=order.exchange,
            token=order.token,
            symbol=order.symbol,
            side=order.side,
            quantity=quantity,
            order_type=OrderType.LIMIT,
            product=order.product,
            ordertag=order.ordertag,
            price=price,
        )
        instrument = self._instrument(order.exchange, order.token)
        charges = self._charges(order.order_id, order.exchange, order.side, quantity, price)
        premium_out = quantity * price if order.side is Side.BUY else 0.0
        book = self._book()
        if order.side is Side.BUY and premium_out + charges.total > self._cash_over(book) + 1e-6:
            self._working.pop(order_id, None)
            self._emit(
                replace(
                    order,
                    status=REJECTED,
                    text="insufficient funds at fill",
                    update_time=self._clock.now_utc(),
                )
            )
            return 0
        if order.side is Side.SELL:
            need = self._requirement(request_like, instrument, book).total
            if need + charges.total > self._cash_over(book) + 1e-6:
                self._working.pop(order_id, None)
                self._emit(
                    replace(
                        order,
                        status=REJECTED,
                        text="insufficient margin at fill",
                        update_time=self._clock.now_utc(),
                    )
                )
                return 0
        self._book_fill(order, quantity, price, charges)
        return 1

    def _available_liquidity(self, order: BrokerOrder, wanted: int) -> int:
        """Quantity the current quote can absorb: the far-side depth (shared by all orders on the token,
        consumed until a newer quote arrives), or everything when the quote carries no depth."""
        quote = self._quotes.quote(order.token)
        if quote is None:
            return 0
        levels = quote.asks if order.side is Side.BUY else quote.bids
        depth = sum(level.quantity for level in levels[:1] if level.price > 0 and level.quantity > 0)
        if depth <= 0:
            return wanted
        key = (order.token, order.side)
        stamp, used = self._consumed.get(key, (None, 0))
        if stamp != quote.exchange_time:
            used = 0
        lot = max(1, self._instrument(order.exchange, order.token).lot_size)
        room = (depth - used) // lot * lot
        take = min(wanted, max(0, room))
        self._consumed[key] = (quote.exchange_time, used + take)
        return take

    def _charges(
        self, order_id: str, exchange: Exchange, side: Side, quantity: int, price: float
    ) -> ChargeBreakdown:
        first = order_id not in self._charged_orders
        self._charged_orders.add(order_id)
        return option_charges(
            self._card,
            exchange,
            side,
            quantity,
            price,
            ist_date(self._clock.now_utc()),
            executed_orders=1 if first else 0,
        )

    def _book_fill(self, order: BrokerOrder, quantity: int, price: float, charges: ChargeBreakdown) -> None:
        now = self._clock.now_utc()
        self._fill_sequence += 1
        self._trades.append(
            BrokerTrade(
                fill_id=f"{self._prefix}F{self._fill_sequence:09d}",
                order_id=order.order_id,
                exchange=order.exchange,
                token=order.token,
                symbol=order.symbol,
                side=order.side,
                product=order.product,
                quantity=quantity,
                price=price,
                fill_time=now,
            )
        )
        position = self._positions.setdefault((order.exchange, order.token, order.product), BookPosition())
        position.apply_fill(order.side is Side.BUY, quantity, price)
        amount = quantity * price
        self._cash += -amount if order.side is Side.BUY else amount
        self._cash -= charges.total
        self._charges_paid += charges.total
        filled = order.filled_quantity + quantity
        average = (order.average_price * order.filled_quantity + amount) / filled
        done = filled >= order.quantity
        if done:
            self._working.pop(order.order_id, None)
        self._emit(
            replace(
                order,
                filled_quantity=filled,
                average_price=average,
                status=COMPLETE if done else OPEN,
                update_time=now,
                exchange_time=now,
            )
        )

    # ---- books -------------------------------------------------------------------------------
    async def order_book(self) -> list[BrokerOrder]:
        self._sync_day()
        return [self._orders[key] for key in sorted(self._orders)]

    async def order_details(self, unique_order_id: str) -> BrokerOrder | None:
        self._sync_day()
        return next((o for o in self._orders.values() if o.unique_order_id == unique_order_id), None)

    async def trade_book(self) -> list[BrokerTrade]:
        self._sync_day()
        return list(self._trades)

    async def positions(self) -> list[BrokerPosition]:
        self._sync_day()
        rows = []
        for (exchange, token, product), position in sorted(self._positions.items()):
            instrument = self._instrument(exchange, token)
            rows.append(
                BrokerPosition(
                    exchange=exchange,
                    token=token,
                    symbol=instrument.symbol,
                    product=product,
                    net_quantity=position.net,
                    buy_quantity=position.total_buy_quantity,
                    sell_quantity=position.total_sell_quantity,
                    buy_amount=position.total_buy_amount,
                    sell_amount=position.total_sell_amount,
                    average_net_price=position.open_average,
                    lot_size=instrument.lot_size,
                )
            )
        return rows

    def _marks(self) -> tuple[float, float]:
        """(realised, unrealised) gross P&L today: closed quantity against the open average (average-cost
        netting, reset by the day roll), open quantity at LTP (no quote: no unrealised P&L)."""
        realised = unrealised = 0.0
        for (_exchange, token, _product), position in self._positions.items():
            realised += position.realised
            if position.open_quantity:
                quote = self._quotes.quote(token)
                unrealised += position.unrealised(quote.ltp if quote is not None else None)
        return realised, unrealised

    async def funds(self) -> Funds:
        self._sync_day()
        realised, unrealised = self._marks()
        book = self._book_margin()
        blocked = book.span + book.exposure
        return Funds(
            net=self._cash - blocked,
            available_cash=self._cash - blocked,
            utilised_margin=blocked + book.premium,
            realised_m2m=realised,
            unrealised_m2m=unrealised,
        )

    # ---- market data -------------------------------------------------------------------------
    async def quotes(self, mode: QuoteMode, tokens: dict[Exchange, Sequence[str]]) -> list[Quote]:
        rows = []
        for exchange, token_list in tokens.items():
            for token in token_list:
                quote = self._quotes.quote(token)
                if quote is not None and quote.exchange is exchange:
                    rows.append(quote)
        return rows

    async def candles(
        self, exchange: Exchange, token: str, interval: CandleInterval, start: datetime, end: datetime
    ) -> list[Candle]:
        return self._candles.candles(exchange, token, interval, start, end)

    async def margin_required(self, requests: Sequence[OrderRequest]) -> MarginRequirement:
        """The basket's margin taken together over the open book (hedges in the basket count)."""
        self._sync_day()
        return self._basket_requirement(
            [(request, self._instrument(request.exchange, request.token)) for request in requests]
        )

    async def estimate_charges(self, requests: Sequence[OrderRequest]) -> ChargeEstimate:
        self._sync_day()
        day = ist_date(self._clock.now_utc())
        total_breakdown: ChargeBreakdown | None = None
        for request in requests:
            instrument = self._instrument(request.exchange, request.token)
            price = self._reference_price(request, instrument)
            part = option_charges(self._card, request.exchange, request.side, request.quantity, price, day)
            total_breakdown = part if total_breakdown is None else total_breakdown + part
        if total_breakdown is None:
            return ChargeEstimate(total=0.0, trade_value=0.0, components=())
        return ChargeEstimate(
            total=total_breakdown.total,
            trade_value=total_breakdown.turnover,
            components=tuple(ChargeComponent(name, amount) for name, amount in total_breakdown.components()),
        )
