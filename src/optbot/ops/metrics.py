"""Prometheus metrics (spec §10.9, §13.4).

One `Metrics` object owns a private registry (so tests and several engines in one process don't
collide). `observe(event)` turns bus events into metric updates; clients and the order manager call
the explicit helpers (`observe_api_call`, `observe_rate_limit`, …) where the event bus has no event.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any
from wsgiref.simple_server import WSGIServer

import psutil
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Enum,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    start_http_server,
)

from optbot.core.enums import OrderStatus, RiskState
from optbot.core.events import Event, FeedHealth, Fill, OrderUpdate, PositionChanged, RiskStateChanged, Tick
from optbot.ops.listen import ListenSetting, unavailable


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        self.api_latency = Histogram(
            "optbot_api_latency_seconds",
            "Broker REST latency per endpoint",
            ["endpoint"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.api_errors = Counter(
            "optbot_api_errors_total", "Broker REST errors", ["endpoint", "kind"], registry=r
        )
        self.rate_limit_hits = Counter(
            "optbot_rate_limit_hits_total", "Broker 403 rate-limit replies", ["endpoint"], registry=r
        )
        self.ws_reconnects = Counter(
            "optbot_ws_reconnects_total", "Market-data socket reconnects", registry=r
        )
        self.feed_circuit_opens = Counter(
            "optbot_feed_circuit_opens_total",
            "Market-data reconnect circuit breaker openings (engine.max_reconnect_attempts failed in a row)",
            registry=r,
        )
        self.feed_circuit_open = Gauge(
            "optbot_feed_circuit_open",
            "1 while a market-data socket reconnects at the circuit breaker's cool-down pace",
            registry=r,
        )
        self.feed_connected = Gauge(
            "optbot_feed_connected", "1 when the market feed is connected", registry=r
        )
        self.feed_stale_seconds = Gauge(
            "optbot_feed_stale_seconds", "Seconds since the last frame", registry=r
        )
        self.ticks = Counter("optbot_ticks_total", "Ticks received", ["source"], registry=r)
        self.feed_frames_dropped = Counter(
            "optbot_feed_frames_dropped_total",
            "Market-data frames dropped (undecodable, or crossed / negative values)",
            ["reason"],
            registry=r,
        )
        self.order_updates = Counter("optbot_order_updates_total", "Order updates", ["status"], registry=r)
        self.order_rejects = Counter(
            "optbot_order_rejects_total", "Orders rejected by broker or RMS", registry=r
        )
        self.fills = Counter("optbot_fills_total", "Fills received", registry=r)
        self.slippage = Histogram(
            "optbot_slippage_rupees",
            "Fill price minus intended price, per unit, signed against us",
            buckets=(-5, -1, -0.5, -0.1, 0, 0.1, 0.5, 1, 2, 5, 10, 25),
            registry=r,
        )
        self.realised_pnl = Gauge("optbot_realised_pnl_rupees", "Realised P&L today, net", registry=r)
        self.unrealised_pnl = Gauge("optbot_unrealised_pnl_rupees", "Unrealised P&L", registry=r)
        self.drawdown = Gauge("optbot_drawdown_rupees", "Drawdown from today's equity peak", registry=r)
        self.margin_used_pct = Gauge("optbot_margin_used_pct", "Margin utilisation percent", registry=r)
        self.risk_state = Enum(
            "optbot_risk_state", "Risk engine state", states=[s.value for s in RiskState], registry=r
        )
        self.positions_open = Gauge("optbot_positions_open", "Open positions", registry=r)
        self.orders_in_flight = Gauge("optbot_orders_in_flight", "Orders not yet final", registry=r)
        self.notifications = Counter(
            "optbot_notifications_total", "Alerts delivered or not", ["outcome"], registry=r
        )
        self.cpu_percent = Gauge("optbot_cpu_percent", "Process CPU percent", registry=r)
        self.memory_rss = Gauge("optbot_memory_rss_bytes", "Process resident memory", registry=r)
        self._position_pnl: dict[str, tuple[float, float]] = {}
        self._peak_equity = 0.0
        self._reconnects_seen = 0
        self._client_seen: dict[str, int] = {}
        self._frames_seen: dict[str, int] = {}
        self._process = psutil.Process()
        self.risk_state.state(RiskState.ACTIVE.value)

    def observe(self, event: Event) -> None:
        if isinstance(event, Tick):
            self.ticks.labels(source=event.source).inc()
        elif isinstance(event, OrderUpdate):
            self.order_updates.labels(status=event.status.value).inc()
            if event.status is OrderStatus.REJECTED:
                self.order_rejects.inc()
        elif isinstance(event, Fill):
            self.fills.inc()
        elif isinstance(event, PositionChanged):
            self._position_pnl[event.token] = (event.realised_pnl, event.unrealised_pnl)
            self._refresh_pnl()
        elif isinstance(event, RiskStateChanged):
            self.risk_state.state(event.current.value)
        elif isinstance(event, FeedHealth):
            self.feed_connected.set(1 if event.connected else 0)
            self.feed_stale_seconds.set(event.stale_seconds)
            if event.reconnects > self._reconnects_seen:  # FeedHealth carries the running total
                self.ws_reconnects.inc(event.reconnects - self._reconnects_seen)
                self._reconnects_seen = event.reconnects

    def _refresh_pnl(self) -> None:
        realised = sum(value[0] for value in self._position_pnl.values())
        unrealised = sum(value[1] for value in self._position_pnl.values())
        self.set_pnl(realised, unrealised)

    def set_pnl(self, realised: float, unrealised: float) -> None:
        """Today's realised (net of charges) and open unrealised P&L; drawdown from the equity peak."""
        self.realised_pnl.set(realised)
        self.unrealised_pnl.set(unrealised)
        equity = realised + unrealised
        self._peak_equity = max(self._peak_equity, equity)
        self.drawdown.set(self._peak_equity - equity)

    def observe_api_call(self, endpoint: str, seconds: float, error_kind: str | None = None) -> None:
        self.api_latency.labels(endpoint=endpoint).observe(seconds)
        if error_kind is not None:
            self.api_errors.labels(endpoint=endpoint, kind=error_kind).inc()
            if error_kind == "rate_limited":
                self.rate_limit_hits.labels(endpoint=endpoint).inc()

    def observe_client_counters(self, counters: Mapping[str, int]) -> None:
        """Errors and rate-limit hits from a REST client's running `endpoint:Outcome` counters.

        `AngelOneRestClient.counters` counts `name:sent`, `name:retry` and `name:<BrokerError class>`;
        only the increase since the previous call is added, so this can be polled at any interval.
        """
        for key, total in counters.items():
            endpoint, _, outcome = key.rpartition(":")
            if not endpoint or outcome in ("sent", "retry"):
                continue
            increase = total - self._client_seen.get(key, 0)
            if increase <= 0:
                continue
            self._client_seen[key] = total
            kind = "rate_limited" if outcome == "RateLimited" else outcome
            self.api_errors.labels(endpoint=endpoint, kind=kind).inc(increase)
            if kind == "rate_limited":
                self.rate_limit_hits.labels(endpoint=endpoint).inc(increase)

    def observe_dropped_frames(self, skipped: Mapping[str, int]) -> None:
        """A feed decoder's running per-reason skip counts; only the increase since the last call."""
        for reason, total in skipped.items():
            increase = total - self._frames_seen.get(reason, 0)
            if increase > 0:
                self._frames_seen[reason] = total
                self.feed_frames_dropped.labels(reason=reason).inc(increase)

    def observe_reconnect(self) -> None:
        self.ws_reconnects.inc()

    def observe_circuit(self, opened: bool, any_open: bool) -> None:
        """A socket's reconnect circuit breaker opened (counted) or closed again; `any_open` is the
        feed's state after it (another socket's breaker may still be open)."""
        if opened:
            self.feed_circuit_opens.inc()
        self.feed_circuit_open.set(1 if any_open else 0)

    def observe_slippage(self, intended_price: float, fill_price: float, buying: bool) -> None:
        per_unit = fill_price - intended_price if buying else intended_price - fill_price
        self.slippage.observe(per_unit)

    def observe_book(self, positions_open: int, orders_in_flight: int) -> None:
        self.positions_open.set(positions_open)
        self.orders_in_flight.set(orders_in_flight)

    def observe_stale(self, seconds: float) -> None:
        self.feed_stale_seconds.set(seconds)

    def reset_day(self) -> None:
        """A new trading day: drawdown is measured from the new day's equity peak."""
        self._peak_equity = 0.0
        self._position_pnl.clear()

    def observe_margin(self, used: float, available: float) -> None:
        total = used + available
        self.margin_used_pct.set(100.0 * used / total if total > 0 else 0.0)

    def sample_process(self) -> None:
        self.cpu_percent.set(self._process.cpu_percent(interval=None))
        self.memory_rss.set(self._process.memory_info().rss)

    def render(self) -> bytes:
        self.sample_process()
        return generate_latest(self.registry)


class MetricsServer:
    """The /metrics endpoint on its own thread (prometheus_client's WSGI server)."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        self._metrics = metrics
        self._host = host
        self._port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        try:
            server, thread = start_http_server(self._port, addr=self._host, registry=self._metrics.registry)
        except OSError as exc:  # the port is taken: say which setting, never run on without /metrics
            raise unavailable(ListenSetting("metrics.port", self._host, self._port), exc) from None
        self._server, self._thread = server, thread
        return int(server.server_port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        return int(self._server.server_port) if self._server is not None else self._port

    def __enter__(self) -> MetricsServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
