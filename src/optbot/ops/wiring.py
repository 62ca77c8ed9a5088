"""Operations around a running engine: notifications, metrics, the dashboard and the daily report.

`attach_operations(engine, settings, clock)` subscribes to the engine's bus and returns an
`Operations` object; `await ops.start()` starts the notifier's delivery worker, the sampler (engine
gauges and the intraday P&L chart, on the engine's clock) and — when enabled — the Prometheus
endpoint and the dashboard, both on loopback by default. Nothing here can block or break trading: bus
handlers only queue or set gauges, and a failing sampler logs instead of raising into the clock.

Alerts the notifier sends (spec §10.10):
- critical: the engine's own alerts (kill switch, reconciliation mismatch, paused strategy), a risk
  state of HALTED, a spike of order rejects;
- important: every fill, a position opened / resized / closed, other risk state changes, a reject;
- info: the daily report.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from optbot.broker.angelone.factory import open_secret_store
from optbot.config import Settings
from optbot.config.sections.notifications import NotificationsSettings
from optbot.core.clock import Clock, TimerHandle
from optbot.core.enums import AlertPriority, OrderStatus, RiskState, Side
from optbot.core.events import Alert, Event, FeedHealth, Fill, OrderUpdate, PositionChanged, RiskStateChanged
from optbot.core.timeutil import ist_date, to_ist
from optbot.engine.follow import FollowingClock
from optbot.engine.schedule import Phase
from optbot.log import register_secret
from optbot.ops.daily_report import DataQuality, write_daily_report, write_monthly_summary
from optbot.ops.dashboard import DashboardAuth, DashboardServer, create_app
from optbot.ops.engine_provider import EngineDashboardProvider
from optbot.ops.metrics import Metrics, MetricsServer
from optbot.ops.notifications import NotificationSender, Notifier, notification_urls
from optbot.ops.reports import ReportFiles
from optbot.ops.telegram import TOKEN_SECRET, TelegramRemote

if TYPE_CHECKING:
    from optbot.engine.core import TradingEngine

log = logging.getLogger("optbot.ops")

DASHBOARD_VIEWER_TOKEN_ENV = "OPTBOT_SECRET_DASHBOARD_VIEWER_TOKEN"
DASHBOARD_OPERATOR_TOKEN_ENV = "OPTBOT_SECRET_DASHBOARD_OPERATOR_TOKEN"
MIN_TOKEN_LENGTH = 16
#: Ticks per second shown on the dashboard: averaged over this much engine time.
TICK_RATE_WINDOW_SECONDS = 60.0
#: Phases in which a silent feed is a problem (outside them the exchange sends nothing).
MARKET_PHASES = frozenset({Phase.OPENING, Phase.TRADING, Phase.NO_NEW_ENTRIES, Phase.FLATTENING})


def market_hours_silence_seconds(now: datetime, last_tick: datetime, session_open: datetime | None) -> float:
    """Seconds without a tick counted from the later of the last tick and the session's open. The feed
    is quiet between the pre-open and the open (a subscription's snapshot or pre-open ticks come before
    09:15, trades only from 09:15): measured from a pre-open tick, the first look after the open read the
    whole pre-open as a silence in market hours (900 s on a replayed day whose bot subscribed at 09:00)."""
    since = last_tick if session_open is None else max(last_tick, session_open)
    return max(0.0, (now - since).total_seconds())


def replay_clock_notes(clock: Clock, longest_silence: float | None) -> tuple[str, ...]:
    """On a clock following a simulator's replay (`optbot run --follow-sim`), what the report's times
    and feed silences are: replay seconds. A pause of this process (or of the simulator) of 0.7 s
    reads as 100 s of silence at 150x, so the longest one is also given in real seconds."""
    if not isinstance(clock, FollowingClock):
        return ()
    speed = clock.replay_speed
    text = f"The session's clock followed the simulator's replay at {clock.base_url}"
    if speed is None:
        return (f"{text}: times and feed silences are in replay time.",)
    text += f" at {speed:g}x real time: times and feed silences are in replay time"
    if longest_silence:
        text += (
            f"; the longest silence, {longest_silence:.0f} s, lasted about {longest_silence / speed:.2f} s "
            f"of real time (a pause of this process or of the simulator reads {speed:.0f} times as long)"
        )
    return (f"{text}.",)


def dashboard_auth_from_env(environ: Mapping[str, str] | None = None) -> DashboardAuth:
    """Viewer and operator tokens from the environment (the keyring front-end exports them)."""
    env = os.environ if environ is None else environ
    viewer = env.get(DASHBOARD_VIEWER_TOKEN_ENV, "").strip()
    operator = env.get(DASHBOARD_OPERATOR_TOKEN_ENV, "").strip()
    for name, token in ((DASHBOARD_VIEWER_TOKEN_ENV, viewer), (DASHBOARD_OPERATOR_TOKEN_ENV, operator)):
        if token and len(token) < MIN_TOKEN_LENGTH:
            raise ValueError(f"{name}: a dashboard token needs at least {MIN_TOKEN_LENGTH} characters")
        register_secret(token)
    if viewer and viewer == operator:
        raise ValueError(
            f"{DASHBOARD_VIEWER_TOKEN_ENV} and {DASHBOARD_OPERATOR_TOKEN_ENV} must differ (role separation)"
        )
    return DashboardAuth(viewer_token=viewer, operator_token=operator)


# ====================================================================== alerts from engine events
class AlertRouter:
    """Turns fills, position changes, risk state changes and rejects into prioritised alerts."""

    def __init__(
        self,
        engine: TradingEngine,
        settings: NotificationsSettings,
        clock: Clock,
        submit: Callable[[Alert], object],
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._clock = clock
        self._submit = submit
        self._net: dict[str, int] = {p.token: p.net_quantity for p in engine.portfolio.open_positions()}
        self._rejects: deque[float] = deque()
        self.alerts: list[Alert] = []

    def attach(self) -> None:
        self._engine.bus.subscribe(
            "ops-alerts", (Fill, PositionChanged, RiskStateChanged, OrderUpdate), self.on_event
        )

    def _send(self, alert: Alert) -> None:
        self.alerts.append(alert)
        self._submit(alert)

    def on_event(self, event: Event) -> None:
        if isinstance(event, Fill):
            if self._settings.notify_fills:
                self._on_fill(event)
        elif isinstance(event, PositionChanged):
            self._on_position(event)
        elif isinstance(event, RiskStateChanged):
            self._on_risk(event)
        elif isinstance(event, OrderUpdate) and event.status is OrderStatus.REJECTED:
            self._on_reject(event)

    def _on_fill(self, fill: Fill) -> None:
        intent = self._engine.store.find_intent(fill.intent_id) if fill.intent_id else None
        owner = f"{intent.strategy} {intent.purpose.value.lower()}" if intent is not None else "unknown order"
        verb = "paid" if fill.side is Side.BUY else "received"
        self._send(
            Alert(
                ts_utc=fill.ts_utc,
                priority=AlertPriority.IMPORTANT,
                title=f"Fill: {fill.side.value} {fill.quantity} {fill.symbol} @ {fill.price:,.2f}",
                message=f"{owner}: {fill.quantity} {fill.symbol} filled at {fill.price:,.2f}",
                action_required="none",
                context=f"at {to_ist(fill.ts_utc):%H:%M:%S} IST, broker order {fill.order_id}",
                impact=f"₹{fill.quantity * fill.price:,.2f} premium {verb}",
                dedupe_key=f"fill:{fill.order_id}:{fill.fill_id}",
            )
        )

    def _on_position(self, change: PositionChanged) -> None:
        before = self._net.get(change.token, 0)
        after = change.net_quantity
        if after == before:
            return  # a mark-to-market update, not a change of position
        self._net[change.token] = after
        if not self._settings.notify_position_changes:
            return
        if before == 0:
            what = "opened"
        elif after == 0:
            what = "closed"
        else:
            what = "resized"
        self._send(
            Alert(
                ts_utc=change.ts_utc,
                priority=AlertPriority.IMPORTANT,
                title=f"Position {what}: {change.symbol}",
                message=f"{change.symbol}: net {before:+d} -> {after:+d}"
                + (f" @ avg {change.average_price:,.2f}" if after else ""),
                action_required="none",
                context=f"realised on this position {change.realised_pnl:,.2f} net of charges",
                impact=f"unrealised now {change.unrealised_pnl:,.2f}",
                dedupe_key=f"position:{change.token}:{after}:{change.ts_utc.isoformat()}",
            )
        )

    def _on_risk(self, change: RiskStateChanged) -> None:
        halted = change.current is RiskState.HALTED
        action = {
            RiskState.HALTED: "review the reason; resume with `optbot risk resume --ack` when safe",
            RiskState.REDUCING: "watch the book; size is reduced until the condition clears",
            RiskState.ACTIVE: "none",
        }[change.current]
        self._send(
            Alert(
                ts_utc=change.ts_utc,
                priority=AlertPriority.CRITICAL if halted else AlertPriority.IMPORTANT,
                title=f"Risk state {change.current.value}",
                message=f"{change.previous.value} -> {change.current.value}: {change.reason}",
                action_required=action,
                impact="no new entries; positions flattened"
                if halted
                else f"position size x{change.size_multiplier:g}",
                dedupe_key=f"risk-state:{change.current.value}",
            )
        )

    def _on_reject(self, update: OrderUpdate) -> None:
        now = self._clock.monotonic()
        window = self._settings.reject_spike_window_seconds
        self._rejects.append(now)
        while self._rejects and now - self._rejects[0] > window:
            self._rejects.popleft()
        self._send(
            Alert(
                ts_utc=update.ts_utc,
                priority=AlertPriority.IMPORTANT,
                title=f"Order rejected: {update.symbol or update.order_id}",
                message=update.message or update.broker_status or "rejected by the broker",
                action_required="check margin, price band and the order log",
                context=f"order {update.order_id} ({update.ordertag})",
                dedupe_key=f"reject:{update.order_id}",
            )
        )
        if len(self._rejects) >= self._settings.reject_spike_count:
            self._send(
                Alert(
                    ts_utc=update.ts_utc,
                    priority=AlertPriority.CRITICAL,
                    title="Order rejects spike",
                    message=f"{len(self._rejects)} order rejects within {window:g} s",
                    action_required="consider the kill switch; see runbook 'Reject spike'",
                    impact="entries may be failing systematically (margin, price bands, RMS)",
                    dedupe_key="reject-spike",
                )
            )


# ====================================================================== sampler on the engine clock
@dataclass
class SamplerState:
    last_ticks: int = 0
    last_at: datetime | None = None
    last_pnl_at: datetime | None = None
    day: date | None = None
    max_stale_seconds: float | None = None
    delivered: int = 0
    failed: int = 0
    errors: int = 0


class EngineSampler:
    """Refreshes engine gauges and samples the P&L chart every few seconds of the engine's clock."""

    def __init__(
        self,
        engine: TradingEngine,
        metrics: Metrics,
        provider: EngineDashboardProvider,
        notifier: Notifier,
        every_seconds: float,
        pnl_every_seconds: float,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.provider = provider
        self.notifier = notifier
        self.every_seconds = every_seconds
        self.pnl_every_seconds = pnl_every_seconds
        self.state = SamplerState(last_ticks=engine.counters.ticks)
        self._timer: TimerHandle | None = None
        self._running = False
        self._rate_window: deque[tuple[datetime, int]] = deque()
        #: Running `endpoint:Outcome` counters of REST clients (e.g. `AngelOneRestClient.counters`).
        self.client_counters: list[Mapping[str, int]] = []
        #: Running per-reason counts of dropped feed frames (e.g. `FeedDecoder.skipped`).
        self.dropped_frames: list[Mapping[str, int]] = []

    def start(self) -> None:
        self._running = True
        self.sample()
        self._schedule()

    def stop(self) -> None:
        self._running = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self) -> None:
        if self._running:
            self._timer = self.engine.clock.call_later(self.every_seconds, self._fire)

    def _fire(self) -> None:
        try:
            self.sample()
        except Exception:  # a sampler bug must never break the clock that drives trading
            self.state.errors += 1
            log.exception("operations sampler failed")
        self._schedule()

    def sample(self) -> None:
        engine, metrics, state = self.engine, self.metrics, self.state
        now = engine.clock.now_utc()
        today = ist_date(now)
        if state.day != today:
            state.day = today
            state.max_stale_seconds = None
            metrics.reset_day()
        ticks = engine.counters.ticks
        if ticks > state.last_ticks:
            metrics.ticks.labels(source="engine").inc(ticks - state.last_ticks)
        self._rate_window.append((now, ticks))
        while (now - self._rate_window[0][0]).total_seconds() > TICK_RATE_WINDOW_SECONDS:
            self._rate_window.popleft()
        first_at, first_ticks = self._rate_window[0]
        span = (now - first_at).total_seconds()
        self.provider.ticks_per_second = (ticks - first_ticks) / span if span > 0 else None
        state.last_ticks, state.last_at = ticks, now
        portfolio = engine.portfolio
        metrics.set_pnl(portfolio.daily_pnl(today), portfolio.unrealised_total())
        metrics.risk_state.state(engine.risk.state.value)
        metrics.observe_margin(engine.risk_view.margin_used(), engine.risk_view.margin_available())
        metrics.observe_book(len(portfolio.open_positions()), len(engine.store.orders_in_flight()))
        metrics.sample_process()
        for counters in self.client_counters:
            metrics.observe_client_counters(counters)
        for skipped in self.dropped_frames:
            metrics.observe_dropped_frames(skipped)
        schedule = engine.schedule
        last_tick = engine.market.last_tick_utc
        if last_tick is not None and schedule is not None and engine.phase() in MARKET_PHASES:
            session_open = schedule.session.open_utc if schedule.session is not None else None
            stale = market_hours_silence_seconds(now, last_tick, session_open)
            metrics.observe_stale(stale)
            state.max_stale_seconds = max(stale, state.max_stale_seconds or 0.0)
        stats = self.notifier.stats
        if stats.delivered > state.delivered:
            metrics.notifications.labels(outcome="delivered").inc(stats.delivered - state.delivered)
        if stats.failed > state.failed:
            metrics.notifications.labels(outcome="failed").inc(stats.failed - state.failed)
        state.delivered, state.failed = stats.delivered, stats.failed
        if state.last_pnl_at is None or (now - state.last_pnl_at).total_seconds() >= self.pnl_every_seconds:
            self.provider.sample_pnl()
            self.provider.sentiment.sample()
            state.last_pnl_at = now


