"""The `Broker` protocol: everything the engine asks of a broker, live or paper.

Strategy and risk code never see this; the order manager, market-data pipeline and lifecycle do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

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
from optbot.core.enums import Exchange, Variety
from optbot.core.funds import Funds

QuoteMode = Literal["LTP", "OHLC", "FULL"]
CandleInterval = Literal[
    "ONE_MINUTE",
    "THREE_MINUTE",
    "FIVE_MINUTE",
    "TEN_MINUTE",
    "FIFTEEN_MINUTE",
    "THIRTY_MINUTE",
    "ONE_HOUR",
    "ONE_DAY",
]


@runtime_checkable
class Broker(Protocol):
    async def place_order(self, request: OrderRequest) -> PlaceResult:
        """Raises BrokerRejected, RateLimited, TokenExpired, or UnresolvedOrder (never retried)."""
        ...

    async def modify_order(self, request: ModifyRequest) -> PlaceResult: ...

    async def cancel_order(self, order_id: str, variety: Variety = Variety.NORMAL) -> PlaceResult: ...

    async def order_book(self) -> list[BrokerOrder]: ...

    async def order_details(self, unique_order_id: str) -> BrokerOrder | None: ...

    async def trade_book(self) -> list[BrokerTrade]: ...

    async def positions(self) -> list[BrokerPosition]: ...

    async def funds(self) -> Funds: ...

    async def quotes(self, mode: QuoteMode, tokens: dict[Exchange, Sequence[str]]) -> list[Quote]: ...

    async def candles(
        self, exchange: Exchange, token: str, interval: CandleInterval, start: datetime, end: datetime
    ) -> list[Candle]: ...

    async def margin_required(self, requests: Sequence[OrderRequest]) -> MarginRequirement: ...

    async def estimate_charges(self, requests: Sequence[OrderRequest]) -> ChargeEstimate: ...
