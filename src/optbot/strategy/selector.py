"""Adaptive strategy selection (spec §10.6 matrix) with performance-based rotation."""

from __future__ import annotations

from dataclasses import dataclass

from optbot.strategy.performance import PerformanceBook
from optbot.strategy.regime import Regime, RegimeAssessment

MOMENTUM = "momentum"
TREND_FOLLOWING = "trend_following"
MEAN_REVERSION = "mean_reversion"
VOLATILITY = "volatility"
GAP_FILL = "gap_fill"


@dataclass(frozen=True, slots=True)
class Selection:
    strategy: str | None
    reason: str


def matrix_choice(regime: RegimeAssessment) -> Selection:
    """§10.6: gap -> gap fill; high VIX (volatile regime) + trending -> momentum; high VIX + ranging ->
    volatility; otherwise trending -> trend following, ranging -> mean reversion."""
    regimes = ", ".join(sorted(regime.regimes))
    if regime.gap:
        return Selection(GAP_FILL, f"gap market ({regimes}) -> gap fill")
    high_vix = Regime.VOLATILE in regime.regimes
    vix_label = "high VIX" if high_vix else "low/normal VIX"
    if regime.trending:
        name = MOMENTUM if high_vix else TREND_FOLLOWING
        return Selection(name, f"{vix_label} + trending ({regimes}) -> {name}")
    if regime.ranging:
        name = VOLATILITY if high_vix else MEAN_REVERSION
        return Selection(name, f"{vix_label} + ranging ({regimes}) -> {name}")
    return Selection(None, f"no clear regime ({regimes}; {'; '.join(regime.reasons)}): stand aside")


def select_strategy(regime: RegimeAssessment, book: PerformanceBook | None = None) -> Selection:
    choice = matrix_choice(regime)
    if choice.strategy is None or book is None:
        return choice
    benched = book.benched(choice.strategy)
    if benched is not None:
        return Selection(None, f"{choice.reason}, but rotated out: {benched}; stand aside")
    return choice
