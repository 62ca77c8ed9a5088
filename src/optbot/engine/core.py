"""The trading engine: one object that joins market data, strategies, risk, orders and the portfolio.

The same `TradingEngine` runs a backtest, a paper session and a live session. Only what feeds it
changes: ticks and bars come in through `on_tick` / `on_bar` (from the SmartAPI socket and the bar
pipeline, or from a replay), broker order reports through `on_order_update`, and time from the
`Clock` it was given. Every session rule (entry window, cancel-pending, flatten, end of day) is a
deadline from the calendar, fired when the engine's clock reaches it, so a replay at any speed obeys
them on replay time.

Intents are processed one at a time in submission order: session gate -> risk engine -> order
manager (persisted, idempotent) -> broker. Positions change only when the order manager applies a
confirmed fill; the engine hears about it on the bus and tells the owning strategy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from optbot.broker.base import Broker
from optbot.broker.models import MarginRequirement, OrderRequest, Quote
from optbot.broker.paper.broker import PaperBroker
from optbot.calendar import NseCalendar, Segment, get_calendar
from optbot.charges import RateCard
from optbot.config import Settings
from optbot.core.bus import EventBus
from optbot.core.clock import Clock
from optbot.core.enums import (
    AlertPriority,
    Exchange,
    OrderStatus,
    OrderType,
    Side,
    Timeframe,
)
from optbot.core.events import (
    BASKET_UNWOUND,
    Alert,
    Bar,
    Event,
    Fill,
    OrderIntent,
    OrderUpdate,
    PositionChanged,
    RiskDecision,
    Signal,
    Tick,
)
from optbot.core.funds import Funds
from optbot.core.ids import new_id
from optbot.core.instrument import Instrument, InstrumentKey
from optbot.core.timeutil import ist_date, to_ist
from optbot.engine.adoption import PositionAdopter
from optbot.engine.market import MarketState
from optbot.engine.schedule import DaySchedule, Phase, build_schedule
from optbot.engine.subscriptions import PricedChain
from optbot.engine.views import EngineContext, PortfolioRiskView
from optbot.execution.basket import Basket, BasketPhase
from optbot.execution.expiry import settle_expiries
from optbot.execution.order_manager import OrderManager
from optbot.execution.reconciliation import Reconciler, ReconciliationReport
from optbot.instruments.expiry_choice import ExpiryUnavailable
from optbot.instruments.master import InstrumentMaster, MasterInfo
from optbot.log import bind_trace
from optbot.persistence.records import working_quantity
from optbot.persistence.retention import apply_audit_retention
from optbot.persistence.store import Store
from optbot.portfolio.portfolio import Portfolio
from optbot.risk import RiskCallbacks, RiskEngine
from optbot.risk.engine import flatten_intent
from optbot.risk.views import PositionSnapshot
from optbot.strategy.base import Strategy
from optbot.strategy.context import LookAheadError
from optbot.strategy.registry import load_strategies
from optbot.strategy.runner import PausedStrategy, StrategyRunner

log = logging.getLogger("optbot.engine")

ENGINE_STRATEGY = "engine"


@dataclass
class EngineCounters:
    ticks: int = 0
    bars: int = 0
    bars_refused: int = 0
    signals: int = 0
    intents: int = 0
    approved: int = 0
    refused: int = 0
    orders_sent: int = 0
    fills: int = 0
    alerts: int = 0
    deadlines: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    ts_utc: datetime
    kind: str
    text: str

    def line(self) -> str:
        return f"{to_ist(self.ts_utc):%Y-%m-%d %H:%M:%S} IST [{self.kind}] {self.text}"


class MarketQuoteSource:
    """The paper broker's `QuoteSource` over the engine's own market view (same ticks, same fills)."""

    def __init__(self, market: MarketState | None) -> None:
        self.market = market

    def quote(self, token: str) -> Quote | None:
        if self.market is None:
            return None
        for instrument in self.market.instruments.find_token(token):
            found = self.market.quote(instrument.exchange, instrument.token)
            if found is not None:
                return found
        return None


#: The start of `trading_blocked` while the startup reconciliation's mismatch is unacknowledged.
STARTUP_MISMATCH_BLOCK = "startup reconciliation mismatch"


class TradingEngine:
    """Strategies -> risk -> orders -> portfolio, on one clock, in any of the three run modes."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        broker: Broker,
        store: Store,
        instruments: InstrumentMaster,
        *,
        bus: EventBus | None = None,
        strategies: Sequence[Strategy] | None = None,
        underlyings: Sequence[str] | None = None,
        calendar: NseCalendar | None = None,
        rate_card: RateCard | None = None,
        starting_capital: float | None = None,
        margin_broker: Broker | None = None,
    ) -> None:
        """`margin_broker`: whose margin calculator prices entries (default `broker`); a paper session
        passes the real SmartAPI client so paper entries are priced as the broker would price them."""
        self.settings = settings
        self.margin_broker = margin_broker or broker
        self.clock = clock
        self.broker = broker
        self.store = store
        self.instruments = instruments
        self.calendar = calendar or get_calendar()
        self.bus = bus or EventBus(synchronous=True)
        self.underlyings = [u.upper() for u in (underlyings or settings.universe.underlyings)]
        self.capital = starting_capital or settings.backtest.initial_capital
        self.counters = EngineCounters()
        self.journal: list[JournalEntry] = []
        self.market = MarketState(settings, clock, self.calendar, instruments)
        self._funds: Funds | None = None
        self.rate_card = rate_card or RateCard.load(settings.execution.charges_rate_card_file)
        self.portfolio = Portfolio(store, clock, self.bus, greeks_provider=self.market.position_greeks)
        self.orders = OrderManager(
            broker,
            store,
            clock,
            settings,
            instruments.get,
            bus=self.bus,
            portfolio=self.portfolio,
            rate_card=self.rate_card,
            session_close=self._session_close,
        )
        self.risk_view = PortfolioRiskView(
            self.portfolio, self.market, self.capital, self._funds_pair, self.store.orders_in_flight
        )
        self.risk = RiskEngine(
            settings,
            clock,
            RiskCallbacks(
                cancel_all=self._risk_cancel_all, flatten=self._queue_intent, publish=self._publish_later
            ),
            portfolio=self.risk_view,
        )
        self.ctx = EngineContext(
            clock,
            account=self.capital,
            submit_sink=self._queue_intent,
            market=self.market,
            risk_source=lambda: (self.risk.state, self.risk.size_multiplier),
            account_source=self.risk_view.account_value,
            signal_sink=self._on_signal,
            basket_sink=self._queue_basket,
            extra_size_multiplier=self._warning_multiplier,
        )
        chosen = list(strategies) if strategies is not None else load_strategies(settings)
        self.runner = StrategyRunner(chosen, self.ctx, on_pause=self._on_strategy_paused)
        self.adopter = PositionAdopter(store, instruments, self.runner, self.note)
        self.reconciler = Reconciler(broker, store, clock, settings, order_manager=self.orders, bus=self.bus)
        self.schedule: DaySchedule | None = None
        self._deadlines: deque[tuple[datetime, str]] = deque()
        self._intents: deque[OrderIntent] = deque()
        #: Each handled intent's own reason (the stored record keeps the order-path status note), for
        #: reports that say why a trade was opened or closed.
        self.intent_reasons: dict[str, str] = {}
        self._later: deque[Event] = deque()
        self._cancel_requests: deque[str] = deque()
        self._baskets: deque[Basket] = deque()
        self._basket_of: dict[str, Basket] = {}  # leg intent id -> its basket
        self._basket_margin: dict[str, float] = {}  # leg intent id -> basket margin per lot
        self._order_cancels: deque[tuple[str, str]] = deque()  # (ordertag, reason)
        self._paper_updates: deque[OrderUpdate] = deque()
        #: ordertag -> trace id of the intent that sent it (today's submissions; the store knows all)
        self._order_traces: dict[str, str] = {}
        self._processing = False
        self._started = False
        self._trading_blocked: str | None = None
        #: Conditions that pause new entries until they clear, by source (e.g. "feed"); exits still go.
        self._entry_pauses: dict[str, str] = {}
        self._warning_until: datetime | None = None
        self._position_keys: set[tuple[Exchange, str]] = {
            (p.exchange, p.token) for p in self.portfolio.open_positions()
        }
        self.paper: PaperBroker | None = None
        self.last_reconciliation: ReconciliationReport | None = None
        self.bus.subscribe("engine", (Fill, PositionChanged, OrderUpdate), self._on_portfolio_event)
        for underlying in self.underlyings:
            self.market.track_underlying(underlying)
        self.market.track_vix()
        for position in self.portfolio.open_positions():
            self._restore_position(position.exchange, position.token, position.net_quantity)

    # ================================================================ wiring
    def connect_paper(self, paper: PaperBroker) -> None:
        """Fill paper orders from this engine's ticks and feed their reports back as socket updates."""
        self.paper = paper
        paper.subscribe(lambda row: self._paper_updates.append(PaperBroker.order_update(row)))

    def _session_close(self, day: date) -> datetime | None:
        if not self.calendar.covers(day):
            return None
        session = self.calendar.session(day, Segment.FO)
        return session.close_utc if session is not None else None

    def _funds_pair(self) -> tuple[float, float] | None:
        if self._funds is None:
            return None
        return self._funds.utilised_margin, self._funds.available_cash

    async def refresh_funds(self) -> Funds | None:
        try:
            self._funds = await self.broker.funds()
        except Exception as exc:  # funds are advisory for risk; a failed read keeps the last one
            log.warning("funds refresh failed: %s", type(exc).__name__)
        return self._funds

    # ================================================================ journal
    def note(self, kind: str, text: str) -> None:
        entry = JournalEntry(self.clock.now_utc(), kind, text)
        self.journal.append(entry)
        log.info("engine_%s: %s", kind, text)

    async def alert(self, priority: AlertPriority, title: str, message: str, **details: str) -> None:
        self.counters.alerts += 1
        self.note("alert", f"{priority.value}: {title}: {message}")
        await self.bus.publish(Alert(self.clock.now_utc(), priority, title, message, **details))

    def _publish_later(self, event: Event) -> None:
        self._later.append(event)

    async def _flush_later(self) -> None:
        while self._later:
            await self.bus.publish(self._later.popleft())

    # ================================================================ lifecycle
    async def start(self, day: date | None = None) -> DaySchedule:
        """Recover orders, reconcile with the broker, arm today's deadlines and start the strategies."""
        today = day or ist_date(self.clock.now_utc())
        await self.recover()
        self.begin_day(today)
        if not self._started:
            self.runner.start()
            self._started = True
            for position in self.portfolio.open_positions():  # a restart: their strategies take them back
                self.adopter.offer(position.exchange, position.token, position.net_quantity, at_start=True)
        await self._process_intents()
        return self.schedule or build_schedule(self.calendar, today, self.settings.session)

    async def recover(self) -> None:
        report = await self.orders.recover()
        if report.in_flight:
            self.note(
                "recovery",
                f"{report.in_flight} order(s) in flight at start: {report.adopted} adopted from the broker, "
                f"{report.settled_not_found} never reached it, {report.still_unresolved} still unresolved, "
                f"{report.fills_applied} fill(s) applied",
            )
        reconciliation = await self.reconciler.run("startup")
        self.last_reconciliation = reconciliation
        await self.refresh_funds()
        if reconciliation.clean and self.reconciler.trading_allowed():
            self.note("reconcile", "startup reconciliation clean")
            self._trading_blocked = None
            return
        diff = (
            "; ".join(str(item) for item in reconciliation.discrepancies)
            or "earlier mismatch not acknowledged"
        )
        self._trading_blocked = f"{STARTUP_MISMATCH_BLOCK}: {diff}"
        await self.alert(
            AlertPriority.CRITICAL,
            "Reconciliation mismatch: trading paused",
            diff,
            action_required=f"inspect the diff, fix the books, then run `{self.acknowledge_command()}`",
            impact="no new entries until acknowledged (the session's next health check sees it); "
            "exits still allowed",
        )

    def acknowledge_command(self) -> str:
        """The command that acknowledges this session's recorded mismatches: a paper session's are in
        the paper journal."""
        mode = " --mode paper" if isinstance(self.broker, PaperBroker) else ""
        return f"optbot reconcile{mode} --ack"

    def lift_acknowledged_block(self) -> bool:
        """Entries blocked by the startup reconciliation resume once every recorded mismatch has been
        acknowledged (`optbot reconcile --ack` from another shell writes the journal): True when lifted."""
        blocked = self._trading_blocked
        if not blocked or not blocked.startswith(STARTUP_MISMATCH_BLOCK):
            return False
        if not self.reconciler.trading_allowed():
            return False
        self._trading_blocked = None
        self.note("resumed", "reconciliation mismatch acknowledged: new entries allowed again")
        return True

    def begin_day(self, day: date) -> DaySchedule:
        """Build the day's schedule from the calendar and arm the deadlines still ahead."""
        if self.schedule is not None and self.schedule.day == day:
            return self.schedule
        schedule = build_schedule(self.calendar, day, self.settings.session)
        self.schedule = schedule
        now = self.clock.now_utc()
        self._deadlines = deque((when, name) for when, name in schedule.deadlines() if when > now)
        session = schedule.session
        missed_flatten = schedule.flatten_at is not None and schedule.flatten_at <= now
        if session is not None and missed_flatten and now < session.close_utc:
            self._deadlines.appendleft((now, "flatten"))  # started (or restarted) after the flatten time
        if schedule.session is None:
            self.note("session", f"{day} is not a trading day: data-management mode")
        else:
            session = schedule.session
            self.note(
                "session",
                f"{day} session {to_ist(session.open_utc):%H:%M}-{to_ist(session.close_utc):%H:%M} IST"
                + (f" ({session.special})" if getattr(session, "special", None) else ""),
            )
        return schedule

    def refresh_instruments(self, instruments: Iterable[Instrument], info: MasterInfo, today: date) -> int:
        """A newer instrument master for an engine that outlives a day (replays and backtests; a live
        session starts each day with its own download). Updated in place, so the order manager, the
        paper broker and the market state see the new contracts; what was kept about contracts that
        expired (last ticks, bar history, cached chains) is dropped. Returns the contracts that left."""
        expired = self.instruments.refresh(instruments, info, today)
        self.market.forget(expired)
        self.ctx.forget_symbols(instrument.symbol for instrument in expired)
        return len(expired)

    def position_keys(self) -> list[tuple[Exchange, str]]:
        """(exchange, token) of every open position, in order (a bar-driven run marks these)."""
        return sorted(self._position_keys)

    def pending_deadlines(self) -> list[tuple[datetime, str]]:
        return list(self._deadlines)

    def next_deadline(self) -> datetime | None:
        """When the next session deadline falls (None: none left today); a bar-driven run asks at
        every bar, so this copies nothing."""
        deadlines = self._deadlines
        return deadlines[0][0] if deadlines else None

    def has_open_positions(self) -> bool:
        return bool(self._position_keys)

    def phase(self) -> Phase:
        if self.schedule is None:
            return Phase.NON_TRADING_DAY
        return self.schedule.phase_at(self.clock.now_utc())

    async def fire_due_deadlines(self) -> None:
        now = self.clock.now_utc()
        if not self._deadlines and self.schedule is not None:  # the IST date only once the day is done
            today = ist_date(now)
            if today != self.schedule.day:
                self.begin_day(today)
        while self._deadlines and self._deadlines[0][0] <= now:
            _, name = self._deadlines.popleft()
            await self.on_deadline(name)

    async def run_schedule(self, stop: asyncio.Event) -> None:
        """Sleep on the clock to each deadline (live, paper and sim-clock runs without ticks)."""
        while not stop.is_set():
            if not self._deadlines:
                await self.clock.sleep(60)
                await self.fire_due_deadlines()
                continue
            await self.clock.sleep_until(self._deadlines[0][0])
            await self.fire_due_deadlines()

    async def on_deadline(self, name: str) -> None:
        self.counters.deadlines.append(name)
        self.note("deadline", name.replace("_", " "))
        if name == "no_new_entries":
            self.runner.on_timer("no_new_entries")
        elif name == "flatten" and self.settings.engine.flatten_intraday_at_close:
            await self.flatten_intraday("flatten time: intraday positions closed before the close")
        elif name == "cancel_pending":
            cancelled = await self.orders.cancel_all("session close approaching: pending orders cancelled")
            self.note("orders", f"{cancelled} pending order(s) cancelled before the close")
            if self.settings.engine.flatten_intraday_at_close:
                await self.flatten_intraday("last flatten attempt before the close")
        elif name == "close":
            self.runner.on_timer("close")
        await self._process_intents()

    # ================================================================ inputs
    async def on_tick(self, tick: Tick) -> None:
        """A feed's tick (live, paper, a tick replay): the instrument's last price, then the strategies
        that want ticks."""
        # Only the next deadline can be due (they are in time order); with none left, the day may roll.
        deadlines = self._deadlines
        if not deadlines or deadlines[0][0] <= self.clock.now_utc():
            await self.fire_due_deadlines()
        self.counters.ticks += 1
        exchange, token = tick.exchange, tick.token
        self._observe_last_price(
            self.market.on_tick(tick), exchange, token, tick.symbol, tick.ts_utc, tick.ltp
        )
        held = self._position_keys
        if held and (exchange, token) in held:
            await self.portfolio.on_tick(tick)
        self.runner.on_tick(tick)
        rest = self._after_last_price(token)
        if rest is not None:
            await rest

    async def on_bar_close(self, bar: Bar, exchange: Exchange) -> None:
        """A bar-driven market source's price event (a backtest: bars are the events): the bar's close
        is the instrument's last price at the bar's close, and the market view, the order manager, risk
        and the venue see it exactly as they see a feed tick's price (`on_tick`, the same code after the
        price is taken). No tick is built unless something needs one: a position held in the
        instrument is marked, and strategies that want ticks get the price as a tick, as a feed would
        give them. The bar itself reaches the strategies through `on_bar`."""
        rest = self.take_bar_close(bar, exchange)
        if rest is not None:
            await rest

    def take_bar_close(self, bar: Bar, exchange: Exchange) -> Coroutine[Any, Any, None] | None:
        """`on_bar_close` without a coroutine when nothing has to be awaited (see `take_bar`)."""
        deadlines = self._deadlines
        if not deadlines or deadlines[0][0] <= self.clock.now_utc():
            return self._bar_close_after_deadlines(bar, exchange)
        return self._bar_close_in(bar, exchange)

    async def _bar_close_after_deadlines(self, bar: Bar, exchange: Exchange) -> None:
        await self.fire_due_deadlines()
        rest = self._bar_close_in(bar, exchange)
        if rest is not None:
            await rest

    def _bar_close_in(self, bar: Bar, exchange: Exchange) -> Coroutine[Any, Any, None] | None:
        token = bar.token
        self._observe_last_price(
            self.market.on_bar_close(bar, exchange), exchange, token, bar.symbol, bar.end_utc, bar.close
        )
        held = self._position_keys
        if (held and (exchange, token) in held) or self.runner.wants_ticks:
            return self._bar_close_as_tick(exchange, token)
        return self._after_last_price(token)

    async def _bar_close_as_tick(self, exchange: Exchange, token: str) -> None:
        """The price as the tick a feed would have carried, for a position held in the instrument and
        the strategies that want ticks (as `on_tick` gives them theirs)."""
        tick = self.market.last_tick(exchange, token)
        if tick is not None:
            if (exchange, token) in self._position_keys:
                await self.portfolio.on_tick(tick)
            self.runner.on_tick(tick)
        rest = self._after_last_price(token)
        if rest is not None:
            await rest

    def _observe_last_price(
        self,
        underlying: str | None,
        exchange: Exchange,
        token: str,
        symbol: str,
        when: datetime,
        price: float,
    ) -> None:
        """An instrument's new last price (taken by the market view), for the order manager (the
        underlyings' and VIX's levels) and risk's price windows."""
        if underlying is not None:
            self.orders.observe_underlying(underlying, price)
        elif self.market.is_vix_token(exchange, token):
            self.orders.observe_vix(price)
        self.risk.on_price(symbol, when, price)

    def _after_last_price(self, token: str) -> Coroutine[Any, Any, None] | None:
        """The venue's resting orders on the token meet its new price, then what risk queued: the
        coroutine doing it, None when there is nothing to do."""
        if (self.paper is not None and self.paper.match_token(token)) or self._paper_updates:
            return self._pump_then_process()
        if self._has_queued_work():
            return self._process_intents()
        return None

    def _has_queued_work(self) -> bool:
        """Whether `_process_intents` has anything to do: intents, baskets, cancels or events risk
        queued; most bars and ticks leave none, and then no coroutine is made for it."""
        return bool(
            self._intents or self._baskets or self._cancel_requests or self._order_cancels or self._later
        )

    async def _pump_then_process(self) -> None:
        await self.pump_paper()
        if self._has_queued_work():
            await self._process_intents()

    async def on_bar(self, bar: Bar) -> None:
        """A closed bar: deadlines due first, then the strategies' history, risk, the strategies, and
        the intents they made (`take_bar`, awaited)."""
        rest = self.take_bar(bar)
        if rest is not None:
            await rest

    def take_bar(self, bar: Bar) -> Coroutine[Any, Any, None] | None:
        """`on_bar` without a coroutine when nothing has to be awaited (no deadline due, no event to
        publish, no intent made: most bars): None when the bar is fully handled, else the coroutine
        that finishes it, which the caller awaits before its next input. A bar-driven run calls this
        per bar; `on_bar` is the same code."""
        deadlines = self._deadlines
        if not deadlines or deadlines[0][0] <= self.clock.now_utc():
            return self._bar_after_deadlines(bar)
        return self._bar_in(bar)

    async def _bar_after_deadlines(self, bar: Bar) -> None:
        await self.fire_due_deadlines()
        rest = self._bar_in(bar)
        if rest is not None:
            await rest

    def _bar_in(self, bar: Bar) -> Coroutine[Any, Any, None] | None:
        try:
            self.ctx.add_bar(bar)
        except (LookAheadError, ValueError) as exc:
            self.counters.bars_refused += 1
            log.warning("bar refused: %s", exc)
            return None
        self.counters.bars += 1
        self.risk.on_bar(bar)
        if self._later:
            return self._bar_to_strategies(bar)
        self.runner.on_bar(bar)
        if self._has_queued_work():
            return self._process_intents()
        return None

    async def _bar_to_strategies(self, bar: Bar) -> None:
        """What risk published first (a state change), then the strategies and their intents."""
        await self._flush_later()
        self.runner.on_bar(bar)
        if self._has_queued_work():
            await self._process_intents()

    async def on_order_update(self, update: OrderUpdate) -> None:
        with bind_trace(self._trace_of_order(update.ordertag)):
            await self.orders.on_order_update(update)
            filled = update.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED)
            if update.filled_quantity > 0 and filled:
                await self.orders.sync_fills()
                await self.refresh_funds()  # margin used/available follow every fill
        await self._process_intents()

    def _trace_of_order(self, ordertag: str) -> str:
        """The trace id of the intent behind a broker report, so its fill logs join the same trace:
        known from the intent's submission for the orders it sent today, else read from the store
        (an order another process or an earlier day sent, or one the order manager sent again)."""
        known = self._order_traces.get(ordertag)
        if known is not None:
            return known
        order = self.store.get_order(ordertag) if ordertag else None
        intent = self.store.find_intent(order.intent_id) if order is not None else None
        return intent.trace_id if intent is not None and intent.trace_id else ""

    async def pump_paper(self) -> None:
        """Apply the paper broker's order reports, then its trade book (fills) exactly once each."""
        fills_due = False
        while self._paper_updates:
            update = self._paper_updates.popleft()
            with bind_trace(self._trace_of_order(update.ordertag)):
                await self.orders.on_order_update(update)
            fills_due = fills_due or update.filled_quantity > 0
        if fills_due:
            await self.orders.sync_fills()
            await self.refresh_funds()

    def _on_signal(self, signal: Signal) -> None:
        self.counters.signals += 1
        self.orders.record_signal(signal)
        self._later.append(signal)

    # ================================================================ intents
    def _queue_intent(self, intent: OrderIntent) -> None:
        self._intents.append(intent)

    def _risk_cancel_all(self, reason: str) -> None:
        self._cancel_requests.append(reason)

    async def _process_intents(self) -> None:
        if self._processing:
            return
        self._processing = True
        try:
            await self._flush_later()
            while self._cancel_requests or self._intents or self._baskets or self._order_cancels:
                while self._cancel_requests:
                    reason = self._cancel_requests.popleft()
                    cancelled = await self.orders.cancel_all(reason)
                    self.note("orders", f"risk cancelled {cancelled} pending order(s): {reason}")
                while self._order_cancels:
                    ordertag, reason = self._order_cancels.popleft()
                    await self.orders.cancel(ordertag, reason)
                if self._baskets:
                    await self._start_basket(self._baskets.popleft())
                elif self._intents:
                    await self._handle_intent(self._intents.popleft())
                await self._flush_later()
        finally:
            self._processing = False

    def _session_block(self, intent: OrderIntent) -> str | None:
        """Why a risk-increasing intent may not be sent now (session phase, reconciliation, kill)."""
        if intent.purpose.reduces_risk:
            return None
        if self._trading_blocked:
            return self._trading_blocked
        paused = next(iter(self._entry_pauses.values()), None)
        if paused is not None:
            return paused
        phase = self.phase()
        if phase is not Phase.TRADING:
            return f"session phase {phase.value}: no new entries"
        return None

    async def _handle_intent(self, intent: OrderIntent) -> None:
        trace = self.ctx.trace_for(intent) or new_id()
        if intent.trace_id != trace:
            intent = replace(intent, trace_id=trace)
        with bind_trace(trace):
            self.counters.intents += 1
            self.intent_reasons[intent.intent_id] = intent.reason
            blocked = self._session_block(intent)
            if blocked is not None:
                decision = RiskDecision(
                    self.clock.now_utc(), intent.intent_id, False, (blocked,), 0, self.risk.state, trace
                )
            else:
                margin = self._basket_margin.pop(intent.intent_id, None)
                if margin is None and not intent.purpose.reduces_risk:
                    margin = await self.entry_margin_per_lot(intent)
                decision = self.risk.evaluate(intent, self.risk_view, self.market, margin_per_lot=margin)
                if decision.trace_id != trace:
                    decision = replace(decision, trace_id=trace)
                basket = self._basket_of.get(intent.intent_id)
                if basket is not None and decision.approved and decision.approved_quantity < intent.quantity:
                    shortfall = f"risk approved only {decision.approved_quantity} of {intent.quantity}"
                    decision = replace(
                        decision, approved=False, approved_quantity=0, reasons=(shortfall, *decision.reasons)
                    )
            await self.bus.publish(decision)
            quote = self.market.quote(intent.exchange, intent.token)
            result = await self.orders.submit(intent, quote, decision)
            what = (
                f"{intent.strategy} {intent.side.value} {intent.quantity} {intent.symbol} "
                f"({intent.purpose.value})"
            )
            if result.accepted:
                self.counters.approved += 1
                self.counters.orders_sent += len(result.ordertags)
                for ordertag in result.ordertags:  # stored with this intent, whose trace id is `trace`
                    self._order_traces[ordertag] = trace
                self.note("order", f"{what} sent as {', '.join(result.ordertags)}")
                if intent.purpose.reduces_risk and decision.approved_quantity < intent.quantity:
                    self._exit_capped(intent, decision)
                return
            if result.duplicate:
                self.note("order", f"{what} not sent again: {'; '.join(result.reasons)}")
                return
            self.counters.refused += 1
            self.note("refused", f"{what}: {'; '.join(result.reasons)}")
            basket = self._basket_of.get(intent.intent_id)
            if basket is not None and intent.intent_id in basket.legs:
                self._basket_leg_ended(basket, intent.intent_id, "; ".join(result.reasons))
            elif intent.strategy in {strategy.name for strategy in self.runner.strategies}:
                self.runner.on_reject(intent, result.reasons)

    def _exit_capped(self, intent: OrderIntent, decision: RiskDecision) -> None:
        """Risk sent only part of an exit (another working exit closes the rest, or less is held): the
        owning strategy is told, so it does not count the unsent rest as exiting."""
        if intent.strategy in {strategy.name for strategy in self.runner.strategies}:
            self.runner.on_exit_capped(intent, decision.approved_quantity, decision.reasons)

    # ================================================================ baskets
    def _queue_basket(self, intents: Sequence[OrderIntent], label: str) -> None:
        self._baskets.append(Basket(label, list(intents)))

    async def _start_basket(self, basket: Basket) -> None:
        """Margin for the whole basket first, then the hedge wave (see optbot.execution.basket)."""
        legs = ", ".join(f"{i.side.value} {i.quantity} {i.symbol}" for i in basket.intents)
        block = next((b for b in (self._session_block(i) for i in basket.intents) if b), None)
        if block is not None:
            self._refuse_basket(basket, block)
            return
        await self.refresh_funds()
        requirement = await self.basket_margin(basket.intents)
        if requirement is None:
            self._refuse_basket(basket, "margin calculator did not answer: basket not sent")
            return
        room, cap_pct = self.risk.margin_room(self.risk_view)
        if requirement.total > room:
            self._refuse_basket(
                basket,
                f"basket margin {requirement.total:,.0f} > room {room:,.0f} under the {cap_pct:.1f}% "
                "utilisation cap: no leg sent",
            )
            return
        lots = 0
        for intent in basket.intents:
            lot = self.market.lot_size(intent.token) or 1
            lots += intent.quantity // lot
        for intent in basket.intents:
            self._basket_of[intent.intent_id] = basket
            self._basket_margin[intent.intent_id] = requirement.total / max(lots, 1)
            self.orders.chase_entry(intent.intent_id)
        self.note(
            "basket",
            f"{basket.label}: {legs}; margin {requirement.total:,.0f} (SPAN {requirement.span:,.0f}, "
            f"exposure {requirement.exposure:,.0f}, premium {requirement.premium:,.0f}) within room "
            f"{room:,.0f}; bought legs first",
        )
        self._intents.extend(basket.to_send())

    def _refuse_basket(self, basket: Basket, reason: str) -> None:
        basket.refuse(reason)
        self.counters.refused += len(basket.intents)
        self.note("basket", f"{basket.label} refused: {reason}")
        for intent in basket.intents:
            self.runner.on_reject(intent, (reason,))

    def _basket_leg_ended(self, basket: Basket, intent_id: str, why: str) -> None:
        """A leg's orders are final (refused, rejected, cancelled): fail the basket or, if it is
        already unwinding, send what that frees (the hedges' closing orders)."""
        was_unwinding = basket.phase is BasketPhase.UNWINDING
        follow_up = basket.on_leg_ended(intent_id, why, self.clock.now_utc())
        if was_unwinding:
            self._next_wave(basket, follow_up)
        else:
            self._fail_basket(basket, follow_up)

    def _fail_basket(self, basket: Basket, closing: list[OrderIntent]) -> None:
        """Cancel the legs still working, close what filled, and tell the strategy every leg is gone."""
        if basket.phase is not BasketPhase.UNWINDING:
            return
        for intent_id in basket.working():
            for order in self.store.orders_for_intent(intent_id):
                if not order.status.is_terminal:
                    self._order_cancels.append((order.ordertag, f"{BASKET_UNWOUND}: {basket.failure}"))
        closed = ", ".join(f"{i.side.value} {i.quantity} {i.symbol}" for i in closing) or "nothing yet"
        self.note(
            "basket",
            f"{basket.label} {BASKET_UNWOUND}: {basket.failure}; closing now: {closed} "
            "(hedges are sold only after every written leg is bought back)",
        )
        for intent in closing:
            self._basket_of[intent.intent_id] = basket
        self._intents.extend(closing)
        for intent in basket.intents:  # the legs stay mapped: a late fill of one is closed too
            self._basket_margin.pop(intent.intent_id, None)
            self.runner.on_reject(intent, (f"{BASKET_UNWOUND}: {basket.failure}",))

    async def basket_margin(self, intents: Sequence[OrderIntent]) -> MarginRequirement | None:
        """The broker's margin calculator for these intents taken together (hedge benefit included),
        over the current book; None (noted in the journal) when the broker cannot answer."""
        requests = []
        for intent in intents:
            price = intent.limit_price or self.market.last_price(intent.token) or 0.0
            requests.append(
                OrderRequest(
                    exchange=intent.exchange,
                    token=intent.token,
                    symbol=intent.symbol,
                    side=intent.side,
                    quantity=intent.quantity,
                    order_type=OrderType.LIMIT,
                    product=intent.product,
                    ordertag="",
                    price=price,
                )
            )
        try:
            return await self.margin_broker.margin_required(requests)
        except Exception as exc:  # an unanswered margin query leaves the margin unknown: risk refuses sells
            self.note("margin", f"margin calculator failed ({type(exc).__name__}: {exc})")
            return None

    async def entry_margin_per_lot(self, intent: OrderIntent) -> float | None:
        """Fresh funds and the broker's margin for one entry, per lot, asked before risk sees it."""
        await self.refresh_funds()
        lot = self.market.lot_size(intent.token)
        if not lot or intent.quantity <= 0 or intent.quantity % lot:
            return None
        requirement = await self.basket_margin([intent])
        return None if requirement is None else requirement.total / (intent.quantity // lot)

    # ================================================================ fills and positions
    def _on_portfolio_event(self, event: Event) -> None:
        """Fills, settled orders and position changes, handled inline: a plain function (it awaits
        nothing), so the bus calls it without building a coroutine for every event. A position change
        is published on every mark of a held contract, so it is tested first."""
        if isinstance(event, PositionChanged):
            instrument = self.market.instrument_for_token(event.token)
            exchange = instrument.exchange if instrument is not None else Exchange.NFO
            self._restore_position(exchange, event.token, event.net_quantity, event.average_price)
        elif isinstance(event, Fill):
            self.counters.fills += 1
            intent = self.store.find_intent(event.intent_id) if event.intent_id else None
            owner = intent.strategy if intent is not None else ""
            with bind_trace(intent.trace_id if intent is not None else ""):
                self._fill_noted(event, owner)
            basket = self._basket_of.get(event.intent_id) if event.intent_id else None
            if basket is not None:
                self._next_wave(basket, basket.on_fill(event.intent_id, event.quantity, self.clock.now_utc()))
            if owner:
                self.runner.on_fill(event, owner)
        elif isinstance(event, OrderUpdate) and event.intent_id:
            self._on_order_settled(event)

    def _fill_noted(self, event: Fill, owner: str) -> None:
        self.note(
            "fill",
            f"{event.side.value} {event.quantity} {event.symbol} @ {event.price:.2f} ({owner or 'unknown'})",
        )

    def _next_wave(self, basket: Basket, intents: list[OrderIntent]) -> None:
        if intents and basket.phase is BasketPhase.UNWINDING:
            late = ", ".join(f"{i.side.value} {i.quantity} {i.symbol}" for i in intents)
            self.note("basket", f"{basket.label} unwinding: closing {late}")
            for intent in intents:
                self._basket_of[intent.intent_id] = basket
            self._intents.extend(intents)
            return
        if intents:
            self.note("basket", f"{basket.label}: hedges filled, sending the written legs")
            self._intents.extend(intents)
        if basket.phase is BasketPhase.COMPLETE:
            self.note("basket", f"{basket.label}: every leg filled")
            for intent in basket.intents:
                self._basket_of.pop(intent.intent_id, None)

    def _on_order_settled(self, update: OrderUpdate) -> None:
        """An intent whose orders all ended with nothing filled is a refusal its strategy must hear of."""
        if update.status not in (OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED):
            return
        self.note("order", f"{update.symbol} {update.ordertag} {update.status.value}: {update.message}")
        if self.orders.exit_retry_pending(update.intent_id):
            self.note("order", f"exit {update.ordertag} will be sent again (the position is still open)")
            return
        orders = self.store.orders_for_intent(update.intent_id)
        if not orders or not all(order.status.is_terminal for order in orders):
            return
        basket = self._basket_of.get(update.intent_id)
        if basket is not None and update.intent_id in basket.legs:
            details = [event.detail for event in self.store.order_events(update.ordertag) if event.detail]
            message = update.message or (details[-1] if details else "no reason")
            self._basket_leg_ended(basket, update.intent_id, f"order {update.status.value}: {message}")
            return
        if any(order.filled_quantity > 0 for order in orders):
            return
        record = self.store.find_intent(update.intent_id)
        if record is None or record.strategy not in {strategy.name for strategy in self.runner.strategies}:
            return
        intent = OrderIntent(
            ts_utc=record.created_utc,
            intent_id=record.intent_id,
            strategy=record.strategy,
            token=record.token,
            exchange=record.exchange,
            symbol=record.symbol,
            side=record.side,
            quantity=record.quantity,
            purpose=record.purpose,
            order_type=record.order_type,
            product=record.product,
            limit_price=record.limit_price,
            underlying=record.underlying,
            trace_id=record.trace_id,
        )
        self.runner.on_reject(intent, (f"order {update.status.value}: {update.message}",))

    def _restore_position(
        self, exchange: Exchange, token: str, net_quantity: int, average_price: float | None = None
    ) -> None:
        """Mirror a position into the strategies' context (every PositionChanged, i.e. every mark)."""
        key = (exchange, token)
        if net_quantity == 0:
            self._position_keys.discard(key)
            self.adopter.flat(exchange, token)
        elif key not in self._position_keys:
            self._position_keys.add(key)
            if self._started:  # e.g. an entry sent before a restart filled after it
                self.adopter.offer(exchange, token, net_quantity, at_start=False)
        instrument = self.instruments.get(exchange, token)
        mark = self.portfolio.mark(exchange, token)
        if mark is None:
            if average_price is None:
                record = self.store.position(exchange, token)
                average_price = record.average_price if record is not None else 0.0
            mark = average_price
        self.ctx.set_position(
            PositionSnapshot(
                token,
                exchange,
                instrument.symbol if instrument is not None else token,
                instrument.underlying if instrument is not None else token,
                net_quantity,
                mark,
            )
        )

    def _working_exit_quantity(self, exchange: Exchange, token: str, side: Side) -> int:
        return working_quantity(self.store.orders_in_flight(), token, side, exchange)

    async def flatten_intraday(self, reason: str) -> int:
        """Close every open position not already being closed by a working order; returns intents made."""
        self.runner.on_timer("flatten")
        await self._process_intents()
        made = self._queue_flatten(self.risk_view.open_positions(), reason)
        if made:
            self.note("flatten", f"{made} position(s) flattened: {reason}")
        await self._process_intents()
        return made

    async def exit_position(self, exchange: Exchange, token: str, reason: str) -> bool:
        """Close one open position (an operator's `exit`); False when it is flat or already closing."""
        chosen = [p for p in self.risk_view.open_positions() if p.exchange is exchange and p.token == token]
        made = self._queue_flatten(chosen, reason)
        if made:
            self.note("exit", f"{chosen[0].symbol} closing: {reason}")
        await self._process_intents()
        return made > 0

    def _queue_flatten(self, positions: Iterable[PositionSnapshot], reason: str) -> int:
        """Queue a closing intent for each position not already being closed by a working order."""
        made = 0
        for position in positions:
            side = Side.SELL if position.net_quantity > 0 else Side.BUY
            remaining = abs(position.net_quantity) - self._working_exit_quantity(
                position.exchange, position.token, side
            )
            if remaining <= 0:
                continue
            now = self.clock.now_utc()
            self._queue_intent(
                flatten_intent(position, reason, now, strategy=ENGINE_STRATEGY, quantity=remaining)
            )
            made += 1
        return made

    # ================================================================ periodic work
    async def verify_orders(self) -> None:
        """One verification pass (details / order book / trade book) and the auto-cancel rules."""
        await self.orders.poll_once()
        actions = await self.orders.check_auto_cancel()
        if actions.tags:
            self.note("orders", actions.describe())
        await self._process_intents()

    async def reconcile(self, kind: str) -> ReconciliationReport:
        report = await self.reconciler.run(kind)  # type: ignore[arg-type]
        self.last_reconciliation = report
        await self.refresh_funds()
        if report.clean:
            self.note("reconcile", f"{kind} reconciliation clean")
        else:
            diff = "; ".join(str(item) for item in report.discrepancies)
            await self.alert(
                AlertPriority.CRITICAL,
                f"{kind} reconciliation mismatch",
                diff,
                action_required=f"inspect and acknowledge with `{self.acknowledge_command()}`",
            )
        return report

    async def end_of_day(self) -> ReconciliationReport:
        """Post-market: nothing pending, EOD reconciliation. Reports are written by the session runner."""
        await self.orders.cancel_all("end of day")
        await self.pump_paper()
        await self.orders.poll_once()
        day = ist_date(self.clock.now_utc())
        await self.settle_expiries(day)
        report = await self.reconcile("eod")
        net = self.portfolio.daily_pnl(day)
        self.note("eod", f"day closed: net realised P&L {net:,.2f} after charges")
        self._order_traces.clear()  # a later report of an earlier day's order reads the store
        retention = apply_audit_retention(self.store, self.clock, self.settings)
        if retention.rows_archived:
            self.note(
                "retention", f"{retention.rows_archived} audit row(s) archived to {retention.archive_path}"
            )
        return report

    def _underlying_close(self, underlying: str, day: date) -> float | None:
        """That day's closing price: today's last traded value after the close, else the daily bar."""
        today = ist_date(self.clock.now_utc())
        session = self.market.session()
        if day == today and session is not None and self.clock.now_utc() >= session.close_utc:
            return self.market.underlying_price(underlying)
        for bar in self.ctx.bars(underlying.upper(), Timeframe.D1, 30):
            if ist_date(bar.start_utc) == day:
                return bar.close
        return None

    async def settle_expiries(self, day: date) -> int:
        """Options held through expiry close at intrinsic value against the underlying's close (§7.1)."""
        results = settle_expiries(
            self.store, day, self._underlying_close, self.rate_card, self.clock, self.instruments.get
        )
        settled = 0
        for result in results:
            if result.position is None:
                self.note("expiry", f"{result.symbol}: {result.outcome.value} (not settled; see anomalies)")
                continue
            settled += 1
            self.note(
                "expiry",
                f"{result.symbol} {result.outcome.value}: {result.net_quantity_before} at intrinsic "
                f"{result.intrinsic_value:.2f} (underlying close {result.underlying_close}), "
                f"exercise STT {result.exercise_stt:.2f}",
            )
            await self.portfolio.committed(result.position)
        return settled

    async def stop(self) -> None:
        """Graceful stop: no new orders, strategies told, positions left as configured."""
        self._trading_blocked = "engine stopping"
        if not self.settings.engine.leave_positions_on_shutdown:
            await self.flatten_intraday("shutdown: configured to flatten on stop")
        self.runner.stop()
        await self._flush_later()
        self.note("stop", "engine stopped; state persisted")

    async def stop_mid_session(self, reason: str) -> None:
        """Spec §9 for a stop requested before the close (SIGTERM, Ctrl-C): nobody watches the book
        until optbot runs again, so no new risk may appear meanwhile and a person must know what is
        left. Working entry orders are cancelled (`engine.cancel_entries_on_shutdown`), then the
        usual graceful stop runs (positions kept or flattened per `engine.leave_positions_on_shutdown`),
        then one alert says what is left at the broker: critical while positions stay open."""
        cancelled = 0
        if self.settings.engine.cancel_entries_on_shutdown:
            for order in self.store.orders_in_flight():
                if not order.purpose.reduces_risk and await self.orders.cancel(order.ordertag, reason):
                    cancelled += 1
        await self.stop()
        positions = self.risk_view.open_positions()
        working = [
            order for order in self.store.orders_in_flight() if order.status is not OrderStatus.CANCEL_PENDING
        ]
        held = ", ".join(f"{position.symbol} {position.net_quantity:+d}" for position in positions)
        await self.alert(
            AlertPriority.CRITICAL if positions else AlertPriority.IMPORTANT,
            "optbot stopped before the close",
            f"{reason}; {cancelled} working entry order(s) cancelled; {len(positions)} position(s) left "
            f"open at the broker{': ' + held if held else ''}; {len(working)} order(s) still working",
            action_required="start optbot again, or close the positions in the broker's terminal"
            if positions
            else "start optbot again when trading should resume",
            impact="no stop-loss, exit or flatten deadline is watched until optbot runs again",
            dedupe_key=f"stopped-before-close:{self.clock.now_utc().isoformat()}",
        )
        await self._flush_later()

    # ================================================================ warnings (§10.8)
    def _warning_multiplier(self) -> float:
        if self._warning_until is not None and self.clock.now_utc() < self._warning_until:
            return self.settings.engine.warning_size_multiplier
        return 1.0

    def warn(self, reason: str) -> None:
        """A warning-class problem: reduce size for a while and watch more closely."""
        minutes = self.settings.engine.warning_cooldown_minutes
        self._warning_until = self.clock.now_utc() + timedelta(minutes=minutes)
        self.note(
            "warning", f"{reason}: size x{self.settings.engine.warning_size_multiplier:g} for {minutes:g} min"
        )

    async def kill_switch(self, reason: str, actor: str = "operator") -> None:
        """Halt: cancel everything pending and flatten every position (spec §13.5 manual kill switch)."""
        self.note("kill", f"kill switch by {actor}: {reason}")
        self.risk.kill(f"{actor}: {reason}")
        await self.alert(
            AlertPriority.CRITICAL,
            "Kill switch engaged",
            f"{actor}: {reason}",
            action_required="trading is HALTED; resume with `optbot risk resume --ack` after review",
            impact="pending orders cancelled, positions flattened",
        )
        await self._process_intents()

    async def process_pending(self) -> None:
        """Send queued intents and cancel requests now (after an external action such as a kill)."""
        await self._process_intents()

    def pause_trading(self, reason: str) -> None:
        self._trading_blocked = reason
        self.note("paused", reason)

    def resume_trading(self) -> None:
        if self._trading_blocked:
            self.note("resumed", f"trading resumed (was: {self._trading_blocked})")
        self._trading_blocked = None

    @property
    def trading_blocked(self) -> str | None:
        return self._trading_blocked

    def pause_entries(self, source: str, reason: str) -> None:
        """Refuse new entries while a condition lasts (exits still go); each source clears its own, so
        one recovering condition never lifts another's pause (or `pause_trading`)."""
        if self._entry_pauses.get(source) != reason:
            self._entry_pauses[source] = reason
            self.note("paused", f"new entries paused: {reason}")

    def resume_entries(self, source: str) -> None:
        reason = self._entry_pauses.pop(source, None)
        if reason is not None:
            self.note("resumed", f"new entries allowed again (was: {reason})")

    @property
    def entry_pauses(self) -> dict[str, str]:
        return dict(self._entry_pauses)

    # ================================================================ subscriptions
    def desired_instruments(self) -> list[Instrument]:
        """What the feed should carry: underlyings, VIX, ATM +/- the window on both sides, open positions."""
        wanted: dict[InstrumentKey, Instrument] = {}
        for underlying in self.underlyings:
            index = self.market.underlying_instrument(underlying)
            wanted[index.key] = index
            for contract in self.market.watch_list(underlying):
                wanted[contract.key] = contract
        for contract in self._strategy_expiry_contracts():
            wanted[contract.key] = contract
        vix = self.instruments.index_instrument(self.settings.universe.vix_symbol)
        wanted[vix.key] = vix
        for exchange, token in sorted(self._position_keys):
            instrument = self.instruments.get(exchange, token)
            if instrument is not None:
                wanted[instrument.key] = instrument
        for order in self.store.orders_in_flight():
            instrument = self.instruments.get(order.exchange, order.token)
            if instrument is not None:
                wanted[instrument.key] = instrument
        return list(wanted.values())

    def window_chains(self) -> dict[str, PricedChain]:
        """Each underlying's trading-expiry chain and last price, for the spec §3.3 ATM check
        (`FeedWindow`): the ATM the feed window is centred on follows them."""
        chains: dict[str, PricedChain] = {}
        for underlying in self.underlyings:
            priced = self.market.priced_chain(underlying)
            if priced is not None:
                chains[underlying] = priced
        return chains

    def _strategy_expiry_contracts(self) -> list[Instrument]:
        """Strikes near the money of the other expiries the strategies' legs trade (next weekly,
        monthly, ...); an expiry not listed today is skipped here (the strategy says why)."""
        found: list[Instrument] = []
        for strategy in self.runner.strategies:
            for underlying, choices in strategy.expiries_watched().items():
                for choice in choices:
                    with contextlib.suppress(ExpiryUnavailable):
                        found.extend(self.market.watch_list(underlying, choice))
        return found

    # ================================================================ status
    def status(self) -> dict[str, object]:
        risk = self.risk.status()
        return {
            "now_ist": to_ist(self.clock.now_utc()).isoformat(),
            "phase": self.phase().value,
            "risk_state": self.risk.state.value,
            "risk_reasons": list(getattr(risk, "reasons", ())),
            "trading_blocked": self._trading_blocked,
            "entries_paused": dict(self._entry_pauses),
            "vix": self.market.vix(),
            "underlyings": {u: self.market.underlying_price(u) for u in self.underlyings},
            "open_positions": len(self.portfolio.open_positions()),
            "orders_in_flight": len(self.store.orders_in_flight()),
            "realised_net": round(self.portfolio.realised_total_net(), 2),
            "margin_used": round(self.risk_view.margin_used(), 2),
            "margin_available": round(self.risk_view.margin_available(), 2),
            "unrealised": round(self.portfolio.unrealised_total(), 2),
            "paused_strategies": sorted(self.runner.paused),
            "counters": {
                "ticks": self.counters.ticks,
                "bars": self.counters.bars,
                "signals": self.counters.signals,
                "intents": self.counters.intents,
                "approved": self.counters.approved,
                "refused": self.counters.refused,
                "fills": self.counters.fills,
            },
        }

    def _on_strategy_paused(self, paused: PausedStrategy) -> None:
        self.note("strategy", f"{paused.name} paused after an error in {paused.hook}: {paused.error}")
        self._later.append(
            Alert(
                self.clock.now_utc(),
                AlertPriority.CRITICAL,
                f"Strategy {paused.name} paused",
                f"{paused.hook} raised {paused.error}; its open positions are no longer managed by it",
                action_required="fix the strategy; the engine's flatten deadline still closes its positions",
                dedupe_key=f"strategy-paused:{paused.name}",
            )
        )


def preload_history(engine: TradingEngine, bars: Sequence[Bar]) -> int:
    """Give the strategies history that closed before now (warm-up); returns bars accepted."""
    accepted = 0
    now = engine.clock.now_utc()
    for bar in sorted(bars, key=lambda item: (item.end_utc, item.timeframe.seconds)):
        if bar.end_utc > now:
            continue
        try:
            engine.ctx.add_bar(bar)
            accepted += 1
        except (LookAheadError, ValueError):
            continue
    return accepted


__all__ = [
    "ENGINE_STRATEGY",
    "EngineCounters",
    "JournalEntry",
    "MarketQuoteSource",
    "TradingEngine",
    "preload_history",
]
