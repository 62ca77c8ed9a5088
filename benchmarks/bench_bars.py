"""Streaming aggregation: ticks → 1-minute bars on one core (target ≥ 300,000 ticks/s).

Baseline in the same run: a bare loop that only reads each tick's timestamp and price (the floor any
aggregator pays to look at a tick).
"""

from __future__ import annotations

import time
from datetime import datetime

from optbot.calendar import get_calendar
from optbot.core.clock import SimClock
from optbot.core.events import Bar
from optbot.core.timeutil import IST
from optbot.data.bars import BarAggregator
from optbot.test_kit.data import ist, make_tick

TOKENS = 20
SECONDS = 3600
PER_SECOND_PER_TOKEN = 10  # 20 tokens x 10 ticks/s x 1 h = 720,000 ticks


def main() -> None:
    start = ist(2025, 9, 4, 9, 15)
    ticks = []
    for second in range(SECONDS):
        for index in range(PER_SECOND_PER_TOKEN):
            for token in range(TOKENS):
                at = start.timestamp() + second + index / PER_SECOND_PER_TOKEN
                ticks.append((at, token))
    events = [
        make_tick(str(40000 + token), 100.0 + (at % 60), datetime.fromtimestamp(at, tz=IST))
        for at, token in ticks
    ]
    print(f"{len(events):,} ticks, {TOKENS} tokens, {SECONDS // 60} minutes")

    started = time.perf_counter()
    checksum = 0.0
    for tick in events:
        moment = tick.ts_exchange or tick.ts_utc
        checksum += moment.timestamp() + tick.ltp
    baseline = time.perf_counter() - started

    clock = SimClock(ist(2025, 9, 4, 9, 14))
    bars: list[Bar] = []
    aggregator = BarAggregator(clock, get_calendar(), bars.append)
    for token in range(TOKENS):
        aggregator.track(str(40000 + token), f"OPT{token}", is_option=False)
    aggregator.start()
    next_minute = 0
    started = time.perf_counter()
    for position, tick in enumerate(events):
        if position == next_minute:  # advance the clock once per simulated minute, as a replay would
            clock.advance_to(tick.ts_utc)
            next_minute += TOKENS * PER_SECOND_PER_TOKEN * 60
        aggregator.on_tick(tick)
    clock.advance_to(events[-1].ts_utc)
    elapsed = time.perf_counter() - started
    rate = len(events) / elapsed
    minute_bars = sum(1 for bar in bars if bar.timeframe.value == "1m")
    print(f"baseline (read timestamp + price only): {len(events) / baseline:,.0f} ticks/s")
    print(f"BarAggregator: {rate:,.0f} ticks/s ({minute_bars} 1m bars, {len(bars)} bars in all)")
    print(f"target >= 300,000 ticks/s: {'PASS' if rate >= 300_000 else 'FAIL'}")
    print(f"ratio aggregator / baseline throughput: {(len(events) / elapsed) / (len(events) / baseline):.2f}")
