"""Strategies replayed on the sample data for tests, demos and research, on the one engine.

Sample CSV loaders (daily NIFTY / INDIA VIX from `data/sample/`), a synthetic option chain priced with
Black-Scholes (for tests that hand a strategy a chain directly), and `ScenarioReplay`: strategies over a
data root's sessions on the bar kernel (`optbot.backtest.kernel.BarBacktest`, built by
`optbot.engine.builder.build_engine`), keeping every risk decision with its intent.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from optbot.analytics.pricing import black_scholes_price, greeks
from optbot.backtest.kernel import BarBacktest
from optbot.backtest.runner import IN_MEMORY, open_archive, store_history
from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.enums import Exchange, InstrumentKind, OptionType, Side
from optbot.core.events import DAILY_SESSION_CLOSE, Bar, Event, RiskDecision, daily_session_bar
from optbot.core.instrument import Instrument
from optbot.core.timeutil import ist_datetime
from optbot.instruments.chain import OptionChain, OptionQuote
from optbot.persistence.records import FillRecord, IntentRecord
from optbot.risk import RiskEngine
from optbot.strategy.base import Strategy


def _column(row: dict[str, str], name: str) -> str:
    for key, value in row.items():
        if key.strip().lower() == name:
            return value
    raise KeyError(name)


def load_daily_bars(path: Path, symbol: str, start: date | None = None, end: date | None = None) -> list[Bar]:
    """Daily OHLC(V) rows as bars closed at 15:30 IST on their date (either sample layout)."""
    bars: list[Bar] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            day = date.fromisoformat(_column(row, "date")[:10])
            if (start and day < start) or (end and day > end):
                continue
            try:
                volume = int(float(_column(row, "volume") or 0))
            except KeyError:
                volume = 0
            ohlc = tuple(float(_column(row, name)) for name in ("open", "high", "low", "close"))
            bars.append(daily_session_bar(symbol, day, ohlc, volume))
    return bars


def synthetic_chain(
    underlying: str,
    spot: float,
    now: datetime,
    expiry: date,
    vol: float,
    lot_size: int,
    freeze_quantity: int,
    step: float = 50.0,
    width: int = 10,
    open_interest: int = 50_000,
    rate: float = 0.065,
) -> OptionChain:
    """A listed-strike chain around `spot`, quotes priced by Black-Scholes to the 15:30 IST expiry."""
    atm = round(spot / step) * step
    expiry_close = ist_datetime(expiry, DAILY_SESSION_CLOSE)
    years = max((expiry_close - now).total_seconds(), 60.0) / (365 * 86400)
    contracts: list[Instrument] = []
    quotes: dict[str, OptionQuote] = {}
    for offset in range(-width, width + 1):
        strike = atm + offset * step
        for option_type in (OptionType.CE, OptionType.PE):
            token = f"{underlying}{expiry:%y%m%d}{int(strike)}{option_type}"
            contracts.append(
                Instrument(
                    token,
                    Exchange.NFO,
                    token,
                    underlying,
                    InstrumentKind.OPTIDX,
                    lot_size,
                    0.05,
                    expiry,
                    strike,
                    option_type,
                    freeze_quantity,
                )
            )
            price = black_scholes_price(spot, strike, years, vol, rate, option_type)
            distance = abs(offset)
            sensitivity = greeks("bs", spot, strike, years, vol, rate, option_type)
            quotes[token] = OptionQuote(
                ltp=max(0.05, round(price / 0.05) * 0.05),
                open_interest=max(open_interest // (1 + distance), 600),
                volume=10_000 // (1 + distance),
                implied_volatility=vol,
                delta=sensitivity.delta,
                gamma=sensitivity.gamma,
                theta=sensitivity.theta_per_day,
                vega=sensitivity.vega_per_unit,
            )
    return OptionChain(underlying, expiry, contracts, quotes)


@dataclass(frozen=True, slots=True)
class Decided:
    """One intent the engine handled and the risk decision on it."""

    intent: IntentRecord  # as the order manager journalled it (a refusal carries risk's reason)
    reason: str  # the intent's own reason (the strategy's explanation, or risk's for a flatten)
    decision: RiskDecision


class ScenarioReplay:
    """Strategies over a data root's sessions on the bar kernel: the engine `build_engine` wires (risk,
    order manager, simulated venue, portfolio, session deadlines), so a scenario checks what a backtest
    and a live session run. Every risk decision is kept with its intent, in the order they were made."""

    def __init__(
        self,
        settings: Settings,
        strategies: Sequence[Strategy],
        data_root: Path,
        first_day: date,
        underlyings: Sequence[str] = ("NIFTY",),
    ) -> None:
        calendar = get_calendar()
        history = store_history(settings, data_root, calendar)
        self.kernel = BarBacktest(
            settings,
            IN_MEMORY,
            first_day,
            history,
            open_archive(data_root),
            strategies=strategies,
            underlyings=underlyings,
            calendar=calendar,
        )
        self.engine = self.kernel.engine
        self._decisions: list[RiskDecision] = []
        self.decisions: list[Decided] = []  # after `run`
        self.fills: list[FillRecord] = []
        self.engine.bus.subscribe("scenario-decisions", (RiskDecision,), self._on_decision)

    def _on_decision(self, event: Event) -> None:
        assert isinstance(event, RiskDecision)
        self._decisions.append(event)

    async def run(self, days: Sequence[date]) -> None:
        """The trading days among `days`, from pre-market to post-market each; then what was decided
        and filled is read from the engine's journal (the store closes with `close`)."""
        await self.kernel.run(days)
        store = self.engine.store
        decided: list[Decided] = []
        for decision in self._decisions:
            record = store.find_intent(decision.intent_id)
            if record is None:
                raise LookupError(f"intent {decision.intent_id} was decided but never journalled")
            reason = self.engine.intent_reasons.get(decision.intent_id, record.reason)
            decided.append(Decided(record, reason, decision))
        self.decisions = decided
        self.fills = store.fills()

    def close(self) -> None:
        self.kernel.close()

    # ------------------------------------------------------------ inspection
    @property
    def risk(self) -> RiskEngine:
        return self.engine.risk

    def entries(self) -> list[Decided]:
        return [item for item in self.decisions if not item.intent.purpose.reduces_risk]

    def exits(self) -> list[Decided]:
        return [item for item in self.decisions if item.intent.purpose.reduces_risk]

    def sell_fills(self) -> list[FillRecord]:
        return [fill for fill in self.fills if fill.side is Side.SELL]


def replay_sample_sessions(
    data_root: Path,
    settings: Settings,
    strategies: Sequence[Strategy],
    first: date,
    last: date,
    underlyings: Sequence[str] = ("NIFTY",),
) -> ScenarioReplay:
    """Replay the data root's sessions from `first` to `last` (with the warm-up a backtest loads)."""
    days = get_calendar().trading_days(first, last)
    replay = ScenarioReplay(settings, strategies, data_root, days[0], underlyings)
    try:
        asyncio.run(replay.run(days))
    finally:
        replay.close()
    return replay
