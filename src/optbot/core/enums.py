"""Enumerations shared across the domain. Values match SmartAPI strings where one exists."""

from __future__ import annotations

from enum import Enum, IntEnum


class Exchange(str, Enum):
    NSE = "NSE"
    BSE = "BSE"
    NFO = "NFO"
    BFO = "BFO"
    MCX = "MCX"
    CDS = "CDS"


class Side(str, Enum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OptionType(str, Enum):
    CE = "CE"
    PE = "PE"


class InstrumentKind(str, Enum):
    INDEX = "INDEX"
    EQUITY = "EQUITY"
    FUTIDX = "FUTIDX"
    FUTSTK = "FUTSTK"
    OPTIDX = "OPTIDX"
    OPTSTK = "OPTSTK"
    OTHER = "OTHER"


class Settlement(str, Enum):
    CASH = "CASH"
    PHYSICAL = "PHYSICAL"


class OrderType(str, Enum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOPLOSS_LIMIT = "STOPLOSS_LIMIT"
    STOPLOSS_MARKET = "STOPLOSS_MARKET"


class ProductType(str, Enum):
    INTRADAY = "INTRADAY"
    CARRYFORWARD = "CARRYFORWARD"
    DELIVERY = "DELIVERY"
    MARGIN = "MARGIN"
    BO = "BO"


class Duration(str, Enum):
    DAY = "DAY"
    IOC = "IOC"


class Variety(str, Enum):
    NORMAL = "NORMAL"
    STOPLOSS = "STOPLOSS"
    ROBO = "ROBO"


class Timeframe(str, Enum):
    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    D1 = "daily"

    @property
    def seconds(self) -> int:
        return {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "daily": 86400}[self.value]


class OrderStatus(str, Enum):
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


class RiskState(str, Enum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class AlertPriority(str, Enum):
    CRITICAL = "critical"
    IMPORTANT = "important"
    INFO = "info"


class IntentPurpose(str, Enum):
    ENTRY = "ENTRY"
    EXIT = "EXIT"
    STOP = "STOP"
    TARGET = "TARGET"
    FLATTEN = "FLATTEN"

    @property
    def reduces_risk(self) -> bool:
        return self is not IntentPurpose.ENTRY


class SignalDirection(str, Enum):
    BULLISH = "BULLISH"
    BEARISH = "BEARISH"
    NEUTRAL = "NEUTRAL"


class RunMode(str, Enum):
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
