"""The market-sentiment monitor (spec §11.2): each underlying's chain read from the running engine.

Sampled on the engine's clock (the operations sampler calls `sample`, once per P&L chart point), so a
replayed day shows the same figures every time. The build-up compares each ATM contract with its
first observation of the day: what the day's buying and writing did to that strike so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from optbot.analytics.chain import ChainQuote
from optbot.analytics.sentiment import (
    SentimentSnapshot,
    SentimentThresholds,
    historical_volatility,
    market_sentiment,
)
from optbot.analytics.session_profile import SessionProfile, session_profile
from optbot.core.enums import OptionType, Timeframe
from optbot.core.instrument import Instrument
from optbot.core.timeutil import ist_date, to_ist
from optbot.execution.chase import DEFAULT_TICK
from optbot.instruments.chain import OptionChain

if TYPE_CHECKING:
    from optbot.engine.core import TradingEngine

#: (strike, option type): one contract of one expiry's chain.
ContractKey = tuple[float, OptionType]

#: More 1-minute bars than one day holds: asking for this many always covers today's session.
MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, slots=True)
class QuotedChain:
    """The quoted contracts of a chain as analytics rows, and whether each carried OI and volume."""

    quotes: list[ChainQuote]
    open_interest_known: bool
    volume_known: bool
    any_contract: Instrument | None


def quoted_rows(chain: OptionChain) -> QuotedChain:
    """The contracts of `chain` with a live price (the engine quotes the strikes near the money)."""
    quotes: list[ChainQuote] = []
    open_interest_known = volume_known = True
    any_contract: Instrument | None = None
    for row in chain.rows:
        for option_type in (OptionType.CE, OptionType.PE):
            quote = row.quote(option_type)
            if quote is None or quote.ltp is None or quote.ltp <= 0:
                continue
            any_contract = any_contract or row.contract(option_type)
            open_interest_known &= quote.open_interest is not None
            volume_known &= quote.volume is not None
            quotes.append(
                ChainQuote(
                    strike=row.strike,
                    option_type=option_type,
                    open_interest=float(quote.open_interest or 0),
                    volume=float(quote.volume or 0),
                    last_price=quote.ltp,
                    implied_volatility=quote.implied_volatility,
                )
            )
    return QuotedChain(quotes, open_interest_known, volume_known, any_contract)


class SentimentMonitor:
    """The latest sentiment snapshot of each of the engine's underlyings."""

    def __init__(self, engine: TradingEngine) -> None:
        self.engine = engine
        self.thresholds = SentimentThresholds.from_settings(engine.settings.analytics)
        self._latest: dict[str, tuple[datetime, SentimentSnapshot]] = {}
        self._profiles: dict[str, SessionProfile] = {}
        self._first_seen: dict[tuple[str, date], dict[ContractKey, ChainQuote]] = {}
        self._day: date | None = None

    def sample(self) -> None:
        """Read every underlying's chain now; a new day starts new build-up baselines."""
        now = self.engine.clock.now_utc()
        today = ist_date(now)
        if today != self._day:
            self._day = today
            self._first_seen.clear()
            self._latest.clear()
            self._profiles.clear()
        for underlying in self.engine.underlyings:
            snapshot = self._sample_one(underlying)
            if snapshot is not None:
                self._latest[underlying] = (now, snapshot)
                self._profiles[underlying] = self.session_profile(underlying, today)

    def _sample_one(self, underlying: str) -> SentimentSnapshot | None:
        market = self.engine.market
        spot = market.underlying_price(underlying)
        chain = market.chain(underlying)
        if spot is None or chain is None:
            return None
        quoted = quoted_rows(chain)
        if not quoted.quotes or quoted.any_contract is None:
            return None
        first_seen = self._first_seen.setdefault((underlying, chain.expiry), {})
        previous = list(first_seen.values())
        for quote in quoted.quotes:
            first_seen.setdefault((quote.strike, quote.option_type), quote)
        return market_sentiment(
            underlying,
            quoted.quotes,
            spot,
            years=market.years_to_expiry(quoted.any_contract),
            rate=self.engine.settings.analytics.risk_free_rate,
            historical_vol=self._historical_volatility(underlying),
            thresholds=self.thresholds,
            previous=previous or None,
            open_interest_known=quoted.open_interest_known,
            volume_known=quoted.volume_known,
        )

    def _historical_volatility(self, underlying: str) -> float | None:
        """HV over the `analytics.historical_volatility_period` daily closes before today."""
        analytics = self.engine.settings.analytics
        period = analytics.historical_volatility_period
        daily = self.engine.ctx.bars(underlying, Timeframe.D1, period + 1)
        return historical_volatility(
            [bar.close for bar in daily if bar.close > 0], period, analytics.trading_days_per_year
        )

    def session_profile(self, underlying: str, today: date) -> SessionProfile:
        """POC, value area and initial balance of today's closed 1-minute bars of `underlying`, with
        the `indicators` section's bins, value-area share and initial-balance periods."""
        indicators = self.engine.settings.indicators
        bars = [
            bar
            for bar in self.engine.ctx.bars(underlying, Timeframe.M1, MINUTES_PER_DAY)
            if ist_date(bar.start_utc) == today
        ]
        tick = self.engine.market.underlying_instrument(underlying).tick_size
        return session_profile(
            bars,
            tick=tick if tick > 0 else DEFAULT_TICK,  # an index row whose master gives no tick
            bins=indicators.volume_profile_bins,
            value_area_fraction=indicators.value_area_fraction,
            initial_balance_periods=indicators.initial_balance_periods,
        )

    def rows(self) -> list[dict[str, Any]]:
        """One plain row per underlying sampled today, in the engine's underlying order."""
        rows: list[dict[str, Any]] = []
        for underlying in self.engine.underlyings:
            found = self._latest.get(underlying)
            if found is not None:
                when, snapshot = found
                profile = self._profiles.get(underlying, SessionProfile())
                rows.append({**snapshot.as_row(), **profile.as_row(), "sampled_ist": f"{to_ist(when):%H:%M}"})
        return rows
