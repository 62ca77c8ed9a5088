"""Intent → order on the wire (issue 15: p99 ≤ 1 ms).

Measured in this run, with its baseline: `OrderManager.submit` (dedupe lookups, validation, pricing,
journalling the intent and its PENDING_SUBMIT order in SQLite with synchronous=FULL, throttle, SEBI
gate) through the production Angel One client (rate limiter, headers, orjson body, httpx, and the
client's transport, `Http11Transport`) until the transport reports the request body handed to the
socket of the project's SmartAPI simulator on 127.0.0.1 (httpx's `trace` extension,
`http11.send_request_body.complete`). Orders are paced under the documented placeOrder rates, so no
limiter makes one wait. Baseline: `AngelOneBroker.place_order` alone, to the same event. A second
intent row passes the risk decision as the engine does (`TradingEngine` always submits with one): the
decision is journalled with the intent, in the same commit, before the send. The clock starts with
the intent (and its decision) in hand: building them is the strategy's and the risk engine's work,
not the order path's.

The simulator runs in a process of its own (`SimulatorProcess`, spawned; it binds port 0 and reports
its port): a real broker's CPU is not ours, and in one process its server would run whenever the
client's code gave the loop a turn. What loopback still charges the client is the kernel's receive
path, run inside the sender's `send` (a NIC would not). The printout also says, per order, whether
a garbage-collector pass fell inside the window and whether the path gave the event loop a turn
before its body was on the socket (then other tasks, e.g. the market feed's, run first).

The floor under both intent rows is one SQLite commit with synchronous=FULL, i.e. one fsync of the
WAL before the order may leave (the no-duplicate / no-lost-order guarantee across kill -9 and power
loss); the run prints this disk's fsync latency beside the figures, and the engine's path split into
its parts, each order's own COMMIT timed, so intent -> wire is read with and without this disk's fsync.
The store is opened as a session opens it: the WAL is checkpointed by its own thread, not inside the
COMMIT that crosses SQLite's threshold (`optbot.persistence.checkpoint`), and the broker's
acknowledgement after the send is committed without an fsync of its own (one fsync per order).
"""

from __future__ import annotations

import asyncio
import gc
import os
import sqlite3
import statistics
import tempfile
import time
import types
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx

from optbot.broker.angelone.auth import AuthService
from optbot.broker.angelone.broker import AngelOneBroker
from optbot.broker.angelone.ratelimit import Priority
from optbot.broker.angelone.rest import AngelOneRestClient, default_transport
from optbot.broker.angelone.secrets import SecretStore
from optbot.broker.models import OrderRequest, PlaceResult
from optbot.config.sections.broker import BrokerSettings
from optbot.config.settings import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import OrderType, ProductType, RiskState, Side
from optbot.core.events import RiskDecision
from optbot.core.heap import StartupHeap
from optbot.execution.order_manager import OrderManager
from optbot.persistence.checkpoint import WalCheckpointer, configure_wal
from optbot.persistence.db import open_database
from optbot.persistence.records import IntentRecord, OrderRecord
from optbot.persistence.store import Store
from optbot.sim.process import SimulatorProcess
from optbot.sim.server import Simulator
from optbot.test_kit.broker import MemoryKeyring
from optbot.test_kit.execution import (
    option_instrument,
    option_intent,
    option_quote,
)
from optbot.test_kit.sim import NIFTY_CE_TOKEN, TEST_ACCOUNT, StaticMarket, market_hours_start

WIRE_ORDERS = 2000
#: Simulated seconds between orders: under every placeOrder window of the client's limiter (9/s,
#: 500/min, 1,000/hour: 3.6 s an order over a run of thousands) and the SEBI per-segment limit (10/s),
#: so none makes an order wait (their waits are not what this measures). The simulation's clock is
#: also the transport clock, so the pause costs no real time.
WIRE_PACE_SECONDS = 3.7
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
    #: the order manager calls the broker's place_order
    broker_called: float = 0.0
    transport: float = 0.0
    headers_started: float = 0.0
    written: float = 0.0
    #: the garbage collector's passes inside the window (their count, seconds, oldest generation)
    gc_passes: int = 0
    gc_seconds: float = 0.0
    gc_generation: int = -1
    #: times the timed call gave the event loop a turn before its body was on the socket (other
    #: tasks, e.g. the market feed's, run then)
    suspensions: int = 0


@dataclass
class _Recorder:
    """The marks of the order being sent now; the journal hooks and the transport write into it."""

    current: _Marks = field(default_factory=_Marks)
    journalling: bool = False
    #: between an order's start and its body on the socket
    timing: bool = False
    _gc_started: float = 0.0

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        """`gc.callbacks` hook: a collection inside the timed window is charged to the order."""
        if not self.timing:
            return
        if phase == "start":
            self._gc_started = time.perf_counter()
            return
        marks = self.current
        marks.gc_passes += 1
        marks.gc_seconds += time.perf_counter() - self._gc_started
        marks.gc_generation = max(marks.gc_generation, info["generation"])


