"""The simulator's market: historical index replay, synthetic options and the instrument master."""

from optbot.sim.market.bars import BarDataError, DailyBar, IntradaySeries, SourceBar
from optbot.sim.market.candles import INTERVAL_SECONDS, CandleRequestError, interval_seconds
from optbot.sim.market.history import IndexHistory
from optbot.sim.market.instruments import (
    BANKNIFTY,
    INDEX_ROWS,
    NIFTY,
    UNDERLYINGS,
    VIX_TOKEN,
    OptionContract,
    UnderlyingSpec,
    build_option_contracts,
    option_token,
)
from optbot.sim.market.replay import INDEX_TOKENS, ReplayMarket, load_store_histories

__all__ = [
    "BANKNIFTY",
    "INDEX_ROWS",
    "INDEX_TOKENS",
    "INTERVAL_SECONDS",
    "NIFTY",
    "UNDERLYINGS",
    "VIX_TOKEN",
    "BarDataError",
    "CandleRequestError",
    "DailyBar",
    "IndexHistory",
    "IntradaySeries",
    "OptionContract",
    "ReplayMarket",
    "SourceBar",
    "UnderlyingSpec",
    "build_option_contracts",
    "interval_seconds",
    "load_store_histories",
    "option_token",
]
