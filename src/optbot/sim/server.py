"""The simulator as one object: a loopback aiohttp server with REST, both sockets and the admin API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from aiohttp import web

from optbot.config.sections.sim import SimSettings
from optbot.core.clock import Clock
from optbot.sim.admin import register_admin
from optbot.sim.auth import SessionStore, SimAccount
from optbot.sim.contracts import MarketView
from optbot.sim.exchange import SimExchange
from optbot.sim.faults import FaultInjector
from optbot.sim.feed import register_market_feed, register_order_socket
from optbot.sim.ratelimit import RateLimiter
from optbot.sim.rest import (
    analytics_routes,
    edis_routes,
    gtt_routes,
    market_routes,
    order_routes,
    session_routes,
)
from optbot.sim.rest.analytics_routes import OpenInterestBaseline
from optbot.sim.rest.edis_routes import EdisDesk
from optbot.sim.rest.framework import SimState, register
from optbot.sim.rest.gtt_routes import GttBook

log = logging.getLogger(__name__)

MARKET_WS_PATH = "/smart-stream"
ORDER_WS_PATH = "/smart-order-update"


class Simulator:
    """Start it, point a SmartAPI client at `base_url`, stop it."""

    def __init__(
        self,
        market: MarketView,
        clock: Clock,
        accounts: list[SimAccount],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        session_ttl: timedelta | None = None,
        rate_limits: bool = True,
        settings: SimSettings | None = None,
        totp_clock: Clock | None = None,
        rate_limit_clock: Clock | None = None,
        seed: int = 0,
    ) -> None:
        """`rate_limit_clock`: what the per-client rate windows count on. Angel One counts requests per
        real second, so a standalone server replaying faster than real time (`optbot sim serve`) passes
        a `LiveClock`; without it the windows use the replay clock, which stops when the replay ends and
        would then refuse every further request. In-process tests keep the default (deterministic)."""
        if not accounts:
            raise ValueError("the simulator needs at least one account")
        self.settings = settings or SimSettings()
        if session_ttl is None and self.settings.session_ttl_seconds is not None:
            session_ttl = timedelta(seconds=self.settings.session_ttl_seconds)
        self.market = market
        self.clock = clock
        self.host = host
        self._requested_port = port
        self.port = 0
        self.sessions = SessionStore(
            clock,
            list(accounts),
            session_ttl=session_ttl,
            totp_clock=totp_clock,
            totp_valid_window=self.settings.totp_valid_window_steps,
            refresh_rotates_tokens=self.settings.refresh_rotates_tokens,
        )
        self.faults = FaultInjector(clock)
        self.exchange = SimExchange(market, clock, list(accounts), self.settings, seed=seed)
        self.limiter = RateLimiter(
            rate_limit_clock or clock,
            self.settings.rate_limits,
            enabled=rate_limits and self.settings.rate_limits_enabled,
        )
        self.gtt = GttBook(self.exchange)
        self.oi_baseline = OpenInterestBaseline()
        self.edis = EdisDesk(
            self.exchange, clock, list(accounts), self.settings.edis_auto_authorise, seed=seed
        )
        self._runner: web.AppRunner | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self._wired = False
        self._state: SimState | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def market_ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}{MARKET_WS_PATH}"

    @property
    def order_ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}{ORDER_WS_PATH}"

    def build_app(self) -> web.Application:
        state = SimState(
            clock=self.clock,
            market=self.market,
            sessions=self.sessions,
            exchange=self.exchange,
            faults=self.faults,
            limiter=self.limiter,
            settings=self.settings,
            extras={"gtt": self.gtt, "oi_baseline": self.oi_baseline, "edis": self.edis},
        )
        self._state = state
        app = web.Application(client_max_size=1024 * 1024)
        endpoints = [
            *session_routes.ENDPOINTS,
            *order_routes.ENDPOINTS,
            *market_routes.ENDPOINTS,
            *analytics_routes.ENDPOINTS,
            *gtt_routes.ENDPOINTS,
            *edis_routes.ENDPOINTS,
        ]
        register(app, endpoints, state)
        register_admin(app, state)
        register_market_feed(app, self.market, self.sessions, self.faults)
        register_order_socket(app, self.sessions, self.exchange.add_listener, faults=self.faults)
        return app

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("simulator already started")
        self.exchange.resolve_holding_seeds()  # a bad accounts-file holding fails here, by name
        app = self.build_app()
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._requested_port)
            await site.start()
        except BaseException:
            await runner.cleanup()  # e.g. the port is taken: leave nothing half-started
            raise
        self._runner = runner
        addresses = runner.addresses
        self.port = int(addresses[0][1]) if addresses else self._requested_port
        if not self._wired:
            self.exchange.start()
            self.market.subscribe_quotes(self.gtt.on_quote)
            self.market.subscribe_quotes(self.oi_baseline.observe)
            self._wired = True
        self._seed_open_interest_baseline()
        self._housekeeping = asyncio.create_task(self._sweep_forever(), name="sim-exchange-housekeeping")
        log.info("SmartAPI simulator listening on %s", self.base_url)

    async def _sweep_forever(self) -> None:
        """Time-driven exchange transitions even when no quote or request arrives (e.g. after close)."""
        interval = self.settings.housekeeping_interval_seconds
        while True:
            await self.clock.sleep(interval)
            try:
                self.exchange.sweep()
            except Exception:  # housekeeping must survive a bad order; the error is logged
                log.exception("exchange housekeeping failed")

    def _seed_open_interest_baseline(self) -> None:
        """Futures' OI at start is the base of today's OI change (gainersLosers, OIBuildup)."""
        for spec in self.exchange.instruments.all():
            if spec.is_future:
                quote = self.market.quote(spec.exchange, spec.token)
                if quote is not None:
                    self.oi_baseline.observe(quote)

    async def stop(self) -> None:
        if self._runner is None:
            return
        if self._state is not None:
            self._state.stopping.set()
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
            self._housekeeping = None
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()
