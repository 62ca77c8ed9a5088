"""Paper broker: simulated fills on real (or replayed) quotes, the same fill model for paper and backtests."""

from optbot.broker.paper.broker import PaperBroker, PaperFunds
from optbot.broker.paper.fill_model import FillDecision, FillModel, QuoteSource, WorkingOrder, tick_round

__all__ = [
    "FillDecision",
    "FillModel",
    "PaperBroker",
    "PaperFunds",
    "QuoteSource",
    "WorkingOrder",
    "tick_round",
]
