"""Option-bar importers: NSE F&O bhavcopies and vendor per-contract bars into the option archive.

Recognised by their columns (see `detect_option_format`), ``.csv.gz`` read transparently:

* ``bhavcopy_fo`` — NSE F&O bhavcopy, the pre-2024 format (INSTRUMENT, SYMBOL, EXPIRY_DT, STRIKE_PR,
  OPTION_TYP, OPEN … CONTRACTS, VAL_INLAKH, OPEN_INT, CHG_IN_OI, TIMESTAMP).
* ``bhavcopy_udiff`` — NSE F&O bhavcopy, the UDiFF format (TradDt, TckrSymb, XpryDt, StrkPric, OptnTp,
  OpnPric … OpnIntrst, TtlTradgVol, NewBrdLotQty).
* ``bhavcopy`` — a reduced bhavcopy (date, expiry, strike, opt_type, OHLC, settle, volume, oi):
  it does not name its underlying, so ``--symbol`` is needed.
* ``option_bars`` — per-contract 1- or 5-minute bars as vendors sell them: a trading-symbol column
  (Angel One, NSE or vendor style) and/or underlying/expiry/strike/type columns.
* ``option_atm_series`` — rolling "ATM±n" series (an offset column such as ``ATM+2`` and the spot):
  the strike is resolved from the spot and the strikes the archive lists for that day and expiry.

Rules (each one reported, never applied silently):

* **Untraded rows** (zero open/high/low, or zero contracts in a bhavcopy) are skipped: their
  close/settle are theoretical, and the archive never stores a price of 0 as a trade.
* **Volume and OI are stored in units.** Bhavcopies count volume in contracts: the UDiFF format names
  the lot size (``NewBrdLotQty``); for the older formats the lot size is the greatest common divisor
  of the file's open-interest figures (OI is always a whole number of lots), checked against the
  traded value where the file has it, or given with ``--lot-size``.
* **Timestamps**: aware stamps are converted; naive stamps are IST or UTC, decided by which reading
  puts more rows inside the F&O session (or forced with ``--tz``).
* **Out-of-session rows** are dropped one by one and reported with their time; the rest of the day
  is kept.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import reduce
from pathlib import Path
from typing import Any

import pyarrow as pa

from optbot.calendar import NseCalendar, Segment
from optbot.core.errors import UserError
from optbot.core.instrument import option_symbol
from optbot.core.timeutil import IST
from optbot.data.archive import OptionArchive, OptionBarRow, rows_to_table
from optbot.data.textfiles import open_text, read_header

OPTION_FORMATS = ("bhavcopy_fo", "bhavcopy_udiff", "bhavcopy", "option_bars", "option_atm_series")
TIMEZONES = ("ist", "utc")
#: A listed lot size is a multiple of 5 in every index contract NSE has listed; an inferred one is
#: trusted when the traded value agrees with it within this share.
LOT_VALUE_TOLERANCE = 0.05
DETAILS_PER_REASON = 50
_ALIASES = {
    "time": ("timestamp", "datetime", "date_time", "time", "date"),
    "symbol": ("symbol", "tradingsymbol", "trading_symbol", "ticker", "instrument"),
    "underlying": ("underlying", "name", "underlying_symbol"),
    "expiry": ("expiry", "expiry_date", "expirydate"),
    "strike": ("strike", "strike_price", "strikeprice"),
    "option_type": ("option_type", "opt_type", "optiontype", "right", "type", "instrument_type"),
    "volume": ("volume", "vol", "qty"),
    "oi": ("oi", "open_interest", "openinterest"),
    "offset": ("offset", "atm_offset", "strike_offset"),
    "spot": ("spot", "underlying_price", "spot_price", "index"),
}
_MONTHS = {name: index for index, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
)}  # fmt: skip
_WEEKLY_MONTH = {**{str(index): index for index in range(1, 10)}, "O": 10, "N": 11, "D": 12}
_ANGEL = re.compile(r"^([A-Z&\-]+?)(\d{2})([A-Z]{3})(\d{2})(\d+(?:\.\d+)?)(CE|PE)$")
_NSE_MONTHLY = re.compile(r"^([A-Z&\-]+?)(\d{2})([A-Z]{3})(\d+(?:\.\d+)?)(CE|PE)$")
_NSE_WEEKLY = re.compile(r"^([A-Z&\-]+?)(\d{2})([1-9OND])(\d{2})(\d+(?:\.\d+)?)(CE|PE)$")
_YYMMDD = re.compile(r"^([A-Z&\-]+?)(\d{2})(\d{2})(\d{2})(\d+(?:\.\d+)?)(CE|PE)$")
_SYMBOL_PREFIX = re.compile(r"^([A-Z&\-]+)\d[\dA-Z.]*(?:CE|PE)$")
_OFFSET = re.compile(r"^ATM\s*(?:([+-])\s*(\d+))?$")
#: How far past the trade date a parsed expiry may lie before a symbol reading is implausible.
_MAX_EXPIRY_DAYS = 800


@dataclass
class OptionImportResult:
    """What an option file held and what of it is ready for the archive."""

    path: Path
    format: str
    timeframe: str
    rows_read: int = 0
    rows: list[OptionBarRow] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    details: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    notes: list[str] = field(default_factory=list)

    def drop(self, reason: str, detail: str = "", count: int = 1) -> None:
        self.dropped[reason] += count
        if detail and len(self.details[reason]) < DETAILS_PER_REASON:
            self.details[reason].append(detail)

    def table(self) -> pa.Table:
        return rows_to_table(self.rows)

    @property
    def contracts(self) -> int:
        return len({row.symbol for row in self.rows})

    @property
    def days(self) -> list[tuple[str, date]]:
        return sorted({(row.underlying, row.ts.astimezone(IST).date()) for row in self.rows})

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.format,
            "timeframe": self.timeframe,
            "rows_read": self.rows_read,
            "rows": len(self.rows),
            "contracts": self.contracts,
            "days": [f"{name} {day.isoformat()}" for name, day in self.days],
            "dropped": dict(self.dropped),
            "dropped_details": {reason: list(items) for reason, items in self.details.items()},
            "notes": self.notes,
        }


# -- reading files -----------------------------------------------------------------------------------


def _column(columns: set[str], concept: str) -> str | None:
    return next((name for name in _ALIASES[concept] if name in columns), None)


def detect_option_format(header: list[str]) -> str | None:
    """The option format a header belongs to, or None for a non-option (index/future) file."""
    raw = {cell.strip() for cell in header}
    columns = {cell.lower() for cell in raw}
    if {"tckrsymb", "xprydt", "strkpric", "optntp"} <= columns:
        return "bhavcopy_udiff"
    if {"instrument", "symbol", "expiry_dt", "strike_pr", "option_typ"} <= columns:
        return "bhavcopy_fo"
    if {"strike", "opt_type", "expiry"} <= columns and "date" in columns:
        return "bhavcopy"
    if not {"open", "high", "low", "close"} <= columns or _column(columns, "time") is None:
        return None
    if _column(columns, "offset") and _column(columns, "spot"):
        return "option_atm_series"
    has_contract_columns = bool(_column(columns, "strike") and _column(columns, "option_type"))
    if has_contract_columns:
        return "option_bars"
    return None


def option_format(path: Path) -> str | None:
    """The option format of a file, or None when it holds index/future bars (the other importer)."""
    header = read_header(path)
    kind = detect_option_format(header)
    if kind is None and _symbols_look_like_options(path, header):
        return "option_bars"
    return kind


def _symbols_look_like_options(path: Path, header: list[str]) -> bool:
    """A bar file with only a symbol column is an option file when its symbols parse as options."""
    columns = {cell.strip().lower() for cell in header}
    key = _column(columns, "symbol")
    if key is None or not {"open", "high", "low", "close"} <= columns:
        return False
    with open_text(path) as handle:
        reader = csv.DictReader(handle)
        for _, record in zip(range(20), reader, strict=False):
            text = (_lowered(record).get(key) or "").strip().upper()
            if text and any(pattern.match(text) for pattern in (_ANGEL, _NSE_MONTHLY, _NSE_WEEKLY, _YYMMDD)):
                return True
    return False


def _lowered(record: dict[str, str]) -> dict[str, str]:
    return {(key or "").strip().lower(): (value or "").strip() for key, value in record.items()}


def _records(path: Path) -> Iterator[dict[str, str]]:
    with open_text(path) as handle:
        for record in csv.DictReader(handle):
            yield _lowered(record)


def _number(text: str | None) -> float | None:
    if text is None or text == "":
        return None
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _parse_date(text: str) -> date:
    """ISO (2025-01-30), NSE (23-May-2024, 21-MAY-2024) or 23MAY2024."""
    text = text.strip()
    for pattern in ("%Y-%m-%d", "%d-%b-%Y", "%d%b%Y", "%d-%m-%Y", "%d/%m/%Y"):
        try:
            parsed = datetime.strptime(text.title() if "b" in pattern else text, pattern)  # noqa: DTZ007 - a date
            return parsed.date()
        except ValueError:
            continue
    raise ValueError(f"unreadable date {text!r}")


# -- contract symbols --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contract:
    underlying: str
    expiry: date
    strike: float
    option_type: str

    @property
    def symbol(self) -> str:
        return option_symbol(self.underlying, self.expiry, self.strike, self.option_type)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


class SymbolParser:
    """Trading symbols in Angel One (NIFTY03NOV2218000CE), NSE weekly (NIFTY22N0318000CE), NSE monthly
    (NIFTY22NOV18000CE) or vendor YYMMDD (NIFTY22110318000CE) style. Readings that collide are
    settled by plausibility: the expiry must lie on/after the trade day, within ~2 years, and an NSE
    monthly code resolves to the calendar's monthly expiry of that month."""

    def __init__(self, calendar: NseCalendar) -> None:
        self.calendar = calendar
        self._cache: dict[tuple[str, date], Contract | None] = {}

    def parse(self, text: str, trade_day: date) -> Contract | None:
        key = (text, trade_day)
        if key not in self._cache:
            readings = {
                item for item in self._readings(text.strip().upper()) if self._plausible(item, trade_day)
            }
            self._cache[key] = readings.pop() if len(readings) == 1 else None
        return self._cache[key]

    def _plausible(self, contract: Contract, trade_day: date) -> bool:
        return trade_day <= contract.expiry <= trade_day + timedelta(days=_MAX_EXPIRY_DAYS)

    def _readings(self, text: str) -> Iterator[Contract]:
        if match := _ANGEL.match(text):
            name, day, month, year, strike, kind = match.groups()
            if month in _MONTHS and (expiry := _safe_date(2000 + int(year), _MONTHS[month], int(day))):
                yield Contract(name, expiry, float(strike), kind)
        if match := _NSE_WEEKLY.match(text):
            name, year, month, day, strike, kind = match.groups()
            if expiry := _safe_date(2000 + int(year), _WEEKLY_MONTH[month], int(day)):
                yield Contract(name, expiry, float(strike), kind)
        if match := _YYMMDD.match(text):
            name, year, month, day, strike, kind = match.groups()
            if expiry := _safe_date(2000 + int(year), int(month), int(day)):
                yield Contract(name, expiry, float(strike), kind)
        if match := _NSE_MONTHLY.match(text):
            name, year, month, strike, kind = match.groups()
            if month in _MONTHS and (expiry := self._monthly_expiry(name, 2000 + int(year), _MONTHS[month])):
                yield Contract(name, expiry, float(strike), kind)

    def _monthly_expiry(self, underlying: str, year: int, month: int) -> date | None:
        first = date(year, month, 1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        if not (self.calendar.covers(first) and self.calendar.covers(last)):
            return None
        try:
            found = self.calendar.expiries(underlying, first, last, "monthly")
        except UserError:
            return None
        return found[-1] if found else None


# -- time handling -------------------------------------------------------------------------------------


def _parse_stamp(text: str) -> datetime:
    text = text.strip()
    if text.replace(".", "", 1).isdigit() and len(text) >= 9:
        seconds = float(text) / (1000 if len(text.split(".")[0]) >= 13 else 1)
        return datetime.fromtimestamp(seconds, tz=UTC)
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace("T", " ", 1))


