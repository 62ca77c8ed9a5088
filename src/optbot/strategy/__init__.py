"""Strategies: the Strategy interface and context, regime detection, ADX categorisation, multi-timeframe
confirmation, entry checklist, exits, sizing and the built-in strategies. Never imports broker,
execution or persistence: strategies see the world through `StrategyContext` and emit `OrderIntent`s.
"""

from typing import TYPE_CHECKING

from optbot.core.lazy import lazy_exports

# `categorise` is both a submodule and its function: importing the submodule anywhere would rebind
# the package's `categorise` to the module, so this one re-export is imported eagerly.
from optbot.strategy.categorise import Categorisation, Category, Rebalance, categorise, rebalance

# Re-exports load on first use, so importing one of this package's modules (its CLI, say) does not
# import the rest.
if TYPE_CHECKING:
    from optbot.strategy.base import Strategy
    from optbot.strategy.context import BarHistoryContext, LookAheadError, StrategyContext
    from optbot.strategy.registry import BUILTIN_STRATEGIES, load_strategies, resolve
    from optbot.strategy.runner import StrategyRunner
    from optbot.strategy.sizing import PositionSizer, SizingRequest, SizingResult
else:
    __getattr__ = lazy_exports(
        __name__,
        {
            "base": ("Strategy",),
            "context": (
                "BarHistoryContext",
                "LookAheadError",
                "StrategyContext",
            ),
            "registry": (
                "BUILTIN_STRATEGIES",
                "load_strategies",
                "resolve",
            ),
            "runner": ("StrategyRunner",),
            "sizing": (
                "PositionSizer",
                "SizingRequest",
                "SizingResult",
            ),
        },
    )

__all__ = [
    "BUILTIN_STRATEGIES",
    "BarHistoryContext",
    "Categorisation",
    "Category",
    "LookAheadError",
    "PositionSizer",
    "Rebalance",
    "SizingRequest",
    "SizingResult",
    "Strategy",
    "StrategyContext",
    "StrategyRunner",
    "categorise",
    "load_strategies",
    "rebalance",
    "resolve",
]
