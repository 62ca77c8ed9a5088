"""Intent → order on the wire, inside the process (issue 7: p99 ≤ 5 ms).

Measures the order manager's full pre-send path (dedupe lookups, validation, pricing, persisting the
intent and PENDING_SUBMIT order with synchronous=FULL, throttle) up to the moment the broker's
`place_order` is entered, against a baseline of calling the broker directly in the same run.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from optbot.broker.models import OrderRequest, PlaceResult
from optbot.config.settings import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import OrderType, ProductType, Side
from optbot.test_kit.execution import (
    TEST_START,
    FakeBroker,
    build_harness,
    option_instrument,
    option_intent,
    option_quote,
)

ORDERS = 500


class _WireTimer(FakeBroker):
    """Records when each request reaches the 'wire' (the broker call)."""

    wire_times: list[float]

    async def place_order(self, request: OrderRequest) -> PlaceResult:
        self.wire_times.append(time.perf_counter())
        return await super().place_order(request)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _run(directory: Path) -> tuple[list[float], list[float]]:
    clock = SimClock(TEST_START)
    broker = _WireTimer(clock, fill_policy="none")
    broker.wire_times = []
    instrument = option_instrument()
    # the throttle is measured elsewhere; here it must never make a request wait
    unthrottled = Settings(
        execution={
            "order_rate_per_second": 10**9,
            "order_rate_per_minute": 10**9,
            "order_rate_per_hour": 10**9,
        }
    )
    harness = build_harness(
        directory / "optbot.sqlite", broker=broker, instrument=instrument, settings=unthrottled
    )
    latencies: list[float] = []
    quote = option_quote()
    for index in range(ORDERS):
        intent = option_intent(f"bench-{index}", strategy=f"s{index}")
        started = time.perf_counter()
        await harness.manager.submit(intent, quote=quote)
        latencies.append((broker.wire_times[-1] - started) * 1000)
    baseline: list[float] = []
    for index in range(ORDERS):
        request = OrderRequest(
            instrument.exchange,
            instrument.token,
            instrument.symbol,
            Side.BUY,
            75,
            OrderType.LIMIT,
            ProductType.INTRADAY,
            f"base{index}",
            price=100.5,
        )
        started = time.perf_counter()
        await broker.place_order(request)
        baseline.append((broker.wire_times[-1] - started) * 1000)
    harness.store.close()
    return latencies, baseline


def main() -> None:
    # on the project's own disk (not a tmpfs /tmp), so fsync costs what it costs in production
    with tempfile.TemporaryDirectory(dir=Path.cwd(), prefix=".bench-orders-") as directory:
        latencies, baseline = asyncio.run(_run(Path(directory)))
    p50, p99 = _percentile(latencies, 0.50), _percentile(latencies, 0.99)
    base_p50, base_p99 = _percentile(baseline, 0.50), _percentile(baseline, 0.99)
    print(f"orders: {ORDERS} (file-backed SQLite, WAL, synchronous=FULL)")
    print(f"intent -> wire  p50 {p50:.3f} ms  p99 {p99:.3f} ms  mean {statistics.fmean(latencies):.3f} ms")
    print(f"baseline direct broker call  p50 {base_p50:.4f} ms  p99 {base_p99:.4f} ms")
    print(f"ratio p99 intent/baseline: {p99 / max(base_p99, 1e-9):.1f}x")
    print(f"target p99 <= 5 ms: {'MET' if p99 <= 5.0 else 'NOT MET'}")
