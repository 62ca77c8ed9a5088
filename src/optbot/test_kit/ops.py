"""Test doubles for operations tests: a scripted dashboard provider, a scripted strategy, a session
pause and a loopback receiver for Apprise's JSON notifications."""

from __future__ import annotations

import asyncio
import asyncio.base_events
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from aiohttp import web

from optbot.config import Settings
from optbot.core.bus import EventBus
from optbot.core.clock import Clock
from optbot.core.enums import IntentPurpose, OrderType, ProductType, Side
from optbot.core.events import Bar, Event, Fill, OrderIntent
from optbot.core.ids import new_id
from optbot.core.instrument import Instrument
from optbot.core.timeutil import to_ist
from optbot.ops.dashboard.provider import DashboardSnapshot
from optbot.strategy.base import Strategy
from optbot.strategy.context import StrategyContext

SHORT_SECRET = 8


@dataclass
class ScriptedDashboardProvider:
    snapshot_value: DashboardSnapshot
    reports: list[Path] = field(default_factory=list)
    kills: list[tuple[str, str]] = field(default_factory=list)

    def snapshot(self) -> DashboardSnapshot:
        return self.snapshot_value

    async def kill_switch(self, reason: str, actor: str) -> str:
        self.kills.append((reason, actor))
        self.snapshot_value = DashboardSnapshot(
            ts_utc=self.snapshot_value.ts_utc,
            mode=self.snapshot_value.mode,
            risk={"state": "HALTED", "reason": reason},
            positions=[],
        )
        return "halted; 1 order cancelled; 1 position flattened"

    def report_files(self) -> list[Path]:
        return self.reports


def sample_snapshot() -> DashboardSnapshot:
    return DashboardSnapshot(
        ts_utc="2026-08-07T05:00:00.000Z",
        mode="paper",
        session={"session": "open", "close_ist": "15:40", "auth_valid_until": "2026-08-08T00:00+05:30"},
        feed={"connected": True, "stale_seconds": 0.4, "reconnects": 0, "ticks_per_second": 12.5},
        risk={"state": "ACTIVE", "size_multiplier": 1.0, "recent_decisions": []},
        exposure={"margin_used": 14_625.0, "margin_available": 485_375.0, "margin_used_pct": 2.9},
        positions=[
            {
                "symbol": "NIFTY11AUG2624550CE",
                "quantity": 75,
                "average_price": 195.0,
                "ltp": 210.5,
                "unrealised_pnl": 1162.5,
                "realised_pnl": 0.0,
                "delta": 39.4,
                "theta_per_day": -612.0,
            }
        ],
        orders=[],
        trades=[
            {
                "time": "10:31:02",
                "symbol": "NIFTY11AUG2624550CE",
                "side": "BUY",
                "quantity": 75,
                "price": 195.0,
            }
        ],
        sentiment=[
            {
                "underlying": "NIFTY",
                "spot": 24_531.4,
                "atm_strike": 24_550.0,
                "pcr_oi": 1.083,
                "pcr_volume": 0.912,
                "max_pain": 24_500.0,
                "atm_iv_pct": 12.4,
                "hv_pct": 9.8,
                "iv_hv_ratio": 1.265,
                "iv_regime": "RICH",
                "strike_skew_pct": None,
                "risk_reversal_25d_pct": -1.35,
                "atm_call_build_up": "short build up",
                "atm_put_build_up": "long unwinding",
                "profile_poc": 24_512.35,
                "profile_vah": 24_548.9,
                "profile_val": 24_480.05,
                "initial_balance_high": 24_561.2,
                "initial_balance_low": 24_470.6,
                "profile_basis": "TPO",
                "sampled_ist": "10:30",
            }
        ],
        pnl_series=[
            ("2026-08-07T05:00:00Z", 0.0),
            ("2026-08-07T05:01:00Z", 500.0),
            ("2026-08-07T05:02:00Z", 1162.5),
        ],
    )


