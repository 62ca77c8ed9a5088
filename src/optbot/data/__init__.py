"""Market data: tick → bar aggregation, the JSON store, history, gaps, quality, importers."""

from typing import TYPE_CHECKING

from optbot.core.lazy import lazy_exports

# Re-exports load on first use, so importing one of this package's modules (its CLI, say) does not
# import the rest.
if TYPE_CHECKING:
    from optbot.data.bars import AggregatorStats, BarAggregator, BarGap
    from optbot.data.opening_gap import OpeningGap, OpeningGapDetector, gap_percent, previous_close
    from optbot.data.pipeline import MarketDataPipeline
    from optbot.data.store import JsonStore, LoadReport, MergeResult, store_symbol
else:
    __getattr__ = lazy_exports(
        __name__,
        {
            "bars": (
                "AggregatorStats",
                "BarAggregator",
                "BarGap",
            ),
            "opening_gap": (
                "OpeningGap",
                "OpeningGapDetector",
                "gap_percent",
                "previous_close",
            ),
            "pipeline": ("MarketDataPipeline",),
            "store": (
                "JsonStore",
                "LoadReport",
                "MergeResult",
                "store_symbol",
            ),
        },
    )

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
