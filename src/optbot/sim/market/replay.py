"""`ReplayMarket`: the simulator's market, replayed from historical bars on the shared SimClock.

Indices (NIFTY, BANKNIFTY, INDIA VIX) tick along seeded intra-bar paths; option contracts from
the day's instrument master are priced by the calibrated synthetic model whenever someone has
asked about them — a feed subscription, a quote request or an order — so a replay stays fast while
every instrument a client actually watches updates on every underlying tick.

Where the data root has the near future's bars (`NIFTY-I`, ...), the model's spot comes from the
future bar that last closed, as in a bar backtest of the same data root
(`optbot.analytics.futures_forward.FuturesForward`): the same contract at the same minute is
quoted alike by both. The index's intra-bar path is invented; the future's minute close is a traded
price. Without the future's bars the options follow the replayed index and the fitted carry.

Drive it with `await run(start, end)` (as fast as possible, or at `clock.speed` x real time), or
step it in tests with `advance_to(when)` / `step()`. Reads (`quote`, `candles`) silently catch the
market up if someone else moved the clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optbot.analytics.futures_forward import FuturesForward
from optbot.analytics.synthetic import SyntheticOptionModel, model_for
from optbot.calendar import CalendarRangeError, NseCalendar, Segment, get_calendar
from optbot.config.sections.data import DataSettings
from optbot.config.sections.paths import PathsSettings
from optbot.config.sections.replay import ReplaySettings
from optbot.core.clock import SimClock
from optbot.core.timeutil import IST, ist_date, to_utc
from optbot.data.store import JsonStore, store_symbol
from optbot.sim.contracts import SimQuote
from optbot.sim.market.bars import BarDataError
from optbot.sim.market.candles import INTERVAL_SECONDS, aggregate_ticks, candle_row, interval_seconds
from optbot.sim.market.history import DayPath, HistoryReturns, IndexHistory, StoredFutures
from optbot.sim.market.instruments import (
    INDEX_ROWS,
    UNDERLYINGS,
    VIX_TOKEN,
    OptionContract,
    build_option_contracts,
)
from optbot.sim.market.options import (
    DEPTH_LEVELS,
    MarketState,
    OptionDay,
    opening_open_interest,
    option_quote,
    value_option,
    value_options,
)
from optbot.sim.market.pricing import round_to_tick

log = logging.getLogger(__name__)

VIX_NAME = "INDIA VIX"
INDEX_TOKENS: dict[str, str] = {"NIFTY": "99926000", "BANKNIFTY": "99926009", VIX_NAME: VIX_TOKEN}
INDEX_SYMBOLS: dict[str, str] = {"NIFTY": "Nifty 50", "BANKNIFTY": "Nifty Bank", VIX_NAME: "India VIX"}
SESSION_CLOSE_IST = time(15, 30)
YIELD_EVERY_TICKS = 1  # as-fast-as-possible replays still let sockets drain between ticks
TAIL_STEP_SECONDS = 0.1  # real seconds per clock step after the last tick of a paced replay


@dataclass(slots=True)
class IndexDay:
    """One index's running session state."""

    name: str
    previous_close: float
    week52_high: float
    week52_low: float
    ltp: float
    open: float
    high: float
    low: float
    sequence: int = 0
    moment: datetime | None = None
    started: bool = False

    def apply(self, price: float, moment: datetime) -> None:
        if not self.started:
            self.open = self.high = self.low = price
            self.started = True
        self.ltp = price
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.sequence += 1
        self.moment = moment


