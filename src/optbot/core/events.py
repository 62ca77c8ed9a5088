"""Typed immutable messages passed between services.

Every event carries `ts_utc` (when optbot observed or created it, from the Clock); market and
broker events also carry the exchange's own timestamp when one was given. Prices are rupees.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from datetime import date, datetime, time
from typing import Any, TypeVar

from optbot.core.enums import (
    AlertPriority,
    Exchange,
    IntentPurpose,
    OptionType,
    OrderStatus,
    OrderType,
    ProductType,
    RiskState,
    Side,
    SignalDirection,
    Timeframe,
)
from optbot.core.timeutil import ist_datetime, to_utc


@dataclass(frozen=True, slots=True)
class Event:
    ts_utc: datetime


@dataclass(frozen=True, slots=True)
class Tick(Event):
    token: str
    exchange: Exchange
    symbol: str
    ltp: float
    ts_exchange: datetime | None = None
    bid: float | None = None
    ask: float | None = None
    volume: int | None = None
    last_quantity: int | None = None
    open_interest: int | None = None
    source: str = "ws"  # ws | rest_fallback | replay | synthetic


@dataclass(frozen=True, slots=True)
class Bar(Event):
    """An OHLCV bar closed on the exchange clock. `ts_utc` is when it was closed."""

    token: str
    symbol: str
    timeframe: Timeframe
    start_utc: datetime
    end_utc: datetime
    open: float
    high: float
    low: float
    close: float
    volume: int = 0
    open_interest: int | None = None
    tick_count: int = 0
    interpolated: bool = False
    complete: bool = True


def relabel_bar(bar: Bar, token: str, symbol: str) -> Bar:
    """`bar` as another instrument's (a stored index bar as the master's index row): what
    `dataclasses.replace(bar, token=..., symbol=...)` gives, at a third of its cost (a backtest
    relabels every bar of a year)."""
    return Bar(
        bar.ts_utc,
        token,
        symbol,
        bar.timeframe,
        bar.start_utc,
        bar.end_utc,
        bar.open,
        bar.high,
        bar.low,
        bar.close,
        bar.volume,
        bar.open_interest,
        bar.tick_count,
        bar.interpolated,
        bar.complete,
    )


#: The regular NSE cash session a daily bar spans (09:15-15:30 IST).
DAILY_SESSION_OPEN, DAILY_SESSION_CLOSE = time(9, 15), time(15, 30)


def daily_session_bar(symbol: str, day: date, ohlc: tuple[float, ...], volume: int = 0) -> Bar:
    """A day's OHLC as a daily bar over its regular session, closed at 15:30 IST."""
    opened = to_utc(ist_datetime(day, DAILY_SESSION_OPEN))
    closed = to_utc(ist_datetime(day, DAILY_SESSION_CLOSE))
    open_, high, low, close = (float(value) for value in ohlc)
    return Bar(closed, symbol, symbol, Timeframe.D1, opened, closed, open_, high, low, close, volume)


@dataclass(frozen=True, slots=True)
class Signal(Event):
    strategy: str
    underlying: str
    direction: SignalDirection
    reason: str
    strength: float = 0.0
    trace_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OrderIntent(Event):
    """What a strategy (or the risk engine's flatten) wants done. Not yet an order."""

    intent_id: str
    strategy: str
    token: str
    exchange: Exchange
    symbol: str
    side: Side
    quantity: int
    purpose: IntentPurpose
    order_type: OrderType = OrderType.LIMIT
    product: ProductType = ProductType.INTRADAY
    limit_price: float | None = None
    trigger_price: float | None = None
    underlying: str = ""
    underlying_reference_price: float | None = None
    option_type: OptionType | None = None
    reason: str = ""
    trace_id: str = ""


#: The reason prefix a strategy hears for each leg of a basket the execution layer unwound.
BASKET_UNWOUND = "basket unwound"


@dataclass(frozen=True, slots=True)
class RiskDecision(Event):
    intent_id: str
    approved: bool
    reasons: tuple[str, ...]
    approved_quantity: int
    risk_state: RiskState
    trace_id: str = ""


@dataclass(frozen=True, slots=True)
class OrderUpdate(Event):
    order_id: str
    status: OrderStatus
    broker_status: str
    intent_id: str = ""
    ordertag: str = ""
    token: str = ""
    symbol: str = ""
    filled_quantity: int = 0
    average_price: float = 0.0
    message: str = ""
    ts_exchange: datetime | None = None
    trace_id: str = ""


@dataclass(frozen=True, slots=True)
class Fill(Event):
    fill_id: str
    order_id: str
    token: str
    exchange: Exchange
    symbol: str
    side: Side
    quantity: int
    price: float
    intent_id: str = ""
    ts_exchange: datetime | None = None
    trace_id: str = ""


@dataclass(frozen=True, slots=True)
class PositionChanged(Event):
    token: str
    symbol: str
    net_quantity: int
    average_price: float
    realised_pnl: float
    unrealised_pnl: float
    trace_id: str = ""


@dataclass(frozen=True, slots=True)
class RiskStateChanged(Event):
    previous: RiskState
    current: RiskState
    reason: str
    size_multiplier: float = 1.0


@dataclass(frozen=True, slots=True)
class Alert(Event):
    """Something a person should know (spec §10.10): what to do, why, impact and deadline."""

    priority: AlertPriority
    title: str
    message: str
    action_required: str = ""
    context: str = ""
    impact: str = ""
    deadline: str = ""
    dedupe_key: str = ""


@dataclass(frozen=True, slots=True)
class FeedHealth(Event):
    connected: bool
    stale_seconds: float
    reconnects: int
    detail: str = ""


_Event = TypeVar("_Event", bound=type[Event])


def _slot_init(cls: _Event) -> _Event:
    """Give a frozen slots event class an `__init__` that stores each field through its slot's own
    descriptor: the dataclass one goes through `object.__setattr__` per field (frozen), which makes a
    Tick or a Bar cost ~1.7 us to build, and a backtest builds one per bar and per mark. The same
    signature (names, order, defaults) and the same instance; still frozen, hashed and compared as a
    dataclass (tests/core/test_events_ids_timeutil.py compares it with the dataclass' own)."""
    declared = fields(cls)
    names = [item.name for item in declared]
    namespace: dict[str, Any] = {}
    parameters: list[str] = []
    for item in declared:
        if item.default is not MISSING:
            namespace[f"_default_{item.name}"] = item.default
            parameters.append(f"{item.name}=_default_{item.name}")
        elif item.default_factory is not MISSING:
            raise TypeError(f"{cls.__name__}.{item.name}: a default factory needs the dataclass __init__")
        else:
            parameters.append(item.name)
        owner = next(klass for klass in cls.__mro__ if item.name in klass.__dict__)
        namespace[f"_set_{item.name}"] = owner.__dict__[item.name].__set__
    body = "\n".join(f"    _set_{name}(self, {name})" for name in names)
    exec(f"def __init__(self, {', '.join(parameters)}):\n{body}\n", namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    init.__annotations__ = dict(cls.__init__.__annotations__)
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


# Built on every bar and every mark of a backtest (and every feed tick live): the fast constructor.
_slot_init(Tick)
_slot_init(Bar)
_slot_init(PositionChanged)

#: Events that may be shed (oldest first) when a consumer falls behind.
SHEDDABLE_EVENTS: tuple[type[Event], ...] = (Tick, FeedHealth)