def naive_zone(stamps: list[datetime], forced: str | None) -> tuple[str, str]:
    """(zone, how): the zone naive stamps are in, and a line saying how that was decided."""
    if forced:
        return forced, f"naive timestamps read as {forced.upper()} (--tz)"
    naive = [stamp for stamp in stamps if stamp.tzinfo is None]
    if not naive:
        return "ist", ""
    in_ist = [time(9, 0) <= stamp.time() <= time(15, 45) for stamp in naive]
    in_utc = [time(3, 30) <= stamp.time() <= time(10, 15) for stamp in naive]
    ist_only = sum(ist and not utc for ist, utc in zip(in_ist, in_utc, strict=True))
    utc_only = sum(utc and not ist for ist, utc in zip(in_ist, in_utc, strict=True))
    if ist_only == utc_only == 0 and any(in_ist):
        return "ist", (
            "naive timestamps assumed IST: every row lies between 09:00 and 10:15, which fits both IST and "
            "UTC (pass --tz utc if the file is in UTC)"
        )
    if ist_only == utc_only:
        raise UserError("cannot tell whether the naive timestamps are IST or UTC: pass --tz ist or --tz utc")
    zone = "ist" if ist_only > utc_only else "utc"
    share = sum(in_ist if zone == "ist" else in_utc) / len(naive)
    return zone, f"naive timestamps detected as {zone.upper()} ({share:.1%} of rows inside the session)"


