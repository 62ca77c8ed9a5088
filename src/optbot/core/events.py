"""Typed immutable messages passed between services.

Every event carries `ts_utc` (when optbot observed or created it, from the Clock); market and
broker events also carry the exchange's own timestamp when one was given. Prices are rupees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

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
from optbot.core.slots import slot_init
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


#: The `Signal.details` key of an entry's exit plan (stop, target, levels at entry): audited with the
#: signal, so a strategy restarted mid-session can rebuild the plan of a position it entered earlier.
SIGNAL_EXIT_PLAN = "exit_plan"

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


# Built on every bar and every mark of a backtest (and every feed tick live): the fast constructor.
slot_init(Tick)
slot_init(Bar)
slot_init(PositionChanged)

#: Events that may be shed (oldest first) when a consumer falls behind.
SHEDDABLE_EVENTS: tuple[type[Event], ...] = (Tick, FeedHealth)
