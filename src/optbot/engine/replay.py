"""An in-process replay: the simulator's market and the paper broker driving one `TradingEngine`.

This is the backtest mode of the engine (spec §11.5, issue 8): a `SimClock`, the simulator's
`ReplayMarket` (real index bars expanded into seeded intra-bar ticks; options priced by the
simulator's Black-76 model and flagged synthetic), the same bar aggregator the live pipeline uses,
and the `PaperBroker` with the paper/backtest fill model filling from the engine's own quotes. No
sockets, no threads: time only moves when the driver steps the market, so runs are deterministic.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from optbot.analytics.synthetic import model_for
from optbot.broker.angelone.mapping import candle_from_row
from optbot.broker.paper.broker import PaperBroker
from optbot.calendar import NseCalendar, Segment, get_calendar
from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, Timeframe
from optbot.core.events import Bar, Tick
from optbot.core.instrument import Instrument, InstrumentKey
from optbot.core.timeutil import IST, ist_datetime, to_utc
from optbot.data.bars import BarAggregator, SegmentSessions
from optbot.data.history import candles_to_bars
from optbot.data.opening_gap import OpeningGapCheck, opening_gap_alert
from optbot.engine.builder import Venue, VenueSpec, build_engine
from optbot.engine.core import TradingEngine, preload_history
from optbot.engine.subscriptions import (
    SUBSCRIPTION_REFRESH_SECONDS,
    FeedWindow,
    respond_to_opening_gap,
)
from optbot.instruments.master import InstrumentMaster, MasterInfo
from optbot.instruments.scripmaster import parse_rows
from optbot.persistence.store import Store
from optbot.sim.contracts import SimQuote
from optbot.sim.market.replay import ReplayMarket
from optbot.strategy.base import Strategy

WARMUP_TIMEFRAMES: tuple[tuple[str, Timeframe], ...] = (
    ("ONE_DAY", Timeframe.D1),
    ("ONE_HOUR", Timeframe.H1),
    ("FIFTEEN_MINUTE", Timeframe.M15),
    ("FIVE_MINUTE", Timeframe.M5),
)
PREMARKET_START = time(8, 45)


def sim_quote_to_tick(quote: SimQuote) -> Tick:
    """What the SmartAPI socket would have delivered for this quote (SNAP_QUOTE: best bid/ask)."""
    bid = quote.bids[0].price if quote.bids and quote.bids[0].price > 0 else None
    ask = quote.asks[0].price if quote.asks and quote.asks[0].price > 0 else None
    return Tick(
        quote.exchange_time,
        quote.token,
        Exchange(quote.exchange),
        quote.symbol,
        quote.ltp,
        ts_exchange=quote.exchange_time,
        bid=bid,
        ask=ask,
        volume=quote.volume,
        last_quantity=quote.last_quantity,
        open_interest=quote.open_interest or None,
        source="synthetic" if quote.synthetic else "replay",
    )


def candle_rows_to_bars(
    rows: Sequence[Sequence[object]], token: str, symbol: str, timeframe: Timeframe, calendar: NseCalendar
) -> list[Bar]:
    """getCandleData rows `[iso, o, h, l, c, v]` (the replayed market's) as closed bars."""
    return candles_to_bars([candle_from_row(row) for row in rows], symbol, token, timeframe, calendar)


@dataclass
class ReplayRun:
    """What one replayed session produced."""

    day: date
    ticks: int
    bars: int
    engine: TradingEngine


class InProcessReplay:
    """Builds the engine over a replayed market and drives it session by session."""

    def __init__(
        self,
        settings: Settings,
        store_path: Path,
        start_day: date,
        *,
        strategies: Sequence[Strategy] | None = None,
        underlyings: Sequence[str] | None = None,
        calendar: NseCalendar | None = None,
        market: ReplayMarket | None = None,
    ) -> None:
        self.settings = settings
        self.calendar = calendar or get_calendar()
        premarket = ist_datetime(start_day, PREMARKET_START)
        # the engine reads only the best bid/ask of a quote (`sim_quote_to_tick`), so one depth level
        self.market = market or ReplayMarket(
            SimClock(premarket),
            settings.replay,
            self.calendar,
            depth_levels=1,
            option_model=model_for(settings.analytics.calibration_file, self.calendar),
        )
        self.clock: SimClock = self.market.clock  # one clock for the market, the broker and the engine
        if to_utc(premarket) > self.clock.now_utc():
            self.market.advance_to(premarket)
        self.underlyings = [u.upper() for u in (underlyings or settings.universe.underlyings)]
        self.instruments = self._master(start_day)
        self.store = Store.open(store_path, self.clock)
        built = build_engine(
            settings,
            self.clock,
            self.store,
            self.instruments,
            VenueSpec(Venue.PAPER, order_id_prefix="BT"),
            strategies=strategies,
            underlyings=self.underlyings,
            calendar=self.calendar,
        )
        self.engine = built.engine
        assert built.paper is not None
        self.paper: PaperBroker = built.paper
        self._ticks: deque[Tick] = deque()
        self._bars: deque[Bar] = deque()
        self.index_bars = BarAggregator(
            self.clock, SegmentSessions(self.calendar, Segment.EQUITY), self._bars.append, settings.data
        )
        self.option_bars = BarAggregator(
            self.clock, SegmentSessions(self.calendar, Segment.FO), self._bars.append, settings.data
        )
        self._watched: set[InstrumentKey] = set()
        self._subscribed: set[tuple[str, str]] = set()
        self._options: dict[InstrumentKey, str] = {}  # subscribed option contract -> symbol
        self._window = FeedWindow(settings.instruments)  # spec §3.3: the live session's rules
        # Spec §2.4/§3.4: the live pipeline's opening-gap check, on the previous close of the engine's
        # daily history; a gap gets the live session's response (respond_to_opening_gap).
        self.gap_check = OpeningGapCheck(settings.data.opening_gap_pct, self._previous_close)
        self.market.subscribe_quotes(self._on_quote)
        self.on_session_end: Callable[[ReplayRun], None] | None = None

    def _master(self, day: date) -> InstrumentMaster:
        return InstrumentMaster(self._listing(), self._master_info(day))

    def _listing(self) -> list[Instrument]:
        self.market.advance_to(self.clock.now_utc())
        instruments, _ = parse_rows(self.market.scrip_master_rows())
        return instruments

    @staticmethod
    def _master_info(day: date) -> MasterInfo:
        return MasterInfo(as_of=day, source="replay (synthetic options)")

    def _on_quote(self, quote: SimQuote) -> None:
        """Only subscribed instruments reach the engine, as on the real socket."""
        if (quote.exchange, quote.token) in self._subscribed:
            self._ticks.append(sim_quote_to_tick(quote))

    def warm_up(self) -> int:
        """History that closed before the session, from the replayed market's candles (issue 8 step 3)."""
        now = self.clock.now_utc()
        loaded = 0
        for underlying in [*self.underlyings, self.settings.universe.vix_symbol]:
            index = self.engine.market.underlying_instrument(underlying)
            for interval, timeframe in WARMUP_TIMEFRAMES:
                days = (
                    self.settings.engine.warmup_daily_bars * 1.5
                    if timeframe is Timeframe.D1
                    else (self.settings.engine.warmup_intraday_days * 1.5)
                )
                rows = self.market.candles("NSE", index.token, interval, now - timedelta(days=days), now)
                bars = candle_rows_to_bars(rows, index.token, index.underlying, timeframe, self.calendar)
                loaded += preload_history(self.engine, [bar for bar in bars if bar.end_utc <= now])
        return loaded

    def _previous_close(self, underlying: str, day: date) -> float | None:
        """The close of the last daily bar of the engine's history dated before `day` (IST)."""
        for bar in reversed(self.engine.ctx.bars(underlying, Timeframe.D1, 5)):
            if bar.start_utc.astimezone(IST).date() < day:
                return bar.close
        return None

    def _track(self) -> None:
        indices = [self.engine.market.underlying_instrument(u) for u in self.underlyings]
        for index in indices:  # INDIA VIX gaps are volatility, not a reason to re-centre strikes
            self.gap_check.track(index.token, index.underlying)
        indices.append(self.instruments.index_instrument(self.settings.universe.vix_symbol))
        for index in indices:
            self.index_bars.track(index.token, index.underlying, False)
            self._subscribed.add((index.exchange.value, index.token))

    def _refresh_subscriptions(self) -> None:
        """Subscribe what the engine wants and, as the live session does, drop a contract once it has
        been unwanted for `instruments.replacement_window_seconds` (held or ordered contracts are always
        wanted), so a long backtest prices and stores only the strikes near the money, not every strike
        ever near it."""
        wanted = {instrument.key: instrument for instrument in self.engine.desired_instruments()}
        chains = self.engine.window_chains()
        for key, instrument in wanted.items():
            if key in self._watched:
                continue
            self._watched.add(key)
            self._subscribed.add((instrument.exchange.value, instrument.token))
            if instrument.is_option:
                self._options[key] = instrument.symbol
                self.market.watch(instrument.exchange.value, instrument.token)
                self.option_bars.track(instrument.token, instrument.symbol, True)
        for key in self._window.refreshed(self._options, wanted, chains, self.clock.now_utc()):
            symbol = self._options.pop(key)
            self._watched.discard(key)
            self._subscribed.discard((key.exchange.value, key.token))
            self.market.unwatch(key.exchange.value, key.token)
            self.option_bars.untrack(key.token)
            self.engine.ctx.forget_symbols([symbol])  # its history would have a gap if it came back

    async def run_day(self, day: date) -> ReplayRun:
        """Replay one session from the pre-market to the end of the post-market.

        The paper broker's books roll to `day` first (Angel One's overnight roll: yesterday's closed
        positions and orders leave the books, carried positions stay, realised M2M starts at zero), so
        the end-of-day reconciliation compares one trading day with one trading day."""
        schedule = self.engine.begin_day(day)
        if schedule.session is None:
            return ReplayRun(day, 0, 0, self.engine)
        premarket = ist_datetime(day, PREMARKET_START)
        if premarket > self.clock.now_utc():
            self.market.advance_to(premarket)
        self.paper.roll_day(day)
        if day > self.instruments.info.as_of:  # the morning download, as a live session does each day
            self.engine.refresh_instruments(self._listing(), self._master_info(day), day)
        self._ticks.clear()
        self._track()
        self.index_bars.start()
        self.option_bars.start()
        ticks = bars = 0
        end = schedule.post_market_end or schedule.session.close_utc
        next_refresh = next_atm_check = next_verify = self.clock.now_utc()
        verify_every = timedelta(seconds=self.settings.engine.order_poll_seconds)
        while True:
            moment = self.market.step(horizon=to_utc(end) - self.clock.now_utc())
            if moment is None or moment > to_utc(end):
                break
            if moment >= next_refresh:
                self._refresh_subscriptions()
                next_refresh = moment + timedelta(seconds=SUBSCRIPTION_REFRESH_SECONDS)
            if moment >= next_atm_check:  # spec §3.3 ATM check, at the session's cadence
                if self._window.refresh_due(self.engine.window_chains(), moment) is not None:
                    self._refresh_subscriptions()
                next_atm_check = moment + self._window.check_interval
            ticks += await self._drain()
            bars += len(self._bars)
            await self._drain_bars()
            if moment >= next_verify and self.store.orders_in_flight():
                await self.engine.verify_orders()
                next_verify = moment + verify_every
        await self._advance_through_deadlines(to_utc(end))
        await self.engine.end_of_day()
        self.index_bars.stop()
        self.option_bars.stop()
        run = ReplayRun(day, ticks, bars, self.engine)
        if self.on_session_end is not None:
            self.on_session_end(run)
        return run

    async def _advance_through_deadlines(self, end: datetime) -> None:
        """After the last tick: let bars close and every remaining deadline fire at its own time."""
        for when, _ in [*self.engine.pending_deadlines(), (end, "end")]:
            if when > self.clock.now_utc() and when <= end:
                self.clock.advance_to(when)
            await self._drain_bars()
            await self.engine.fire_due_deadlines()

    async def _drain(self) -> int:
        count = 0
        while self._ticks:
            tick = self._ticks.popleft()
            if tick.exchange is Exchange.NFO:
                self.option_bars.on_tick(tick)
            else:
                self.index_bars.on_tick(tick)
                gap = self.gap_check.on_tick(tick, self.index_bars.session_open_utc)
                if gap is not None:  # the live pipeline's alert, then the live session's response
                    await self.engine.bus.publish(opening_gap_alert(gap, self.clock.now_utc()))
                    respond_to_opening_gap(
                        gap, self.engine.market.gap_windows, self._window.leaving, self.engine.note
                    )
                    self._refresh_subscriptions()  # now, as the live session does, not at the next minute
            await self.engine.on_tick(tick)
            count += 1
        return count

    async def _drain_bars(self) -> None:
        while self._bars:
            await self.engine.on_bar(self._bars.popleft())

    async def run(self, days: Sequence[date]) -> list[ReplayRun]:
        await self.engine.start(days[0])
        self.warm_up()
        runs: list[ReplayRun] = []
        for day in days:
            runs.append(await self.run_day(day))
            await self.engine.verify_orders()
        await self.engine.stop()
        return runs

    def close(self) -> None:
        self.store.close()
