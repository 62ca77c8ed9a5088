"""The risk engine: every intent passes through it (spec §4, §10.5, §13.9).

It sees the world only through `RiskPortfolioView` / `RiskMarketView` and acts through callbacks, so it
never imports the broker, execution or persistence packages.
"""

from optbot.risk.engine import RiskCallbacks, RiskEngine
from optbot.risk.views import PositionSnapshot, RiskMarketView, RiskPortfolioView, SessionTimes, SessionWindow

__all__ = [
    "PositionSnapshot",
    "RiskCallbacks",
    "RiskEngine",
    "RiskMarketView",
    "RiskPortfolioView",
    "SessionTimes",
    "SessionWindow",
]