class _TracedTransport(httpx.AsyncBaseTransport):
    """The client's own transport, recording when httpx hands it the request, when the transport
    starts writing it and when its body has been written to the socket."""

    def __init__(self, recorder: _Recorder, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
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
            self._recorder.timing = False

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
    """The production store on a file as a session opens it (`Store.open` with the session's WAL
    settings: its checkpoints made by a thread of their own), its intent journal marked and its
    commits timed."""
    wal = Settings().persistence
    connection = open_database(path)
    configure_wal(connection, wal)
    timed = cast(sqlite3.Connection, _TimedConnection(connection, recorder))
    store = Store(timed, clock, _unpinned(WalCheckpointer(path, wal).start))
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


def _unpinned(start: Callable[[], WalCheckpointer]) -> WalCheckpointer:
    """`start` with its thread free to run on any CPU, as in a session: this process is pinned to
    one CPU here (see `_split_cpus`), and the checkpointer's work is not the order path's."""
    if not hasattr(os, "sched_setaffinity"):
        return start()
    pinned = os.sched_getaffinity(0)
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    try:
        return start()  # a new thread takes the affinity of the one that starts it
    finally:
        os.sched_setaffinity(0, pinned)


def _marked_broker(broker: AngelOneBroker, recorder: _Recorder) -> AngelOneBroker:
    """The production broker, marking when the order manager hands it the order."""
    place_order = broker.place_order

    async def marked(request: OrderRequest, priority: Priority = Priority.ENTRY) -> PlaceResult:
        recorder.current.broker_called = time.perf_counter()
        return await place_order(request, priority)

    broker.place_order = marked  # type: ignore[method-assign]
    return broker


async def _timed_to_wire(
    clock: SimClock,
    recorder: _Recorder,
    count: int,
    prepare: Callable[[int], Callable[[], Coroutine[Any, Any, object]]],
) -> list[_Marks]:
    """The marks of sending order i for each i, paced: `prepare(i)` builds what the caller holds when
    the order is decided (the intent and its risk decision), untimed; timed is the call it returns,
    from its start to the request body on the socket."""
    marks: list[_Marks] = []
    for index in range(count):
        send = prepare(index)
        recorder.current = _Marks(started=time.perf_counter(), cpu_started=time.process_time())
        recorder.timing = True
        await _counting_suspensions(send(), recorder)
        recorder.timing = False
        marks.append(recorder.current)
        clock.advance(WIRE_PACE_SECONDS)
    return marks


@types.coroutine
def _counting_suspensions(
    coroutine: Coroutine[Any, Any, object], recorder: _Recorder
) -> Generator[Any, Any, object]:
    """Await `coroutine`, counting each time it suspends (the loop's turn) before its body is sent."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            yielded = coroutine.send(value) if error is None else coroutine.throw(error)
        except StopIteration as stop:
            return stop.value
        if recorder.timing:
            recorder.current.suspensions += 1
        try:
            value, error = (yield yielded), None
        except BaseException as exc:  # a cancellation or error thrown in: passed on to the coroutine
            value, error = None, exc


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


def _split_cpus() -> tuple[set[int] | None, set[int] | None]:
    """This process's CPUs and the simulator's: apart, when there are two or more. Woken by each
    request, the server would otherwise often run at once on the sender's CPU, inside its send: with
    both on any CPU, the socket write's p99 was 0.9-1.2 ms, apart 0.19-0.21 ms (its CPU time)."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    return set(available[:-1]), {available[-1]}


def _simulator() -> Simulator:
    """The broker the orders go to, built in its own process (see `SimulatorProcess`). Its own rate
    windows are off: its clock stands still at the open, and the client's limiter, which is on the
    measured path, already keeps every order under the documented rates."""
    clock = SimClock(market_hours_start())
    market = StaticMarket(clock)
    market.set_quote("NFO", NIFTY_CE_TOKEN, 100.0, spread=0.10, quantity=750)
    return Simulator(market, clock, [TEST_ACCOUNT], rate_limits=False)


async def _run_wire(
    directory: Path, sim: SimulatorProcess
) -> tuple[list[_Marks], list[_Marks], list[_Marks]]:
    clock = SimClock(market_hours_start())
    market = StaticMarket(clock)
    broker_settings = BrokerSettings(client_code=TEST_ACCOUNT.client_code, rest_base_url=sim.base_url)
    secrets = SecretStore(MemoryKeyring(), "bench-orders", environ={})
    for name, value in (
        ("api_key", TEST_ACCOUNT.api_key),
        ("pin", TEST_ACCOUNT.pin),
        ("totp_secret", TEST_ACCOUNT.totp_secret),
    ):
        secrets.set(name, value)
    recorder = _Recorder()
    transport = _TracedTransport(recorder, default_transport(broker_settings) or httpx.AsyncHTTPTransport())
    rest = AngelOneRestClient(broker_settings, clock, TEST_ACCOUNT.api_key, transport=transport)
    broker = _marked_broker(AngelOneBroker(rest, clock, broker_settings), recorder)
    store = _timed_store(directory / "wire.sqlite", clock, recorder)
    instrument = option_instrument(token=NIFTY_CE_TOKEN, symbol=market.symbol("NFO", NIFTY_CE_TOKEN))
    manager = OrderManager(
        broker,
        store,
        clock,
        Settings(execution=UNTHROTTLED),
        lambda exchange, token: instrument if token == instrument.token else None,
    )
    quote = option_quote(token=instrument.token, symbol=instrument.symbol)
    gc.callbacks.append(recorder.on_gc)
    heap = StartupHeap(Settings().engine.freeze_startup_heap)
    try:
        await AuthService(broker_settings, secrets, clock, rest).login()

        def submit(index: int) -> Callable[[], Coroutine[Any, Any, object]]:
            intent = option_intent(
                f"wire-{index}", instrument=instrument, strategy=f"s{index}", when=clock.now_utc()
            )
            return lambda: manager.submit(intent, quote=quote)

        def submit_decided(index: int) -> Callable[[], Coroutine[Any, Any, object]]:
            intent = option_intent(
                f"decided-{index}", instrument=instrument, strategy=f"d{index}", when=clock.now_utc()
            )
            decision = RiskDecision(
                clock.now_utc(), intent.intent_id, True, ("within limits",), intent.quantity, RiskState.ACTIVE
            )
            return lambda: manager.submit(intent, quote=quote, decision=decision)

        def place(index: int) -> Callable[[], Coroutine[Any, Any, object]]:
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
        # as the live session does once it has started (engine.freeze_startup_heap)
        heap.freeze()
        latencies = await _timed_to_wire(clock, recorder, WIRE_ORDERS, submit)
        decided = await _timed_to_wire(clock, recorder, WIRE_ORDERS, submit_decided)
        baseline = await _timed_to_wire(clock, recorder, WIRE_ORDERS, place)
    finally:
        gc.callbacks.remove(recorder.on_gc)
        heap.release()
        store.close()
        await rest.aclose()
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
            "  order manager: request, throttle, SEBI gate",
            [_ms(m.broker_called - m.journal_ended) for m in marks],
        ),
        (
            "  client: limiter, body, headers, httpx",
            [_ms(m.transport - m.broker_called) for m in marks],
        ),
        ("  transport: connection from the pool", [_ms(m.headers_started - m.transport) for m in marks]),
        ("  socket write (headers + body)", [_ms(m.written - m.headers_started) for m in marks]),
        (
            "  intent -> wire less its own COMMIT",
            [_ms(m.written - m.started - m.commit_seconds) for m in marks],
        ),
    ]


