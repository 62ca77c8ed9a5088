"""Market sentiment of one underlying's option chain (spec §11.2 "Sentiment Analysis").

One typed snapshot a trader monitors: put-call ratio by OI and by volume, max pain, ATM implied
volatility against the underlying's historical volatility (rich / cheap / fair), the volatility skew,
and the OI build-up at the ATM strike against an earlier snapshot of the same contracts. Every figure
comes from the chain functions of `optbot.analytics.chain`; an input that is unknown gives None,
never a number made up to fill the gap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from optbot.analytics.chain import (
    BuildUp,
    ChainQuote,
    VolatilityRegime,
    iv_vs_hv,
    max_pain,
    oi_changes,
    put_call_ratio,
    skew,
)
from optbot.config.sections.analytics import AnalyticsSettings
from optbot.core.enums import OptionType
from optbot.indicators.volatility import HistoricalVolatility
from optbot.instruments.chain import nearest_strike_index


@dataclass(frozen=True, slots=True)
class SentimentThresholds:
    """The spec §11.2 thresholds the snapshot judges by (the `analytics` settings of the same names)."""

    iv_rich_ratio: float = 1.2
    iv_cheap_ratio: float = 0.8
    skew_strike_offset_pct: float = 2.0
    build_up_min_oi_change: float = 0.0
    build_up_min_price_change: float = 0.0

    @classmethod
    def from_settings(cls, analytics: AnalyticsSettings) -> SentimentThresholds:
        return cls(
            iv_rich_ratio=analytics.iv_rich_ratio,
            iv_cheap_ratio=analytics.iv_cheap_ratio,
            skew_strike_offset_pct=analytics.skew_strike_offset_pct,
            build_up_min_oi_change=analytics.build_up_min_oi_change,
            build_up_min_price_change=analytics.build_up_min_price_change,
        )


@dataclass(frozen=True, slots=True)
class SentimentSnapshot:
    """What the chain says about one underlying at one moment. Volatilities are annual fractions;
    `strike_skew` is the IV of the put `skew_strike_offset_pct` below spot minus the call as far above
    (positive: puts bid, the usual index skew)."""

    underlying: str
    spot: float
    atm_strike: float | None
    pcr_open_interest: float | None
    pcr_volume: float | None
    max_pain: float | None
    atm_iv: float | None
    historical_volatility: float | None
    iv_hv_ratio: float | None
    iv_regime: VolatilityRegime | None
    strike_skew: float | None
    risk_reversal_25d: float | None
    atm_call_build_up: BuildUp | None
    atm_put_build_up: BuildUp | None

    def as_row(self) -> dict[str, Any]:
        """Plain JSON values for the dashboard and the daily report (volatilities in percent)."""
        return {
            "underlying": self.underlying,
            "spot": _rounded(self.spot),
            "atm_strike": self.atm_strike,
            "pcr_oi": _rounded(self.pcr_open_interest, 3),
            "pcr_volume": _rounded(self.pcr_volume, 3),
            "max_pain": self.max_pain,
            "atm_iv_pct": _percent(self.atm_iv),
            "hv_pct": _percent(self.historical_volatility),
            "iv_hv_ratio": _rounded(self.iv_hv_ratio, 3),
            "iv_regime": self.iv_regime.value if self.iv_regime is not None else None,
            "strike_skew_pct": _percent(self.strike_skew),
            "risk_reversal_25d_pct": _percent(self.risk_reversal_25d),
            "atm_call_build_up": _label(self.atm_call_build_up),
            "atm_put_build_up": _label(self.atm_put_build_up),
        }


def _rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100.0 * value, 2)


def _label(build_up: BuildUp | None) -> str | None:
    return None if build_up is None else build_up.value.replace("_", " ").lower()


def historical_volatility(closes: Iterable[float], period: int, annualisation: float) -> float | None:
    """Annualised close-to-close volatility of the last `period` returns of `closes` (oldest first),
    by the project's HV indicator; None with fewer than `period + 1` closes."""
    indicator = HistoricalVolatility(period, annualisation)
    for close in closes:
        indicator.update(close)
    return indicator.value


def nearest_strike(quotes: Iterable[ChainQuote], spot: float) -> float | None:
    """The quoted strike nearest the spot (the lower one on a tie), by `OptionChain.atm`'s rule; None
    for an empty chain."""
    strikes = sorted({quote.strike for quote in quotes})
    return strikes[nearest_strike_index(strikes, spot)] if strikes else None


def market_sentiment(
    underlying: str,
    quotes: Sequence[ChainQuote],
    spot: float,
    *,
    years: float | None,
    rate: float,
    historical_vol: float | None,
    thresholds: SentimentThresholds,
    previous: Sequence[ChainQuote] | None = None,
    open_interest_known: bool = True,
    volume_known: bool = True,
) -> SentimentSnapshot:
    """The sentiment snapshot of `quotes` (one expiry of `underlying`, priced with Black-76 on `spot`).

    `years` to expiry is needed for the 25-delta risk reversal and for solving a quote without an
    implied volatility; `previous` (an earlier snapshot of the same contracts) for the ATM build-up.
    `open_interest_known` / `volume_known` say whether every quote carried that field: a ratio over
    part of the chain would be a wrong number, so it is None instead.
    """
    pcr = put_call_ratio(quotes)
    atm = nearest_strike(quotes, spot)
    smile = (
        skew(
            quotes,
            spot,
            years,
            rate,
            model="black76",
            strike_offset_pct=thresholds.skew_strike_offset_pct,
        )
        if years is not None and spot > 0
        else None
    )
    atm_iv = smile.atm_iv if smile is not None else None
    comparison = (
        iv_vs_hv(atm_iv, historical_vol, thresholds.iv_rich_ratio, thresholds.iv_cheap_ratio)
        if atm_iv is not None and atm_iv > 0 and historical_vol is not None and historical_vol > 0
        else None
    )
    call_build_up, put_build_up = _atm_build_up(quotes, previous, atm, thresholds)
    return SentimentSnapshot(
        underlying=underlying,
        spot=spot,
        atm_strike=atm,
        pcr_open_interest=pcr.by_open_interest if open_interest_known else None,
        pcr_volume=pcr.by_volume if volume_known else None,
        max_pain=max_pain(quotes) if open_interest_known else None,
        atm_iv=atm_iv,
        historical_volatility=historical_vol,
        iv_hv_ratio=comparison.ratio if comparison is not None else None,
        iv_regime=comparison.regime if comparison is not None else None,
        strike_skew=smile.strike_skew if smile is not None else None,
        risk_reversal_25d=smile.risk_reversal_25d if smile is not None else None,
        atm_call_build_up=call_build_up if open_interest_known else None,
        atm_put_build_up=put_build_up if open_interest_known else None,
    )


def _atm_build_up(
    quotes: Sequence[ChainQuote],
    previous: Sequence[ChainQuote] | None,
    atm: float | None,
    thresholds: SentimentThresholds,
) -> tuple[BuildUp | None, BuildUp | None]:
    """Build-up of the ATM call and put since `previous`; None for a side `previous` does not hold."""
    if previous is None or atm is None:
        return None, None
    changes = oi_changes(
        previous,
        [quote for quote in quotes if quote.strike == atm],
        thresholds.build_up_min_price_change,
        thresholds.build_up_min_oi_change,
    )
    by_type = {change.option_type: change.build_up for change in changes}
    return by_type.get(OptionType.CE), by_type.get(OptionType.PE)