class ScriptedAtmCall(Strategy):
    """A deterministic test strategy: one lot of the ATM call after `entry_after` IST, sold at `exit_at`.

    It decides on closed entry-timeframe bars of the underlying, like a real strategy, so a paper
    session through the engine produces an entry fill, a held position with Greeks, and an exit fill.
    """

    name: ClassVar[str] = "ops_scripted_atm_call"

    def __init__(
        self,
        settings: Settings,
        underlying: str = "NIFTY",
        entry_after: time = time(10, 0),
        exit_at: time = time(14, 0),
        lots: int = 1,
    ) -> None:
        super().__init__(settings)
        self.underlying = underlying.upper()
        self.entry_after = entry_after
        self.exit_at = exit_at
        self.lots = lots
        self.contract: Instrument | None = None
        self.entered = False
        self.exited = False
        self.held = 0
        self.journal: list[str] = []

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        if bar.symbol != self.underlying or bar.timeframe is not self.settings.strategy.entry_timeframe:
            return
        at = to_ist(bar.end_utc).time()
        if not self.entered and at >= self.entry_after:
            self._enter(ctx, bar)
        elif self.entered and not self.exited and at >= self.exit_at:
            self._exit(ctx)

    def _enter(self, ctx: StrategyContext, bar: Bar) -> None:
        chain = ctx.chain(self.underlying)
        if chain is None or not chain.strikes:
            self.journal.append(f"{bar.end_utc.isoformat()} no chain for {self.underlying} yet")
            return
        contract = chain.row(chain.atm(bar.close)).call
        if contract is None:
            self.journal.append(f"{bar.end_utc.isoformat()} ATM strike has no listed call")
            return
        self.contract = contract
        self.entered = True
        self.journal.append(f"{bar.end_utc.isoformat()} buy {contract.symbol}")
        ctx.submit(self._intent(ctx, contract, Side.BUY, IntentPurpose.ENTRY, "scripted ATM call entry"))

    def _exit(self, ctx: StrategyContext) -> None:
        """Sell what the book holds (not what this strategy bought: a kill switch may have flattened it)."""
        self.exited = True
        held = sum(
            position.net_quantity
            for position in ctx.positions()
            if self.contract is not None and position.token == self.contract.token
        )
        if self.contract is None or held <= 0:
            self.journal.append(f"{ctx.now_utc().isoformat()} nothing to sell")
            return
        self.journal.append(f"{ctx.now_utc().isoformat()} sell {held} {self.contract.symbol}")
        intent = self._intent(ctx, self.contract, Side.SELL, IntentPurpose.EXIT, "scripted exit")
        ctx.submit(replace(intent, quantity=held))

    def _intent(
        self, ctx: StrategyContext, contract: Instrument, side: Side, purpose: IntentPurpose, reason: str
    ) -> OrderIntent:
        return OrderIntent(
            ts_utc=ctx.now_utc(),
            intent_id=new_id(),
            strategy=self.name,
            token=contract.token,
            exchange=contract.exchange,
            symbol=contract.symbol,
            side=side,
            quantity=contract.lot_size * self.lots,
            purpose=purpose,
            order_type=OrderType.MARKET,
            product=ProductType.INTRADAY,
            underlying=self.underlying,
            option_type=contract.option_type,
            reason=reason,
        )

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        self.held += fill.quantity if fill.side is Side.BUY else -fill.quantity
        self.journal.append(
            f"{fill.ts_utc.isoformat()} fill {fill.side.value} {fill.quantity} @ {fill.price}"
        )

    def on_reject(self, ctx: StrategyContext, intent: OrderIntent, reasons: tuple[str, ...]) -> None:
        self.journal.append(f"{ctx.now_utc().isoformat()} refused {intent.symbol}: {'; '.join(reasons)}")


class SessionPause:
    """Holds a replayed session at the first engine event on or after `at` (engine clock) until released.

    The replay never yields to the event loop on its own; this bus subscriber does, once, so a test can
    serve the dashboard, scrape metrics or press the kill switch in the middle of a trading day and
    then let the day finish. Events that keep coming while a position is held (marks) trigger it.
    """

    def __init__(self, bus: EventBus, clock: Clock, at: datetime) -> None:
        self._clock = clock
        self.at = at
        self.reached = asyncio.Event()
        self._release = asyncio.Event()
        self.paused_at: datetime | None = None
        bus.subscribe("test-session-pause", (Event,), self._on_event)

    async def _on_event(self, event: Event) -> None:
        if self.paused_at is not None or self._clock.now_utc() < self.at:
            return
        self.paused_at = self._clock.now_utc()
        self.reached.set()
        await self._release.wait()

    def release(self) -> None:
        self._release.set()

    async def wait_reached(self, session: asyncio.Task[object], within_seconds: float) -> None:
        """Wait for the pause; fail clearly if the session ended (or crashed) without reaching it."""
        waiter = asyncio.ensure_future(self.reached.wait())
        done, _ = await asyncio.wait(
            {waiter, session}, timeout=within_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        if waiter not in done:
            waiter.cancel()
            if session in done:
                session.result()
                raise AssertionError(f"the session ended without an engine event after {self.at.isoformat()}")
            raise AssertionError(f"the session did not reach {self.at.isoformat()} within {within_seconds} s")


@dataclass
class JsonReceiver:
    """A loopback HTTP endpoint that records what Apprise's `json://` target posts to it."""

    received: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    async def start(self) -> int:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = int(server.sockets[0].getsockname()[1])
        return self.port

    async def _receive(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        self.received.append(await request.json())
        return web.Response(text="ok")

    def titles(self) -> list[str]:
        return [str(item.get("title", "")) for item in self.received]

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], within_seconds: float = 10.0
    ) -> dict[str, Any]:
        """The first received notification matching `predicate`; fails after `within_seconds`."""
        try:
            async with asyncio.timeout(within_seconds):
                while True:
                    for item in self.received:
                        if predicate(item):
                            return item
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(
                f"no matching notification within {within_seconds} s; got {self.titles()}"
            ) from None

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def find_secrets(data: bytes, secrets: Mapping[str, str]) -> list[str]:
    """Names of the secrets present in `data`, raw or URL-encoded.

    Secrets shorter than 8 characters (a 4-digit PIN) count only as a whole token, so a price or an
    id that merely contains the digits is not a false alarm.
    """
    found = []
    for name, secret in secrets.items():
        raw = secret.encode()
        if len(secret) < SHORT_SECRET:
            pattern = re.compile(rb"(?<![0-9A-Za-z])" + re.escape(raw) + rb"(?![0-9A-Za-z])")
            if pattern.search(data):
                found.append(name)
        elif raw in data or quote(secret, safe="").encode() in data:
            found.append(name)
    return found


def scan_tree(root: Path, secrets: Mapping[str, str]) -> dict[str, list[str]]:
    """Every file under `root` (relative path) that contains any of `secrets`, with their names."""
    leaks: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            found = find_secrets(path.read_bytes(), secrets)
            if found:
                leaks[str(path.relative_to(root))] = found
    return leaks
