"""Market data: tick → bar aggregation, the JSON store, history, gaps, quality, importers."""

from optbot.data.bars import AggregatorStats, BarAggregator, BarGap
from optbot.data.opening_gap import OpeningGap, OpeningGapDetector, gap_percent, previous_close
from optbot.data.pipeline import MarketDataPipeline
from optbot.data.store import JsonStore, LoadReport, MergeResult, store_symbol

__all__ = [
    "AggregatorStats",
    "BarAggregator",
    "BarGap",
    "JsonStore",
    "LoadReport",
    "MarketDataPipeline",
    "MergeResult",
    "OpeningGap",
    "OpeningGapDetector",
    "gap_percent",
    "previous_close",
    "store_symbol",
]
