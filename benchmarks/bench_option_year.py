"""The user's workload (issue 15): a year of NIFTY 1-minute bars plus an ATM +/- 10 chain of 1-minute
option bars through `run_backtest` with the built-in strategy, on one core.

Goals: <= 30 s for the year and <= 500 MB peak RSS. Data (SYNTHESISED, there is no such year in
`data/sample/`): the seeded NIFTY year of `bench_backtest`, and for every session the nearest weekly
expiry's 21 strikes around the day's opening price (50-point steps), calls and puts, one bar a minute:
Black-76 at a fixed 13 % volatility on the index bar's open/high/low/close, a constant volume and open
interest, written to the data root's option archive (Parquet, source column "vendor": the archive
only takes real sources) before the clock starts. The backtest
then prices and fills every option it touches from these bars (real-bar path), not from the model.
The data root also holds the REAL NIFTY daily bars of the `HISTORY_DAYS` sessions before the year
(from the bundled daily CSV the year is synthesised from): the built-in strategy categorises each day
from 100+ closed daily bars (ADX), so without that history it could not trade before the year's
last months, and the figure would time a strategy that never reaches its order path.
The run is in a fresh process so its peak RSS is its own.
"""

from __future__ import annotations

import csv
import multiprocessing
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from benchmarks.bench_backtest import (
    BARS_PER_DAY,
    DAILY,
    MinuteBars,
    synthesise_year,
    write_data_root,
)
from optbot.analytics.pricing import black76_values
from optbot.backtest.runner import run_backtest
from optbot.calendar import get_calendar
from optbot.config import load_settings
from optbot.core.clock import SimClock
from optbot.core.enums import Timeframe
from optbot.core.events import daily_session_bar
from optbot.core.instrument import option_symbol
from optbot.data.archive import ARCHIVE_SCHEMA, OptionArchive
from optbot.data.store import JsonStore
from optbot.log import configure_logging, shutdown_logging

STRIKES_EACH_SIDE = 10
STRIKE_STEP = 50
VOLATILITY = 0.13
RATE = 0.065
VOLUME = 50 * 75
OPEN_INTEREST = 500 * 75
HISTORY_DAYS = 400  # real daily NIFTY bars before the year: the strategy's daily ADX needs 100+


def _day_table(expiry: date, close_utc: datetime, bars: MinuteBars, first: int) -> pa.Table:
    """One session's chain bars (ATM +/- 10 strikes, CE and PE) priced off the index bars."""
    minutes = range(first, first + BARS_PER_DAY)
    atm = round(bars.opens[first] / STRIKE_STEP) * STRIKE_STEP
    strikes = [atm + STRIKE_STEP * k for k in range(-STRIKES_EACH_SIDE, STRIKES_EACH_SIDE + 1)]
    starts = [bars.times[i] - timedelta(minutes=1) for i in minutes]
    years = np.array(
        [max((close_utc - bars.times[i]).total_seconds(), 60.0) / (365 * 86400) for i in minutes]
    )
    prices = {
        name: np.array([getattr(bars, name)[i] for i in minutes])
        for name in ("opens", "highs", "lows", "closes")
    }
    columns: dict[str, list[object]] = {name: [] for name in ARCHIVE_SCHEMA.names}
    for strike in strikes:
        for option_type in ("CE", "PE"):
            is_call = option_type == "CE"
            valued = {
                name: np.round(black76_values(level, float(strike), years, VOLATILITY, RATE, is_call) / 0.05)
                * 0.05
                for name, level in prices.items()
            }
            opened, closed = np.maximum(valued["opens"], 0.05), np.maximum(valued["closes"], 0.05)
            extremes = np.maximum(valued["highs"], valued["lows"])
            lows = np.minimum(valued["highs"], valued["lows"])
            count = len(starts)
            columns["ts"].extend(starts)
            columns["underlying"].extend(["NIFTY"] * count)
            columns["expiry"].extend([expiry] * count)
            columns["strike"].extend([float(strike)] * count)
            columns["option_type"].extend([option_type] * count)
            columns["symbol"].extend([option_symbol("NIFTY", expiry, strike, option_type)] * count)
            columns["open"].extend(opened.tolist())
            columns["high"].extend(np.maximum(np.maximum(extremes, opened), closed).tolist())
            columns["low"].extend(np.maximum(np.minimum(np.minimum(lows, opened), closed), 0.05).tolist())
            columns["close"].extend(closed.tolist())
            columns["volume"].extend([VOLUME] * count)
            columns["oi"].extend([OPEN_INTEREST] * count)
            columns["source"].extend(["vendor"] * count)  # the archive takes real sources only
    return pa.Table.from_pydict(columns, schema=ARCHIVE_SCHEMA)


