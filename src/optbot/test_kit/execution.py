"""A deterministic in-memory `Broker` with programmable faults, for order-manager, engine and backtest tests.

The exchange side is explicit: tests decide when orders fill (`fill`), and which faults the next
`place_order` calls hit (`inject`). Everything is keyed on the clock and counters, never randomness
unless a seeded `random.Random` is passed in.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal, TypeVar

from optbot.broker.base import CandleInterval, QuoteMode
from optbot.broker.errors import BrokerRejected, RateLimited, TokenExpired, TransientError, UnresolvedOrder
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
    PlaceResult,
    Quote,
)
from optbot.charges import RateCard, Rounding, option_charges
from optbot.config.settings import Settings
from optbot.core.bus import EventBus
from optbot.core.clock import Clock, SimClock
from optbot.core.enums import (
    Exchange,
    InstrumentKind,
    IntentPurpose,
    OptionType,
    OrderStatus,
    OrderType,
    ProductType,
    Side,
    Variety,
)
from optbot.core.events import OrderIntent, OrderUpdate
from optbot.core.funds import Funds
from optbot.core.instrument import Instrument
from optbot.core.timeutil import ist_date
from optbot.execution.order_manager import OrderManager
from optbot.execution.statement import order_charges
from optbot.persistence.records import FillRecord
from optbot.persistence.store import Store

FillPolicy = Literal["immediate", "partial", "none"]
T = TypeVar("T")


class Fault(StrEnum):
    NONE = "none"  # this call goes through (so a later call in the queue takes the fault)
    REPLY_LOST = "reply_lost"  # placed at the broker, reply lost -> UnresolvedOrder
    SERVER_ERROR_PLACED = "5xx_placed"  # 5xx, but the order was placed -> UnresolvedOrder
    SERVER_ERROR_NOT_PLACED = "5xx_not_placed"  # 5xx, nothing placed -> UnresolvedOrder (bot can't tell)
    TIMEOUT_AFTER_SEND = "timeout_after_send"  # placed, then the client timed out (TimeoutError)
    TRANSIENT_BEFORE_SEND = "transient_before_send"  # connection refused: TransientError, nothing placed
    RATE_LIMITED = "rate_limited"  # 403 access rate: RateLimited, nothing placed
    REJECT = "reject"  # BrokerRejected (AB4xxx-style business reject)
    TOKEN_EXPIRED = "token_expired"
    CRASH_BEFORE_SEND = "crash_before_send"  # the process dies before the request leaves
    CRASH_AFTER_SEND = "crash_after_send"  # the broker placed it, the process died before the reply
    PLACED_LATE = "placed_late"  # reply lost; the order reaches the book only at `release_late()`


class SimulatedCrash(BaseException):
    """Raised by FakeBroker to emulate the process dying mid-call (not an Exception: nothing catches it)."""


@dataclass
class _Order:
    order_id: str
    unique_order_id: str
    request: OrderRequest
    status: str = "open"
    filled_quantity: int = 0
    fill_value: float = 0.0
    text: str = ""
    price: float = 0.0

    def row(self, when: datetime) -> BrokerOrder:
        average = self.fill_value / self.filled_quantity if self.filled_quantity else 0.0
        return BrokerOrder(
            order_id=self.order_id,
            unique_order_id=self.unique_order_id,
            exchange=self.request.exchange,
            token=self.request.token,
            symbol=self.request.symbol,
            side=self.request.side,
            order_type=self.request.order_type,
            product=self.request.product,
            variety=self.request.variety,
            quantity=self.request.quantity,
            filled_quantity=self.filled_quantity,
            price=self.price,
            trigger_price=self.request.trigger_price,
            average_price=average,
            status=self.status,
            ordertag=self.request.ordertag,
            text=self.text,
            update_time=when,
            order_status=_status_for(self),
        )


_STATUS_OF = {
    "open": OrderStatus.OPEN,
    "complete": OrderStatus.FILLED,
    "cancelled": OrderStatus.CANCELLED,
    "rejected": OrderStatus.REJECTED,
}


@dataclass
class FakeBroker:
    """Implements `optbot.broker.base.Broker` in memory. Quantities are units, prices rupees."""

    clock: Clock
    fill_policy: FillPolicy = "immediate"
    initial_cash: float = 1_000_000.0
    rate_card: RateCard = field(default_factory=RateCard.load)
    charges_rounding: Rounding = "paisa"  # the execution setting's default
    quotes_by_token: dict[str, Quote] = field(default_factory=dict)
    orders: dict[str, _Order] = field(default_factory=dict)
    trades: list[BrokerTrade] = field(default_factory=list)
    placed_requests: list[OrderRequest] = field(default_factory=list)
    cancel_requests: list[str] = field(default_factory=list)
    pending_updates: deque[OrderUpdate] = field(default_factory=deque)
    place_faults: deque[Fault] = field(default_factory=deque)
    read_faults: deque[Exception] = field(default_factory=deque)
    place_latency_seconds: float = 0.0
    late_requests: list[OrderRequest] = field(default_factory=list)
    _order_sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _fill_sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # ------------------------------------------------------------ controls
    def inject(self, *faults: Fault) -> None:
        """The next `place_order` calls hit these faults, in order."""
        self.place_faults.extend(faults)

    def fail_next_read(self, error: Exception) -> None:
        self.read_faults.append(error)

    def set_quote(self, quote: Quote) -> None:
        self.quotes_by_token[quote.token] = quote

    def order_for_tag(self, ordertag: str) -> BrokerOrder | None:
        now = self.clock.now_utc()
        return next((o.row(now) for o in self.orders.values() if o.request.ordertag == ordertag), None)

    def orders_with_tag(self, ordertag: str) -> int:
        return sum(1 for order in self.orders.values() if order.request.ordertag == ordertag)

    def fill(self, order_id: str, quantity: int | None = None, price: float | None = None) -> BrokerTrade:
        """Execute (part of) an open order at `price` (default: its limit price)."""
        order = self.orders[order_id]
        if order.status != "open":
            raise ValueError(f"order {order_id} is {order.status}, cannot fill")
        remaining = order.request.quantity - order.filled_quantity
        quantity = remaining if quantity is None else quantity
        if not 0 < quantity <= remaining:
            raise ValueError(f"fill quantity {quantity} outside 1..{remaining}")
        fill_price = order.price if price is None else price
        trade = BrokerTrade(
            fill_id=f"{next(self._fill_sequence):08d}",
            order_id=order_id,
            exchange=order.request.exchange,
            token=order.request.token,
            symbol=order.request.symbol,
            side=order.request.side,
            product=order.request.product,
            quantity=quantity,
            price=fill_price,
            fill_time=self.clock.now_utc(),
        )
        self.trades.append(trade)
        order.filled_quantity += quantity
        order.fill_value += quantity * fill_price
        if order.filled_quantity == order.request.quantity:
            order.status = "complete"
        self._emit(order)
        return trade

    def expire_open_orders(self) -> int:
        count = 0
        for order in self.orders.values():
            if order.status == "open":
                order.status = "cancelled"
                order.text = "expired at end of day"
                self._emit(order)
                count += 1
        return count

    def release_late(self) -> int:
        """The broker finally places the orders whose reply was lost with `Fault.PLACED_LATE`."""
        released = len(self.late_requests)
        for request in self.late_requests:
            self._accept(request)
        self.late_requests.clear()
        return released

    def drain_updates(self) -> list[OrderUpdate]:
        """Order-update socket messages produced since the last call (a test 'delivers' them)."""
        updates = list(self.pending_updates)
        self.pending_updates.clear()
        return updates

    def _emit(self, order: _Order) -> None:
        self.pending_updates.append(
            OrderUpdate(
                ts_utc=self.clock.now_utc(),
                order_id=order.order_id,
                status=_status_for(order),
                broker_status=order.status,
                ordertag=order.request.ordertag,
                token=order.request.token,
                symbol=order.request.symbol,
                filled_quantity=order.filled_quantity,
                average_price=order.fill_value / order.filled_quantity if order.filled_quantity else 0.0,
                message=order.text,
            )
        )

    def _read_fault(self) -> None:
        if self.read_faults:
            raise self.read_faults.popleft()

    # -------------------------------------------------------------- orders
    def _accept(self, request: OrderRequest) -> _Order:
        sequence = next(self._order_sequence)
        day = ist_date(self.clock.now_utc())
        order_id = f"{day:%y%m%d}{sequence:09d}"
        order = _Order(order_id, f"uid-{sequence:06d}", request, price=request.price)
        self.orders[order_id] = order
        self.placed_requests.append(request)
        self._emit(order)
        if self.fill_policy == "immediate":
            self.fill(order_id)
        elif self.fill_policy == "partial" and request.quantity > 1:
            self.fill(order_id, request.quantity // 2)
        return order

    async def place_order(self, request: OrderRequest) -> PlaceResult:
        if self.place_latency_seconds:
            await self.clock.sleep(self.place_latency_seconds)
        fault = self.place_faults.popleft() if self.place_faults else None
        if fault is Fault.CRASH_BEFORE_SEND:
            raise SimulatedCrash("process killed before the send")
        if fault is Fault.TRANSIENT_BEFORE_SEND:
            raise TransientError("connection refused")
        if fault is Fault.RATE_LIMITED:
            raise RateLimited("Access denied because of exceeding access rate")
        if fault is Fault.TOKEN_EXPIRED:
            raise TokenExpired("session expired")
        if fault is Fault.REJECT:
            raise BrokerRejected("AB4008", "order rejected by RMS")
        if fault is Fault.SERVER_ERROR_NOT_PLACED:
            raise UnresolvedOrder(request.ordertag, "HTTP 502")
        if fault is Fault.PLACED_LATE:
            self.late_requests.append(request)
            raise UnresolvedOrder(request.ordertag, "read timeout (the broker is still working on it)")
        if len(request.ordertag) >= 20:
            raise BrokerRejected("AB4008", "ordertag must be shorter than 20 characters")
        order = self._accept(request)
        if fault is Fault.CRASH_AFTER_SEND:
            raise SimulatedCrash("process killed between send and reply")
        if fault is Fault.REPLY_LOST:
            raise UnresolvedOrder(request.ordertag, "read timeout")
        if fault is Fault.SERVER_ERROR_PLACED:
            raise UnresolvedOrder(request.ordertag, "HTTP 503")
        if fault is Fault.TIMEOUT_AFTER_SEND:
            raise TimeoutError("client timeout")
        return PlaceResult(order.order_id, order.unique_order_id)

    async def modify_order(self, request: ModifyRequest) -> PlaceResult:
        order = self.orders.get(request.order_id)
        if order is None or order.status != "open":
            raise BrokerRejected("AB1013", "Order not found")
        order.price = request.price
        self._emit(order)
        return PlaceResult(order.order_id, order.unique_order_id)

    async def cancel_order(self, order_id: str, variety: Variety = Variety.NORMAL) -> PlaceResult:
        self.cancel_requests.append(order_id)
        order = self.orders.get(order_id)
        if order is None or order.status != "open":
            raise BrokerRejected("AB1013", "Order not found")
        order.status = "cancelled"
        self._emit(order)
        return PlaceResult(order.order_id, order.unique_order_id)

    async def order_book(self) -> list[BrokerOrder]:
        self._read_fault()
        now = self.clock.now_utc()
        return [order.row(now) for order in self.orders.values()]

    async def order_details(self, unique_order_id: str) -> BrokerOrder | None:
        self._read_fault()
        now = self.clock.now_utc()
        return next((o.row(now) for o in self.orders.values() if o.unique_order_id == unique_order_id), None)

    async def trade_book(self) -> list[BrokerTrade]:
        self._read_fault()
        return list(self.trades)

    # -------------------------------------------------- positions and funds
    async def positions(self) -> list[BrokerPosition]:
        self._read_fault()
        grouped: dict[tuple[Exchange, str], list[BrokerTrade]] = {}
        for trade in self.trades:
            grouped.setdefault((trade.exchange, trade.token), []).append(trade)
        rows: list[BrokerPosition] = []
        for (exchange, token), trades in grouped.items():
            buy_quantity = sum(t.quantity for t in trades if t.side is Side.BUY)
            sell_quantity = sum(t.quantity for t in trades if t.side is Side.SELL)
            buy_amount = sum(t.quantity * t.price for t in trades if t.side is Side.BUY)
            sell_amount = sum(t.quantity * t.price for t in trades if t.side is Side.SELL)
            rows.append(
                BrokerPosition(
                    exchange=exchange,
                    token=token,
                    symbol=trades[0].symbol,
                    product=trades[0].product,
                    net_quantity=buy_quantity - sell_quantity,
                    buy_quantity=buy_quantity,
                    sell_quantity=sell_quantity,
                    buy_amount=buy_amount,
                    sell_amount=sell_amount,
                )
            )
        return rows

    def charges_total(self) -> float:
        """Charges per executed order by the contract-note rule (one computation per order, each
        component rounded once), as a broker's ledger debits them."""
        fills = [
            FillRecord(
                fill_id=trade.fill_id,
                broker_order_id=trade.order_id,
                ordertag=None,
                intent_id="",
                exchange=trade.exchange,
                token=trade.token,
                symbol=trade.symbol,
                side=trade.side,
                quantity=trade.quantity,
                price=trade.price,
                trade_date=ist_date(trade.fill_time or self.clock.now_utc()),
                ts_utc=trade.fill_time or self.clock.now_utc(),
            )
            for trade in self.trades
        ]
        return sum(
            order.charges.total for order in order_charges(fills, self.rate_card, self.charges_rounding)
        )

    async def funds(self) -> Funds:
        self._read_fault()
        cash_flow = sum(t.quantity * t.price * (-1 if t.side is Side.BUY else 1) for t in self.trades)
        net = self.initial_cash + cash_flow - self.charges_total()
        return Funds(net=net, available_cash=net, utilised_margin=0.0, realised_m2m=self.realised_m2m())

    def realised_m2m(self) -> float:
        """Gross realised P&L, FIFO per instrument (what a broker's RMS reports as m2mrealized)."""
        realised = 0.0
        lots: dict[str, deque[list[float]]] = {}
        for trade in self.trades:
            queue = lots.setdefault(trade.token, deque())
            sign = trade.side.sign
            remaining = float(trade.quantity)
            while remaining and queue and queue[0][0] * sign < 0:
                open_quantity, open_price = queue[0]
                matched = min(remaining, abs(open_quantity))
                realised += matched * (trade.price - open_price) * (1 if open_quantity > 0 else -1)
                queue[0][0] = open_quantity + matched * sign
                remaining -= matched
                if queue[0][0] == 0:
                    queue.popleft()
            if remaining:
                queue.append([remaining * sign, trade.price])
        return realised

    # ---------------------------------------------------------- market data
    async def quotes(self, mode: QuoteMode, tokens: dict[Exchange, Sequence[str]]) -> list[Quote]:
        self._read_fault()
        wanted = {token for token_list in tokens.values() for token in token_list}
        return [quote for token, quote in self.quotes_by_token.items() if token in wanted]

    async def candles(
        self, exchange: Exchange, token: str, interval: CandleInterval, start: datetime, end: datetime
    ) -> list[Candle]:
        return []

    async def margin_required(self, requests: Sequence[OrderRequest]) -> MarginRequirement:
        premium = sum(r.quantity * r.price for r in requests if r.side is Side.BUY)
        return MarginRequirement(total=premium, premium=premium)

    async def estimate_charges(self, requests: Sequence[OrderRequest]) -> ChargeEstimate:
        day = ist_date(self.clock.now_utc())
        components: dict[str, float] = {}
        total = 0.0
        value = 0.0
        for request in requests:
            breakdown = option_charges(
                self.rate_card, request.exchange, request.side, request.quantity, request.price, day
            )
            for name, amount in breakdown.components():
                components[name] = components.get(name, 0.0) + amount
            total += breakdown.total
            value += breakdown.turnover
        return ChargeEstimate(total, value, tuple(ChargeComponent(n, a) for n, a in components.items()))


