"""Replay real sample bars through strategies, the risk engine and instant fills (tests, demos, research).

Sample CSV loaders (daily and 15-minute NIFTY / INDIA VIX from `data/sample/`), a bar resampler, a
synthetic option chain priced with Black-Scholes at the replayed spot and VIX (the sample data has no
intraday option prices), and `ReplayHarness`, which advances a SimClock bar by bar, feeds
`BarHistoryContext`, routes intents through `RiskEngine` and fills approved ones at once.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from optbot.analytics.pricing import black_scholes_price, greeks
from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, InstrumentKind, OptionType, Side, Timeframe
from optbot.core.events import (
    DAILY_SESSION_CLOSE,
    DAILY_SESSION_OPEN,
    Bar,
    Fill,
    OrderIntent,
    RiskDecision,
    daily_session_bar,
)
from optbot.core.ids import new_id
from optbot.core.instrument import Instrument
from optbot.core.timeutil import IST, ist_datetime, to_utc
from optbot.instruments.chain import OptionChain, OptionQuote
from optbot.risk import RiskCallbacks, RiskEngine
from optbot.risk.views import PositionSnapshot, SessionTimes
from optbot.strategy.base import Strategy
from optbot.strategy.context import BarHistoryContext
from optbot.strategy.runner import StrategyRunner


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


@dataclass(frozen=True, slots=True)
class IntradayLoad:
    bars: list[Bar]
    malformed_days: list[str]


def load_15min_bars(path: Path, symbol: str, start: date, end: date) -> IntradayLoad:
    """15-minute bars (naive IST starts). Days with off-session, duplicate or missing bars are skipped."""
    by_day: dict[date, list[tuple[datetime, list[float]]]] = defaultdict(list)
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            stamp = datetime.fromisoformat(row["date"]).replace(tzinfo=IST)
            if not start <= stamp.date() <= end:
                continue
            values = [float(row[key]) for key in ("open", "high", "low", "close", "volume")]
            by_day[stamp.date()].append((stamp, values))
    bars: list[Bar] = []
    malformed: list[str] = []
    for day in sorted(by_day):
        rows = by_day[day]
        starts = [stamp for stamp, _ in rows]
        expected = [ist_datetime(day, DAILY_SESSION_OPEN) + timedelta(minutes=15 * i) for i in range(25)]
        if starts != expected:
            malformed.append(f"{day}: {len(starts)} bars, expected 25 from 09:15")
            continue
        for stamp, (open_, high, low, close, volume) in rows:
            end_time = stamp + timedelta(minutes=15)
            bars.append(
                Bar(
                    to_utc(end_time),
                    symbol,
                    symbol,
                    Timeframe.M15,
                    to_utc(stamp),
                    to_utc(end_time),
                    open_,
                    high,
                    low,
                    close,
                    int(volume),
                )
            )
    return IntradayLoad(bars, malformed)


def resample(bars: Sequence[Bar], timeframe: Timeframe) -> list[Bar]:
    """Group intraday bars into `timeframe` buckets anchored at the 09:15 IST open (last may be short)."""
    span = timedelta(seconds=timeframe.seconds)
    groups: dict[datetime, list[Bar]] = defaultdict(list)
    for bar in bars:
        local = bar.start_utc.astimezone(IST)
        anchor = ist_datetime(local.date(), DAILY_SESSION_OPEN)
        bucket = anchor + span * ((local - anchor) // span)
        groups[bucket].append(bar)
    result: list[Bar] = []
    for bucket in sorted(groups):
        members = groups[bucket]
        end = min(to_utc(bucket + span), members[-1].end_utc)
        result.append(
            Bar(
                end,
                members[0].token,
                members[0].symbol,
                timeframe,
                to_utc(bucket),
                end,
                members[0].open,
                max(b.high for b in members),
                min(b.low for b in members),
                members[-1].close,
                sum(b.volume for b in members),
            )
        )
    return result


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


@dataclass
class HarnessPortfolio:
    """The risk engine's view of the replayed book."""

    ctx: BarHistoryContext
    realised: float = 0.0
    results: list[float] = field(default_factory=list)

    def open_positions(self) -> Sequence[PositionSnapshot]:
        return self.ctx.positions()

    def account_value(self) -> float:
        return self.ctx.account

    def day_realised_pnl(self) -> float:
        return self.realised

    def day_unrealised_pnl(self) -> float:
        return 0.0

    def margin_used(self) -> float:
        return sum(position.notional for position in self.ctx.positions())

    def margin_available(self) -> float:
        return self.ctx.account - self.margin_used()

    def recent_trade_results(self) -> Sequence[float]:
        return list(self.results)


