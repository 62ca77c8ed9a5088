"""The seams between the simulator's halves.

`optbot.sim.market` (replay, option pricing, instrument master, WS feeds) provides a `MarketView`;
`optbot.sim.exchange` (orders, matching, RMS, books) consumes it and publishes `OrderEvent`s that the
order-update socket turns into AB01..AB11 messages. Prices are rupees; quantities are units.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class SimDepthLevel:
    price: float
    quantity: int
    orders: int


@dataclass(frozen=True, slots=True)
class SimQuote:
    """The simulator's current view of one instrument."""

    exchange: str  # NSE, NFO, BSE, BFO
    token: str
    symbol: str
    ltp: float
    last_quantity: int
    average_price: float
    volume: int
    open: float
    high: float
    low: float
    close: float  # previous session close
    open_interest: int
    upper_circuit: float
    lower_circuit: float
    week52_high: float
    week52_low: float
    bids: tuple[SimDepthLevel, ...]
    asks: tuple[SimDepthLevel, ...]
    exchange_time: datetime
    sequence: int = 0
    synthetic: bool = False  # option prices from the pricing model, not real trades


class MarketView(Protocol):
    """What the exchange and REST handlers may ask of the replayed market."""

    def now(self) -> datetime: ...

    def quote(self, exchange: str, token: str) -> SimQuote | None: ...

    def scrip_master_rows(self) -> list[dict[str, Any]]:
        """Rows in OpenAPIScripMaster.json format (reference §9), valid for the replayed date."""
        ...

    def candles(
        self, exchange: str, token: str, interval: str, start: datetime, end: datetime
    ) -> list[list[Any]]:
        """getCandleData rows: [iso_ts_with_+05:30, open, high, low, close, volume]."""
        ...

    def subscribe_quotes(self, callback: Callable[[SimQuote], None]) -> None:
        """Called for every quote change (each tick of each instrument)."""
        ...

    def is_market_open(self, exchange: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """An order's new state, as the order-update socket reports it."""

    client_code: str
    status_code: str  # AB01..AB11
    order_row: dict[str, Any] = field(default_factory=dict)  # reference §3 order row
    error_message: str = ""


OrderEventListener = Callable[[OrderEvent], None]
