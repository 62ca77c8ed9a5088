"""Technical indicators: incremental (O(1) per bar) classes and their batch numpy twins."""

from optbot.indicators import batch
from optbot.indicators.base import Indicator
from optbot.indicators.batch import adx, atr, bollinger, ema, historical_volatility, rsi, sma, vwap
from optbot.indicators.levels import (
    Level,
    LevelKind,
    SwingPivotDetector,
    fibonacci_extensions,
    fibonacci_retracements,
    nearest_levels,
    support_resistance,
    swing_pivots,
)
from optbot.indicators.moving import EMA, SMA
from optbot.indicators.profile import (
    MarketProfile,
    VolumeProfile,
    market_profile,
    volume_profile,
    volume_profile_from_bars,
)
from optbot.indicators.session_vwap import SessionVWAP
from optbot.indicators.volatility import BandsValue, BollingerBands, HistoricalVolatility
from optbot.indicators.wilder import ADX, ATR, RSI, ADXValue

__all__ = [
    "ADX",
    "ATR",
    "EMA",
    "RSI",
    "SMA",
    "ADXValue",
    "BandsValue",
    "BollingerBands",
    "HistoricalVolatility",
    "Indicator",
    "Level",
    "LevelKind",
    "MarketProfile",
    "SessionVWAP",
    "SwingPivotDetector",
    "VolumeProfile",
    "adx",
    "atr",
    "batch",
    "bollinger",
    "ema",
    "fibonacci_extensions",
    "fibonacci_retracements",
    "historical_volatility",
    "market_profile",
    "nearest_levels",
    "rsi",
    "sma",
    "support_resistance",
    "swing_pivots",
    "volume_profile",
    "volume_profile_from_bars",
    "vwap",
]
