"""Real option prices for fitting the synthetic model, read from a data folder by file shape.

Recognised under ROOT (the data/sample layout; a user's own folder of the same kinds of files works):
  options/**/<UNDERLYING>_<YYYY-MM-DD>_exp<YYYY-MM-DD>.csv[.gz]  per-contract 1-minute bars (bar start, IST)
  options/**/*.csv with a UDiFF header (TradDt, …, UndrlygPric)  NSE F&O bhavcopies (EOD, all expiries)
  options/**/ NSE website option-chain CSVs ("CALLS,,PUTS")       bid/ask for the spread model
  intraday/*nsechart*.csv / *1min*.csv (timestamp,open,high,low,close) index minute bars
  intraday/**/FUT_I_*.csv (symbol NIFTY-I …)                      near-future minute bars
  intraday/indiavix_15min_*.csv, daily/indiavix_daily*.csv       INDIA VIX (bar opens and daily closes only:
                                                                  Yahoo's daily Open is the previous close)
Minutes with no trade have no row in vendor files, so a chain observation holds only contracts that
traded in that minute; bhavcopy rows that did not trade (zero open) are skipped, their close is theoretical.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from optbot.core.timeutil import IST

FloatArray = NDArray[np.float64]
MINUTE_FILE = re.compile(
    r"^(?P<und>[A-Z]+)_(?P<day>\d{4}-\d{2}-\d{2})_exp(?P<exp>\d{4}-\d{2}-\d{2})\.csv(\.gz)?$"
)
INDEX_FILE_PREFIXES = {
    "nifty50": "NIFTY",
    "niftybank": "BANKNIFTY",
    "banknifty": "BANKNIFTY",
    "finnifty": "FINNIFTY",
}
SESSION_CLOSE_IST = time(15, 30)


@dataclass(slots=True)
class ChainObservation:
    """Real prices of one expiry's contracts at one instant, and the market inputs a model sees."""

    underlying: str
    at_utc: datetime
    expiry: date
    source: str
    dataset: str
    spot: float
    vix: float
    strikes: FloatArray
    is_call: NDArray[np.bool_]
    prices: FloatArray
    future_price: float = float("nan")
    future_expiry: date | None = None

    @property
    def day(self) -> date:
        return self.at_utc.astimezone(IST).date()


@dataclass(slots=True)
class SpreadObservation:
    mid: float
    spread: float
    intrinsic: float


@dataclass(slots=True)
class CalibrationData:
    chains: list[ChainObservation] = field(default_factory=list)
    spreads: list[SpreadObservation] = field(default_factory=list)
    datasets: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    #: Index daily closes per underlying: the recent return the model's ATM vol responds to.
    daily_closes: dict[str, dict[date, float]] = field(default_factory=dict)


def file_text(path: Path) -> str:
    raw = path.read_bytes()
    return gzip.decompress(raw).decode("utf-8") if path.suffix == ".gz" else raw.decode("utf-8")


def naive_ist_to_utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=IST).astimezone(UTC)


def relative_name(root: Path, path: Path) -> str:
    return str(path.relative_to(root))


class VixSeries:
    """INDIA VIX as a backtest would see it: the latest 15-minute bar open at or before a moment, else
    the previous session's daily close (the day's own close only for end-of-day observations)."""

    def __init__(self) -> None:
        self.intraday: dict[date, list[tuple[datetime, float]]] = defaultdict(list)
        self.daily_close: dict[date, float] = {}

    def at(self, moment: datetime, end_of_day: bool = False) -> float:
        """NaN when there is none: an end-of-day observation needs its own day's close."""
        day = moment.astimezone(IST).date()
        if end_of_day:
            return self.daily_close.get(day, float("nan"))
        bars = self.intraday.get(day, [])
        latest = [value for start, value in bars if start <= moment]
        if latest:
            return latest[-1]
        earlier = [stamp for stamp in self.daily_close if stamp < day]
        return self.daily_close[max(earlier)] if earlier else float("nan")


def read_vix(root: Path, data: CalibrationData) -> VixSeries:
    series = VixSeries()
    for path in sorted(root.glob("intraday/indiavix_15min_*.csv")):
        for row in csv.reader(io.StringIO(file_text(path))):
            if not row or not row[0][:1].isdigit():
                continue
            moment = naive_ist_to_utc(row[0])
            series.intraday[moment.astimezone(IST).date()].append((moment, float(row[1])))
        data.datasets[relative_name(root, path)] = "INDIA VIX 15-minute (bar open as of each minute)"
    for path in sorted(root.glob("daily/indiavix_daily*.csv")):
        for record in csv.DictReader(io.StringIO(file_text(path))):
            day = date.fromisoformat((record.get("date") or record.get("Date") or "")[:10])
            close = record.get("close") or record.get("Close")
            if close:
                series.daily_close.setdefault(day, float(close))
        data.datasets[relative_name(root, path)] = (
            "INDIA VIX daily (close only; Yahoo's Open is the previous close)"
        )
    for bars in series.intraday.values():
        bars.sort()
    return series


