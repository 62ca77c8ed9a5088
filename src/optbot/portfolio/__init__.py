"""Positions, fills and P&L net of charges, marked to market from ticks."""

from optbot.portfolio.portfolio import Greeks, GreeksProvider, PerformanceSummary, Portfolio
from optbot.portfolio.positions import apply_fill_to_position, net_realised_pnl, unrealised_pnl
from optbot.portfolio.trades import ClosedTrade, closed_trades

__all__ = [
    "ClosedTrade",
    "Greeks",
    "GreeksProvider",
    "PerformanceSummary",
    "Portfolio",
    "apply_fill_to_position",
    "closed_trades",
    "net_realised_pnl",
    "unrealised_pnl",
]
