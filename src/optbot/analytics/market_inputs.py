"""What `optbot price` shows beside the model: the market inputs a backtest would use at a moment
(spot, INDIA VIX) and the real option bar of that minute, from raw files, the store or the archive."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from optbot.analytics.calibration_archive import read_store
from optbot.analytics.calibration_data import (
    INDEX_FILE_PREFIXES,
    SESSION_CLOSE_IST,
    CalibrationData,
    file_text,
    naive_ist_to_utc,
    read_daily_index_closes,
    read_future_minutes,
    read_index_minutes,
    read_vix,
    relative_name,
)
from optbot.analytics.synthetic import DailyCloseReturns, FuturePrice, near_future_expiry
from optbot.calendar import get_calendar
from optbot.core.timeutil import IST
from optbot.data.archive import OptionArchive


@dataclass(frozen=True, slots=True)
class MarketInputs:
    """Spot and INDIA VIX at one moment as a backtest would see them, each with where it came from."""

    spot: float
    spot_source: str
    vix: float
    vix_source: str
    #: The near future's 1-minute close at that moment, when the data has one (the model can carry it
    #: to the option's expiry as the forward instead of spot plus carry).
    future: FuturePrice | None = None


@dataclass(frozen=True, slots=True)
class RealBar:
    """A real option bar (1-minute vendor bar or bhavcopy EOD row) for the contract and moment."""

    source: str
    open: float
    high: float
    low: float
    close: float
    volume: float


def _daily_close(root: Path, underlying: str, day: date) -> float | None:
    prefixes = [prefix for prefix, name in INDEX_FILE_PREFIXES.items() if name == underlying]
    for prefix in prefixes:
        for path in sorted(root.glob(f"daily/{prefix}_daily*.csv")):
            for record in csv.DictReader(io.StringIO(file_text(path))):
                stamp = record.get("date") or record.get("Date") or ""
                if stamp[:10] == day.isoformat() and (record.get("close") or record.get("Close")):
                    return float(record.get("close") or record.get("Close") or "nan")
    return None


def recent_returns_in(root: Path) -> DailyCloseReturns:
    """The underlyings' recent returns from the index daily closes under `root` (daily files, then
    the store's daily bars), as the calibration reads them."""
    scratch = CalibrationData()
    closes = read_daily_index_closes(root, scratch)
    daily_index: dict[str, dict[date, float]] = defaultdict(dict)
    read_store(root, scratch, read_vix(root, scratch), read_index_minutes(root, scratch), daily_index)
    for name, held in daily_index.items():
        for day, close in held.items():
            closes[name].setdefault(day, close)
    return DailyCloseReturns(closes)


def market_inputs_at(root: Path, underlying: str, at_utc: datetime, carry: float) -> MarketInputs | None:
    """Spot: the index minute bar's close, else the near future's discounted by `carry` (to its
    monthly expiry), else the day's index close; VIX as the calibration reads it. None if no spot."""
    scratch = CalibrationData()
    bar_start = at_utc.replace(second=0, microsecond=0)
    day = at_utc.astimezone(IST).date()
    vix = read_vix(root, scratch)
    index = read_index_minutes(root, scratch)
    daily_index: dict[str, dict[date, float]] = defaultdict(dict)
    futures = read_future_minutes(root, scratch)
    read_store(root, scratch, vix, index, daily_index, futures)
    spot, source = index.get(underlying, {}).get(bar_start), "index 1-minute close"
    future = _near_future(futures, underlying, bar_start)
    if spot is None and future is not None:
        years = (datetime.combine(future.expiry, SESSION_CLOSE_IST, tzinfo=IST) - at_utc).total_seconds()
        spot = future.price * math.exp(-carry * years / (365.0 * 86400.0))
        source = f"near future {future.price:.2f} less carry {carry:.2%} to {future.expiry}"
    if spot is None:
        spot = _daily_close(root, underlying, day) or daily_index.get(underlying, {}).get(day)
        source = "index daily close (no intraday bar)"
    if spot is None:
        return None
    intraday = [value for start, value in vix.intraday.get(day, []) if start <= at_utc]
    if intraday:
        return MarketInputs(spot, source, intraday[-1], "INDIA VIX 15-minute bar open", future)
    close = vix.daily_close.get(day)
    if close is None:
        return MarketInputs(spot, source, float("nan"), "no INDIA VIX for this day", future)
    return MarketInputs(spot, source, close, "INDIA VIX daily close", future)


