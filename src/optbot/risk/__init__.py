"""The risk engine: every intent passes through it (spec §4, §10.5, §13.9).

It sees the world only through `RiskPortfolioView` / `RiskMarketView` and acts through callbacks, so it
never imports the broker, execution or persistence packages.
"""

from typing import TYPE_CHECKING

from optbot.core.lazy import lazy_exports

# Re-exports load on first use, so importing one of this package's modules (the kill-switch files the
# CLI reads, say) does not import the risk engine and its logging stack.
if TYPE_CHECKING:
    from optbot.risk.engine import RiskCallbacks, RiskEngine
    from optbot.risk.views import (
        PositionSnapshot,
        RiskMarketView,
        RiskPortfolioView,
        SessionTimes,
        SessionWindow,
    )
else:
    __getattr__ = lazy_exports(
        __name__,
        {
            "engine": ("RiskCallbacks", "RiskEngine"),
            "views": (
                "PositionSnapshot",
                "RiskMarketView",
                "RiskPortfolioView",
                "SessionTimes",
                "SessionWindow",
            ),
        },
    )

__all__ = [
    "PositionSnapshot",
    "RiskCallbacks",
    "RiskEngine",
    "RiskMarketView",
    "RiskPortfolioView",
    "SessionTimes",
    "SessionWindow",
]
