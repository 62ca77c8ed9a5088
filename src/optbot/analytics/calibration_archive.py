"""Calibration inputs from a data root the bot itself fills: the option archive and the bar store.

`optbot data import` puts option files (vendor minute bars, bhavcopies) into the Parquet archive
(`<root>/archive/options/…`) and index / INDIA VIX / near-future (`NIFTY-I`, …) bars into the JSON
store (`<root>/timeframes/<SYMBOL>/<tf>.json`); the live bot records into both. This module turns them
into the same observations as the raw-file readers, so `optbot data calibrate --data ROOT` works on
whatever the user has imported or recorded, and on raw files, or both (duplicates are dropped).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from optbot.analytics.calibration_data import (
    SESSION_CLOSE_IST,
    CalibrationData,
    ChainObservation,
    VixSeries,
    read_chain_snapshot_spreads,
    read_daily_index_closes,
    read_future_minutes,
    read_index_minutes,
    read_minute_chains,
    read_udiff_bhavcopies,
    read_vix,
)
from optbot.analytics.futures_forward import futures_name
from optbot.core.timeutil import IST
from optbot.data.archive import OptionArchive

VIX_SYMBOL = "INDIA_VIX"
#: Store symbols (file-safe, upper case) of the indices an option archive names by underlying.
STORE_INDEX_SYMBOLS = {
    "NIFTY": "NIFTY",
    "NIFTY_50": "NIFTY",
    "BANKNIFTY": "BANKNIFTY",
    "NIFTY_BANK": "BANKNIFTY",
    "FINNIFTY": "FINNIFTY",
    "NIFTY_FIN_SERVICE": "FINNIFTY",
}
INTRADAY_TIMEFRAMES = ("1m", "5m", "15m")
BAR_MINUTES = {"1m": 1, "5m": 5}


def _store_records(path: Path) -> list[dict[str, object]]:
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a torn last line: the store's own loader reports it
    return records


def _start(record: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(record["start_ts_utc"]).replace("Z", "+00:00"))


def read_store(
    root: Path,
    data: CalibrationData,
    vix: VixSeries,
    index: dict[str, dict[datetime, float]],
    daily_index: dict[str, dict[date, float]],
    futures: dict[str, dict[datetime, float]] | None = None,
) -> None:
    """Index minute closes, index daily closes and INDIA VIX from `<root>/timeframes/`; with
    `futures`, the near futures' minute closes too (by bar start, as the raw futures files give
    them), so a data root the user imported prices and fits off the future as the raw files do."""
    folder = root / "timeframes"
    if not folder.is_dir():
        return
    for path in sorted(folder / VIX_SYMBOL / f"{tf}.json" for tf in INTRADAY_TIMEFRAMES):
        for record in _store_records(path):
            moment = _start(record)
            vix.intraday[moment.astimezone(IST).date()].append((moment, float(str(record["o"]))))
    for record in _store_records(folder / VIX_SYMBOL / "daily.json"):
        vix.daily_close.setdefault(_start(record).astimezone(IST).date(), float(str(record["c"])))
    for bars in vix.intraday.values():
        bars.sort()
    if (folder / VIX_SYMBOL).is_dir():
        data.datasets["timeframes/INDIA_VIX"] = "INDIA VIX bars from the store"
    for symbol, name in STORE_INDEX_SYMBOLS.items():
        for record in _store_records(folder / symbol / "1m.json"):
            index[name].setdefault(_start(record), float(str(record["c"])))
        for record in _store_records(folder / symbol / "daily.json"):
            daily_index[name].setdefault(_start(record).astimezone(IST).date(), float(str(record["c"])))
        if (folder / symbol).is_dir():
            data.datasets[f"timeframes/{symbol}"] = f"{name} index bars from the store (spot)"
    if futures is None:
        return
    for name in sorted(set(STORE_INDEX_SYMBOLS.values())):
        future = futures_name(name)
        for record in _store_records(folder / future / "1m.json"):
            futures[name].setdefault(_start(record), float(str(record["c"])))
        if (folder / future).is_dir():
            data.datasets[f"timeframes/{future}"] = f"{name} near-month future bars from the store"


def _chains_of(
    columns: dict[str, list[object]], rows: list[int]
) -> dict[date, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """rows -> per expiry (strikes, is_call, closes)."""
    by_expiry: dict[date, list[int]] = defaultdict(list)
    for row in rows:
        expiry = columns["expiry"][row]
        assert isinstance(expiry, date)
        by_expiry[expiry].append(row)
    return {
        expiry: (
            np.array([float(str(columns["strike"][r])) for r in picked]),
            np.array([columns["option_type"][r] == "CE" for r in picked]),
            np.array([float(str(columns["close"][r])) for r in picked]),
        )
        for expiry, picked in by_expiry.items()
    }


def read_archive(
    root: Path,
    data: CalibrationData,
    vix: VixSeries,
    index: dict[str, dict[datetime, float]],
    futures: dict[str, dict[datetime, float]],
    daily_index: dict[str, dict[date, float]],
    sample_every_minutes: int,
    min_eod_volume: float,
) -> None:
    """Chain observations from the option archive: sampled intraday bars and EOD (1d) rows."""
    if not (root / "archive" / "options").is_dir():
        return
    archive = OptionArchive(root)
    for underlying in archive.underlyings():
        for timeframe, minutes in BAR_MINUTES.items():
            for day in archive.days(underlying, timeframe):
                _intraday(
                    archive,
                    underlying,
                    day,
                    timeframe,
                    minutes,
                    data,
                    vix,
                    index,
                    futures,
                    sample_every_minutes,
                )
        for day in archive.days(underlying, "1d"):
            _end_of_day(archive, underlying, day, data, vix, daily_index, min_eod_volume)
    data.datasets["archive/options"] = "option archive (imported or recorded bars)"


def _intraday(
    archive: OptionArchive,
    underlying: str,
    day: date,
    timeframe: str,
    minutes: int,
    data: CalibrationData,
    vix: VixSeries,
    index: dict[str, dict[datetime, float]],
    futures: dict[str, dict[datetime, float]],
    sample_every_minutes: int,
) -> None:
    columns = archive.day(underlying, day, timeframe).to_pydict()
    by_start: dict[datetime, list[int]] = defaultdict(list)
    for row, stamp in enumerate(columns["ts"]):
        assert isinstance(stamp, datetime)
        local = stamp.astimezone(IST)
        if (local.hour * 60 + local.minute - 15) % max(sample_every_minutes, minutes) == 0:
            by_start[stamp.astimezone(UTC)].append(row)
    for start, rows in sorted(by_start.items()):
        spot = index.get(underlying, {}).get(start, float("nan"))
        future = futures.get(underlying, {}).get(start, float("nan"))
        if not np.isfinite(spot) and not np.isfinite(future):
            continue
        at = start + timedelta(minutes=minutes) - timedelta(seconds=1)
        for expiry, (strikes, is_call, closes) in _chains_of(columns, rows).items():
            data.chains.append(
                ChainObservation(
                    underlying,
                    at,
                    expiry,
                    "1-minute" if minutes == 1 else f"{minutes}-minute",
                    f"archive/options/tf={timeframe}",
                    spot,
                    vix.at(start),
                    strikes,
                    is_call,
                    closes,
                    future_price=future,
                )
            )


def _end_of_day(
    archive: OptionArchive,
    underlying: str,
    day: date,
    data: CalibrationData,
    vix: VixSeries,
    daily_index: dict[str, dict[date, float]],
    min_eod_volume: float,
) -> None:
    spot = daily_index.get(underlying, {}).get(day)
    if spot is None:
        data.skipped.append(f"{underlying} {day}: archive EOD rows but no index daily close in the data")
        return
    columns = archive.day(underlying, day, "1d").to_pydict()
    rows = [row for row, volume in enumerate(columns["volume"]) if float(str(volume)) >= min_eod_volume]
    at = datetime.combine(day, SESSION_CLOSE_IST, tzinfo=IST).astimezone(UTC)
    for expiry, (strikes, is_call, closes) in _chains_of(columns, rows).items():
        if expiry > day:
            data.chains.append(
                ChainObservation(
                    underlying,
                    at,
                    expiry,
                    "EOD",
                    "archive/options/tf=1d",
                    spot,
                    vix.at(at, end_of_day=True),
                    strikes,
                    is_call,
                    closes,
                )
            )


def _without_duplicates(chains: list[ChainObservation]) -> list[ChainObservation]:
    """The same chain at the same moment from raw files and the archive is kept once."""
    seen: set[tuple[str, datetime, date, str]] = set()
    kept = []
    for chain in chains:
        key = (chain.underlying, chain.at_utc, chain.expiry, chain.source)
        if key not in seen:
            seen.add(key)
            kept.append(chain)
    return kept


def read_calibration_data(root: Path, sample_every_minutes: int, min_eod_volume: float) -> CalibrationData:
    """Everything under `root` the calibration can use: raw files by shape, the store, the archive."""
    data = CalibrationData()
    vix = read_vix(root, data)
    index = read_index_minutes(root, data)
    futures = read_future_minutes(root, data)
    daily_index: dict[str, dict[date, float]] = defaultdict(dict)
    read_store(root, data, vix, index, daily_index, futures)
    read_minute_chains(root, data, vix, index, futures, sample_every_minutes)
    read_udiff_bhavcopies(root, data, vix, min_eod_volume)
    read_archive(root, data, vix, index, futures, daily_index, sample_every_minutes, min_eod_volume)
    read_chain_snapshot_spreads(root, data)
    data.daily_closes = read_daily_index_closes(root, data)
    for name, held in daily_index.items():
        for day, close in held.items():
            data.daily_closes.setdefault(name, {}).setdefault(day, close)
    usable = [chain for chain in data.chains if np.isfinite(chain.vix) and chain.vix > 0]
    without_vix = sorted(
        {chain.day for chain in data.chains if not (np.isfinite(chain.vix) and chain.vix > 0)}
    )
    if without_vix:
        data.skipped.append(
            f"{len(data.chains) - len(usable)} chain observation(s) on {len(without_vix)} day(s) "
            f"({without_vix[0]}..{without_vix[-1]}) left out: no INDIA VIX for their time in the data"
        )
    data.chains = _without_duplicates(usable)
    return data