@dataclass
class HarnessMarket:
    ctx: BarHistoryContext
    prices: dict[str, float] = field(default_factory=dict)

    def _quote(self, token: str) -> tuple[Instrument, OptionQuote] | None:
        for chain in self.ctx.chains.values():
            for row in chain.rows:
                for option_type in (OptionType.CE, OptionType.PE):
                    contract = row.contract(option_type)
                    if contract is not None and contract.token == token:
                        return contract, row.quote(option_type) or OptionQuote()
        return None

    def vix(self) -> float | None:
        return self.ctx.current_vix

    def underlying_price(self, underlying: str) -> float | None:
        return self.prices.get(underlying)

    def last_price(self, token: str) -> float | None:
        found = self._quote(token)
        return found[1].ltp if found else None

    def open_interest(self, token: str) -> int | None:
        found = self._quote(token)
        return found[1].open_interest if found else None

    def lot_size(self, token: str) -> int | None:
        found = self._quote(token)
        return found[0].lot_size if found else None

    def is_option(self, token: str) -> bool:
        return self._quote(token) is not None

    def option_type(self, token: str) -> str | None:
        found = self._quote(token)
        return found[0].option_type.value if found and found[0].option_type is not None else None

    def margin_required(self, token: str, side: str, quantity: int, price: float) -> float | None:
        return None

    def session(self) -> SessionTimes | None:
        return self.ctx.current_session


class ReplayHarness:
    """Bar-by-bar replay: clock -> context -> risk feed -> strategies -> risk decision -> instant fill."""

    def __init__(
        self,
        settings: Settings,
        strategies: Sequence[Strategy],
        start: datetime,
        lot_size: int,
        freeze_quantity: int,
        account: float = 1_000_000.0,
        underlying: str = "NIFTY",
    ) -> None:
        self.settings = settings
        self.clock = SimClock(start)
        self.ctx = BarHistoryContext(self.clock, account=account, submit_sink=self._queue)
        self.portfolio = HarnessPortfolio(self.ctx)
        self.market = HarnessMarket(self.ctx)
        self.flattened: list[OrderIntent] = []
        self.risk = RiskEngine(
            settings, self.clock, RiskCallbacks(flatten=self._queue_flatten), portfolio=self.portfolio
        )
        self.runner = StrategyRunner(strategies, self.ctx)
        self.lot_size = lot_size
        self.freeze_quantity = freeze_quantity
        self.underlying = underlying
        self.decisions: list[tuple[OrderIntent, RiskDecision]] = []
        self.fills: list[Fill] = []
        self._queue_items: list[OrderIntent] = []
        self._average_price: dict[str, float] = {}
        self._started = False

    def _queue(self, intent: OrderIntent) -> None:
        self._queue_items.append(intent)

    def _queue_flatten(self, intent: OrderIntent) -> None:
        self.flattened.append(intent)
        self._queue_items.append(intent)

    def preload(self, bars: Iterable[Bar]) -> None:
        """History that closed before the replay starts (e.g. years of daily bars)."""
        for bar in bars:
            self.ctx.add_bar(bar)

    def _refresh_day(self, day: date) -> None:
        session = get_calendar().session(day)
        self.ctx.current_session = session

    def _refresh_chain(self, spot: float) -> None:
        now = self.clock.now_utc()
        today = now.astimezone(IST).date()
        expiries = get_calendar().expiries(self.underlying, today, today + timedelta(days=45))
        limit = self.settings.strategy.close_days_before_expiry
        expiry = next((e for e in expiries if (e - today).days > limit), expiries[-1])
        vol = (self.ctx.current_vix or 15.0) / 100
        self.ctx.chains[self.underlying] = synthetic_chain(
            self.underlying, spot, now, expiry, vol, self.lot_size, self.freeze_quantity
        )
        self.market.prices[self.underlying] = spot

    def run(self, bars: Iterable[Bar], vix_bars: Iterable[Bar] = ()) -> None:
        """Replay `bars` (any timeframes of the underlying) and VIX bars in close-time order."""
        merged = sorted([*bars, *vix_bars], key=lambda bar: (bar.end_utc, bar.timeframe.seconds))
        if not self._started:
            self.runner.start()
            self._started = True
        current_day: date | None = None
        for bar in merged:
            self.clock.advance_to(max(bar.end_utc, self.clock.now_utc()))
            day = bar.start_utc.astimezone(IST).date()
            if day != current_day:
                current_day = day
                self._refresh_day(day)
            if bar.symbol.upper().replace(" ", "") == "INDIAVIX":
                self.ctx.current_vix = bar.close
                self.risk.on_bar(bar)
                self._sync_risk()
                self.process_pending()
                continue
            self.ctx.add_bar(bar)
            if bar.timeframe is not self.settings.strategy.entry_timeframe:
                continue
            self._refresh_chain(bar.close)
            self.risk.on_bar(bar)
            self._sync_risk()
            self.process_pending()
            self.runner.on_bar(bar)
            self.process_pending()

    def _sync_risk(self) -> None:
        self.ctx.current_risk_state = self.risk.state
        self.ctx.current_size_multiplier = self.risk.size_multiplier

    def process_pending(self) -> None:
        """Send queued intents through the risk engine; fill approved ones, tell strategies of refusals."""
        while self._queue_items:
            intent = self._queue_items.pop(0)
            decision = self.risk.evaluate(intent, self.portfolio, self.market)
            self.decisions.append((intent, decision))
            self._sync_risk()
            if decision.approved:
                self._fill(intent, decision.approved_quantity)
            elif intent.strategy != "risk":
                self.runner.on_reject(intent, decision.reasons)

    def _fill(self, intent: OrderIntent, quantity: int) -> None:
        price = intent.limit_price or self.market.last_price(intent.token) or 0.0
        fill = Fill(
            self.clock.now_utc(),
            new_id(),
            new_id(),
            intent.token,
            intent.exchange,
            intent.symbol,
            intent.side,
            quantity,
            price,
            intent_id=intent.intent_id,
        )
        self.fills.append(fill)
        existing = self.ctx.open_positions.get(intent.token)
        held = existing.net_quantity if existing else 0
        signed = quantity * intent.side.sign
        average = self._average_price.get(intent.token, price)
        if held and (held > 0) != (signed > 0):
            closed = min(abs(held), abs(signed))
            pnl = (price - average) * closed * (1 if held > 0 else -1)
            self.portfolio.realised += pnl
            self.portfolio.results.append(pnl)
        elif held + signed:
            average = (average * abs(held) + price * abs(signed)) / abs(held + signed)
        self._average_price[intent.token] = average
        underlying = intent.underlying or self.underlying
        self.ctx.set_position(
            PositionSnapshot(
                intent.token, intent.exchange, intent.symbol, underlying, held + signed, price, 0.5
            )
        )
        self.runner.on_fill(fill, intent.strategy)

    # ------------------------------------------------------------ inspection
    def entries(self) -> list[tuple[OrderIntent, RiskDecision]]:
        return [(i, d) for i, d in self.decisions if not i.purpose.reduces_risk]

    def exits(self) -> list[tuple[OrderIntent, RiskDecision]]:
        return [(i, d) for i, d in self.decisions if i.purpose.reduces_risk]

    def sell_fills(self) -> list[Fill]:
        return [fill for fill in self.fills if fill.side is Side.SELL]


