"""The simulator's `ReplayMarket` as the paper broker's `QuoteSource`.

Paper replays and backtests read the same replay: index quotes from recorded bars, option quotes from
the simulator's pricing model (flagged synthetic so reports can say so), never interpolated between
strikes. Converting here keeps `optbot.broker.paper` free of simulator types.
"""

from __future__ import annotations

from optbot.broker.models import DepthLevel, Quote
from optbot.core.enums import Exchange
from optbot.sim.contracts import SimQuote
from optbot.sim.market import ReplayMarket

_SEARCH_ORDER = ("NFO", "NSE", "BFO", "BSE")


def to_quote(sim: SimQuote) -> Quote:
    return Quote(
        exchange=Exchange(sim.exchange),
        token=sim.token,
        symbol=sim.symbol,
        ltp=sim.ltp,
        open=sim.open,
        high=sim.high,
        low=sim.low,
        close=sim.close,
        volume=sim.volume,
        open_interest=sim.open_interest,
        upper_circuit=sim.upper_circuit,
        lower_circuit=sim.lower_circuit,
        bids=tuple(DepthLevel(level.price, level.quantity, level.orders) for level in sim.bids),
        asks=tuple(DepthLevel(level.price, level.quantity, level.orders) for level in sim.asks),
        exchange_time=sim.exchange_time,
    )


class ReplayQuoteSource:
    """`quote(token)` over a `ReplayMarket`; remembers which tokens were priced synthetically."""

    def __init__(self, market: ReplayMarket) -> None:
        self._market = market
        self.synthetic_tokens: set[str] = set()

    def quote(self, token: str) -> Quote | None:
        for exchange in _SEARCH_ORDER:
            found = self._market.quote(exchange, token)
            if found is not None:
                if found.synthetic:
                    self.synthetic_tokens.add(token)
                return to_quote(found)
        return None
