"""One trading session on the live path: login, master, history, checks, reconcile, market loop, EOD.

`SessionRunner` is what `optbot run` and `optbot demo` execute (spec §1 startup sequence, §8.2-8.4,
§9). It talks to SmartAPI through the production client stack — the real Angel One servers, or the
local simulator for the demo — and runs the `TradingEngine` with either the real broker (live) or
the paper broker filling from the same socket's quotes (paper). Each startup stage reports a clear
PASS/FAIL line; a failed critical stage stops the session before any order can be sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from optbot.broker.angelone.factory import AngelOneStack
from optbot.broker.angelone.feed import MarketFeed
from optbot.broker.angelone.feed_codec import MODE_SNAP_QUOTE
from optbot.broker.angelone.order_socket import OrderUpdateSocket
from optbot.broker.angelone.static_ip import StaticIpVerdict, check_static_ip_async
from optbot.broker.angelone.wsbase import CircuitChange, ReconnectCircuitPolicy
from optbot.broker.base import CandleInterval
from optbot.broker.errors import BrokerError, TokenExpired
from optbot.calendar import NseCalendar, Segment
from optbot.config import Settings
from optbot.config.sections.engine import EngineSettings
from optbot.core.bus import EventBus
from optbot.core.clock import Clock, LiveClock
from optbot.core.enums import AlertPriority, Exchange, Timeframe
from optbot.core.errors import UserError
from optbot.core.events import Bar, Event, FeedHealth, OrderUpdate, Tick
from optbot.core.heap import StartupHeap
from optbot.core.instrument import Instrument, InstrumentKey
from optbot.core.timeutil import ist_date, to_ist
from optbot.data.history import candles_to_bars
from optbot.data.opening_gap import OpeningGap
from optbot.data.pipeline import MarketDataPipeline
from optbot.data.store import JsonStore
from optbot.engine.builder import Venue, VenueSpec, build_engine
from optbot.engine.core import TradingEngine, preload_history
from optbot.engine.errors import ErrorPolicy, Watchdog, restart_delay
from optbot.engine.feed_watch import FeedWatch
from optbot.engine.health import (
    CheckResult,
    ClockSkewMonitor,
    check_clock_against_server,
    check_database,
    check_disk_space,
)
from optbot.engine.provisional import confirm_provisional_session
from optbot.engine.reject_breaker import RejectBreaker
from optbot.engine.schedule import DaySchedule, build_schedule
from optbot.engine.subscriptions import (
    SUBSCRIPTION_REFRESH_SECONDS,
    FeedWindow,
    respond_to_opening_gap,
)
from optbot.execution.reconciliation import ReconciliationReport
from optbot.instruments.master import InstrumentMaster
from optbot.instruments.repository import MasterRepository
from optbot.ops.notifications import delivery_summary
from optbot.ops.run_mode import session_mode
from optbot.ops.wiring import Operations, attach_operations, market_hours_silence_seconds
from optbot.persistence.db import state_db_path
from optbot.persistence.store import Store
from optbot.strategy.base import Strategy
from optbot.strategy.categorise import categorise
from optbot.strategy.registry import load_strategies
from optbot.strategy.rotation import ROTATION_FILE, read_verdicts, without_benched

log = logging.getLogger("optbot.ops.session")

HISTORY: tuple[tuple[CandleInterval, Timeframe, str], ...] = (
    ("ONE_DAY", Timeframe.D1, "daily"),
    ("ONE_HOUR", Timeframe.H1, "intraday"),
    ("FIFTEEN_MINUTE", Timeframe.M15, "intraday"),
    ("FIVE_MINUTE", Timeframe.M5, "intraday"),
)
T = TypeVar("T")
SESSION_PAUSE_REASON = "broker session unhealthy: re-login needed"
#: The engine's entry-pause source a stale instrument master holds for the whole session.
STALE_MASTER_PAUSE = "master"


class StageFailed(Exception):
    """A critical startup stage failed; the session stops before trading."""


class SessionStopped(Exception):
    """A stop request (SIGINT/SIGTERM) arrived while the session was starting: it stops, nothing failed."""


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    passed: bool
    detail: str
    critical: bool = True


StageListener = Callable[[Stage], None]


@dataclass
class SessionOutcome:
    stages: list[Stage] = field(default_factory=list)
    engine: TradingEngine | None = None
    feed_ticks: int = 0
    report_files: list[Path] = field(default_factory=list)

    @property
    def failed(self) -> list[Stage]:
        return [stage for stage in self.stages if not stage.passed and stage.critical]


class SessionRunner:
    """Runs the §1 lifecycle for one day against a SmartAPI endpoint (real or simulated)."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        stack: AngelOneStack,
        calendar: NseCalendar,
        *,
        paper: bool,
        strategies: Sequence[Strategy] | None = None,
        on_stage: StageListener | None = None,
        bus: EventBus | None = None,
        serve_operations: bool = True,
        mode: str | None = None,
    ) -> None:
        """`serve_operations`: start the metrics endpoint and dashboard (notifications and reports
        run either way). `mode`: what the daily report, dashboard and status call the session, by
        default paper or live with the endpoint named unless it is Angel One's (`ops.run_mode`)."""
        self.settings = settings
        self.mode = mode or session_mode(paper, settings.broker.rest_base_url)
        self.clock = clock
        self.stack = stack
        self.calendar = calendar
        self.paper = paper
        self.strategies = strategies
        self.on_stage = on_stage
        self.bus = bus or EventBus()
        self.outcome = SessionOutcome()
        self.engine: TradingEngine | None = None
        self.feed: MarketFeed | None = None
        self.order_socket: OrderUpdateSocket | None = None
        self.pipeline: MarketDataPipeline | None = None
        self.instruments: InstrumentMaster | None = None
        self.schedule: DaySchedule | None = None
        self._store: Store | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        #: Set by a stop request while starting or winding down: that work is cancelled, not awaited.
        self._abort = asyncio.Event()
        self._abortable = False
        self._subscribed: set[InstrumentKey] = set()
        self._finished = False
        self._stop_requested = False  # a person (or the service manager) asked: not the day's end
        #: §13.8 host clock vs the exchange's tick times; only when the trading clock is the host's
        #: (a clock following a replay, or a simulation's own, is not the host clock)
        self.clock_skew: ClockSkewMonitor | None = (
            ClockSkewMonitor(settings.session.clock_skew_min_samples)
            if isinstance(clock, LiveClock)
            else None
        )
        self.feed_watch: FeedWatch | None = None
        self.reject_breaker: RejectBreaker | None = None
        self.benched: dict[str, str] = {}  # strategy → why the last walk-forward benched it
        self._bar_store: JsonStore | None = None
        self._window = FeedWindow(settings.instruments)  # spec §3.3 ATM check and gradual replacement
        self._refreshing = asyncio.Lock()  # the minute's refresh, the ATM check's and a gap's never overlap
        self.serve_operations = serve_operations
        self.ops: Operations | None = None
        self.policy: ErrorPolicy | None = None
        self.watchdog: Watchdog | None = None
        self.session_recovery = BrokerSessionRecovery(settings.engine)
        self._heap = StartupHeap(settings.engine.freeze_startup_heap)

    # ------------------------------------------------------------------ stages
    def stage(self, name: str, passed: bool, detail: str, critical: bool = True) -> Stage:
        result = Stage(name, passed, detail, critical)
        self.outcome.stages.append(result)
        (log.info if passed else log.error)("stage %s %s: %s", name, "PASS" if passed else "FAIL", detail)
        if self.on_stage is not None:
            self.on_stage(result)
        if not passed and critical:
            raise StageFailed(f"{name}: {detail}")
        return result

    async def _guarded(self, name: str, action: Callable[[], Awaitable[str]], critical: bool = True) -> None:
        try:
            detail = await action()
        except StageFailed:
            raise
        except Exception as exc:  # every stage failure becomes a FAIL line, never a traceback
            self.stage(name, False, f"{type(exc).__name__}: {exc}", critical)
            return
        self.stage(name, True, detail, critical)

    # ------------------------------------------------------------------ prepare
    async def prepare(self) -> TradingEngine:
        """Stages 1-5 of the daily lifecycle; returns the engine, ready for the market loop. A stop
        request meanwhile cancels the remaining stages and raises SessionStopped."""
        self._abortable = True
        try:
            engine = await self._unless_aborted(self._prepare())
        finally:
            self._abortable = False
        if engine is None or self._abort.is_set():
            raise SessionStopped("stop requested while the session was starting")
        return engine

    async def _unless_aborted(self, work: Coroutine[Any, Any, T]) -> T | None:
        """`work`'s result, or None when a stop request aborts it first (the work is cancelled)."""
        task = asyncio.ensure_future(work)
        if self._abort.is_set():
            task.cancel()
        abort = asyncio.ensure_future(self._abort.wait())
        try:
            await asyncio.wait({task, abort}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            abort.cancel()
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if task.cancelled():
            return None
        return task.result()

    async def _prepare(self) -> TradingEngine:
        today = ist_date(self.clock.now_utc())
        await self._guarded("calendar", self._calendar_stage)
        await self._guarded("login", self._login)
        await self._guarded("instrument master", self._master)
        engine = self._build_engine()
        self.ops = attach_operations(engine, self.settings, self.clock, mode=self.mode)
        self.ops.watch_rest_client(self.stack.rest.counters)
        self.stack.rest.on_call = self.ops.observe_api_latency
        await self._announce_benched(engine)
        await self._refuse_entries_on_a_stale_master(engine)
        await self._guarded("history sync", self._history)
        await self._guarded("ADX categories", self._categories, critical=False)
        await self._guarded("health checks", self._health)
        await engine.start(today)
        reconciliation = engine.last_reconciliation
        clean = reconciliation is not None and reconciliation.clean and engine.trading_blocked is None
        self.stage(
            "startup reconciliation",
            clean,
            "orders, trades, positions and funds agree with the broker"
            if clean
            else (engine.trading_blocked or "mismatch"),
        )
        return engine

    async def _calendar_stage(self) -> str:
        today = ist_date(self.clock.now_utc())
        if not self.calendar.covers(today):
            raise StageFailed(f"{today} is past the calendar's provisional range: run `optbot calendar sync`")
        self.schedule = build_schedule(self.calendar, today, self.settings.session)
        if self.schedule.session is None:
            return f"{today} is not a trading day: data-management mode"
        session = self.schedule.session
        return (
            f"{today} trading day, F&O session {to_ist(session.open_utc):%H:%M}-"
            f"{to_ist(session.close_utc):%H:%M} IST; "
            f"phase {self.schedule.phase_at(self.clock.now_utc()).value}"
            + (
                "; PROVISIONAL (past the known range): the exchange's ticks confirm it"
                if session.provisional
                else ""
            )
        )

    async def _login(self) -> str:
        retired = await self._retire_earlier_session()
        tokens = await self.stack.auth.ensure_session_until()
        status = self.stack.auth.status()
        until = (
            f"{to_ist(status.close_time):%Y-%m-%d %H:%M} IST" if status.close_time else "the session close"
        )
        fresh = "; yesterday's session logged out first" if retired else ""
        return f"session for {tokens.client_code}: {status.state.value}, valid until {until}{fresh}"

    async def _retire_earlier_session(self) -> bool:
        """SEBI (2026): API sessions are logged out before each trading day, so a token issued on an
        earlier day is never reused, even when it has not expired yet (a restart the same day keeps
        today's)."""
        stored = self.stack.auth.tokens or self.stack.secrets.load_tokens()
        if stored is None or ist_date(stored.issued_at) >= ist_date(self.clock.now_utc()):
            return False
        await self._logout()
        return True

    async def _logout(self) -> str:
        try:
            await self.stack.auth.logout()
        except BrokerError as exc:  # the stored tokens are cleared either way; the broker expires them
            log.warning("logout refused by the broker: %s", type(exc).__name__)
            return f"stored session cleared; the broker refused the logout ({type(exc).__name__})"
        return "broker session logged out; stored tokens cleared"

    async def _master(self) -> str:
        result = await MasterRepository.from_settings(self.settings, self.clock).refresh()
        self.instruments = result.master
        options = sum(1 for instrument in result.master if instrument.is_option)
        source = "downloaded" if result.downloaded else "cached"
        as_of = result.master.info.as_of
        return f"{len(result.master)} instruments ({options} options), {source}, as of {as_of}"

    def _build_engine(self) -> TradingEngine:
        assert self.instruments is not None
        settings = self.settings
        store_path = state_db_path(settings, paper=self.paper)
        store_path.parent.mkdir(parents=True, exist_ok=True)
        self._store = Store.open(store_path, self.clock, wal=settings.persistence)
        venue = (
            VenueSpec(
                Venue.PAPER,
                order_id_prefix="PP",
                state_path=store_path.with_name(store_path.stem + "-broker.pickle"),
            )
            if self.paper
            else VenueSpec(Venue.BROKER, broker=self.stack.broker)
        )
        built = build_engine(
            settings,
            self.clock,
            self._store,
            self.instruments,
            venue,
            strategies=self._rotated_strategies(),
            calendar=self.calendar,
            bus=self.bus,
            margin_broker=self.stack.broker,  # paper entries are priced by the broker's margin calculator
        )
        engine = built.engine
        if built.paper is not None:
            built.paper.roll_day(ist_date(self.clock.now_utc()))  # yesterday's books closed first
        self.engine = self.outcome.engine = engine
        return engine

    async def _refuse_entries_on_a_stale_master(self, engine: TradingEngine) -> None:
        """Spec §8.1: tokens of a cached master older than `data.stale_master_days` are not traded
        (a contract may have changed lot size, been delisted or replaced). New entries are paused for
        the session; exits still go, so positions already held can be closed."""
        assert self.instruments is not None
        info = self.instruments.info
        if not info.stale:
            return
        limit = self.settings.data.stale_master_days
        reason = (
            f"instrument master from {info.as_of} is {info.age_days} days old (> data.stale_master_days "
            f"{limit}): no new entries this session"
        )
        engine.pause_entries(STALE_MASTER_PAUSE, reason)
        self.stage("instrument master freshness", False, reason, critical=False)
        await engine.alert(
            AlertPriority.CRITICAL,
            "Instrument master is stale",
            reason + "; today's download failed and only an old copy was found",
            action_required="`optbot instruments refresh --force`, then restart optbot; runbook §13",
            impact="no new entries today; exits still go out",
            dedupe_key=f"stale-master:{info.as_of}",
        )

    def _rotated_strategies(self) -> list[Strategy]:
        """The configured strategies less the ones the last walk-forward benched (§10.6 rotation)."""
        path = self.settings.paths.resolve(self.settings.paths.state_dir) / ROTATION_FILE
        chosen = list(self.strategies) if self.strategies is not None else load_strategies(self.settings)
        try:
            kept, self.benched = without_benched(chosen, read_verdicts(path))
        except ValueError as exc:
            raise UserError(f"{exc}; fix or delete it to start") from None
        return kept

    async def _announce_benched(self, engine: TradingEngine) -> None:
        for name, why in sorted(self.benched.items()):
            await engine.alert(
                AlertPriority.IMPORTANT,
                "strategy benched",
                f"{name} left out of this session: {why}",
                strategy=name,
            )

    @property
    def bar_store(self) -> JsonStore:
        if self._bar_store is None:
            self._bar_store = JsonStore(self.settings.paths, self.settings.data, self.clock)
        return self._bar_store

    async def _history(self) -> str:
        assert self.engine is not None and self.instruments is not None
        now = self.clock.now_utc()
        engine_settings = self.settings.engine
        loaded: dict[str, int] = {}
        for underlying in [*self.engine.underlyings, self.settings.universe.vix_symbol]:
            index = self.engine.market.underlying_instrument(underlying)
            bars: list[Bar] = []
            for interval, timeframe, kind in HISTORY:
                days = (
                    engine_settings.warmup_daily_bars * 1.5
                    if kind == "daily"
                    else engine_settings.warmup_intraday_days * 1.5
                )
                fetched = await self._candles(index, interval, timeframe, now - timedelta(days=days), now)
                closed = [bar for bar in fetched if bar.end_utc <= now]
                if closed:  # keep the market data too (spec §2.3 store), not only the warm-up
                    self.bar_store.merge_bars(index.underlying, timeframe, closed)
                bars.extend(closed)
            loaded[underlying] = preload_history(self.engine, bars)
            last_daily = [bar for bar in bars if bar.timeframe is Timeframe.D1]
            if last_daily and underlying.upper() != self.settings.universe.vix_symbol.upper():
                self.engine.market.set_underlying_price(underlying, last_daily[-1].close)
            elif last_daily:
                self.engine.market.set_vix(last_daily[-1].close)
        if not any(loaded.values()):
            raise StageFailed("no history could be loaded for any underlying")
        return ", ".join(f"{name} {count} bars" for name, count in loaded.items())

    async def _candles(
        self,
        index: Instrument,
        interval: CandleInterval,
        timeframe: Timeframe,
        start: datetime,
        end: datetime,
    ) -> list[Bar]:
        """The broker splits long ranges into requests within its per-interval day limits."""
        candles = await self.stack.broker.candles(index.exchange, index.token, interval, start, end)
        return candles_to_bars(candles, index.underlying, index.token, timeframe, self.calendar)

    async def _categories(self) -> str:
        assert self.engine is not None
        lines: list[str] = []
        for underlying in self.engine.underlyings:
            daily = list(self.engine.ctx.bars(underlying, Timeframe.D1, 500))
            result = categorise(underlying, daily, self.settings.strategy)
            lines.append(f"{underlying} category {int(result.category)} ({result.reason})")
        for line in lines:
            self.engine.note("category", line)
        return "; ".join(lines)

    async def _health(self) -> str:
        results: list[CheckResult] = [
            check_disk_space(self.settings.paths.data_root, self.settings.engine.min_free_disk_mb),
            check_database(state_db_path(self.settings)),
        ]
        try:
            funds = await self.stack.broker.funds()
            results.append(
                CheckResult("broker reachable", True, f"funds: available {funds.available_cash:,.2f}")
            )
            if isinstance(self.clock, LiveClock):  # a replay's or a simulation's clock is not the host's
                results.append(
                    check_clock_against_server(
                        self.clock.now_utc(),
                        self.stack.rest.last_date_header,
                        self.settings.session.max_clock_skew_seconds,
                    )
                )
        except BrokerError as exc:
            results.append(CheckResult("broker reachable", False, f"{type(exc).__name__}: {exc}"))
        static_ip = await check_static_ip_async(self.settings.broker)
        live = not self.paper
        results.append(
            CheckResult(
                "static IP",
                static_ip.verdict is not StaticIpVerdict.FAIL,
                static_ip.message,
                critical=live,  # live orders from an unregistered IP are refused by the broker (SEBI)
            )
        )
        failed = [result for result in results if not result.ok and result.critical]
        summary = "; ".join(
            f"{result.name} {'ok' if result.ok else 'FAIL'} ({result.detail})" for result in results
        )
        if failed:
            raise StageFailed(summary)
        return summary

    # ------------------------------------------------------------------ market loop
    async def _check_market_socket(self, feed: MarketFeed) -> None:
        """Spec §1.6 (WebSocket connection capability): PASS only once a socket has connected and sent
        its subscriptions. A socket that does not connect in time is a non-critical FAIL: the feed keeps
        reconnecting, and the feed watch pauses entries in market hours until data flows."""
        wait = self.settings.engine.startup_socket_wait_seconds
        subscribed = len(self._subscribed)
        if await feed.wait_connected(wait):
            detail = f"connected {feed.connected_sockets} socket(s), subscribed {subscribed} instrument(s)"
            self.stage("market data socket", True, detail)
            return
        self.stage(
            "market data socket",
            False,
            f"no socket connected within {wait:g} s (engine.startup_socket_wait_seconds; "
            f"{subscribed} instrument(s) subscribed); the feed keeps reconnecting and new entries stay "
            "paused in market hours until the socket delivers data",
            critical=False,
        )

    async def start_market(self) -> None:
        """Socket, order updates, bars and the engine's background loops."""
        engine = self.engine
        assert engine is not None and self.instruments is not None
        self._heap.freeze()  # master, history and engine are loaded: out of the collector's scans
        store = self.bar_store
        self.pipeline = MarketDataPipeline(
            self.clock,
            self.calendar,
            store,
            self.settings.data,
            publish=self.bus.publish,
            on_gap=self._on_opening_gap,
        )
        for underlying in engine.underlyings:
            self.pipeline.track_instrument(engine.market.underlying_instrument(underlying))
        vix = self.instruments.index_instrument(self.settings.universe.vix_symbol)
        self.pipeline.track_instrument(vix, check_opening_gap=False)
        fallback_every = self.settings.broker.rest_fallback_interval_seconds
        self.bus.subscribe("engine-market", (Tick, Bar, OrderUpdate, FeedHealth), self._dispatch)
        await self.bus.start()
        await self.pipeline.start()
        self.feed = self.stack.market_feed(
            self.clock,
            self.bus,
            market_hours=lambda now: self.calendar.is_open(now, Segment.FO),
            on_health=self._on_feed_health,
            fallback_tokens=self._fallback_tokens,
            on_circuit=self._on_feed_circuit,
            circuit=ReconnectCircuitPolicy.from_settings(self.settings.engine),
        )
        self.feed_watch = FeedWatch(
            engine,
            self.feed,
            self._market_open,
            fallback_note=f"REST quotes for held contracts every {fallback_every:g} s",
            on_recovered=self._after_feed_gap,
        )
        self.reject_breaker = RejectBreaker(engine, self.clock, self.settings)
        self.reject_breaker.attach()
        if self.ops is not None:
            self.ops.watch_feed_drops(self.feed.decoder.skipped)
        await self.feed.start()
        await self.refresh_subscriptions()
        if not self.paper:
            self.order_socket = self.stack.order_socket(self.clock, self.bus)
            await self.order_socket.start()
        await self._check_market_socket(self.feed)
        # critical: a dashboard (kill switch) or /metrics that cannot listen stops the day before trading
        await self._guarded("operations", self._start_operations)
        engine_settings = self.settings.engine
        self.policy = ErrorPolicy(engine, recover=self._recover)
        self.watchdog = Watchdog(engine, self.clock, engine_settings, self.policy)
        self._spawn("schedule", lambda: engine.run_schedule(self._stop))
        self._spawn(
            "orders", lambda: self._every("orders", engine_settings.order_poll_seconds, engine.verify_orders)
        )
        watch = self.feed_watch
        self._spawn("feed-watch", lambda: self._watch_feed(watch))
        self._spawn(
            "subscriptions",
            lambda: self._every("subscriptions", SUBSCRIPTION_REFRESH_SECONDS, self.refresh_subscriptions),
        )
        self._spawn(
            "atm-check",
            lambda: self._every(
                "atm-check", self.settings.instruments.atm_check_interval_seconds, self.check_atm
            ),
        )
        self._spawn(
            "reconcile",
            lambda: self._every(
                "reconcile", engine_settings.periodic_reconcile_minutes * 60, self._periodic_reconcile
            ),
        )
        self._spawn(
            "health",
            lambda: self._every(
                "health", engine_settings.health_check_interval_minutes * 60, self._session_health
            ),
        )
        self._spawn(
            "session-recovery",
            lambda: self._every(
                "session-recovery",
                engine_settings.session_recovery_check_seconds,
                self._recheck_paused_session,
            ),
        )
        session = self.schedule.session if self.schedule is not None else None
        if session is not None and session.provisional:
            grace = timedelta(minutes=self.settings.calendar.provisional_confirm_minutes)
            self._spawn("calendar", lambda: confirm_provisional_session(engine, self.clock, session, grace))

    async def _start_operations(self) -> str:
        if self.ops is None:
            return "not attached"
        configured = None if self.serve_operations else False  # None: as metrics/dashboard.enabled say
        await self.ops.start(serve_metrics=configured, serve_dashboard=configured, serve_telegram=configured)
        parts = [delivery_summary(self.ops.notifier.sender)]
        if self.ops.metrics_server is not None:
            parts.append(f"metrics on port {self.ops.metrics_port}")
        if self.ops.dashboard_server is not None:
            parts.append(f"dashboard {self.ops.dashboard_url}")
        if self.ops.telegram is not None:
            parts.append("telegram remote control")
        return ", ".join(parts)

    async def _dispatch(self, event: Event) -> None:
        engine = self.engine
        assert engine is not None
        if isinstance(event, Tick):
            if self.clock_skew is not None:
                self.clock_skew.observe(event)
            if self.pipeline is not None:
                self.pipeline.on_tick(event)
            await engine.on_tick(event)
        elif isinstance(event, Bar):
            await engine.on_bar(event)
        elif isinstance(event, OrderUpdate) and not event.intent_id:
            await engine.on_order_update(event)  # broker-side report (order-update socket)
        elif isinstance(event, FeedHealth) and self.pipeline is not None:
            self.pipeline.on_feed_health(event)

    async def _watch_feed(self, watch: FeedWatch) -> None:
        """A feed already down when the market opens sends no event: look every stale window of real
        time (socket silence is measured in real seconds, whatever the trading clock does)."""
        transport = self.clock.realtime()
        while not self._stop.is_set():
            await transport.sleep(self.settings.broker.feed_stale_seconds)
            watch.check()

    def _market_open(self) -> bool:
        return self.calendar.is_open(self.clock.now_utc(), Segment.FO)

    def _on_feed_health(self, event: FeedHealth) -> None:
        """Called by the feed at once on every socket state change (not through the bus). Once the
        session winds down, closing the socket is not an outage."""
        if self.feed_watch is not None and not self._stop.is_set():
            self.feed_watch.on_health(event)

    def _on_feed_circuit(self, change: CircuitChange) -> None:
        """The socket's reconnect circuit breaker opened or closed: alert (feed watch) and metrics."""
        if self.ops is not None:
            still_open = self.feed is not None and self.feed.circuit_open
            self.ops.metrics.observe_circuit(change.opened, still_open)
        if self.feed_watch is not None and not self._stop.is_set():
            self.feed_watch.on_circuit(change)

    def _fallback_tokens(self) -> dict[Exchange, list[str]]:
        """While the socket is silent, REST quotes cover what exits and marks need: held contracts,
        contracts with orders in flight, the underlyings and VIX (one quote request carries them all)."""
        engine, master = self.engine, self.instruments
        if engine is None or master is None:
            return {}
        keys: dict[tuple[Exchange, str], None] = {}
        for position in engine.portfolio.open_positions():
            keys[(position.exchange, position.token)] = None
        for order in engine.store.orders_in_flight():
            keys[(order.exchange, order.token)] = None
        for underlying in engine.underlyings:
            index = engine.market.underlying_instrument(underlying)
            keys[(index.exchange, index.token)] = None
        vix = master.index_instrument(self.settings.universe.vix_symbol)
        keys[(vix.exchange, vix.token)] = None
        tokens: dict[Exchange, list[str]] = {}
        for exchange, token in keys:
            tokens.setdefault(exchange, []).append(token)
        return tokens

    def feed_status(self) -> dict[str, object]:
        """The socket's health for `optbot status`: outages, fallback, frames dropped by reason."""
        feed, watch = self.feed, self.feed_watch
        if feed is None:
            return {}
        stats = feed.stats
        return {
            "receiving": feed.receiving,
            "stalled": feed.stalled,
            "down_since_utc": watch.down_since.isoformat() if watch and watch.down_since else None,
            "outages": watch.outages if watch is not None else 0,
            "reconnects": stats.reconnects,
            "circuit_open": feed.circuit_open,
            "circuit_opens": stats.circuit_opens,
            "stalls": stats.stalls,
            "resubscribes": stats.resubscribes,
            "fallback_ticks": stats.fallback_ticks,
            "frames": stats.frames,
            "frames_dropped": dict(feed.decoder.skipped),
        }

    def _after_feed_gap(self) -> None:
        self._tasks.append(asyncio.create_task(self._recover_gaps(), name="session:gap-recovery"))

    async def _recover_gaps(self) -> None:
        """Spec §2.4: after the socket is back, fetch the official 1-minute candles for the hole."""
        if self.pipeline is None or self.instruments is None:
            return
        master = self.instruments

        def exchange_for(token: str) -> Exchange:
            found = master.find_token(token)
            return found[0].exchange if found else Exchange.NSE

        try:
            merged = await self.pipeline.recover_gaps(self.stack.broker, exchange_for)
        except BrokerError as exc:
            log.warning("gap recovery failed: %s", type(exc).__name__)
            return
        if merged and self.engine is not None:
            self.engine.note("data", f"{merged} one-minute bar(s) recovered from the broker after a feed gap")

    def _spawn(self, name: str, service: Callable[[], Awaitable[None]]) -> None:
        assert self.watchdog is not None
        self._tasks.append(
            asyncio.create_task(self.watchdog.supervise(name, service), name=f"session:{name}")
        )

    async def _every(self, name: str, seconds: float, action: Callable[[], Awaitable[object]]) -> None:
        """Run `action` every `seconds` of the clock; errors get the §10.8 response and, when they
        keep coming, back off and finally go to the watchdog."""
        failures = 0
        limits = self.settings.engine
        while not self._stop.is_set():
            await self.clock.sleep(seconds)
            try:
                await action()
                failures = 0
            except Exception as exc:
                failures += 1
                assert self.policy is not None
                await self.policy.handle(exc, name)
                if failures > limits.watchdog_max_restarts:
                    raise
                await self.clock.sleep(restart_delay(limits, failures))

    async def _recover(self) -> bool:
        """Critical-error recovery: a valid broker session, then a clean reconciliation."""
        await self.stack.auth.ensure_session_until()
        if self.engine is None:
            return False
        report = await self.engine.reconcile("periodic")
        return report.clean

    async def check_atm(self) -> None:
        """Spec §3.3 ATM monitoring, every `instruments.atm_check_interval_seconds`: the window is
        refreshed now when an underlying's ATM moved more than `instruments.atm_move_strikes` strikes
        from its centre or a leaving strike's replacement window ran out; otherwise nothing is sent."""
        engine = self.engine
        if engine is None or self.feed is None:
            return
        reason = self._window.refresh_due(engine.window_chains(), self.clock.now_utc())
        if reason is not None:
            log.info("feed window refresh: %s", reason)
            await self.refresh_subscriptions()

    async def refresh_subscriptions(self) -> None:
        """Subscribe what the engine wants that the socket does not carry yet, and unsubscribe what
        has been unwanted for the replacement window: only differences are sent, so a refresh that
        changes nothing sends no message."""
        async with self._refreshing:
            await self._refresh_subscriptions()

    async def _refresh_subscriptions(self) -> None:
        """The window is taken as centred before anything is sent, so a refused subscription (the token
        cap) is retried by the minute's refresh, not by every ATM check; what leaves is unsubscribed
        before what joins is subscribed, so the socket never needs both under its token cap."""
        engine, feed = self.engine, self.feed
        if engine is None or feed is None:
            return
        wanted = {instrument.key: instrument for instrument in engine.desired_instruments()}
        due = self._window.refreshed(self._subscribed, wanted, engine.window_chains(), self.clock.now_utc())
        await self._unsubscribe(due, feed)
        new = [key for key in wanted if key not in self._subscribed]
        if new:
            for key in new:
                instrument = wanted[key]
                feed.set_symbol(instrument.token, instrument.symbol)
                if self.pipeline is not None and instrument.is_option:
                    self.pipeline.track_instrument(instrument)
            await feed.subscribe([(key.exchange, key.token) for key in new], MODE_SNAP_QUOTE)
            self._subscribed.update(new)

    def _on_opening_gap(self, gap: OpeningGap) -> None:
        """Spec §3.4: an opening gap re-centres the feed at once (`respond_to_opening_gap`, as a replay
        does), and the refresh runs now rather than at the next minute."""
        if self.engine is not None:
            respond_to_opening_gap(
                gap, self.engine.market.gap_windows, self._window.leaving, self.engine.note
            )
        else:
            self._window.leaving.cut_over()
        self._tasks.append(asyncio.create_task(self.refresh_subscriptions(), name="session:gap-resubscribe"))

    async def _unsubscribe(self, due: list[InstrumentKey], feed: MarketFeed) -> None:
        """Strikes the ATM moved away from leave the socket once out of the window for
        `instruments.replacement_window_seconds` (`FeedWindow.refreshed`: a price sitting between
        strikes does not churn); held or ordered contracts are always wanted, so never among them."""
        if due:
            await feed.unsubscribe([(key.exchange, key.token) for key in due], MODE_SNAP_QUOTE)
            self._subscribed.difference_update(due)
            if self.engine is not None:
                self.engine.note("feed", f"{len(due)} strike(s) left the ATM window: unsubscribed")

    async def _periodic_reconcile(self) -> None:
        if self.engine is not None and self.calendar.is_open(self.clock.now_utc(), Segment.FO):
            await self.engine.reconcile("periodic")

    async def _session_health(self) -> None:
        """Spec §1.4: every few minutes in market hours — broker session, socket, data freshness."""
        engine = self.engine
        if engine is None or not self.calendar.is_open(self.clock.now_utc(), Segment.FO):
            return
        await self._check_clock_skew(engine)
        await self._check_disk_space(engine)
        if engine.lift_acknowledged_block():
            await engine.alert(
                AlertPriority.INFO,
                "Reconciliation acknowledged: entries resume",
                "every recorded reconciliation mismatch has been acknowledged",
                dedupe_key="reconciliation-acknowledged",
            )
        if not await self._check_broker_session():
            return
        stale_after = self.settings.engine.feed_stale_seconds
        session = self.schedule.session if self.schedule is not None else None
        opened = session.open_utc if session is not None else None
        last = engine.market.last_tick_utc or opened
        # a pre-open tick followed by the quiet to the open is no stale feed (market_hours_silence_seconds)
        if (
            last is not None
            and market_hours_silence_seconds(self.clock.now_utc(), last, opened) > stale_after
        ):
            engine.warn(f"market data stale: no tick for over {stale_after:g} s")

    async def _check_clock_skew(self, engine: TradingEngine) -> None:
        """Spec §13.8: bars close and TOTP logins run on the host clock, so a host that drifted from
        the exchange's clock is told to a person at each health check while it lasts."""
        skew = self.clock_skew.take() if self.clock_skew is not None else None
        limit = self.settings.session.max_clock_skew_seconds
        if skew is None or abs(skew) <= limit:
            return
        direction = "ahead of" if skew > 0 else "behind"
        await engine.alert(
            AlertPriority.IMPORTANT,
            "Host clock disagrees with the exchange",
            f"the host clock is {abs(skew):.1f} s {direction} the exchange's tick timestamps "
            f"(session.max_clock_skew_seconds {limit:g})",
            action_required="check time sync on the host (`timedatectl`, `chronyc tracking`); runbook §11",
            impact="bars close at the wrong moment and the next TOTP login may be refused",
            dedupe_key="clock-skew",
        )

    async def _check_disk_space(self, engine: TradingEngine) -> None:
        """A data root that fills up mid-day stops the state database and the bar store from writing:
        a person hears of it while there is still time to free space."""
        result = check_disk_space(self.settings.paths.data_root, self.settings.engine.min_free_disk_mb)
        if result.ok:
            return
        await engine.alert(
            AlertPriority.CRITICAL,
            "Disk space low",
            f"{result.detail} (engine.min_free_disk_mb)",
            action_required="free space on the data root now (old reports, backups, logs); runbook §12",
            impact="orders, fills and bars cannot be stored once the disk is full",
            dedupe_key="disk-space-low",
        )

    async def _check_broker_session(self) -> bool:
        """Runbook §1: a failed session check (re-login included) pauses entries and tells a person; a
        passing one resumes them — at most `session_recovery_max_per_day` times a day, and no sooner
        than `session_recovery_min_gap_minutes` after the previous resume."""
        engine = self.engine
        assert engine is not None
        healthy = await self.stack.auth.check_health()
        now = self.clock.now_utc()
        if not healthy:
            if engine.trading_blocked is None:
                engine.pause_trading(SESSION_PAUSE_REASON)
                await engine.alert(
                    AlertPriority.CRITICAL,
                    "Broker session lost",
                    "session check and re-login failed; new entries paused (exits still go out)",
                    action_required="nothing if it recovers: entries resume once a session check passes",
                    impact="no new entries until the broker session is healthy again",
                    dedupe_key="broker-session-lost",
                )
            return False
        if engine.trading_blocked != SESSION_PAUSE_REASON:
            return True
        if self.session_recovery.capped(now):
            await engine.alert(
                AlertPriority.CRITICAL,
                "Broker session back, entries stay paused",
                f"entries already resumed automatically {self.settings.engine.session_recovery_max_per_day} "
                "time(s) today after a lost session",
                action_required="find out why the session keeps dropping (runbook §1), then restart optbot",
                dedupe_key=f"broker-session-cap:{ist_date(now)}",
            )
            return True
        wait = self.session_recovery.wait_seconds(now)
        if wait > 0:
            engine.note(
                "session", f"broker session healthy again; entries resume in {wait:.0f} s at the earliest"
            )
            return True
        engine.resume_trading()
        self.session_recovery.resumed(now)
        await engine.alert(
            AlertPriority.IMPORTANT,
            "Broker session recovered: entries resumed",
            f"session check passed; automatic resume {self.session_recovery.resumes_today(now)} of "
            f"{self.settings.engine.session_recovery_max_per_day} today",
            dedupe_key=f"broker-session-resumed:{now.isoformat()}",
        )
        return True

    async def _recheck_paused_session(self) -> None:
        """While entries are paused for the broker session, check it (and re-login) often."""
        if self.engine is not None and self.engine.trading_blocked == SESSION_PAUSE_REASON:
            await self._check_broker_session()

    async def run_until(self, end: datetime) -> None:
        """The market loop until `end` (the post-market end) or a stop request."""
        with contextlib.suppress(TimeoutError):
            while not self._stop.is_set() and self.clock.now_utc() < end:
                await asyncio.sleep(0.05)
                if self.clock.now_utc() >= end:
                    break

    async def _daily_report(self) -> str:
        assert self.ops is not None
        files = self.ops.write_daily_report(ist_date(self.clock.now_utc()))
        self.outcome.report_files.extend([files.html_path, files.json_path])
        return f"{files.html_path} and {files.json_path.name}"

    def request_stop(self) -> None:
        """Leave the market loop; while starting or winding down, also cancel that work at once (a
        stop request is always answered promptly, whatever the broker or the clock is doing)."""
        self._stop.set()
        self._stop_requested = True
        if self._abortable:
            self._abort.set()

    async def finish(self) -> None:
        """Post-market (or shutdown): EOD work, sockets closed, state persisted."""
        if self._finished:
            return
        self._finished = True
        self._abortable = True
        engine = self.engine
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if engine is not None and self.schedule is not None and self.schedule.session is not None:
            closed = self.clock.now_utc() >= self.schedule.session.close_utc
            if closed and await self._unless_aborted(self._end_of_day(engine)) is None:
                self.stage(
                    "EOD reconciliation",
                    False,
                    "stopped on request before it finished; the next start reconciles",
                    critical=False,
                )
            if self._stop_requested and not closed:
                await engine.stop_mid_session("stop requested before the close")
            else:
                await engine.stop()
        if self.feed_watch is not None:
            await self.feed_watch.drain()
        if self.reject_breaker is not None:
            self.reject_breaker.stop()
            await self.reject_breaker.drain()
        if self.ops is not None:
            with contextlib.suppress(Exception):
                await self.ops.stop()
        for closer in (self.feed, self.order_socket, self.pipeline):
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer.stop()
        await self.bus.drain()
        if self.feed is not None:
            self.outcome.feed_ticks = int(getattr(self.feed.stats, "ticks", 0))
        self._heap.release()

    async def _end_of_day(self, engine: TradingEngine) -> bool:
        try:
            report = await self._eod_reconciliation(engine)
        except BrokerError as exc:  # a broker outage at EOD is a FAIL line, never a dead bot
            self.stage(
                "EOD reconciliation",
                False,
                f"broker unavailable: {type(exc).__name__}: {exc}; the next start reconciles",
                critical=False,
            )
        else:
            detail = "clean" if report.clean else "; ".join(map(str, report.discrepancies))
            self.stage("EOD reconciliation", report.clean, detail, critical=False)
        await self._guarded("daily report", self._daily_report, critical=False)
        await self._guarded("logout", self._logout, critical=False)
        return True

    async def _eod_reconciliation(self, engine: TradingEngine) -> ReconciliationReport:
        """The engine's EOD work; if the broker's session ended meanwhile (an EOD that ran past the
        broker's day change, when every session is logged out) the session is recovered and the work
        done once more (it is idempotent: cancels, polls and a reconciliation)."""
        try:
            return await engine.end_of_day()
        except TokenExpired:
            log.warning("EOD: the broker session has expired; recovering it before reconciling")
            if not await self.stack.auth.check_health():
                raise
            return await engine.end_of_day()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


@dataclass
class BrokerSessionRecovery:
    """How often a session pause may end by itself (runbook §1): a cap per IST day and a minimum gap
    between resumes, so a session that keeps dropping ends up in front of a person."""

    settings: EngineSettings
    resumes: list[datetime] = field(default_factory=list)

    def resumed(self, now: datetime) -> None:
        self.resumes.append(now)

    def resumes_today(self, now: datetime) -> int:
        today: date = ist_date(now)
        return sum(1 for moment in self.resumes if ist_date(moment) == today)

    def capped(self, now: datetime) -> bool:
        """The day's automatic resumes are used up."""
        return self.resumes_today(now) >= self.settings.session_recovery_max_per_day

    def wait_seconds(self, now: datetime) -> float:
        """Seconds until the minimum gap after the previous resume has passed (0 = may resume now)."""
        if not self.resumes:
            return 0.0
        gap = timedelta(minutes=self.settings.session_recovery_min_gap_minutes)
        return max(0.0, (self.resumes[-1] + gap - now).total_seconds())


__all__ = [
    "BrokerSessionRecovery",
    "SessionOutcome",
    "SessionRunner",
    "SessionStopped",
    "Stage",
    "StageFailed",
]
