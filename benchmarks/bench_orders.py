"""Intent → order on the wire (issue 15: p99 ≤ 1 ms).

Measured in this run, with its baseline: `OrderManager.submit` (dedupe lookups, validation, pricing,
journalling the intent and its PENDING_SUBMIT order in SQLite with synchronous=FULL, throttle)
through the production Angel One client (rate limiter, headers, orjson body, httpx) until httpcore
reports the request body written to the socket of the project's SmartAPI simulator on 127.0.0.1
(httpx's `trace` extension, `http11.send_request_body.complete`). Orders are paced under the
documented placeOrder rate, so no limiter makes one wait. Baseline: `AngelOneBroker.place_order`
alone, to the same event. A second intent row passes the risk decision as the engine does
(`TradingEngine` always submits with one): the decision is journalled with the intent, in the same
commit, before the send.

The floor under both intent rows is one SQLite commit with synchronous=FULL, i.e. one fsync of the
WAL before the order may leave (the no-duplicate / no-lost-order guarantee across kill -9 and power
loss); the run prints this disk's fsync latency beside the figures.

(The earlier in-process variant, `submit` up to a fake broker's `place_order`, waits forever at its
11th order on the current tree, also before this file changed; this measure covers its path and the
client's.)
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from optbot.broker.angelone.auth import AuthService
from optbot.broker.angelone.broker import AngelOneBroker
from optbot.broker.angelone.rest import AngelOneRestClient
from optbot.broker.angelone.secrets import SecretStore
from optbot.broker.models import OrderRequest
from optbot.config.sections.broker import BrokerSettings
from optbot.config.settings import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import OrderType, ProductType, RiskState, Side
from optbot.core.events import RiskDecision
from optbot.execution.order_manager import OrderManager
from optbot.persistence.store import Store
from optbot.sim.server import Simulator
from optbot.test_kit.broker import MemoryKeyring
from optbot.test_kit.execution import (
    option_instrument,
    option_intent,
    option_quote,
)
from optbot.test_kit.sim import NIFTY_CE_TOKEN, TEST_ACCOUNT, StaticMarket, market_hours_start

WIRE_ORDERS = 300
#: Simulated seconds between orders: under the client's placeOrder window (9/s) and the SEBI
#: per-segment limit (10/s), so neither makes an order wait (their waits are not what this measures).
#: The simulation's clock is also the transport clock, so the pause costs no real time.
WIRE_PACE_SECONDS = 0.25
TRACE_EVENT = "http11.send_request_body.complete"
#: The throttle is measured elsewhere; here it must never make a request wait.
UNTHROTTLED = {
    "order_rate_per_second": 10**9,
    "order_rate_per_minute": 10**9,
    "order_rate_per_hour": 10**9,
}


class _TracedTransport(httpx.AsyncBaseTransport):
    """The client's own transport, recording when each request's body has been written to the socket."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.written: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions["trace"] = self._trace
        return await self._inner.handle_async_request(request)

    async def _trace(self, event: str, info: dict[str, Any]) -> None:
        if event == TRACE_EVENT:
            self.written.append(time.perf_counter())

    async def aclose(self) -> None:
        await self._inner.aclose()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _timed_to_wire(
    clock: SimClock, transport: _TracedTransport, count: int, send: Callable[[int], Awaitable[object]]
) -> list[float]:
    """Milliseconds from calling `send(i)` to its request body on the socket, paced."""
    latencies: list[float] = []
    for index in range(count):
        started = time.perf_counter()
        await send(index)
        latencies.append((transport.written[-1] - started) * 1000)
        clock.advance(WIRE_PACE_SECONDS)
    return latencies


def fsync_latencies(directory: Path, count: int = 100) -> list[float]:
    """Milliseconds of one fsync of a small append on this disk (what a FULL-synchronous commit waits)."""
    path = directory / "fsync-probe"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    latencies: list[float] = []
    try:
        for _ in range(count):
            os.write(descriptor, b"x" * 256)
            started = time.perf_counter()
            os.fsync(descriptor)
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        os.close(descriptor)
        path.unlink()
    return latencies