# ====================================================================== the bundle
@dataclass
class Operations:
    engine: TradingEngine
    settings: Settings
    clock: Clock
    notifier: Notifier
    metrics: Metrics
    provider: EngineDashboardProvider
    router: AlertRouter
    sampler: EngineSampler
    reports_dir: Path
    metrics_server: MetricsServer | None = None
    dashboard_server: DashboardServer | None = None
    telegram: TelegramRemote | None = None
    _telegram_stop: asyncio.Event = field(default_factory=asyncio.Event)
    _telegram_task: asyncio.Task[None] | None = None
    feed_reconnects: int = 0
    reports: list[ReportFiles] = field(default_factory=list)

    async def start(
        self,
        *,
        serve_metrics: bool | None = None,
        serve_dashboard: bool | None = None,
        auth: DashboardAuth | None = None,
        serve_telegram: bool | None = None,
        telegram_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Start delivery and sampling; serve /metrics, the dashboard and the Telegram remote control
        when enabled (or asked)."""
        await self.notifier.start()
        self.sampler.start()
        if self.settings.metrics.enabled if serve_metrics is None else serve_metrics:
            server = MetricsServer(self.metrics, self.settings.metrics.host, self.settings.metrics.port)
            server.start()
            self.metrics_server = server
            log.info("metrics at http://%s:%d/metrics", self.settings.metrics.host, server.port)
        if self.settings.dashboard.enabled if serve_dashboard is None else serve_dashboard:
            dashboard = self.settings.dashboard
            app = create_app(
                self.provider, dashboard, auth if auth is not None else dashboard_auth_from_env()
            )
            self.dashboard_server = DashboardServer(app, dashboard.host, dashboard.port)
            await self.dashboard_server.start()
            log.info("dashboard at %s", self.dashboard_url)
        if self.settings.telegram.enabled if serve_telegram is None else serve_telegram:
            token = telegram_token(self.settings)
            self.telegram = TelegramRemote(
                self.settings.telegram, self.provider, self.clock, token, transport=telegram_transport
            )
            self._telegram_stop.clear()
            self._telegram_task = asyncio.create_task(self.telegram.run(self._telegram_stop), name="telegram")
            log.info(
                "telegram remote control on for %d chat(s)", len(self.settings.telegram.allowed_chat_ids)
            )

    @property
    def metrics_port(self) -> int:
        if self.metrics_server is None:
            raise RuntimeError("the metrics endpoint is not running (metrics.enabled = false?)")
        return self.metrics_server.port

    @property
    def dashboard_url(self) -> str:
        if self.dashboard_server is None:
            raise RuntimeError("the dashboard is not running (dashboard.enabled = false?)")
        return f"http://{self.settings.dashboard.host}:{self.dashboard_server.port}/"

    def watch_rest_client(self, counters: Mapping[str, int]) -> None:
        """Export a REST client's error and rate-limit counters (pass `AngelOneRestClient.counters`)."""
        self.sampler.client_counters.append(counters)

    def watch_feed_drops(self, skipped: Mapping[str, int]) -> None:
        """Export a feed decoder's dropped-frame counts by reason (pass `FeedDecoder.skipped`)."""
        self.sampler.dropped_frames.append(skipped)

    def observe_api_latency(self, endpoint: str, seconds: float, error_kind: str | None = None) -> None:
        """Per-request latency (`AngelOneRestClient.on_call`); errors are counted from the counters."""
        self.metrics.observe_api_call(endpoint, seconds)

    def on_feed_health(self, event: FeedHealth) -> None:
        self.feed_reconnects = max(self.feed_reconnects, event.reconnects)

    def write_daily_report(self, day: date | None = None, *, notify: bool = True) -> ReportFiles:
        """The end-of-day report (HTML + JSON) under the reports directory; an info alert says where."""
        self.sampler.sample()
        longest_silence = self.sampler.state.max_stale_seconds
        quality = DataQuality(
            max_feed_stale_seconds=longest_silence,
            feed_reconnects=self.feed_reconnects,
            notes=replay_clock_notes(self.clock, longest_silence),
        )
        files = write_daily_report(
            self.engine,
            self.reports_dir,
            day,
            pnl_series=self.provider.pnl_series,
            data_quality=quality,
            sentiment=self.provider.sentiment.rows(),
            mode=self.provider.mode,
        )
        self.reports.append(files)
        if notify:
            target = day or ist_date(self.clock.now_utc())
            net = self.engine.portfolio.daily_pnl(target)
            trades = len(self.engine.portfolio.trades_between(target, target))
            self.notifier.submit(
                Alert(
                    ts_utc=self.clock.now_utc(),
                    priority=AlertPriority.INFO,
                    title=f"Daily report {target.isoformat()}",
                    message=f"{trades} closed trade(s), net P&L {net:,.2f} after charges",
                    context=f"report file {files.html_path.name} (on the dashboard under Reports)",
                    dedupe_key=f"daily-report:{target.isoformat()}",
                )
            )
        return files

    def write_monthly_summary(self, month: str) -> ReportFiles:
        """Roll this month's daily reports (`YYYY-MM`) into `monthly-YYYY-MM.html/.json`."""
        generated = f"{self.clock.now_utc():%Y-%m-%dT%H:%M:%SZ}"
        files = write_monthly_summary(self.reports_dir, month, generated)
        self.reports.append(files)
        return files

    async def stop(self, drain_seconds: float | None = None) -> None:
        """Stop sampling and serving; give queued alerts a bounded time to go out."""
        self.sampler.stop()
        if self.telegram is not None:
            self._telegram_stop.set()
            if self._telegram_task is not None:
                self._telegram_task.cancel()  # a long poll may be in flight
                await asyncio.gather(self._telegram_task, return_exceptions=True)
            await self.telegram.aclose()
            self.telegram, self._telegram_task = None, None
        if self.dashboard_server is not None:
            await self.dashboard_server.stop()
            self.dashboard_server = None
        if self.metrics_server is not None:
            self.metrics_server.stop()
            self.metrics_server = None
        timeout = (
            self.settings.notifications.delivery_timeout_seconds * 2
            if drain_seconds is None
            else drain_seconds
        )
        await self.notifier.stop(drain_seconds=timeout)


def telegram_token(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """The bot token: `OPTBOT_SECRET_TELEGRAM_BOT_TOKEN`, else the keyring (never the config file)."""
    env = os.environ if environ is None else environ
    override = env.get(f"OPTBOT_SECRET_{TOKEN_SECRET.upper()}", "").strip()
    if override:
        return override
    return open_secret_store(settings).get(TOKEN_SECRET) or ""


def attach_operations(
    engine: TradingEngine,
    settings: Settings,
    clock: Clock,
    *,
    sender: NotificationSender | None = None,
    reports_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    mode: str | None = None,
) -> Operations:
    """Subscribe notifications, metrics and the dashboard provider to the engine's bus.

    `sender` replaces Apprise (tests); otherwise the configured URLs plus `OPTBOT_SECRET_NOTIFY_URLS`
    are used. `mode` is what the dashboard and the daily report call the session (`ops.run_mode`).
    Call `await ops.start()` once the event loop runs, `ops.write_daily_report()` after the EOD
    reconciliation, and `await ops.stop()` on shutdown.
    """
    urls = notification_urls(settings.notifications, environ)
    notification_settings = settings.notifications.model_copy(update={"urls": urls})
    notifier = Notifier(notification_settings, clock, sender)
    notifier.attach(engine.bus)
    metrics = Metrics()
    engine.bus.subscribe("ops-metrics", (OrderUpdate, Fill, RiskStateChanged, FeedHealth), metrics.observe)

    def observe_slippage(fill: Fill) -> None:
        """Slippage against the strategy's own limit price (market intents have no intended price)."""
        intent = engine.store.find_intent(fill.intent_id) if fill.intent_id else None
        if intent is not None and intent.limit_price:
            metrics.observe_slippage(intent.limit_price, fill.price, buying=fill.side is Side.BUY)

    engine.bus.subscribe("ops-slippage", (Fill,), observe_slippage)
    provider = EngineDashboardProvider(
        engine,
        reports_dir or settings.paths.resolve(settings.paths.reports_dir),
        recent_decisions=settings.dashboard.recent_decisions,
        mode=mode,
    )
    provider.attach()
    router = AlertRouter(engine, notification_settings, clock, notifier.submit)
    router.attach()
    sampler = EngineSampler(
        engine,
        metrics,
        provider,
        notifier,
        settings.metrics.sample_seconds,
        settings.dashboard.pnl_sample_seconds,
    )
    operations = Operations(
        engine,
        settings,
        clock,
        notifier,
        metrics,
        provider,
        router,
        sampler,
        provider.reports_dir,
    )
    engine.bus.subscribe("ops-feed", (FeedHealth,), operations.on_feed_health)
    return operations


__all__ = [
    "AlertRouter",
    "EngineSampler",
    "Operations",
    "attach_operations",
    "dashboard_auth_from_env",
    "notification_urls",
    "telegram_token",
]