def _status_for(order: _Order) -> OrderStatus:
    status = _STATUS_OF[order.status]
    if status is OrderStatus.OPEN and order.filled_quantity:
        return OrderStatus.PARTIALLY_FILLED
    return status


def option_instrument(
    token: str = "58784",
    symbol: str = "NIFTY28OCT2524400CE",
    lot_size: int = 75,
    tick_size: float = 0.05,
    freeze_quantity: int | None = 1800,
    exchange: Exchange = Exchange.NFO,
) -> Instrument:
    return Instrument(
        token=token,
        exchange=exchange,
        symbol=symbol,
        underlying="NIFTY",
        kind=InstrumentKind.OPTIDX,
        lot_size=lot_size,
        tick_size=tick_size,
        expiry=date(2025, 10, 28),
        strike=24400.0,
        option_type=OptionType.CE,
        freeze_quantity=freeze_quantity,
    )


def option_quote(
    token: str = "58784",
    symbol: str = "NIFTY28OCT2524400CE",
    ltp: float = 100.0,
    spread: float = 0.5,
    depth_quantity: int = 10_000,
    exchange: Exchange = Exchange.NFO,
    lower_circuit: float = 0.05,
    upper_circuit: float = 1000.0,
) -> Quote:
    bids = tuple(DepthLevel(round(ltp - spread / 2 - 0.05 * i, 2), depth_quantity, 5) for i in range(5))
    asks = tuple(DepthLevel(round(ltp + spread / 2 + 0.05 * i, 2), depth_quantity, 5) for i in range(5))
    return Quote(
        exchange=exchange,
        token=token,
        symbol=symbol,
        ltp=ltp,
        bids=bids,
        asks=asks,
        lower_circuit=lower_circuit,
        upper_circuit=upper_circuit,
        exchange_time=datetime(2026, 3, 2, 4, 0, tzinfo=UTC),
    )