class ReplayMarket:
    """Implements `optbot.sim.contracts.MarketView` over historical bars and synthetic options."""

    def __init__(
        self,
        clock: SimClock,
        settings: ReplaySettings | None = None,
        calendar: NseCalendar | None = None,
        histories: dict[str, IndexHistory] | None = None,
        depth_levels: int = DEPTH_LEVELS,
        option_model: SyntheticOptionModel | None = None,
        forward: FuturesForward | None = None,
    ) -> None:
        """`depth_levels`: order-book levels per side on option quotes (5 as the exchange shows; an
        in-process consumer that reads only the best bid/ask asks for 1, which is much cheaper).
        `forward`: where the option model's spot comes from the near future's bars (default: the
        futures stored under `settings.data_dir`, read when a day first asks for them)."""
        if not 1 <= depth_levels <= DEPTH_LEVELS:
            raise ValueError(f"depth_levels must be 1..{DEPTH_LEVELS}, got {depth_levels}")
        self.depth_levels = depth_levels
        self.clock = clock
        self.settings = settings or ReplaySettings()
        self.calendar = calendar or get_calendar()
        self.histories = (
            histories if histories is not None else load_store_histories(self.settings, self.calendar)
        )
        self._listeners: list[Callable[[SimQuote], None]] = []
        self._day: date | None = None
        self._times: NDArray[np.float64] = np.empty(0)
        self._owners: NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._prices: NDArray[np.float64] = np.empty(0)
        self._cursor = 0
        self._index_names: list[str] = list(self.histories)
        self._indices: dict[str, IndexDay] = {}
        self._contracts: dict[str, OptionContract] = {}
        self._contract_day: date | None = None
        self._watched: dict[str, OptionDay] = {}
        self._dormant: dict[str, OptionDay] = {}  # unwatched today; resumed if watched again today
        self._quotes: dict[tuple[str, str], SimQuote] = {}
        self.ticks_applied = 0
        self.listener_errors = 0
        self.option_model = option_model or model_for(None, self.calendar)
        if self.option_model.returns_identity is None:  # the ATM vol follows each index's last week
            self.option_model.use_recent_returns(
                HistoryReturns(self.histories, str(self.settings.data_dir.resolve()))
            )
        self.forward = forward or FuturesForward(
            StoredFutures(open_store(self.settings.data_dir)), self.option_model
        )
        self._running = asyncio.Event()  # cleared: the replay clock holds (`pause`), set: it runs
        self._running.set()

    # -- pausing (the admin API's POST /sim/v1/clock) ------------------------------------------------

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def pause(self) -> None:
        """Hold the replay clock where it is (e.g. until every bot following it has started up)."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    # -- MarketView --------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now_utc()

    def subscribe_quotes(self, callback: Callable[[SimQuote], None]) -> None:
        self._listeners.append(callback)

    def is_market_open(self, exchange: str) -> bool:
        segment = Segment.FO if exchange in ("NFO", "BFO") else Segment.EQUITY
        moment = self.clock.now_utc()
        return self.calendar.covers(ist_date(moment)) and self.calendar.is_open(moment, segment)

    def quote(self, exchange: str, token: str) -> SimQuote | None:
        """Latest quote; asking about an option starts pricing it on every tick from now on."""
        self._sync_to_clock()
        found = self._quotes.get((exchange, token))
        if found is not None:
            return found
        if exchange == "NFO" and token in self._contracts:
            self._watch(token)
            return self._quotes.get((exchange, token))
        return None

    def watch(self, exchange: str, token: str) -> bool:
        """Start streaming an option; False if the token is not in today's master."""
        return self.quote(exchange, token) is not None

    def unwatch(self, exchange: str, token: str) -> bool:
        """Stop pricing an option nobody streams any more; False if it was not being priced. Its
        session statistics (open, range, volume) are kept for the day, so watching it again the same
        day continues them rather than starting a second open."""
        if exchange != "NFO":
            return False
        day = self._watched.pop(token, None)
        self._quotes.pop((exchange, token), None)
        if day is None:
            return False
        self._dormant[token] = day
        return True

    def contracts(self) -> list[OptionContract]:
        self._sync_to_clock()
        return list(self._contracts.values())

    def contract(self, token: str) -> OptionContract | None:
        self._sync_to_clock()
        return self._contracts.get(token)

    def scrip_master_rows(self) -> list[dict[str, Any]]:
        """Index rows (exact excerpt format) plus the day's option contracts (reference §9)."""
        self._sync_to_clock()
        rows = [dict(row) for row in INDEX_ROWS if row["token"] in self._index_tokens()]
        rows.extend(contract.scrip_row() for contract in self._contracts.values())
        return rows

    def candles(
        self, exchange: str, token: str, interval: str, start: datetime, end: datetime
    ) -> list[list[Any]]:
        """getCandleData rows for an index (NSE) or a listed/known option (NFO, synthetic)."""
        bucket = interval_seconds(interval)
        self._sync_to_clock()
        if exchange == "NSE":
            name = self._index_for_token(token)
            if name is None:
                return []
            return [
                candle_row(start_epoch, o, h, lo, c, 0)
                for start_epoch, o, h, lo, c in self._index_candles(name, bucket, to_utc(start), to_utc(end))
            ]
        if exchange == "NFO":
            contract = self._contracts.get(token)
            if contract is None:
                return []
            return self._option_candles(contract, bucket, to_utc(start), to_utc(end))
        return []

    def open_interest_history(
        self, exchange: str, token: str, interval: str, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        """getOIData rows `{time, oi}` for an option, one per candle (synthetic)."""
        bucket = interval_seconds(interval)
        if exchange != "NFO":
            return []
        self._sync_to_clock()
        contract = self._contracts.get(token)
        if contract is None:
            return []
        return [
            {"time": row[0], "oi": open_interest}
            for row, open_interest in self._option_series(contract, bucket, to_utc(start), to_utc(end))
        ]

    # -- driving -----------------------------------------------------------------------------

    async def run(self, start: datetime, end: datetime) -> int:
        """Replay [start, end] on the clock; returns ticks published. Paced by `clock.speed`."""
        start_utc, end_utc = to_utc(start), to_utc(end)
        if start_utc > self.clock.now_utc():
            self.clock.advance_to(start_utc)
        published = self._sync_to_clock()
        while True:
            moment = self._next_tick_moment(end_utc)
            if moment is None:
                break
            if not self._running.is_set():
                await self._running.wait()
            if self.clock.speed:
                await asyncio.sleep((moment - self.clock.now_utc()).total_seconds() / self.clock.speed)
            elif published % YIELD_EVERY_TICKS == 0:
                await asyncio.sleep(0)
            self.clock.advance_to(moment)
            published += self._apply_due(publish=True)
        await self._pace_to(end_utc)
        await asyncio.sleep(0)
        return published

    async def _pace_to(self, end_utc: datetime) -> None:
        """The time after the last tick (the post-market, up to the replay's end) passes at the replay's
        speed too, in short steps: a bot following the clock runs its end of day there, as it would
        in the evening, instead of the clock jumping straight to the next session's morning."""
        speed = self.clock.speed
        while speed and self.clock.now_utc() < end_utc:
            await asyncio.sleep(TAIL_STEP_SECONDS)
            step = timedelta(seconds=TAIL_STEP_SECONDS * speed)
            self.clock.advance_to(min(end_utc, self.clock.now_utc() + step))
        if end_utc > self.clock.now_utc():
            self.clock.advance_to(end_utc)

    def advance_to(self, when: datetime) -> int:
        """Step API: apply and publish every tick up to `when`, moving the clock with them."""
        target = to_utc(when)
        applied = 0
        while True:
            moment = self._next_tick_moment(target)
            if moment is None:
                break
            self.clock.advance_to(moment)
            applied += self._apply_due(publish=True)
        if target > self.clock.now_utc():
            self.clock.advance_to(target)
        self._ensure_day(ist_date(target))
        return applied

    def step(self, horizon: timedelta = timedelta(days=7)) -> datetime | None:
        """Apply the next tick time (all instruments ticking then); None if nothing within `horizon`."""
        moment = self._next_tick_moment(self.clock.now_utc() + horizon)
        if moment is None:
            return None
        self.clock.advance_to(moment)
        self._apply_due(publish=True)
        return moment

    # -- internals: days and ticks -----------------------------------------------------------

    def _index_tokens(self) -> set[str]:
        return {INDEX_TOKENS[name] for name in self.histories}

    def _index_for_token(self, token: str) -> str | None:
        return next((name for name in self.histories if INDEX_TOKENS[name] == token), None)

    def _sync_to_clock(self) -> int:
        """Catch up with a clock someone else advanced (or a timer firing at a tick's instant).

        Ticks that are due are not lost: skipped history is fast-forwarded silently, and the latest
        due instant is published, so listeners see the current state exactly once.
        """
        now = self.clock.now_utc()
        self._ensure_day(ist_date(now))
        epoch = now.timestamp()
        if self._cursor >= self._times.size or self._times[self._cursor] > epoch:
            return 0
        stop = int(np.searchsorted(self._times, epoch, side="right"))
        last_group = int(np.searchsorted(self._times, self._times[stop - 1], side="left"))
        if last_group > self._cursor:
            self._fast_forward(last_group)
        return self._apply_until(epoch, publish=True)

    def _next_tick_moment(self, limit: datetime) -> datetime | None:
        """The next tick time ≤ limit, loading later days as needed.

        Crossing into a later day moves the clock to that day's midnight (IST) so timers due
        overnight fire before the new day's master and paths are loaded.
        """
        self._ensure_day(ist_date(self.clock.now_utc()))
        limit_epoch = limit.timestamp()
        while True:
            if self._cursor < self._times.size:
                moment_epoch = float(self._times[self._cursor])
                if moment_epoch > limit_epoch:
                    return None
                return datetime.fromtimestamp(moment_epoch, tz=UTC)
            assert self._day is not None
            next_day = self._day + timedelta(days=1)
            next_midnight = datetime.combine(next_day, time(0), tzinfo=IST).astimezone(UTC)
            if next_midnight > limit:
                return None
            self.clock.advance_to(max(next_midnight, self.clock.now_utc()))
            self._ensure_day(next_day)

    def _apply_due(self, publish: bool) -> int:
        return self._apply_until(self.clock.now_utc().timestamp(), publish)

    def _apply_until(self, epoch: float, publish: bool) -> int:
        """Apply every tick with time ≤ epoch; group simultaneous ticks; reprice watched options."""
        if self._cursor >= self._times.size or self._times[self._cursor] > epoch:
            return 0
        stop = int(np.searchsorted(self._times, epoch, side="right"))
        if not publish:
            self._fast_forward(stop)
            return 0
        applied = 0
        while self._cursor < stop:
            moment_epoch = self._times[self._cursor]
            group_end = int(np.searchsorted(self._times, moment_epoch, side="right"))
            moment = datetime.fromtimestamp(float(moment_epoch), tz=UTC)
            applied += group_end - self._cursor
            changed: set[str] = set()
            for position in range(self._cursor, group_end):
                name = self._index_names[int(self._owners[position])]
                self._indices[name].apply(float(self._prices[position]), moment)
                changed.add(name)
            self._cursor = group_end
            for name in sorted(changed):
                self._emit(self._index_quote(name))
            self._reprice_options(changed, moment, emit=True)
        self.ticks_applied += applied
        return applied

    def _fast_forward(self, stop: int) -> None:
        """Jump to tick `stop` without publishing: running OHLC from the skipped prefix."""
        for owner, name in enumerate(self._index_names):
            mask = self._owners[self._cursor : stop] == owner
            prices = self._prices[self._cursor : stop][mask]
            if prices.size == 0:
                continue
            times = self._times[self._cursor : stop][mask]
            state = self._indices[name]
            if not state.started:
                state.open = float(prices[0])
                state.high = state.low = state.open
                state.started = True
            state.high = max(state.high, float(prices.max()))
            state.low = min(state.low, float(prices.min()))
            state.ltp = float(prices[-1])
            state.sequence += int(prices.size)
            state.moment = datetime.fromtimestamp(float(times[-1]), tz=UTC)
        self._cursor = stop
        for name in self._indices:
            self._quotes[("NSE", INDEX_TOKENS[name])] = self._index_quote(name)
        self._reprice_options(set(self._index_names), self.clock.now_utc(), emit=False)

    def _ensure_day(self, day: date) -> None:
        if day == self._day:
            return
        self._day = day
        paths: list[tuple[int, DayPath]] = []
        self._indices = {}
        for owner, (name, history) in enumerate(self.histories.items()):
            previous_close = history.previous_close(day)
            path = history.day_path(day) if self.calendar.covers(day) else None
            if previous_close is not None:
                reference = previous_close
            elif path is not None:
                reference = float(path.prices[0])
            else:
                continue
            week52 = history.week52_range(day) or (reference, reference)
            self._indices[name] = IndexDay(
                name, reference, week52[0], week52[1], reference, reference, reference, reference
            )
            if path is not None:
                paths.append((owner, path))
        if paths:
            self._times = np.concatenate([path.times for _, path in paths])
            self._prices = np.concatenate([path.prices for _, path in paths])
            self._owners = np.concatenate(
                [np.full(path.times.size, owner, np.int64) for owner, path in paths]
            )
            order = np.argsort(self._times, kind="stable")
            self._times, self._prices, self._owners = (
                self._times[order],
                self._prices[order],
                self._owners[order],
            )
        else:
            self._times, self._prices = np.empty(0), np.empty(0)
            self._owners = np.empty(0, dtype=np.int64)
        self._cursor = 0
        self._quotes = {("NSE", INDEX_TOKENS[name]): self._index_quote(name) for name in self._indices}
        self._build_contracts(day)
        watched = [token for token in self._watched if token in self._contracts]
        self._watched = {}
        self._dormant = {}
        for token in watched:
            self._watch(token, emit=False)

    def _build_contracts(self, day: date) -> None:
        if not self.calendar.covers(day) or self.calendar.session(day, Segment.FO) is None:
            return  # weekends and holidays keep the last trading day's master
        contracts: dict[str, OptionContract] = {}
        for name, spec in UNDERLYINGS.items():
            state = self._indices.get(name)
            if state is None:
                continue
            for contract in build_option_contracts(
                spec,
                self.calendar,
                day,
                state.previous_close,
                self.settings.weekly_expiries_listed,
                self.settings.monthly_expiries_listed,
                self.settings.strike_inner_band_pct,
                self.settings.strike_outer_band_pct,
            ):
                contracts[contract.token] = contract
        self._contracts = contracts
        self._contract_day = day

    # -- internals: quotes -------------------------------------------------------------------

    def _emit(self, quote: SimQuote) -> None:
        self._quotes[(quote.exchange, quote.token)] = quote
        for listener in self._listeners:
            try:
                listener(quote)
            except Exception:
                # One failing consumer (a socket, the exchange) must not stop the market for the rest.
                self.listener_errors += 1
                log.exception("sim replay: quote listener failed for %s %s", quote.exchange, quote.token)

    def _index_quote(self, name: str) -> SimQuote:
        state = self._indices[name]
        band = self.settings.index_band_fraction
        moment = state.moment or datetime.combine(self._day or date.min, time(0), tzinfo=IST).astimezone(UTC)
        return SimQuote(
            exchange="NSE",
            token=INDEX_TOKENS[name],
            symbol=INDEX_SYMBOLS[name],
            ltp=state.ltp,
            last_quantity=0,
            average_price=0.0,
            volume=0,
            open=state.open,
            high=state.high,
            low=state.low,
            close=state.previous_close,
            open_interest=0,
            upper_circuit=round(state.previous_close * (1 + band), 2),
            lower_circuit=round(state.previous_close * (1 - band), 2),
            week52_high=max(state.week52_high, state.high),
            week52_low=min(state.week52_low, state.low),
            bids=(),
            asks=(),
            exchange_time=moment,
            sequence=state.sequence,
            synthetic=False,
        )

    def _market_state(self, underlying: str, moment: datetime) -> MarketState | None:
        """The option model's inputs now: the spot from the near future's last bar where it has one
        (see the module docstring), else the index's last tick; INDIA VIX's last tick."""
        state = self._indices.get(underlying)
        vix = self._indices.get(VIX_NAME)
        if state is None or vix is None:
            return None
        from_future = self.forward.spot_at(underlying, moment)
        return MarketState(moment, state.ltp if from_future is None else from_future, vix.ltp)

    def _previous_session_state(self, underlying: str) -> MarketState | None:
        state = self._indices.get(underlying)
        vix = self._indices.get(VIX_NAME)
        if state is None or vix is None or self._day is None:
            return None
        try:
            previous = self.calendar.previous_trading_day(self._day, Segment.FO)
        except CalendarRangeError:  # outside the calendar: value at today's date instead
            previous = self._day
        moment = datetime.combine(previous, SESSION_CLOSE_IST, tzinfo=IST).astimezone(UTC)
        return MarketState(moment, state.previous_close, vix.previous_close)

    def _watch(self, token: str, emit: bool = True) -> None:
        contract = self._contracts[token]
        previous = self._previous_session_state(contract.underlying)
        current = self._market_state(contract.underlying, self.clock.now_utc())
        if previous is None or current is None:
            return
        resumed = self._dormant.pop(token, None)
        if resumed is not None:
            self._watched[token] = resumed
            self._reprice_contracts([contract], current, emit)
            return
        before = value_option(contract, previous, self.option_model)
        adverse = replace(
            previous,
            spot=previous.spot
            * (1 + self.settings.option_band_move_fraction * (1 if contract.is_call else -1)),
        )
        band = value_option(contract, adverse, self.option_model)
        self._watched[token] = OptionDay(
            contract=contract,
            previous_close=round_to_tick(before.value, contract.tick_size),
            open_interest_start=opening_open_interest(contract, before.moneyness, before.years),
            band_upper=round_to_tick(band.value, contract.tick_size) + contract.tick_size,
        )
        self._reprice_contracts([contract], current, emit)

    def _reprice_options(self, changed: set[str], moment: datetime, emit: bool) -> None:
        if not self._watched:
            return
        for underlying in UNDERLYINGS:
            if underlying not in changed and VIX_NAME not in changed:
                continue
            contracts = [
                day.contract for day in self._watched.values() if day.contract.underlying == underlying
            ]
            if not contracts:
                continue  # nothing to value: its future's bars are not even read
            state = self._market_state(underlying, moment)
            if state is not None:
                self._reprice_contracts(contracts, state, emit)

    def _reprice_contracts(self, contracts: list[OptionContract], state: MarketState, emit: bool) -> None:
        valuation = value_options(contracts, state, self.option_model)
        for index, contract in enumerate(contracts):
            if contract.expiry < ist_date(state.moment):
                continue
            underlying = self._indices.get(contract.underlying)
            quote = option_quote(
                self._watched[contract.token],
                float(valuation.value[index]),
                float(valuation.moneyness[index]),
                state.moment,
                self.option_model.spread(float(valuation.value[index]), float(valuation.intrinsic[index])),
                trading=underlying is not None and underlying.started,
                depth_levels=self.depth_levels,
            )
            if emit:
                self._emit(quote)
            else:
                self._quotes[("NFO", contract.token)] = quote

    # -- internals: candles ------------------------------------------------------------------

    def _index_candles(
        self, name: str, bucket: int, start: datetime, end: datetime
    ) -> list[tuple[float, float, float, float, float]]:
        history = self.histories[name]
        now = self.clock.now_utc()
        last_day = min(ist_date(end), ist_date(now))
        rows: list[tuple[float, float, float, float, float]] = []
        if bucket == INTERVAL_SECONDS["ONE_DAY"]:
            for day, bar in history.daily.items():
                if ist_date(start) <= day <= last_day and (day < ist_date(now) or self._day_closed(now)):
                    midnight = datetime.combine(day, time(0), tzinfo=IST).timestamp()
                    rows.append((midnight, bar.open, bar.high, bar.low, bar.close))
            return rows
        day = ist_date(start)
        now_epoch, start_epoch, end_epoch = now.timestamp(), start.timestamp(), end.timestamp()
        while day <= last_day:
            path = history.day_path(day) if self.calendar.covers(day) else None
            if path is not None and path.times.size:
                visible = path.times <= now_epoch
                session_open = path.bars[0].start.timestamp()
                for row in aggregate_ticks(path.times[visible], path.prices[visible], session_open, bucket):
                    if start_epoch <= row[0] <= end_epoch:
                        rows.append(row)
            day += timedelta(days=1)
        return rows

    def _day_closed(self, now: datetime) -> bool:
        return to_utc(now).astimezone(IST).time() >= SESSION_CLOSE_IST

    def _option_candles(
        self, contract: OptionContract, bucket: int, start: datetime, end: datetime
    ) -> list[list[Any]]:
        return [row for row, _ in self._option_series(contract, bucket, start, end)]

    def _option_series(
        self, contract: OptionContract, bucket: int, start: datetime, end: datetime
    ) -> list[tuple[list[Any], int]]:
        """Synthetic option candles with OI: the model valued at the O/H/L/C of the near future's bars
        closed within the candle where there are any (see the module docstring), else the index
        candle's."""
        underlying = self._index_candles(contract.underlying, bucket, start, end)
        now = self.clock.now_utc()
        vix_rows = {row[0]: row[4] for row in self._index_candles(VIX_NAME, bucket, start, end)}
        rows: list[tuple[list[Any], int]] = []
        last_vix = self._indices[VIX_NAME].ltp if VIX_NAME in self._indices else 15.0
        for start_epoch, open_, high, low, close in underlying:
            moment = datetime.fromtimestamp(start_epoch, tz=UTC)
            if ist_date(moment) > contract.expiry:
                break
            vix = vix_rows.get(start_epoch, last_vix)
            last_vix = vix
            closed_by = min(moment + timedelta(seconds=bucket), now)
            levels = self.forward.bar_levels(contract.underlying, moment, closed_by)
            spots = np.array(levels or (open_, high, low, close), dtype=np.float64)
            valuation = value_options([contract] * 4, MarketState(moment, 1.0, vix), self.option_model, spots)
            tick = contract.tick_size
            priced = [round_to_tick(float(value), tick) for value in valuation.value]
            salt = sum(contract.token.encode()) + int(start_epoch // bucket)
            volume = contract.lot_size * (salt % 40)
            row = candle_row(start_epoch, priced[0], max(priced), min(priced), priced[3], volume)
            open_interest = opening_open_interest(
                contract, float(valuation.moneyness[3]), float(valuation.years[3])
            )
            rows.append((row, open_interest))
        return rows


def open_store(data_root: Path) -> JsonStore:
    """The JSON store of a data root, for reading (the clock only stamps a quarantined file's name)."""
    return JsonStore(
        PathsSettings(data_root=data_root), DataSettings(), SimClock(datetime(2000, 1, 1, tzinfo=UTC))
    )


def load_store_histories(settings: ReplaySettings, calendar: NseCalendar) -> dict[str, IndexHistory]:
    """NIFTY, BANKNIFTY and INDIA VIX, whichever the data root `settings.data_dir` stores."""
    store = open_store(settings.data_dir)
    held = set(store.symbols())
    histories = {
        name: IndexHistory.from_store(
            name, store, calendar, settings.seed, settings.tick_seconds, settings.path_noise_fraction
        )
        for name in ("NIFTY", "BANKNIFTY", VIX_NAME)
        if store_symbol(name) in held
    }
    if not histories:
        raise BarDataError(
            f"replay.data_dir {str(settings.data_dir)!r} holds no NIFTY, BANKNIFTY or INDIA VIX bars "
            "(point it at a data root with timeframes/<SYMBOL>/<tf>.json, e.g. data/sample/store)"
        )
    return histories
