"""Intent → order on the wire (issue 15: p99 ≤ 1 ms).

Measured in this run, with its baseline: `OrderManager.submit` (dedupe lookups, validation, pricing,
journalling the intent and its PENDING_SUBMIT order in SQLite with synchronous=FULL, throttle)
through the production Angel One client (rate limiter, headers, orjson body, httpx) until httpcore
reports the request body written to the socket of the project's SmartAPI simulator on 127.0.0.1
(httpx's `trace` extension, `http11.send_request_body.complete`). Orders are paced under the
documented placeOrder rate, so no limiter makes one wait. Baseline: `AngelOneBroker.place_order`
alone, to the same event. A second intent row passes the risk decision as the engine does
(`TradingEngine` always submits with one): the decision is journalled with the intent, in the same
commit, before the send. The clock starts with the intent (and its decision) in hand: building them
is the strategy's and the risk engine's work, not the order path's.

The simulator runs in this process and on this event loop: between the header and body writes
httpcore yields to the loop, and the simulator's server reads the headers then, inside the
"socket write" part (a broker across the network costs the client no CPU there).

The floor under both intent rows is one SQLite commit with synchronous=FULL, i.e. one fsync of the
WAL before the order may leave (the no-duplicate / no-lost-order guarantee across kill -9 and power
loss); the run prints this disk's fsync latency beside the figures, and the engine's path split into
its parts, each order's own COMMIT timed, so intent -> wire is read with and without this disk's fsync.

(The earlier in-process variant, `submit` up to a fake broker's `place_order`, waits forever at its
11th order on the current tree, also before this file changed; this measure covers its path and the
client's.)
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

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
from optbot.persistence.db import open_database
from optbot.persistence.records import IntentRecord, OrderRecord
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
HEADERS_EVENT = "http11.send_request_headers.started"
#: The throttle is measured elsewhere; here it must never make a request wait.
UNTHROTTLED = {
    "order_rate_per_second": 10**9,
    "order_rate_per_minute": 10**9,
    "order_rate_per_hour": 10**9,
}


@dataclass
class _Marks:
    """perf_counter() marks of one order on its way to the wire (0.0: the row has no such step)."""

    started: float = 0.0
    #: process CPU seconds at the start and when the body was written: what the path costs this
    #: process whatever else the (shared) machine is doing
    cpu_started: float = 0.0
    cpu_written: float = 0.0
    journal_started: float = 0.0
    commit_seconds: float = 0.0
    journal_ended: float = 0.0
    transport: float = 0.0
    headers_started: float = 0.0
    written: float = 0.0


@dataclass
class _Recorder:
    """The marks of the order being sent now; the journal hooks and the transport write into it."""

    current: _Marks = field(default_factory=_Marks)
    journalling: bool = False


class _TracedTransport(httpx.AsyncBaseTransport):
    """The client's own transport, recording when httpx hands it the request, when httpcore starts
    writing it and when its body has been written to the socket."""

    def __init__(self, recorder: _Recorder) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._recorder = recorder

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._recorder.current.transport = time.perf_counter()
        request.extensions["trace"] = self._trace
        return await self._inner.handle_async_request(request)

    async def _trace(self, event: str, info: dict[str, Any]) -> None:
        if event == HEADERS_EVENT:
            self._recorder.current.headers_started = time.perf_counter()
        elif event == TRACE_EVENT:
            self._recorder.current.written = time.perf_counter()
            self._recorder.current.cpu_written = time.process_time()

    async def aclose(self) -> None:
        await self._inner.aclose()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class _TimedConnection:
    """The store's connection, timing each COMMIT made while the intent is journalled (the WAL
    write and, with synchronous=FULL, its fsync)."""

    def __init__(self, inner: sqlite3.Connection, recorder: _Recorder) -> None:
        self._inner = inner
        self._recorder = recorder

    def execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        if sql == "COMMIT" and self._recorder.journalling:
            started = time.perf_counter()
            cursor = self._inner.execute(sql, parameters)
            self._recorder.current.commit_seconds += time.perf_counter() - started
            return cursor
        return self._inner.execute(sql, parameters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _timed_store(path: Path, clock: SimClock, recorder: _Recorder) -> Store:
    """The production store on a file, its intent journal marked and its commits timed."""
    store = Store(cast(sqlite3.Connection, _TimedConnection(open_database(path), recorder)), clock)
    insert_intent = store.insert_intent

    def journalled(
        intent: IntentRecord, orders: list[OrderRecord], decision: RiskDecision | None = None
    ) -> None:
        recorder.current.journal_started = time.perf_counter()
        recorder.journalling = True
        try:
            insert_intent(intent, orders, decision)
        finally:
            recorder.journalling = False
            recorder.current.journal_ended = time.perf_counter()

    store.insert_intent = journalled  # type: ignore[method-assign]
    return store


async def _timed_to_wire(
    clock: SimClock,
    recorder: _Recorder,
    count: int,
    prepare: Callable[[int], Callable[[], Awaitable[object]]],
) -> list[_Marks]:
    """The marks of sending order i for each i, paced: `prepare(i)` builds what the caller holds when
    the order is decided (the intent and its risk decision), untimed; timed is the call it returns,
    from its start to the request body on the socket."""
    marks: list[_Marks] = []
    for index in range(count):
        send = prepare(index)
        recorder.current = _Marks(started=time.perf_counter(), cpu_started=time.process_time())
        await send()
        marks.append(recorder.current)
        clock.advance(WIRE_PACE_SECONDS)
    return marks


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


async def _run_wire(directory: Path) -> tuple[list[_Marks], list[_Marks], list[_Marks]]:
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
    recorder = _Recorder()
    transport = _TracedTransport(recorder)
    rest = AngelOneRestClient(broker_settings, clock, TEST_ACCOUNT.api_key, transport=transport)
    broker = AngelOneBroker(rest, clock, broker_settings)
    store = _timed_store(directory / "wire.sqlite", clock, recorder)
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

        def submit(index: int) -> Callable[[], Awaitable[object]]:
            intent = option_intent(
                f"wire-{index}", instrument=instrument, strategy=f"s{index}", when=clock.now_utc()
            )
            return lambda: manager.submit(intent, quote=quote)

        def submit_decided(index: int) -> Callable[[], Awaitable[object]]:
            intent = option_intent(
                f"decided-{index}", instrument=instrument, strategy=f"d{index}", when=clock.now_utc()
            )
            decision = RiskDecision(
                clock.now_utc(), intent.intent_id, True, ("within limits",), intent.quantity, RiskState.ACTIVE
            )
            return lambda: manager.submit(intent, quote=quote, decision=decision)

        def place(index: int) -> Callable[[], Awaitable[object]]:
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
            return lambda: broker.place_order(request)

        await place(-1)()  # the connection is opened once, as in a session, before anything is timed
        latencies = await _timed_to_wire(clock, recorder, WIRE_ORDERS, submit)
        decided = await _timed_to_wire(clock, recorder, WIRE_ORDERS, submit_decided)
        baseline = await _timed_to_wire(clock, recorder, WIRE_ORDERS, place)
    finally:
        store.close()
        await rest.aclose()
        await sim.stop()
    return latencies, decided, baseline


def _line(label: str, values: list[float]) -> str:
    p50, p99 = _percentile(values, 0.50), _percentile(values, 0.99)
    return f"{label:46s} p50 {p50:.3f} ms  p99 {p99:.3f} ms  mean {statistics.fmean(values):.3f} ms"


def _ms(seconds: float) -> float:
    return seconds * 1000


def _to_wire(marks: list[_Marks]) -> list[float]:
    return [_ms(mark.written - mark.started) for mark in marks]


def _cpu(marks: list[_Marks]) -> list[float]:
    return [_ms(mark.cpu_written - mark.cpu_started) for mark in marks]


def _split(marks: list[_Marks]) -> list[tuple[str, list[float]]]:
    """The engine's path in its parts (each a column of the same orders)."""
    return [
        (
            "  checks, lookups, pricing before the journal",
            [_ms(m.journal_started - m.started) for m in marks],
        ),
        (
            "  journal SQL (the statements, no commit)",
            [_ms(m.journal_ended - m.journal_started - m.commit_seconds) for m in marks],
        ),
        ("  COMMIT (WAL write + fsync, synchronous=FULL)", [_ms(m.commit_seconds) for m in marks]),
        (
            "  gate, limiters, body, headers, httpx Request",
            [_ms(m.transport - m.journal_ended) for m in marks],
        ),
        ("  httpcore: connection from the pool", [_ms(m.headers_started - m.transport) for m in marks]),
        ("  socket write (headers + body)", [_ms(m.written - m.headers_started) for m in marks]),
        (
            "  intent -> wire less its own COMMIT",
            [_ms(m.written - m.started - m.commit_seconds) for m in marks],
        ),
    ]