def read_daily_index_closes(root: Path, data: CalibrationData) -> dict[str, dict[date, float]]:
    """Index daily closes per underlying from daily/<prefix>_daily*.csv files (the first file by
    name that has a day wins)."""
    closes: dict[str, dict[date, float]] = defaultdict(dict)
    for prefix, underlying in INDEX_FILE_PREFIXES.items():
        for path in sorted(root.glob(f"daily/{prefix}_daily*.csv")):
            for record in csv.DictReader(io.StringIO(file_text(path))):
                stamp = (record.get("date") or record.get("Date") or "")[:10]
                close = record.get("close") or record.get("Close")
                if stamp and close:
                    closes[underlying].setdefault(date.fromisoformat(stamp), float(close))
            data.datasets.setdefault(relative_name(root, path), f"{underlying} daily (closes: recent return)")
    return closes


def _minute_closes(path: Path) -> dict[datetime, float]:
    closes: dict[datetime, float] = {}
    for record in csv.DictReader(io.StringIO(file_text(path))):
        closes[naive_ist_to_utc(record["timestamp"])] = float(record["close"])
    return closes


def read_index_minutes(root: Path, data: CalibrationData) -> dict[str, dict[datetime, float]]:
    found: dict[str, dict[datetime, float]] = defaultdict(dict)
    for path in sorted(root.glob("intraday/*1min*.csv")):
        prefix = path.name.split("_")[0].lower()
        name = INDEX_FILE_PREFIXES.get(prefix)
        header = file_text(path).split("\n", 1)[0]
        if name is None or not header.startswith("timestamp,open,high,low,close"):
            continue
        found[name].update(_minute_closes(path))
        data.datasets[relative_name(root, path)] = f"{name} index 1-minute bars (spot)"
    return found


def read_future_minutes(root: Path, data: CalibrationData) -> dict[str, dict[datetime, float]]:
    found: dict[str, dict[datetime, float]] = defaultdict(dict)
    for path in sorted(root.glob("intraday/**/FUT_I_*.csv")):
        for record in csv.DictReader(io.StringIO(file_text(path))):
            found[record["symbol"].removesuffix("-I")][naive_ist_to_utc(record["timestamp"])] = float(
                record["close"]
            )
        data.datasets[str(path.parent.relative_to(root))] = "near-month future 1-minute bars"
    return found


def read_minute_chains(
    root: Path,
    data: CalibrationData,
    vix: VixSeries,
    index: dict[str, dict[datetime, float]],
    futures: dict[str, dict[datetime, float]],
    sample_every_minutes: int,
) -> None:
    """One observation per sampled minute and file: the contracts that traded in that minute."""
    for path in sorted(root.glob("options/**/*_exp*.csv*")):
        match = MINUTE_FILE.match(path.name)
        if match is None:
            continue
        underlying, expiry = match["und"], date.fromisoformat(match["exp"])
        by_minute: dict[datetime, list[tuple[float, bool, float]]] = defaultdict(list)
        for record in csv.DictReader(io.StringIO(file_text(path))):
            moment = naive_ist_to_utc(record["timestamp"])
            local = moment.astimezone(IST)
            if (local.hour * 60 + local.minute - 15) % sample_every_minutes:
                continue
            by_minute[moment].append(
                (float(record["strike"]), record["option_type"] == "CE", float(record["close"]))
            )
        for bar_start, rows in sorted(by_minute.items()):
            moment = bar_start.replace(second=59)  # the bar's close is its last trade in the minute
            spot = index.get(underlying, {}).get(bar_start, float("nan"))
            future = futures.get(underlying, {}).get(bar_start, float("nan"))
            if not np.isfinite(spot) and not np.isfinite(future):
                continue
            data.chains.append(
                ChainObservation(
                    underlying=underlying,
                    at_utc=moment,
                    expiry=expiry,
                    source="1-minute",
                    dataset=str(path.parent.relative_to(root)),
                    spot=spot,
                    vix=vix.at(bar_start),
                    strikes=np.array([row[0] for row in rows]),
                    is_call=np.array([row[1] for row in rows]),
                    prices=np.array([row[2] for row in rows]),
                    future_price=future,
                )
            )
        data.datasets[str(path.parent.parent.relative_to(root))] = "per-contract 1-minute option bars"


