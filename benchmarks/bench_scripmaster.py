"""Scrip master: parse + validate + index 150,000 rows (target ≤ 3 s, ≤ 300 MB extra memory).

Baseline in the same run: plain `json.loads` of the same payload (the stdlib parse alone).
"""

from __future__ import annotations

import gc
import json
import time
from datetime import date

import orjson
import psutil

from optbot.instruments.master import InstrumentMaster, MasterInfo
from optbot.instruments.scripmaster import parse_master
from optbot.test_kit.instruments import large_master_rows

ROWS = 150_000


def main() -> None:
    payload = orjson.dumps(large_master_rows(ROWS))
    print(f"payload: {ROWS} rows, {len(payload) / 1e6:.1f} MB")
    gc.collect()
    process = psutil.Process()
    rss_before = process.memory_info().rss
    started = time.perf_counter()
    instruments, report = parse_master(payload)
    parsed = time.perf_counter()
    master = InstrumentMaster(instruments, MasterInfo(date(2026, 8, 7), "bench"))
    finished = time.perf_counter()
    peak = process.memory_info().rss - rss_before  # resident growth while the master is alive
    master.nearest_expiry("STOCK001", date(2026, 8, 7))
    baseline_started = time.perf_counter()
    json.loads(payload)  # baseline measured after, so its freed memory cannot flatter the figure above
    baseline = time.perf_counter() - baseline_started
    total = finished - started
    print(f"stdlib json.loads only (baseline): {baseline:.3f} s")
    print(
        f"parse+validate: {parsed - started:.3f} s ({report.accepted} kept, {report.rejected_total} rejected)"
    )
    print(f"index:          {finished - parsed:.3f} s")
    print(f"total:          {total:.3f} s  (target <= 3 s: {'PASS' if total <= 3 else 'FAIL'})")
    print(f"ratio total / stdlib parse: {total / baseline:.2f}x")
    verdict = "PASS" if peak <= 300e6 else "FAIL"
    print(f"extra resident memory (parse + index alive): {peak / 1e6:.0f} MB (target <= 300 MB: {verdict})")