def main() -> None:
    # on the project's own disk (not a tmpfs /tmp), so fsync costs what it costs in production
    with tempfile.TemporaryDirectory(dir=Path.cwd(), prefix=".bench-orders-") as directory:
        wire, decided, wire_base = asyncio.run(_run_wire(Path(directory)))
        fsyncs = fsync_latencies(Path(directory))
    print(f"to the wire: {WIRE_ORDERS} orders to the simulator on 127.0.0.1 (file-backed SQLite, WAL, FULL)")
    print(_line("intent -> request body on the socket", _to_wire(wire)))
    print(_line("intent + risk decision (engine's path)", _to_wire(decided)))
    for label, values in _split(decided):
        print(_line(label, values))
    print(_line("  its CPU time (this process, load-independent)", _cpu(decided)))
    print(_line("baseline AngelOneBroker.place_order alone", _to_wire(wire_base)))
    print(_line("  its CPU time", _cpu(wire_base)))
    print(_line("one fsync on this disk (the commit's floor)", fsyncs))
    p99 = _percentile(_to_wire(decided), 0.99)
    without_fsync = _percentile([_ms(m.written - m.started - m.commit_seconds) for m in decided], 0.99)
    print(f"ratio p99 engine's path/baseline: {p99 / max(_percentile(_to_wire(wire_base), 0.99), 1e-9):.1f}x")
    print(
        f"target p99 <= 1 ms (issue 15), engine's path: {p99:.3f} ms {'MET' if p99 <= 1.0 else 'NOT MET'};"
        f" less its COMMIT: {without_fsync:.3f} ms {'MET' if without_fsync <= 1.0 else 'NOT MET'}"
        f" (this disk's fsync p99 {_percentile(fsyncs, 0.99):.3f} ms)"
    )
