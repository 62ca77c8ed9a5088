"""Persisting one closed bar into a store at full retention size (target p99 ≤ 5 ms, fsync on).

The 1m file is pre-filled with 92 days x 375 bars (the default intraday retention). Baseline in the
same run: rewriting the whole file atomically per bar, which is what a single JSON-array document
would need.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from optbot.config.sections.data import DataSettings
from optbot.config.sections.paths import PathsSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Timeframe
from optbot.data.store import JsonStore
from optbot.test_kit.data import make_bar

RETENTION_BARS = 92 * 375
APPENDS = 500
REWRITES = 10


def _p(values: list[float], quantile: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        start = datetime(2025, 6, 1, 3, 45, tzinfo=UTC)
        clock = SimClock(start + timedelta(days=93))
        store = JsonStore(PathsSettings(data_root=Path(folder)), DataSettings(fsync_appends=True), clock)
        history = [make_bar(start + timedelta(minutes=i), 24000.0 + i % 100) for i in range(RETENTION_BARS)]
        store.merge_bars("NIFTY", Timeframe.M1, history)
        size = store.bar_path("NIFTY", Timeframe.M1).stat().st_size
        print(f"store: {RETENTION_BARS:,} 1m bars, {size / 1e6:.1f} MB")

        latencies: list[float] = []
        for index in range(APPENDS):
            bar = make_bar(start + timedelta(minutes=RETENTION_BARS + index), 24000.0)
            began = time.perf_counter()
            store.append_bar(bar)
            latencies.append((time.perf_counter() - began) * 1000)
        p50, p99 = statistics.median(latencies), _p(latencies, 0.99)
        print(f"append + fsync: p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {max(latencies):.3f} ms")
        print(f"target p99 <= 5 ms: {'PASS' if p99 <= 5 else 'FAIL'}")

        rewrites: list[float] = []
        for index in range(REWRITES):
            bar = make_bar(start + timedelta(minutes=RETENTION_BARS + APPENDS + index), 24000.0)
            began = time.perf_counter()
            store.merge_bars("NIFTY", Timeframe.M1, [bar])
            rewrites.append((time.perf_counter() - began) * 1000)
        baseline = statistics.median(rewrites)
        print(f"baseline whole-file atomic rewrite per bar: p50 {baseline:.1f} ms")
        print(f"ratio rewrite / append (p50): {baseline / p50:.0f}x")
        assert len(store.read_bars("NIFTY", Timeframe.M1)) >= RETENTION_BARS