def read_udiff_bhavcopies(root: Path, data: CalibrationData, vix: VixSeries, min_volume: float) -> None:
    """EOD observations (at the session close) per trade date, underlying and expiry."""
    for path in sorted(root.glob("options/**/*.csv")):
        text = file_text(path)
        if not text.startswith("TradDt,"):
            continue
        groups: dict[tuple[str, date], list[tuple[float, bool, float]]] = defaultdict(list)
        spot, trade_day = float("nan"), None
        futures: dict[tuple[str, date], float] = {}
        for record in csv.DictReader(io.StringIO(text)):
            trade_day = date.fromisoformat(record["TradDt"])
            spot = float(record["UndrlygPric"] or "nan")
            underlying, expiry = record["TckrSymb"], date.fromisoformat(record["XpryDt"])
            if record["FinInstrmTp"] in ("IDF", "STF"):
                futures[(underlying, expiry)] = float(record["ClsPric"])
                continue
            traded = float(record["OpnPric"] or 0) > 0 and float(record["TtlTradgVol"] or 0) >= min_volume
            if record["OptnTp"] in ("CE", "PE") and traded:
                groups[(underlying, expiry)].append(
                    (float(record["StrkPric"]), record["OptnTp"] == "CE", float(record["ClsPric"]))
                )
        if trade_day is None:
            continue
        at = datetime.combine(trade_day, SESSION_CLOSE_IST, tzinfo=IST).astimezone(UTC)
        for (underlying, expiry), rows in sorted(groups.items()):
            if expiry <= trade_day:
                continue
            near = _near_future(futures, underlying, trade_day)
            data.chains.append(
                ChainObservation(
                    underlying=underlying,
                    at_utc=at,
                    expiry=expiry,
                    source="EOD",
                    dataset=str(path.parent.parent.relative_to(root)),
                    spot=spot,
                    vix=vix.at(at, end_of_day=True),
                    strikes=np.array([row[0] for row in rows]),
                    is_call=np.array([row[1] for row in rows]),
                    prices=np.array([row[2] for row in rows]),
                    future_price=futures[near] if near else float("nan"),
                    future_expiry=near[1] if near else None,
                )
            )
        data.datasets[str(path.parent.parent.relative_to(root))] = "NSE UDiFF F&O bhavcopies (EOD)"


def _near_future(
    futures: dict[tuple[str, date], float], underlying: str, trade_day: date
) -> tuple[str, date] | None:
    """The (underlying, expiry) key of the nearest future still trading after `trade_day`: every chain
    of the day gets it (the model carries it to the chain's own expiry)."""
    keys = [key for key in futures if key[0] == underlying and key[1] > trade_day]
    return min(keys, key=lambda key: key[1]) if keys else None


def _number(text: str) -> float:
    cleaned = text.replace(",", "").strip()
    try:
        return float(cleaned)
    except ValueError:
        return float("nan")


def read_chain_snapshot_spreads(root: Path, data: CalibrationData) -> None:
    """Bid/ask pairs from NSE website option-chain CSVs; intrinsic from the snapshot's parity forward."""
    for path in sorted(root.glob("options/**/*.csv")):
        text = file_text(path)
        if not text.startswith("CALLS,,PUTS"):
            continue
        rows = list(csv.reader(io.StringIO(text)))[2:]
        quotes: list[tuple[float, float, float, float, float]] = []  # strike, call bid/ask, put bid/ask
        for row in rows:
            if len(row) < 15:
                continue
            quotes.append(
                (_number(row[11]), _number(row[8]), _number(row[9]), _number(row[13]), _number(row[14]))
            )
        mids = [
            (strike, (cb + ca) / 2 - (pb + pa) / 2)
            for strike, cb, ca, pb, pa in quotes
            if min(cb, ca, pb, pa) > 0
        ]
        if not mids:
            continue
        strike, difference = min(mids, key=lambda item: abs(item[1]))
        forward = strike + difference
        for strike, cb, ca, pb, pa in quotes:
            for bid, ask, intrinsic in (
                (cb, ca, max(forward - strike, 0.0)),
                (pb, pa, max(strike - forward, 0.0)),
            ):
                if bid > 0 and ask >= bid:
                    data.spreads.append(SpreadObservation((bid + ask) / 2, ask - bid, intrinsic))
        data.datasets[str(path.parent.relative_to(root))] = "NSE option-chain snapshots (bid/ask)"
