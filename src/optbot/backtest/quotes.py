"""Quotes for the paper broker from historical bars.

A bar becomes a quote stamped at its close time, so an order placed during a bar can only fill on a
later bar that actually traded: a bar with zero volume is never published (no fills on untraded bars),
and a token without bars simply has no quote (options are never interpolated).
"""

from __future__ import annotations

from datetime import datetime

from optbot.broker.models import Quote
from optbot.core.enums import Exchange


class BarQuoteSource:
    """The latest published bar per token as a `Quote` (the `QuoteSource` protocol)."""

    def __init__(self) -> None:
        self._latest: dict[str, Quote] = {}

    def quote(self, token: str) -> Quote | None:
        return self._latest.get(token)

    def publish_bar(
        self,
        exchange: Exchange,
        token: str,
        symbol: str,
        close_time: datetime,
        open_: float,
        high: float,
        low: float,
        close: float,
        volume: int,
        *,
        traded_required: bool = True,
    ) -> bool:
        """Publish one bar; returns False (and publishes nothing) when the bar did not trade.

        `traded_required=False` is for indices, which print values without volume.
        """
        if close <= 0 or (traded_required and volume <= 0):
            return False
        self._latest[token] = Quote(
            exchange=exchange,
            token=token,
            symbol=symbol,
            ltp=close,
            open=open_,
            high=high,
            low=low,
            close=close,
            volume=volume,
            exchange_time=close_time,
        )
        return True

    def publish(self, quote: Quote) -> None:
        """Publish a modelled quote (e.g. a synthetic option price with bid/ask depth)."""
        if quote.exchange_time is None:
            raise ValueError(f"quote for {quote.token} has no exchange time; the fill model needs one")
        self._latest[quote.token] = quote