def _near_future(
    futures: dict[str, dict[datetime, float]], underlying: str, bar_start: datetime
) -> FuturePrice | None:
    """The near future's close in the minute of `bar_start` (raw futures files or the store's
    `NAME-I` bars) and its monthly expiry, if the data has it."""
    price = futures.get(underlying, {}).get(bar_start)
    if price is None:
        return None
    expiry = near_future_expiry(get_calendar(), underlying, bar_start.astimezone(IST).date())
    return FuturePrice(price, expiry) if expiry is not None else None


def real_bar_at(
    root: Path, underlying: str, expiry: date, strike: float, is_call: bool, at_utc: datetime
) -> RealBar | None:
    """The real bar of this contract for the minute of `at_utc` (vendor 1-minute files), else the
    bhavcopy row of that day when it traded."""
    day = at_utc.astimezone(IST).date()
    bar_start = at_utc.replace(second=0, microsecond=0)
    kind = "CE" if is_call else "PE"
    archived = _archive_bar(root, underlying, expiry, strike, kind, day, bar_start)
    if archived is not None:
        return archived
    for path in sorted(root.glob(f"options/**/{underlying}_{day.isoformat()}_exp{expiry.isoformat()}.csv*")):
        for record in csv.DictReader(io.StringIO(file_text(path))):
            if (
                float(record["strike"]) == strike
                and record["option_type"] == kind
                and naive_ist_to_utc(record["timestamp"]) == bar_start
            ):
                return RealBar(
                    f"1-minute bar {relative_name(root, path)}",
                    float(record["open"]),
                    float(record["high"]),
                    float(record["low"]),
                    float(record["close"]),
                    float(record["volume"]),
                )
    for path in sorted(root.glob(f"options/**/{day.isoformat()}/{underlying}.csv")):
        for record in csv.DictReader(io.StringIO(file_text(path))):
            if (
                record.get("OptnTp") == kind
                and record.get("XpryDt") == expiry.isoformat()
                and float(record["StrkPric"]) == strike
                and float(record["OpnPric"] or 0) > 0
            ):
                return RealBar(
                    f"bhavcopy EOD row {relative_name(root, path)}",
                    float(record["OpnPric"]),
                    float(record["HghPric"]),
                    float(record["LwPric"]),
                    float(record["ClsPric"]),
                    float(record["TtlTradgVol"]),
                )
    return None


def _archive_bar(
    root: Path, underlying: str, expiry: date, strike: float, kind: str, day: date, bar_start: datetime
) -> RealBar | None:
    """The archive's bar for the contract: the 1-minute bar holding `bar_start`, else the 5-minute
    one, else the day's EOD row."""
    if not (root / "archive" / "options").is_dir():
        return None
    archive = OptionArchive(root)
    starts = {"1m": bar_start, "5m": bar_start - timedelta(minutes=bar_start.minute % 5), "1d": None}
    for timeframe, start in starts.items():
        table = archive.day(underlying, day, timeframe)
        if table.num_rows == 0:
            continue
        mask = pc.and_(
            pc.and_(
                pc.equal(table.column("expiry"), pa.scalar(expiry, pa.date32())),
                pc.equal(table.column("strike"), strike),
            ),
            pc.equal(table.column("option_type"), kind),
        )
        if start is not None:
            mask = pc.and_(mask, pc.equal(table.column("ts"), pa.scalar(start, pa.timestamp("us", tz="UTC"))))
        rows = table.filter(mask).to_pylist()
        if rows:
            row = rows[0]
            return RealBar(
                f"archive {timeframe} bar ({row['source']})",
                row["open"],
                row["high"],
                row["low"],
                row["close"],
                float(row["volume"]),
            )
    return None
