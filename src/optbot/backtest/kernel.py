"""The bar-driven backtest kernel: the real engine over the bars a data root holds (issue 14/15).

Bars are the events. For each session, every index/VIX bar the store holds (the finest timeframe per
instrument and day, plus the 5m/15m/1h/daily bars rolled up from it) is delivered in close-time
order. At each close time, in this order:

1. resting orders meet the bars that started since the previous step (`BarVenue.match_bar`): the
   contract's own bars where the option archive has them, else one bar modelled from the index bar;
   the venue's reports go through the engine's order-update path before anything else happens;
2. session deadlines due by the close fire at their own times (at the session's open, each
   underlying's first bar's open is checked against its previous close for an opening gap, with the
   live session's response);
3. the clock moves to the close; each index bar's close becomes the instrument's last price, and
   every open option position is marked at its contract's last close (real or modelled);
4. the closed bars go to the strategies (intents are processed before the next bar).

No tick is synthesised and no random number is drawn: the same data gives the same fills. Contracts
that nobody holds, orders or watches are never read; a strategy asking for a chain prices the strikes
near the money at that moment (`MarketState.option_source`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from optbot.analytics.futures_forward import FuturesForward
from optbot.analytics.synthetic import model_for
from optbot.backtest import shared_cache
from optbot.backtest.option_bars import OptionBarSource, OptionPrices
from optbot.backtest.store_data import StoreHistory
from optbot.broker.paper.bar_venue import BarVenue
from optbot.broker.paper.fill_model import BarPrices
from optbot.calendar import NseCalendar
from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, Timeframe
from optbot.core.events import Bar, Tick, relabel_bar
from optbot.core.heap import RunHeap
from optbot.core.instrument import Instrument
from optbot.core.timeutil import ist_datetime, to_utc
from optbot.data.opening_gap import OpeningGapCheck, opening_gap_alert
from optbot.engine.builder import Venue, VenueSpec, build_engine
from optbot.engine.core import TradingEngine, preload_history
from optbot.engine.market import BAR_SOURCE
from optbot.engine.replay import PREMARKET_START
from optbot.engine.subscriptions import respond_to_opening_gap
from optbot.instruments.master import InstrumentMaster, MasterInfo
from optbot.instruments.scripmaster import parse_rows
from optbot.persistence.store import Store
from optbot.sim.market.instruments import INDEX_ROWS, OptionContract
from optbot.strategy.base import Strategy


class SessionStep(NamedTuple):
    """One close time of a session: every bar closing then, in the order the strategies get them
    (shortest timeframe first, then symbol), and the base bars among them in underlying order."""

    close: datetime
    bars: list[Bar]
    base: list[Bar]


@dataclass
class SessionRun:
    """What one replayed session produced."""

    day: date
    bars: int
    engine: TradingEngine


def _engine_settings(settings: Settings) -> Settings:
    """The engine's settings in a backtest: the kill flag re-read on the bar path every
    `backtest.kill_file_check_seconds` of replayed time (a replayed second is microseconds of real
    time, so the live tick path's 1 s would stat the flag files at every bar)."""
    risk = settings.risk.model_copy(
        update={"kill_file_check_seconds": settings.backtest.kill_file_check_seconds}
    )
    return settings.model_copy(update={"risk": risk})


class BarBacktest:
    """Builds the engine on the bar venue over a data root and drives it session by session."""

    def __init__(
        self,
        settings: Settings,
        store_path: Path,
        first_day: date,
        history: StoreHistory,
        archive: OptionBarSource | None,
        *,
        strategies: Sequence[Strategy] | None = None,
        underlyings: Sequence[str],
        calendar: NseCalendar,
    ) -> None:
        self.settings = settings
        self.calendar = calendar
        self.history = history
        self.underlyings = [name.upper() for name in underlyings]
        self.vix_name = settings.universe.vix_symbol.upper()
        self.clock = SimClock(ist_datetime(first_day, PREMARKET_START))
        option_model = model_for(settings.analytics.calibration_file, calendar)
        # the ATM vol follows the underlying's last week (its stored daily closes before each day)
        option_model.use_recent_returns(history)
        self.prices = OptionPrices(
            calendar,
            settings.replay,
            archive,
            self._spot,
            self._vix,
            option_model,
            FuturesForward(history, option_model),
        )
        self._listed: dict[str, tuple[OptionContract, Instrument]] = {}  # token -> contract, its row
        #: the same, for every backtest of this process (each lists the same days): parsed once
        self._parsed = shared_cache.listed_contracts()
        self._indices: list[Instrument] | None = None  # the index rows (`_index_rows`)
        self.instruments = InstrumentMaster(self._listing(first_day), self._info(first_day))
        self.store = Store.open(store_path, self.clock)
        built = build_engine(
            _engine_settings(settings),
            self.clock,
            self.store,
            self.instruments,
            VenueSpec(Venue.BARS, order_id_prefix="BT"),
            strategies=strategies,
            underlyings=self.underlyings,
            calendar=calendar,
        )
        self.engine = built.engine
        assert isinstance(built.paper, BarVenue)
        self.venue: BarVenue = built.paper
        self.engine.market.option_source = self._option_tick
        self.on_session_end: Callable[[SessionRun], None] | None = None
        #: (exchange, token) of a held position -> its option row in today's master (None: no option)
        self._marked: dict[tuple[Exchange, str], Instrument | None] = {}
        self._exchange_of: dict[str, Exchange] = {}  # index token -> its exchange (NSE, or BSE)
        self._name_of: dict[str, str] = {}  # index token -> the underlying (or VIX) name replayed
        # Spec §2.4/§3.4: the live pipeline's opening-gap check on the store's previous close; INDIA
        # VIX gaps are volatility, not a reason to re-centre strikes (as live, it is not tracked).
        self.gap_check = OpeningGapCheck(settings.data.opening_gap_pct, history.previous_close)
        for name in self.underlyings:
            self.gap_check.track(self.engine.market.underlying_instrument(name).token, name)

    # ------------------------------------------------------------------ ports
    def _spot(self, underlying: str) -> float | None:
        return self.engine.market.underlying_price(underlying)

    def _vix(self) -> float | None:
        return self.engine.market.vix()

    def _option_tick(
        self, instrument: Instrument, now: datetime, stamp: datetime | None = None
    ) -> Tick | None:
        """The contract's last price at `now` as a tick, stamped at its bar's close (or at `stamp`)."""
        found = self.prices.last_price(instrument.token, now)
        if found is None:
            return None
        price, as_of, volume, open_interest = found
        return Tick(
            stamp or as_of,
            instrument.token,
            instrument.exchange,
            instrument.symbol,
            price,
            ts_exchange=as_of,
            volume=volume,
            open_interest=open_interest,
            source=BAR_SOURCE,
        )

    # ------------------------------------------------------------------ listing
    @staticmethod
    def _info(day: date) -> MasterInfo:
        return MasterInfo(as_of=day, source="backtest (data root)")

    def _listing(self, day: date, *, new_only: bool = False) -> list[Instrument]:
        """Index rows plus the day's option contracts (the archive's, else the model's). Each contract
        is parsed from its scrip-master row once, when it is first listed. With `new_only`, contracts
        listed before and unchanged are left out: the master keeps a listed contract until it
        expires, so refreshing it with the new rows gives the master the whole listing would (and
        costs one lookup per new row instead of one per listed contract, every session)."""
        rows: list[dict[str, object]] = []  # the scrip rows of contracts never parsed in this process
        listed: list[Instrument] = []  # contracts listed before, unchanged: their parsed rows
        fresh: list[OptionContract] = []
        for underlying in self.underlyings:
            reference = self.history.previous_close(underlying, day)
            if reference is None:
                found = self.history.day(underlying, day)
                reference = found.bars[0].open if found is not None else None
            if reference is None:
                continue
            contracts = self.prices.open_day(underlying, day, reference).contracts.values()
            listed_before = self._listed.get
            if not new_only:
                listed += [
                    held[1]
                    for contract in contracts
                    if (held := listed_before(contract.token)) is not None and held[0] is contract
                ]
            new_here = [
                contract
                for contract in contracts
                if (held := listed_before(contract.token)) is None or held[0] is not contract
            ]
            fresh += new_here
            for contract in new_here:
                known = self._parsed.get(contract.token)
                if known is None or known[0] is not contract:
                    rows.append(contract.scrip_row())
        parsed = {instrument.token: instrument for instrument in parse_rows(rows)[0]} if rows else {}
        new = list(self._index_rows())
        for contract in fresh:  # new to this backtest's master, in listing order
            entry = self._parsed.get(contract.token)
            if entry is None or entry[0] is not contract:
                instrument = parsed.get(contract.token)
                if instrument is None:
                    continue
                entry = self._parsed[contract.token] = (contract, instrument)
            self._listed[contract.token] = entry
            new.append(entry[1])
        return new + listed

    def _index_rows(self) -> list[Instrument]:
        """The master's rows of the replayed indices and INDIA VIX, parsed once: every session's
        listing hands the same rows back (the master's refresh passes over a row it already holds)."""
        if self._indices is None:
            names = {*self.underlyings, self.vix_name}
            rows = [dict(row) for row in INDEX_ROWS if str(row["name"]).upper() in names]
            self._indices = parse_rows(rows)[0]
        return self._indices

    def _index(self, name: str) -> Instrument:
        if name == self.vix_name:
            return self.instruments.index_instrument(self.settings.universe.vix_symbol)
        return self.engine.market.underlying_instrument(name)

    # ------------------------------------------------------------------ warm-up
    def warm_up(self, first_day: date) -> int:
        """History that closed before the first session: daily bars, and the intraday timeframes of
        the last `engine.warmup_intraday_days` sessions, as the live session loads them."""
        engine_settings = self.settings.engine
        daily_from = first_day - timedelta(days=int(engine_settings.warmup_daily_bars * 1.5))
        intraday_from = first_day - timedelta(days=int(engine_settings.warmup_intraday_days * 1.5))
        bars: list[Bar] = []
        for name in [*self.underlyings, self.vix_name]:
            index = self._index(name)
            for day in self.history.days(name):
                if not daily_from <= day < first_day:
                    continue
                if day < intraday_from:  # only the daily bar is kept: do not build the session
                    daily = self.history.session_daily_bar(name, day)
                    if daily is not None:
                        bars.append(relabel_bar(daily, index.token, index.underlying))
                    continue
                found = self.history.session_bars(name, day, (index.token, index.underlying))
                if found is None:
                    continue
                bars.extend(found[1])  # a day from intraday_from on: every bar of it
        return preload_history(self.engine, bars)

    # ------------------------------------------------------------------ sessions
    def _session_steps(self, day: date) -> list[SessionStep]:
        """The day's close times in order, each with every bar closing then (the shortest timeframe
        first, then by symbol) and the base bars among them in underlying order (their closes are
        the instruments' last prices). Each instrument's session bars come in (close, timeframe)
        order already: consecutive bars of one close form its group."""
        by_close: dict[datetime, SessionStep] = {}
        mixed: list[SessionStep] = []  # close times with bars of more than one instrument
        for name in [*self.underlyings, self.vix_name]:
            index = self._index(name)
            token = index.token
            found = self.history.session_bars(name, day, (token, index.underlying))
            if found is None:
                continue
            index_day, bars = found
            self._exchange_of[token] = index.exchange  # SENSEX is a BSE index
            self._name_of[token] = name
            base_timeframe = index_day.bars[0].timeframe if not index_day.is_daily_fallback else Timeframe.D1
            current: datetime | None = None
            for bar in bars:  # already labelled as the master's index row
                end = bar.end_utc
                if end != current:
                    current = end
                    step = by_close.get(end)
                    if step is None:
                        step = by_close[end] = SessionStep(end, [], [])
                    else:
                        mixed.append(step)
                    add_bar, add_base = step.bars.append, step.base.append
                add_bar(bar)
                if bar.timeframe is base_timeframe:
                    add_base(bar)
        for step in mixed:  # one instrument's session bars come in (close, timeframe) order already
            step.bars.sort(key=lambda bar: (bar.timeframe.seconds, bar.symbol))
        return sorted(by_close.values())  # by close (each close once)

    async def run_day(self, day: date) -> SessionRun:
        """Replay one session from the pre-market to the end of the post-market."""
        engine = self.engine
        schedule = engine.begin_day(day)
        if schedule.session is None:
            return SessionRun(day, 0, engine)
        premarket = ist_datetime(day, PREMARKET_START)
        if to_utc(premarket) > self.clock.now_utc():
            self.clock.advance_to(premarket)
        self.venue.roll_day(day)
        if day > self.instruments.info.as_of:  # the morning master, as a live session downloads it
            engine.refresh_instruments(self._listing(day, new_only=True), self._info(day), day)
        self._marked.clear()
        steps = self._session_steps(day)
        end_of_day = to_utc(schedule.post_market_end or schedule.session.close_utc)
        steps = steps[: bisect_right(steps, end_of_day, key=itemgetter(0))]
        previous = schedule.session.open_utc
        await self._open_session(previous, steps)
        delivered = await self._replay_steps(steps, previous)
        await self._deadlines_until(end_of_day)
        if end_of_day > self.clock.now_utc():
            self.clock.advance_to(end_of_day)
        await engine.fire_due_deadlines()
        await engine.end_of_day()
        run = SessionRun(day, delivered, engine)
        if self.on_session_end is not None:
            self.on_session_end(run)
        return run

    async def _replay_steps(self, steps: Sequence[SessionStep], previous: datetime) -> int:
        """Each close time in order (see the module docstring); returns the bars delivered. The idle
        step (nothing resting, no deadline due, no order in flight) is a few comparisons, the index
        bars' closes as last prices (`TradingEngine.take_bar_close`: no tick is built) and the bars
        (`take_bar`), each a plain call unless it has something to await: the calls it makes every
        step are looked up once."""
        engine, clock, store = self.engine, self.clock, self.store
        take_bar_close, take_bar, next_deadline = engine.take_bar_close, engine.take_bar, engine.next_deadline
        has_open_positions, has_working_orders = engine.has_open_positions, self.venue.has_working_orders
        exchange_of = self._exchange_of
        verify_every = timedelta(seconds=self.settings.engine.order_poll_seconds)
        next_verify = clock.now_utc()
        # the order writes when the store last said nothing is in flight: until an order row is
        # written again, nothing can be (the backtest's store has no other writer)
        quiet_writes = -1
        delivered = 0
        for step in steps:
            close = step.close
            if has_working_orders():
                await self._fill(previous, close, step.base)
            deadline = next_deadline()
            if deadline is not None and deadline <= close:
                await self._deadlines_until(close)
            if close > clock.now_utc():
                clock.advance_to(close)
            for bar in step.base:
                rest = take_bar_close(bar, exchange_of[bar.token])
                if rest is not None:
                    await rest
            if has_open_positions():
                await self._mark_positions(close)
            group = step.bars
            for bar in group:
                rest = take_bar(bar)
                if rest is not None:
                    await rest
            delivered += len(group)
            if close >= next_verify and store.order_writes != quiet_writes:
                if store.has_orders_in_flight():
                    await engine.verify_orders()
                    next_verify = close + verify_every
                else:
                    quiet_writes = store.order_writes
            previous = close
        return delivered

    def _index_tick(self, bar: Bar, moment: datetime, price: float) -> Tick:
        """An index bar's price at `moment` (its open at its start, its close at its close) as the
        instrument's last price: a tick the feed would have carried, marked as taken from a bar."""
        return Tick(
            moment,
            bar.token,
            self._exchange_of[bar.token],
            bar.symbol,
            price,
            ts_exchange=moment,
            source=BAR_SOURCE,
        )

    async def _open_session(self, open_utc: datetime, steps: Sequence[SessionStep]) -> None:
        """The open, as a live session reaches it: the deadlines due by then fire at their own times;
        then each tracked underlying's opening price (its first bar's open) meets `OpeningGapCheck`
        and a gap gets what live does: the pipeline's alert on the bus, then the session's
        `respond_to_opening_gap` (the strike window a strategy's chain is quoted over widens, a note)."""
        await self._deadlines_until(open_utc)
        if open_utc > self.clock.now_utc():
            self.clock.advance_to(open_utc)
        gap_check, engine = self.gap_check, self.engine
        seen: set[str] = set()
        for step in steps:
            for bar in step.base:
                if bar.token in seen or not gap_check.tracks(bar.token):
                    continue
                seen.add(bar.token)
                gap = gap_check.on_tick(self._index_tick(bar, bar.start_utc, bar.open), open_utc)
                if gap is not None:
                    await engine.bus.publish(opening_gap_alert(gap, self.clock.now_utc()))
                    respond_to_opening_gap(gap, engine.market.gap_windows, None, engine.note)
            if len(seen) == len(self.underlyings):
                return

    async def _fill(self, start: datetime, end: datetime, base: Sequence[Bar]) -> None:
        """Resting orders against the bars of their contracts that started in [start, end); `base`:
        the base bars closing at `end` (a modelled option bar follows its underlying's)."""
        pending: list[tuple[datetime, str, BarPrices]] = []
        for token in self.venue.working_tokens():
            option_day = self.prices.day_of(token)
            index_bar = None
            if option_day is not None:
                underlying = option_day.underlying
                index_bar = next((bar for bar in base if self._name_of[bar.token] == underlying), None)
            for bar in self.prices.fill_bars(token, start, end, index_bar):
                pending.append((bar.start, token, bar))
        pending.sort(key=lambda item: (item[0], item[1]))
        for moment, token, bar in pending:
            if moment > self.clock.now_utc():
                self.clock.advance_to(moment)
            self.venue.match_bar(token, bar)
            await self.engine.pump_paper()

    async def _deadlines_until(self, moment: datetime) -> None:
        """Fire every session deadline due by `moment` at its own time."""
        engine = self.engine
        while (when := engine.next_deadline()) is not None and when <= moment:
            if when > self.clock.now_utc():
                self.clock.advance_to(when)
            await engine.fire_due_deadlines()

    async def _mark_positions(self, close: datetime) -> None:
        """Every open option position at its contract's last close (the portfolio's and risk's marks).
        A position's option row is looked up in the master once a session (`_marked`): the master
        changes only between sessions, and a held contract is marked at every bar."""
        marked, on_tick = self._marked, self.engine.on_tick
        for key in self.engine.position_keys():
            instrument = marked.get(key)
            if instrument is None:
                if key in marked:
                    continue  # not an option row
                found = self.instruments.get(*key)
                instrument = marked[key] = found if found is not None and found.is_option else None
                if instrument is None:
                    continue
            tick = self._option_tick(instrument, close, stamp=close)
            if tick is not None:
                await on_tick(tick)

    async def _seed_last_prices(self, day: date) -> None:
        """Each index's and INDIA VIX's last close before `day` as its last price, as a live feed shows
        it before the open (a VIX stored only as daily bars would otherwise be unknown until the first
        session's close). Only at the start of a run, so a run split over processes starts each part
        the way one process reaches it."""
        now = self.clock.now_utc()
        for name in [*self.underlyings, self.vix_name]:
            close = self.history.previous_close(name, day)
            if close is not None:
                index = self._index(name)
                await self.engine.on_tick(
                    Tick(
                        now,
                        index.token,
                        index.exchange,
                        index.symbol,
                        close,
                        ts_exchange=now,
                        source=BAR_SOURCE,
                    )
                )

    async def run(self, days: Sequence[date]) -> list[SessionRun]:
        """Every session in order. What is alive as each session starts (the loaded bars, the engine's
        state, the caches) is frozen out of the cyclic garbage collector until the run ends: its full
        collections would otherwise walk all of it again and again (most of a run's GC time), while
        what a session leaves behind is freed by reference counting as before (a cycle among frozen
        objects waits for the end of the run)."""
        await self.engine.start(days[0])
        self.warm_up(days[0])
        await self._seed_last_prices(days[0])
        runs: list[SessionRun] = []
        heap = RunHeap()
        try:
            for day in days:
                heap.freeze()
                runs.append(await self.run_day(day))
                await self.engine.verify_orders()
        finally:
            heap.release()
        await self.engine.stop()
        return runs

    def close(self) -> None:
        self.store.close()


__all__ = ["BAR_SOURCE", "BarBacktest", "SessionRun", "SessionStep"]
