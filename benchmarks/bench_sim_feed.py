"""Simulator feed throughput: WS frame encoding vs raw struct packing, and replay ticks per second."""

from __future__ import annotations

import struct
import time
from datetime import datetime
from pathlib import Path

from optbot.calendar import get_calendar
from optbot.config.sections.replay import ReplaySettings
from optbot.core.clock import SimClock
from optbot.core.timeutil import IST
from optbot.sim.feed.codec import SubscriptionMode, encode_quote
from optbot.sim.market import ReplayMarket
from optbot.test_kit.sim_feed import sample_quote

FRAMES = 100_000
_RAW_QUOTE = struct.Struct("<BB25sqqqqqqddqqqq")


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def bench_encoding() -> None:
    quote = sample_quote()
    start = time.perf_counter()
    for _ in range(FRAMES):
        _RAW_QUOTE.pack(2, 2, b"45000", 1, 1757304000250, 10125, 75, 10075, 123450, 1.0, 2.0, 1, 2, 3, 4)
    raw = _rate(FRAMES, time.perf_counter() - start)
    print(f"raw struct QUOTE pack        {raw:>12,.0f} frames/s (baseline)")
    for mode in (SubscriptionMode.LTP, SubscriptionMode.QUOTE, SubscriptionMode.SNAP_QUOTE):
        start = time.perf_counter()
        for _ in range(FRAMES):
            encode_quote(quote, mode)
        rate = _rate(FRAMES, time.perf_counter() - start)
        print(f"encode_quote {mode.name:<15} {rate:>12,.0f} frames/s  ({rate / raw:.2f} x baseline)")


def bench_replay(watched: int) -> None:
    clock = SimClock(datetime(2025, 9, 8, 9, 14, tzinfo=IST))
    market = ReplayMarket(clock, ReplaySettings(data_dir=Path("data/sample/store")), get_calendar())
    nifty = sorted(
        (c for c in market.contracts() if c.underlying == "NIFTY"),
        key=lambda c: (c.expiry, abs(c.strike - 24741.0)),
    )[:watched]
    for contract in nifty:
        market.watch("NFO", contract.token)
    published = 0

    def count(_quote: object) -> None:
        nonlocal published
        published += 1

    market.subscribe_quotes(count)
    start = time.perf_counter()
    ticks = market.advance_to(datetime(2025, 9, 8, 10, 15, tzinfo=IST))
    elapsed = time.perf_counter() - start
    simulated = 3600.0
    print(
        f"replay 1 h, {watched:>3} watched options: {ticks:,} index ticks, {published:,} quotes "
        f"in {elapsed:.2f}s "
        f"= {_rate(published, elapsed):,.0f} quotes/s, {simulated / elapsed:,.0f} x real time"
    )


def main() -> None:
    bench_encoding()
    for watched in (0, 20, 200):
        bench_replay(watched)