async def _run_wire(directory: Path) -> tuple[list[float], list[float], list[float]]:
    clock = SimClock(market_hours_start())
    market = StaticMarket(clock)
    sim = Simulator(market, clock, [TEST_ACCOUNT])
    await sim.start()
    broker_settings = BrokerSettings(client_code=TEST_ACCOUNT.client_code, rest_base_url=sim.base_url)
    secrets = SecretStore(MemoryKeyring(), "bench-orders", environ={})
    for name, value in (
        ("api_key", TEST_ACCOUNT.api_key),
        ("pin", TEST_ACCOUNT.pin),
        ("totp_secret", TEST_ACCOUNT.totp_secret),
    ):
        secrets.set(name, value)
    transport = _TracedTransport()
    rest = AngelOneRestClient(broker_settings, clock, TEST_ACCOUNT.api_key, transport=transport)
    broker = AngelOneBroker(rest, clock, broker_settings)
    store = Store.open(directory / "wire.sqlite", clock)
    instrument = option_instrument(token=NIFTY_CE_TOKEN, symbol=market.symbol("NFO", NIFTY_CE_TOKEN))
    market.set_quote("NFO", NIFTY_CE_TOKEN, 100.0, spread=0.10, quantity=750)
    manager = OrderManager(
        broker,
        store,
        clock,
        Settings(execution=UNTHROTTLED),
        lambda exchange, token: instrument if token == instrument.token else None,
    )
    quote = option_quote(token=instrument.token, symbol=instrument.symbol)
    try:
        await AuthService(broker_settings, secrets, clock, rest).login()

        async def submit(index: int) -> object:
            intent = option_intent(
                f"wire-{index}", instrument=instrument, strategy=f"s{index}", when=clock.now_utc()
            )
            return await manager.submit(intent, quote=quote)

        async def submit_decided(index: int) -> object:
            intent = option_intent(
                f"decided-{index}", instrument=instrument, strategy=f"d{index}", when=clock.now_utc()
            )
            decision = RiskDecision(
                clock.now_utc(), intent.intent_id, True, ("within limits",), intent.quantity, RiskState.ACTIVE
            )
            return await manager.submit(intent, quote=quote, decision=decision)

        async def place(index: int) -> object:
            request = OrderRequest(
                instrument.exchange,
                instrument.token,
                instrument.symbol,
                Side.BUY,
                75,
                OrderType.LIMIT,
                ProductType.INTRADAY,
                f"direct{index}",
                price=100.5,
            )
            return await broker.place_order(request)

        await place(-1)  # the connection is opened once, as in a session, before anything is timed
        latencies = await _timed_to_wire(clock, transport, WIRE_ORDERS, submit)
        decided = await _timed_to_wire(clock, transport, WIRE_ORDERS, submit_decided)
        baseline = await _timed_to_wire(clock, transport, WIRE_ORDERS, place)
    finally:
        store.close()
        await rest.aclose()
        await sim.stop()
    return latencies, decided, baseline


def _line(label: str, values: list[float]) -> str:
    p50, p99 = _percentile(values, 0.50), _percentile(values, 0.99)
    return f"{label:42s} p50 {p50:.3f} ms  p99 {p99:.3f} ms  mean {statistics.fmean(values):.3f} ms"


def main() -> None:
    # on the project's own disk (not a tmpfs /tmp), so fsync costs what it costs in production
    with tempfile.TemporaryDirectory(dir=Path.cwd(), prefix=".bench-orders-") as directory:
        wire, decided, wire_base = asyncio.run(_run_wire(Path(directory)))
        fsyncs = fsync_latencies(Path(directory))
    print(f"to the wire: {WIRE_ORDERS} orders to the simulator on 127.0.0.1 (file-backed SQLite, WAL, FULL)")
    print(_line("intent -> request body on the socket", wire))
    print(_line("intent + risk decision (engine's path)", decided))
    print(_line("baseline AngelOneBroker.place_order alone", wire_base))
    print(_line("one fsync on this disk (the commit's floor)", fsyncs))
    p99 = _percentile(wire, 0.99)
    print(f"ratio p99 intent/baseline: {p99 / max(_percentile(wire_base, 0.99), 1e-9):.1f}x")
    print(f"target p99 <= 1 ms (issue 15): {'MET' if p99 <= 1.0 else 'NOT MET'}")