async def deliver_updates(broker: FakeBroker, handler: Callable[[OrderUpdate], Awaitable[None]]) -> int:
    """Feed the fake's pending order updates to an async handler (the order manager's)."""
    updates = broker.drain_updates()
    for update in updates:
        await handler(update)
    return len(updates)


TEST_START = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 09:30 IST on a Monday


def option_intent(
    intent_id: str = "intent-1",
    side: Side = Side.BUY,
    quantity: int = 75,
    limit_price: float | None = 100.5,
    purpose: IntentPurpose = IntentPurpose.ENTRY,
    order_type: OrderType = OrderType.LIMIT,
    trigger_price: float | None = None,
    instrument: Instrument | None = None,
    strategy: str = "test",
    underlying_reference_price: float | None = None,
    when: datetime = TEST_START,
) -> OrderIntent:
    target = instrument or option_instrument()
    return OrderIntent(
        ts_utc=when,
        intent_id=intent_id,
        strategy=strategy,
        token=target.token,
        exchange=target.exchange,
        symbol=target.symbol,
        side=side,
        quantity=quantity,
        purpose=purpose,
        order_type=order_type,
        product=ProductType.INTRADAY,
        limit_price=limit_price,
        trigger_price=trigger_price,
        underlying=target.underlying,
        underlying_reference_price=underlying_reference_price,
    )


