"""Loading one day's option chain: the Parquet archive vs the §2.1 JSON-lines layout, same rows.

A realistic chain: 30 strikes x CE/PE = 60 contracts, 375 one-minute bars a session, over
`SESSIONS` sessions (the near-the-money life of a weekly/monthly contract). In the JSON-lines layout
every contract is one file `timeframes/<SYMBOL>/1m.json` holding its whole history, so one day's
chain means reading and parsing 60 whole files; the archive reads one Parquet partition.
Also reported: bytes per stored row, and what a year of one underlying's chain would occupy.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from optbot.config.sections.data import DataSettings
from optbot.config.sections.paths import PathsSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Timeframe
from optbot.core.events import Bar
from optbot.core.instrument import option_symbol
from optbot.data.archive import OptionArchive, OptionBarRow, rows_to_table
from optbot.data.store import JsonStore

STRIKES = 30
SESSIONS = 10
MINUTES = 375
REPEATS = 15
SESSIONS_PER_YEAR = 250
FIRST_OPEN = datetime(2022, 11, 1, 3, 45, tzinfo=UTC)
SAMPLE_ARCHIVE_ROOT = Path(__file__).resolve().parents[1] / "data" / "sample" / "store"
EXPIRY = date(2022, 11, 24)


def _session_open(index: int) -> datetime:
    return FIRST_OPEN + timedelta(days=index)


def _rows(session: int) -> list[OptionBarRow]:
    rows: list[OptionBarRow] = []
    start = _session_open(session)
    noise = random.Random(session)  # seeded noise: compresses like real prices, not a pattern
    for strike_index in range(STRIKES):
        strike = 17500.0 + 50 * strike_index
        for option_type in ("CE", "PE"):
            symbol = option_symbol("NIFTY", EXPIRY, strike, option_type)
            price = 40.0 + 10 * strike_index
            for minute in range(MINUTES):
                price = max(0.05, round((price + noise.gauss(0, 0.8)) / 0.05) * 0.05)
                low = max(0.05, price - 1.0)
                rows.append(
                    OptionBarRow(
                        start + timedelta(minutes=minute), "NIFTY", EXPIRY, strike, option_type,
                        symbol, price, price + 1.5, low, price + 0.5, 50 * noise.randint(0, 200),
                        120_000 + 50 * minute, "vendor",
                    )
                )  # fmt: skip
    return rows


def _as_bar(row: OptionBarRow) -> Bar:
    end = row.ts + timedelta(minutes=1)
    return Bar(
        ts_utc=end, token="", symbol=row.symbol, timeframe=Timeframe.M1, start_utc=row.ts, end_utc=end,
        open=row.open, high=row.high, low=row.low, close=row.close, volume=row.volume, open_interest=row.oi,
    )  # fmt: skip


def _timed(action: object) -> float:
    began = time.perf_counter()
    action()  # type: ignore[operator]
    return (time.perf_counter() - began) * 1000


def _folder_bytes(folder: Path) -> int:
    files = [path for path in folder.rglob("*") if path.is_file() and ".good" not in path.name]
    return sum(path.stat().st_size for path in files)


def _real_sample() -> None:
    """The bundled real 2022-11 NIFTY option minute bars: each day from the archive vs JSON lines."""
    archive = OptionArchive(SAMPLE_ARCHIVE_ROOT)
    days = archive.days("NIFTY", "1m")
    if not days:
        print("real sample: data/sample/store/archive missing (make sample-archive); skipped")
        return
    tables = [archive.day("NIFTY", day) for day in days]
    rows = sum(table.num_rows for table in tables)
    with tempfile.TemporaryDirectory() as folder:
        store = JsonStore(
            PathsSettings(data_root=Path(folder)), DataSettings(fsync_appends=False), SimClock(FIRST_OPEN)
        )
        by_symbol: dict[str, list[Bar]] = {}
        for table in tables:
            for record in table.to_pylist():
                by_symbol.setdefault(record["symbol"], []).append(_as_bar(OptionBarRow(**record)))
        for symbol, bars in by_symbol.items():
            store.merge_bars(symbol, Timeframe.M1, bars)
        archive_ms = [
            statistics.median(_timed(lambda day=day: archive.day("NIFTY", day)) for _ in range(REPEATS))
            for day in days
        ]
        day = datetime.combine(days[len(days) // 2], datetime.min.time(), tzinfo=UTC) - timedelta(hours=6)
        json_ms = _timed(
            lambda: [store.read_bars(s, Timeframe.M1, day, day + timedelta(days=1)) for s in by_symbol]
        )
    print(
        f"real sample NIFTY 2022-11 ({len(days)} days, {rows:,} rows, {len(by_symbol)} contracts): one day's "
        f"chain from the archive p50 {statistics.median(archive_ms):.1f} ms (max {max(archive_ms):.1f} ms); "
        f"JSON lines {json_ms:.0f} ms"
    )


def main() -> None:
    _real_sample()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        archive = OptionArchive(root)
        clock = SimClock(_session_open(SESSIONS))
        store = JsonStore(PathsSettings(data_root=root), DataSettings(fsync_appends=False), clock)
        by_symbol: dict[str, list[Bar]] = {}
        writes: list[float] = []
        for session in range(SESSIONS):
            rows = _rows(session)
            writes.append(_timed(lambda rows=rows: archive.write(rows_to_table(rows), "1m")))
            for item in rows:
                by_symbol.setdefault(item.symbol, []).append(_as_bar(item))
        for symbol, bars in by_symbol.items():
            store.merge_bars(symbol, Timeframe.M1, bars)
        day = _session_open(SESSIONS // 2)
        day_end = day + timedelta(days=1)
        rows_per_day = STRIKES * 2 * MINUTES
        stored_rows = rows_per_day * SESSIONS
        print(f"chain: {STRIKES * 2} contracts x {MINUTES} bars x {SESSIONS} sessions = {stored_rows:,} rows")

        def load_archive() -> None:
            assert archive.day("NIFTY", day.date()).num_rows == rows_per_day

        def load_json() -> None:
            total = sum(len(store.read_bars(symbol, Timeframe.M1, day, day_end)) for symbol in by_symbol)
            assert total == rows_per_day

        parquet_ms = statistics.median(_timed(load_archive) for _ in range(REPEATS))
        json_ms = statistics.median(_timed(load_json) for _ in range(3))
        print(f"one day's chain ({rows_per_day:,} rows): archive p50 {parquet_ms:.1f} ms, ", end="")
        print(f"JSON lines p50 {json_ms:.0f} ms")
        print(f"ratio JSON / archive: {json_ms / parquet_ms:.0f}x")
        print(f"archive write per day partition: p50 {statistics.median(writes):.0f} ms")
        parquet_bytes = _folder_bytes(archive.root)
        json_bytes = _folder_bytes(store.timeframes_dir)
        print(f"bytes per row: archive {parquet_bytes / stored_rows:.1f}, ", end="")
        print(f"JSON lines {json_bytes / stored_rows:.1f}")
        year_archive_mb = parquet_bytes / SESSIONS * SESSIONS_PER_YEAR / 1e6
        year_json_gb = json_bytes / SESSIONS * SESSIONS_PER_YEAR / 1e9
        print(f"a year of one underlying's chain: archive {year_archive_mb:.0f} MB, ", end="")
        print(f"JSON lines {year_json_gb:.1f} GB")
        print(f"target one day's chain in milliseconds (< 50 ms): {'PASS' if parquet_ms < 50 else 'FAIL'}")