def write_daily_history(bars: MinuteBars, root: Path, days: int = HISTORY_DAYS) -> int:
    """The real NIFTY daily bars of the `days` sessions before the synthesised year into `root`'s store
    (the warm-up history a live session would have); returns the bars written."""
    first = bars.times[0].date()
    rows = [row for row in csv.DictReader(DAILY.open()) if date.fromisoformat(row["date"]) < first]
    history = [
        daily_session_bar(
            "NIFTY",
            date.fromisoformat(row["date"]),
            tuple(float(row[key]) for key in ("open", "high", "low", "close")),
        )
        for row in rows[-days:]
    ]
    settings = load_settings(None, {"paths": {"data_root": str(root)}})
    store = JsonStore(
        settings.paths,
        settings.data.model_copy(update={"intraday_retention_days": 10_000}),
        SimClock(bars.times[-1]),
    )
    store.merge_bars("NIFTY", Timeframe.D1, history)
    return len(history)


def write_option_archive(bars: MinuteBars, root: Path) -> int:
    """Every session's chain into `root`'s option archive; returns the option bars written."""
    calendar = get_calendar()
    archive = OptionArchive(root)
    written = 0
    for first in range(0, len(bars.times), BARS_PER_DAY):
        day = bars.times[first].date()
        expiry = calendar.expiries("NIFTY", day, day + timedelta(days=14), "weekly")[0]
        session = calendar.session(expiry)
        close_utc = (
            session.close_utc if session is not None else datetime.combine(expiry, datetime.min.time(), UTC)
        )
        table = _day_table(expiry, close_utc, bars, first)
        archive.write(table, "1m")
        written += table.num_rows
    return written


def _run(root: Path, bars: MinuteBars, queue: multiprocessing.Queue[str]) -> None:
    settings = load_settings(
        None,
        {
            "paths": {"data_root": str(root / "state")},
            "universe": {"underlyings": ["NIFTY"]},
            "logging": {"console": False},
        },
    )
    get_calendar()
    started = time.perf_counter()
    cpu = time.process_time()
    outcome = run_backtest(
        settings,
        bars.times[0].date(),
        bars.times[-1].date(),
        data_dir=root,
        out_dir=root / "out",
        on_clock=lambda clock: configure_logging(settings, clock, log_dir=root / "state" / "logs"),
    )
    shutdown_logging()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = next(
        int(line.split()[1]) / 1024
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    )
    queue.put(
        f"built-in strategy ({outcome.result.strategy}): {elapsed:.1f} s wall, {cpu:.1f} s CPU "
        f"(goal <= 30 s), peak RSS {peak:.0f} MB (goal <= 500 MB); {len(outcome.fills)} fills, "
        f"{len(outcome.result.trades)} trades, {len(outcome.real_tokens)} contracts read from their bars"
    )


def main(days: int = 252) -> None:
    bars = synthesise_year(days)
    with tempfile.TemporaryDirectory(prefix="optbot-bench-year-") as folder:
        root = Path(folder)
        write_data_root(bars, root)
        history = write_daily_history(bars, root)
        options = write_option_archive(bars, root)
        print(
            f"data: {len(bars.closes):,} NIFTY 1-minute bars + {options:,} option 1-minute bars "
            f"(ATM +/- {STRIKES_EACH_SIDE} strikes, CE and PE, nearest weekly; SYNTHESISED) + "
            f"{history} real NIFTY daily bars before the year (the strategy's daily history)"
        )
        context = multiprocessing.get_context("spawn")
        queue: multiprocessing.Queue[str] = context.Queue()
        worker = context.Process(target=_run, args=(root, bars, queue))
        worker.start()
        print(queue.get())
        worker.join()


if __name__ == "__main__":
    import sys

    main(int(sys.argv[1]) if len(sys.argv) > 1 else 252)