NIFTY_DAILY = "daily/nifty50_daily_merged_2016-09-15_to_2025-09-10.csv"
VIX_DAILY = "daily/indiavix_daily_merged_2015-01-01_to_2025-09-10.csv"
NIFTY_15MIN = "intraday/nifty50_15min_2015-01-09_to_2024-12-31.csv"
VIX_15MIN = "intraday/indiavix_15min_2015-01-09_to_2024-12-31.csv"


@dataclass
class SampleReplay:
    harness: ReplayHarness
    malformed_days: list[str]
    remaining: list[Bar] = field(default_factory=list)  # bars after `until`, for `harness.run(...)`
    remaining_vix: list[Bar] = field(default_factory=list)


def replay_nifty_15min(
    sample_root: Path,
    settings: Settings,
    strategies: Sequence[Strategy],
    start: date,
    end: date,
    lot_size: int,
    freeze_quantity: int,
    warmup_days: int = 30,
    until: datetime | None = None,
) -> SampleReplay:
    """Replay NIFTY 15-min sessions [start, end] with VIX 15-min bars, daily history and 1h resampled bars.

    Daily and intraday history before `start` is preloaded (it closed before the replay begins); VIX
    starts at the previous daily close until the first VIX bar of the replay closes.
    """
    daily = load_daily_bars(sample_root / NIFTY_DAILY, "NIFTY", end=end)
    vix_daily = load_daily_bars(sample_root / VIX_DAILY, "INDIA VIX", end=end)
    nifty = load_15min_bars(sample_root / NIFTY_15MIN, "NIFTY", start - timedelta(days=warmup_days), end)
    vix = load_15min_bars(sample_root / VIX_15MIN, "INDIA VIX", start, end)
    hourly = resample(nifty.bars, Timeframe.H1)
    harness = ReplayHarness(settings, strategies, ist_datetime(start, time(9, 0)), lot_size, freeze_quantity)
    begin = harness.clock.now_utc()
    before = [b for b in vix_daily if b.end_utc <= begin]
    harness.ctx.current_vix = before[-1].close if before else None
    intraday = sorted([*nifty.bars, *hourly], key=lambda bar: (bar.end_utc, bar.timeframe.seconds))
    harness.preload([b for b in daily if b.end_utc <= begin])
    harness.preload([b for b in intraday if b.end_utc <= begin])
    ahead = [b for b in daily if b.end_utc > begin] + [b for b in intraday if b.end_utc > begin]
    stop = to_utc(until) if until is not None else None
    now_bars = [b for b in ahead if stop is None or b.end_utc <= stop]
    now_vix = [b for b in vix.bars if stop is None or b.end_utc <= stop]
    harness.run(now_bars, now_vix)
    later = [b for b in ahead if stop is not None and b.end_utc > stop]
    later_vix = [b for b in vix.bars if stop is not None and b.end_utc > stop]
    return SampleReplay(harness, nifty.malformed_days + vix.malformed_days, later, later_vix)
