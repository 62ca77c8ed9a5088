"""Enumerations shared across the domain. Values match SmartAPI strings where one exists."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Exchange(StrEnum):
    NSE = "NSE"
    BSE = "BSE"
    NFO = "NFO"
    BFO = "BFO"
    MCX = "MCX"
    CDS = "CDS"


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OptionType(StrEnum):
    CE = "CE"
    PE = "PE"


class InstrumentKind(StrEnum):
    INDEX = "INDEX"
    EQUITY = "EQUITY"
    FUTIDX = "FUTIDX"
    FUTSTK = "FUTSTK"
    OPTIDX = "OPTIDX"
    OPTSTK = "OPTSTK"
    OTHER = "OTHER"


class Settlement(StrEnum):
    CASH = "CASH"
    PHYSICAL = "PHYSICAL"


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOPLOSS_LIMIT = "STOPLOSS_LIMIT"
    STOPLOSS_MARKET = "STOPLOSS_MARKET"


class ProductType(StrEnum):
    INTRADAY = "INTRADAY"
    CARRYFORWARD = "CARRYFORWARD"
    DELIVERY = "DELIVERY"
    MARGIN = "MARGIN"
    BO = "BO"


class Duration(StrEnum):
    DAY = "DAY"
    IOC = "IOC"


class Variety(StrEnum):
    NORMAL = "NORMAL"
    STOPLOSS = "STOPLOSS"
    ROBO = "ROBO"


class Timeframe(StrEnum):
    M1 = "1m"
    M3 = "3m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    D1 = "daily"

    @property
    def seconds(self) -> int:
        return _TIMEFRAME_SECONDS[self]  # a member is its value string: no `.value`, no dict per call


_TIMEFRAME_SECONDS: dict[str, int] = {"1m": 60, "3m": 180, "5m": 300, "15m": 900, "1h": 3600, "daily": 86400}


class OrderStatus(StrEnum):
    """The order manager's own state machine (issue 7); broker strings map onto it."""

    PENDING_SUBMIT = "PENDING_SUBMIT"
    SUBMITTED = "SUBMITTED"
    UNRESOLVED = "UNRESOLVED"
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCEL_PENDING = "CANCEL_PENDING"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        return self in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED)


class RiskState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class AlertPriority(StrEnum):
    CRITICAL = "critical"
    IMPORTANT = "important"
    INFO = "info"


class IntentPurpose(StrEnum):
    ENTRY = "ENTRY"
    EXIT = "EXIT"
    STOP = "STOP"
    TARGET = "TARGET"
    FLATTEN = "FLATTEN"

    @property
    def reduces_risk(self) -> bool:
        return self is not IntentPurpose.ENTRY


class SignalDirection(StrEnum):
    BULLISH = "BULLISH"
    BEARISH = "BEARISH"
    NEUTRAL = "NEUTRAL"


class RunMode(StrEnum):
    LIVE = "live"
    PAPER = "paper"
    BACKTEST = "backtest"


class FeedExchangeType(IntEnum):
    """SmartAPI WebSocket V2 exchangeType codes (reference §5)."""

    NSE_CM = 1
    NSE_FO = 2
    BSE_CM = 3
    BSE_FO = 4
    MCX_FO = 5
    NCX_FO = 7
    CDE_FO = 13