@dataclass
class ExecutionHarness:
    """A FakeBroker, a store, an order manager and a SimClock wired together for tests."""

    clock: SimClock
    broker: FakeBroker
    store: Store
    manager: OrderManager
    instrument: Instrument
    bus: EventBus

    async def deliver(self) -> int:
        return await deliver_updates(self.broker, self.manager.on_order_update)

    def restart(self, path: Path | str) -> ExecutionHarness:
        """A fresh process: new store connection and order manager over the same broker."""
        store = Store.open(path, self.clock)
        return build_harness(
            path, broker=self.broker, clock=self.clock, instrument=self.instrument, store=store
        )


def build_harness(
    path: Path | str = ":memory:",
    *,
    broker: FakeBroker | None = None,
    clock: SimClock | None = None,
    instrument: Instrument | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
    fill_policy: FillPolicy = "immediate",
    session_close: Callable[[date], datetime | None] | None = None,
) -> ExecutionHarness:
    sim_clock = clock or SimClock(TEST_START)
    target = instrument or option_instrument()
    fake = broker or FakeBroker(sim_clock, fill_policy=fill_policy)
    if target.token not in fake.quotes_by_token:
        fake.set_quote(option_quote(token=target.token, symbol=target.symbol, exchange=target.exchange))
    state = store or Store.open(path, sim_clock)
    bus = EventBus(synchronous=True)
    manager = OrderManager(
        fake,
        state,
        sim_clock,
        settings or Settings(),
        lambda exchange, token: target if (exchange, token) == (target.exchange, target.token) else None,
        bus=bus,
        session_close=session_close,
    )
    return ExecutionHarness(sim_clock, fake, state, manager, target, bus)


async def drive(clock: SimClock, awaitable: Awaitable[T]) -> T:
    """Await something that sleeps on a SimClock (retry backoff, throttle), advancing time as needed."""
    task = asyncio.ensure_future(awaitable)
    while not task.done():
        await clock.settle()
        if task.done():
            break
        deadline = clock.next_deadline()
        if deadline is not None:
            clock.advance_to(deadline)
    return await task