def _gc_line(marks: list[_Marks]) -> str:
    hit = [m for m in marks if m.gc_passes]
    if not hit:
        return f"  GC passes inside the window: none in {len(marks)} orders"
    generations = ", ".join(
        f"gen{g} {sum(1 for m in hit if m.gc_generation == g)}"
        for g in sorted({m.gc_generation for m in hit})
    )
    clean = [_ms(m.written - m.started) for m in marks if not m.gc_passes]
    pauses = [_ms(m.gc_seconds) for m in hit]
    return (
        f"  GC passes inside the window: {len(hit)} of {len(marks)} orders ({generations}), pause p50 "
        f"{_percentile(pauses, 0.5):.3f} ms max {max(pauses):.3f} ms;"
        f" p99 of the orders without one {_percentile(clean, 0.99):.3f} ms"
    )


def _loop_line(marks: list[_Marks]) -> str:
    turns = [m.suspensions for m in marks]
    return (
        f"  event loop turns before the body was on the socket: {sum(1 for t in turns if t)} of "
        f"{len(marks)} orders had any (max {max(turns)})"
    )


def main() -> None:
    # on the project's own disk (not a tmpfs /tmp), so fsync costs what it costs in production
    with tempfile.TemporaryDirectory(dir=Path.cwd(), prefix=".bench-orders-") as directory:
        ours, theirs = _split_cpus()
        with SimulatorProcess(_simulator, cpus=theirs) as sim:
            if ours is not None:
                os.sched_setaffinity(0, ours)
            try:
                wire, decided, wire_base = asyncio.run(_run_wire(Path(directory), sim))
            finally:
                if ours is not None and theirs is not None:
                    os.sched_setaffinity(0, ours | theirs)
        fsyncs = fsync_latencies(Path(directory))
    pinned = f"; simulator on CPU {sorted(theirs)}, this process on {sorted(ours)}" if ours and theirs else ""
    print(
        f"to the wire: {WIRE_ORDERS} orders a row to the SmartAPI simulator in its own process on 127.0.0.1"
        f" (its CPU is not counted here{pinned}), file-backed SQLite, WAL, FULL"
    )
    print(_line("intent -> request body on the socket", _to_wire(wire)))
    print(_line("intent + risk decision (engine's path)", _to_wire(decided)))
    for label, values in _split(decided):
        print(_line(label, values))
    print(_line("  its CPU time (this process, load-independent)", _cpu(decided)))
    print(_gc_line(decided))
    print(_loop_line(decided))
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
