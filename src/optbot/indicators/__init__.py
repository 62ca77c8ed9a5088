"""Technical indicators: incremental (O(1) per bar) classes and their batch numpy twins."""

from optbot.indicators import batch
from optbot.indicators.base import Indicator
from optbot.indicators.batch import adx, atr, bollinger, ema, historical_volatility, rsi, sma, vwap
from optbot.indicators.moving import EMA, SMA
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
    "SessionVWAP",
    "adx",
    "atr",
    "batch",
    "bollinger",
    "ema",
    "historical_volatility",
    "rsi",
    "sma",
    "vwap",
]