def _aware(stamp: datetime, zone: str) -> datetime:
    if stamp.tzinfo is not None:
        return stamp.astimezone(UTC)
    return stamp.replace(tzinfo=IST if zone == "ist" else UTC).astimezone(UTC)


def _ist_text(moment: datetime) -> str:
    return moment.astimezone(IST).strftime("%Y-%m-%d %H:%M IST")


# -- lot sizes -----------------------------------------------------------------------------------------


def infer_lot_size(open_interest: list[int], value_per_contract: list[float]) -> int | None:
    """The greatest common divisor of OI figures (OI is whole lots), cross-checked with the traded value
    per contract where known; None when neither gives a trustworthy figure."""
    positive = [value for value in open_interest if value > 0]
    divisor = reduce(math.gcd, positive, 0) if len(positive) >= 3 else 0
    estimates = sorted(value_per_contract)
    by_value = estimates[len(estimates) // 2] if estimates else None
    if divisor > 1 and (by_value is None or abs(divisor - by_value) <= LOT_VALUE_TOLERANCE * by_value):
        return divisor
    if by_value is not None and by_value > 0:
        return max(1, round(by_value))
    return None


# -- the importer ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BhavcopyColumns:
    """Where a bhavcopy format keeps each field (lower-case column names)."""

    format: str
    day: str
    underlying: str | None  # None: the file does not name it (--symbol)
    expiry: str
    strike: str
    option_type: str
    prices: tuple[str, str, str, str]  # open, high, low, close
    traded: str  # contracts traded
    open_interest: str
    instrument: str | None = None  # the column telling options from futures, if any
    option_kinds: tuple[str, ...] = ()  # its values on option rows
    lot: str | None = None  # the lot-size column; None: inferred from OI (and traded value)
    lot_oi: tuple[str, ...] = ()
    lot_value: str | None = None  # traded value in lakh, to check an inferred lot size


BHAVCOPY_COLUMNS: dict[str, BhavcopyColumns] = {
    "bhavcopy_udiff": BhavcopyColumns(
        "bhavcopy_udiff", "traddt", "tckrsymb", "xprydt", "strkpric", "optntp",
        ("opnpric", "hghpric", "lwpric", "clspric"), "ttltradgvol", "opnintrst",
        instrument="fininstrmtp", option_kinds=("IDO", "STO"), lot="newbrdlotqty",
    ),
    "bhavcopy_fo": BhavcopyColumns(
        "bhavcopy_fo", "timestamp", "symbol", "expiry_dt", "strike_pr", "option_typ",
        ("open", "high", "low", "close"), "contracts", "open_int",
        instrument="instrument", option_kinds=("OPTIDX", "OPTSTK"),
        lot_oi=("open_int", "chg_in_oi"), lot_value="val_inlakh",
    ),
    "bhavcopy": BhavcopyColumns(
        "bhavcopy", "date", None, "expiry", "strike", "opt_type",
        ("open", "high", "low", "close"), "volume", "oi", lot_oi=("oi", "oi_change"),
    ),
}  # fmt: skip


class OptionImporter:
    def __init__(self, calendar: NseCalendar, archive: OptionArchive | None = None) -> None:
        self.calendar = calendar
        self.archive = archive
        self.symbols = SymbolParser(calendar)

    def load(
        self,
        path: Path,
        kind: str,
        underlying: str | None = None,
        tz: str | None = None,
        lot_size: int | None = None,
        strike_step: float | None = None,
    ) -> OptionImportResult:
        if tz is not None and tz not in TIMEZONES:
            raise UserError(f"--tz must be one of {', '.join(TIMEZONES)}, got {tz!r}")
        if kind in BHAVCOPY_COLUMNS:
            columns = BHAVCOPY_COLUMNS[kind]
            if columns.underlying is None and not underlying:
                raise UserError(
                    f"{path}: this bhavcopy does not name its underlying: pass --symbol NIFTY (or …)"
                )
            named = underlying.upper() if underlying and columns.underlying is None else None
            result = self._bhavcopy(path, columns, named, lot_size)
        elif kind == "option_bars":
            result = self._minute_bars(path, underlying, tz)
        elif kind == "option_atm_series":
            result = self._atm_series(path, underlying, tz, strike_step)
        else:
            raise UserError(f"{path}: not an option file format ({kind})")
        if not result.rows:
            raise UserError(f"{path}: no option rows to store (dropped: {dict(result.dropped) or 'none'})")
        return result

    # -- daily bhavcopies ------------------------------------------------------------------------

    def _session_open(self, day: date, result: OptionImportResult) -> datetime | None:
        session = self.calendar.session(day, Segment.FO) if self.calendar.covers(day) else None
        if session is None:
            result.drop("not an F&O trading day in the calendar", day.isoformat())
            return None
        return session.open_utc

    def _daily_row(
        self,
        result: OptionImportResult,
        day: date,
        contract: Contract,
        prices: list[float | None],
        contracts_traded: float,
        lot: int,
        oi: float,
    ) -> None:
        if any(price is None or price <= 0 for price in prices) or contracts_traded <= 0:
            result.drop("not traded (zero OHLC/volume; close and settle are theoretical)")
            return
        open_, high, low, close = (float(price or 0.0) for price in prices)
        if high < max(open_, close) or low > min(open_, close):
            result.drop("inconsistent OHLC", f"{contract.symbol} {day}")
            return
        start = self._session_open(day, result)
        if start is None:
            return
        result.rows.append(
            OptionBarRow(
                start, contract.underlying, contract.expiry, contract.strike, contract.option_type,
                contract.symbol, open_, high, low, close, round(contracts_traded * lot), max(0, round(oi)),
                "bhavcopy",
            )
        )  # fmt: skip

    def _lot_sizes(
        self, records: list[dict[str, str]], group: Any, columns: BhavcopyColumns
    ) -> dict[Any, int | None]:
        """Lot size per group (underlying, expiry) inferred from OI divisibility and traded value."""
        open_interest: dict[Any, list[int]] = defaultdict(list)
        per_contract: dict[Any, list[float]] = defaultdict(list)
        for record in records:
            key = group(record)
            for oi_key in columns.lot_oi:
                number = _number(record.get(oi_key))
                if number:
                    open_interest[key].append(abs(round(number)))
            traded = _number(record.get(columns.traded)) or 0.0
            value = _number(record.get(columns.lot_value)) if columns.lot_value else None
            strike = _number(record.get(columns.strike)) or 0.0
            close = _number(record.get(columns.prices[3])) or 0.0
            if value and traded > 0 and strike + close > 0:
                per_contract[key].append(value * 1e5 / traded / (strike + close))
        groups = set(open_interest) | set(per_contract)
        return {key: infer_lot_size(open_interest[key], per_contract[key]) for key in groups}

    def _bhavcopy(
        self, path: Path, columns: BhavcopyColumns, underlying: str | None, forced_lot: int | None
    ) -> OptionImportResult:
        """Every bhavcopy format through one loop; `columns` says where each field is."""
        result = OptionImportResult(path, columns.format, "1d")
        records = list(_records(path))
        result.rows_read = len(records)
        options = records
        if columns.instrument is not None:
            kind = columns.instrument
            options = [r for r in records if r.get(kind, "").upper() in columns.option_kinds]
            result.drop("not an option (futures row)", count=len(records) - len(options))

        def group(record: dict[str, str]) -> tuple[str, str]:
            name = underlying or record.get(columns.underlying or "", "")
            return name.upper(), record.get(columns.expiry, "")

        lots: dict[Any, int | None] = {}
        if columns.lot is None:
            lots = self._lot_sizes(options, group, columns)
            self._note_lots(result, lots, forced_lot)
        for line, record in enumerate(options, start=2):
            try:
                day = _parse_date(record[columns.day])
                contract = Contract(
                    (underlying or record[columns.underlying or ""]).upper(),
                    _parse_date(record[columns.expiry]),
                    float(record[columns.strike]),
                    record[columns.option_type].upper(),
                )
                lot = (
                    int(float(record[columns.lot])) if columns.lot else forced_lot or lots.get(group(record))
                )
            except (KeyError, ValueError):
                result.drop("unreadable row", f"row {line}")
                continue
            if lot is None:
                result.drop("lot size unknown (pass --lot-size)", f"{contract.underlying} {contract.expiry}")
                continue
            prices = [_number(record.get(key)) for key in columns.prices]
            traded = _number(record.get(columns.traded)) or 0.0
            oi = _number(record.get(columns.open_interest)) or 0.0
            self._daily_row(result, day, contract, prices, traded, lot, oi)
        return result

    @staticmethod
    def _note_lots(result: OptionImportResult, lots: dict[Any, int | None], forced: int | None) -> None:
        if forced:
            result.notes.append(f"volume in contracts x lot size {forced} (--lot-size)")
            return
        for (name, expiry), lot in sorted(lots.items(), key=lambda item: str(item[0])):
            if lot is not None:
                result.notes.append(
                    f"{name} {expiry}: lot size {lot} inferred from OI/value (volume = contracts x lot)"
                )

    # -- intraday vendor bars --------------------------------------------------------------------

    def _intraday_records(
        self, path: Path, tz: str | None, result: OptionImportResult
    ) -> tuple[list[tuple[datetime, dict[str, str]]], dict[str, str | None]]:
        records = list(_records(path))
        result.rows_read = len(records)
        columns = set(records[0]) if records else set()
        keys = {concept: _column(columns, concept) for concept in _ALIASES}
        time_key = keys["time"]
        assert time_key is not None
        split_stamp = {"date", "time"} <= columns
        parsed: list[tuple[datetime, dict[str, str]]] = []
        for number, record in enumerate(records, start=2):
            text = f"{record.get('date')} {record.get('time')}" if split_stamp else record.get(time_key)
            try:
                parsed.append((_parse_stamp(str(text)), record))
            except ValueError:
                result.drop("unreadable timestamp", f"line {number}: {text!r}")
        zone, how = naive_zone([stamp for stamp, _ in parsed], tz)
        if how:
            result.notes.append(how)
        return [(_aware(stamp, zone), record) for stamp, record in parsed], keys

    def _in_session(self, start: datetime, symbol: str, result: OptionImportResult) -> bool:
        day = start.astimezone(IST).date()
        session = self.calendar.session(day, Segment.FO) if self.calendar.covers(day) else None
        if session is None:
            result.drop("not an F&O trading day in the calendar", f"{symbol} {_ist_text(start)}")
            return False
        if not session.contains(start.astimezone(IST)):
            result.drop("outside the session's trading hours", f"{symbol} {_ist_text(start)}")
            return False
        return True

    def _contract(
        self, record: dict[str, str], keys: dict[str, str | None], underlying: str | None, day: date
    ) -> Contract | None:
        expiry_text = record.get(keys["expiry"] or "", "")
        strike = _number(record.get(keys["strike"] or ""))
        kind = record.get(keys["option_type"] or "", "").upper()
        symbol_text = record.get(keys["symbol"] or "", "").upper()
        parsed = self.symbols.parse(symbol_text, day) if symbol_text else None
        if expiry_text and strike and kind in ("CE", "PE"):
            # The file's own names win: its underlying column, then its trading symbol, then --symbol.
            prefix = _SYMBOL_PREFIX.match(symbol_text)
            name = (
                record.get(keys["underlying"] or "", "") or (prefix.group(1) if prefix else "") or underlying
            )
            if not name:
                return None
            return Contract(name.upper(), _parse_date(expiry_text), strike, kind)
        return parsed

    def _minute_bars(self, path: Path, underlying: str | None, tz: str | None) -> OptionImportResult:
        result = OptionImportResult(path, "option_bars", "1m")
        stamped, keys = self._intraday_records(path, tz, result)
        rows: list[OptionBarRow] = []
        for start, record in stamped:
            try:
                contract = self._contract(record, keys, underlying, start.astimezone(IST).date())
            except ValueError:
                contract = None
            if contract is None:
                result.drop(
                    "contract not recognised", record.get(keys["symbol"] or "", "") or str(record)[:80]
                )
                continue
            row = self._bar_row(result, start, contract, record, keys, "vendor")
            if row is not None:
                rows.append(row)
        result.timeframe = self._timeframe(rows, path)
        result.rows = self._in_session_rows(rows, result)
        return result

    def _bar_row(
        self,
        result: OptionImportResult,
        start: datetime,
        contract: Contract,
        record: dict[str, str],
        keys: dict[str, str | None],
        source: str,
    ) -> OptionBarRow | None:
        prices = [_number(record.get(key)) for key in ("open", "high", "low", "close")]
        if any(price is None or price <= 0 for price in prices):
            result.drop("no traded price (zero or missing OHLC)", f"{contract.symbol} {_ist_text(start)}")
            return None
        open_, high, low, close = (float(price or 0.0) for price in prices)
        if high < max(open_, close) or low > min(open_, close):
            result.drop("inconsistent OHLC", f"{contract.symbol} {_ist_text(start)}")
            return None
        volume = _number(record.get(keys["volume"] or "")) or 0.0
        oi = _number(record.get(keys["oi"] or "")) or 0.0
        return OptionBarRow(
            start, contract.underlying, contract.expiry, contract.strike, contract.option_type,
            contract.symbol, open_, high, low, close, max(0, round(volume)), max(0, round(oi)), source,
        )  # fmt: skip

    def _in_session_rows(self, rows: list[OptionBarRow], result: OptionImportResult) -> list[OptionBarRow]:
        kept = [row for row in rows if self._in_session(row.ts, row.symbol, result)]
        seen: dict[tuple[str, datetime], OptionBarRow] = {}
        for row in kept:
            if (row.symbol, row.ts) in seen:
                result.drop(
                    "duplicate contract and minute (the last row kept)", f"{row.symbol} {_ist_text(row.ts)}"
                )
            seen[(row.symbol, row.ts)] = row
        return list(seen.values())

    @staticmethod
    def _timeframe(rows: list[OptionBarRow], path: Path) -> str:
        """1m or 5m from the most common step between a contract's consecutive bars."""
        by_symbol: dict[str, list[datetime]] = defaultdict(list)
        for row in rows:
            by_symbol[row.symbol].append(row.ts)
        steps: Counter[int] = Counter()
        for stamps in by_symbol.values():
            ordered = sorted(stamps)
            steps.update(
                int((after - before).total_seconds())
                for before, after in itertools.pairwise(ordered)
                if timedelta(0) < after - before <= timedelta(minutes=30)
            )
        if not steps:
            return "1m"
        smallest = min(steps)
        if smallest % 300 == 0:
            return "5m"
        if smallest % 60 == 0:
            return "1m"
        raise UserError(f"{path}: bars are {smallest} seconds apart; the archive keeps 1m and 5m bars")

    # -- ATM±n series ------------------------------------------------------------------------------

    def _atm_series(
        self, path: Path, underlying: str | None, tz: str | None, strike_step: float | None
    ) -> OptionImportResult:
        result = OptionImportResult(path, "option_atm_series", "1m")
        stamped, keys = self._intraday_records(path, tz, result)
        rows: list[OptionBarRow] = []
        strikes_cache: dict[tuple[str, date, date], list[float]] = {}
        for start, record in stamped:
            resolved = self._resolve_atm(start, record, keys, underlying, strike_step, strikes_cache, result)
            if resolved is not None:
                row = self._bar_row(result, start, resolved, record, keys, "vendor")
                if row is not None:
                    rows.append(row)
        if strike_step:
            result.notes.append(
                f"strikes resolved on a {strike_step:g}-point grid (--strike-step), not listed strikes"
            )
        result.timeframe = self._timeframe(rows, path)
        in_session = [row for row in rows if self._in_session(row.ts, row.symbol, result)]
        result.rows = self._conflict_free(in_session, result)
        return result

    @staticmethod
    def _conflict_free(rows: list[OptionBarRow], result: OptionImportResult) -> list[OptionBarRow]:
        """Two offsets resolving to the same contract and minute must agree, or both are dropped."""
        by_key: dict[tuple[str, datetime], list[OptionBarRow]] = defaultdict(list)
        for row in rows:
            by_key[(row.symbol, row.ts)].append(row)
        kept: list[OptionBarRow] = []
        for (symbol, start), group in by_key.items():
            prices = {(row.open, row.high, row.low, row.close) for row in group}
            if len(prices) > 1:
                result.drop("ambiguous: two offsets resolve to one contract with different prices",
                            f"{symbol} {_ist_text(start)}", count=len(group))  # fmt: skip
                continue
            kept.append(group[-1])
        return kept

    def _resolve_atm(
        self,
        start: datetime,
        record: dict[str, str],
        keys: dict[str, str | None],
        underlying: str | None,
        strike_step: float | None,
        cache: dict[tuple[str, date, date], list[float]],
        result: OptionImportResult,
    ) -> Contract | None:
        name = (record.get(keys["underlying"] or "", "") or underlying or "").upper()
        offset_text = record.get(keys["offset"] or "", "").upper()
        kind = record.get(keys["option_type"] or "", "").upper()
        spot = _number(record.get(keys["spot"] or ""))
        match = _OFFSET.match(offset_text)
        try:
            expiry = _parse_date(record.get(keys["expiry"] or "", ""))
        except ValueError:
            expiry = None
        if not name or expiry is None or match is None or kind not in ("CE", "PE") or not spot or spot <= 0:
            result.drop(
                "unreadable ATM row (underlying/expiry/offset/type/spot)", f"{_ist_text(start)} {offset_text}"
            )
            return None
        offset = int(match.group(2) or 0) * (-1 if match.group(1) == "-" else 1)
        day = start.astimezone(IST).date()
        strikes = self._strikes(name, day, expiry, spot, strike_step, cache)
        if not strikes:
            result.drop(
                "no listed strikes for that day and expiry (import its bhavcopy first, or --strike-step)",
                f"{name} {expiry} on {day}",
            )
            return None
        nearest = min(range(len(strikes)), key=lambda index: abs(strikes[index] - spot))
        distance = abs(strikes[nearest] - spot)
        ties = [index for index, strike in enumerate(strikes) if abs(abs(strike - spot) - distance) < 1e-6]
        if len(ties) > 1:
            result.drop(
                "ambiguous ATM: spot midway between two listed strikes",
                f"{name} {_ist_text(start)} spot {spot:g}",
            )
            return None
        target = nearest + offset
        if not 0 <= target < len(strikes):
            result.drop("offset beyond the listed strikes", f"{name} {_ist_text(start)} {offset_text}")
            return None
        return Contract(name, expiry, strikes[target], kind)

    def _strikes(
        self,
        name: str,
        day: date,
        expiry: date,
        spot: float,
        strike_step: float | None,
        cache: dict[tuple[str, date, date], list[float]],
    ) -> list[float]:
        if strike_step:
            centre = round(spot / strike_step) * strike_step
            return [
                centre + strike_step * index for index in range(-40, 41) if centre + strike_step * index > 0
            ]
        key = (name, day, expiry)
        if key not in cache:
            cache[key] = self.archive.listed_strikes(name, day, expiry) if self.archive is not None else []
        return cache[key]
