"""Importers for real history files (the formats in `data/sample/`), with timezone detection.

Formats (detected from the header, see `detect_format`):

* ``yahoo_multiheader`` - yfinance CSV with 3 header lines (Price / Ticker / Datetime); timestamps
  carry an offset (UTC); intraday or daily.
* ``ohlcv`` - ``Date/date`` + open/high/low/close[/volume][/source] in any column order: NSE history,
  Yahoo daily, merged files, and the naive-IST 15-minute files.
* ``dhan`` - ``timestamp`` column with epoch seconds or ISO UTC; daily rows are UTC instants of IST
  midnight (18:30Z the previous day) and are mapped back to the IST date.
* ``bhavcopy`` - NSE F&O bhavcopy option rows (one daily bar per contract; zero-OHLC rows were not
  traded and are skipped, never stored as a price of 0).
* ``option_chain`` - an NSE option-chain snapshot (quotes, not bars): see
  `optbot.instruments.snapshot.load_chain_snapshot`.

Every intraday day is checked against the calendar's trading intervals (special sessions included).
A day stamped in UTC (every row in session once shifted by +05:30) is repaired; identical duplicate
rows are de-duplicated; conflicting duplicates or rows outside the session reject the day; a partial
day is imported with ``complete=False``. Every one of these is reported, never applied silently.
"""

from __future__ import annotations

import csv
import itertools
import logging
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from optbot.calendar import NseCalendar, Segment
from optbot.core.enums import OptionType, Timeframe
from optbot.core.errors import UserError
from optbot.core.events import Bar
from optbot.core.timeutil import IST
from optbot.data.store import store_symbol

log = logging.getLogger("optbot.data.importers")

FORMATS = ("yahoo_multiheader", "ohlcv", "dhan", "bhavcopy", "option_chain")
_UTC_SHIFT = timedelta(hours=5, minutes=30)
#: A daily file whose opens equal the previous close this often has synthetic opens (Yahoo quirk).
SYNTHETIC_OPEN_SHARE = 0.9
SYNTHETIC_OPEN_MIN_BARS = 20


@dataclass(frozen=True, slots=True)
class DayIssue:
    day: date
    problem: str
    action: str  # repaired | rejected | imported_incomplete | imported


@dataclass
class ImportResult:
    path: Path
    format: str
    timeframe: Timeframe
    bars: dict[str, list[Bar]] = field(default_factory=dict)  # symbol -> bars
    rows: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    issues: list[DayIssue] = field(default_factory=list)

    @property
    def bar_count(self) -> int:
        return sum(len(bars) for bars in self.bars.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.format,
            "timeframe": self.timeframe.value,
            "rows": self.rows,
            "bars": {symbol: len(bars) for symbol, bars in self.bars.items()},
            "skipped": dict(self.skipped),
            "issues": [
                {"day": issue.day.isoformat(), "problem": issue.problem, "action": issue.action}
                for issue in self.issues
            ],
        }


def _lower(row: list[str]) -> list[str]:
    return [cell.strip().lower() for cell in row]


def detect_format(path: Path) -> str:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            head = [row for _, row in zip(range(3), csv.reader(handle), strict=False)]
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    if not head:
        raise UserError(f"{path}: empty file")
    first = _lower(head[0])
    if first and first[0] == "price" and len(head) > 1 and _lower(head[1])[:1] == ["ticker"]:
        return "yahoo_multiheader"
    columns = set(first)
    if {"strike", "opt_type", "expiry"} <= columns:
        return "bhavcopy"
    if {"strike", "ce_ltp", "pe_ltp"} <= columns:
        return "option_chain"
    if "timestamp" in columns and {"open", "high", "low", "close"} <= columns:
        return "dhan"
    if ({"date"} & columns or {"datetime"} & columns) and {"open", "high", "low", "close"} <= columns:
        return "ohlcv"
    raise UserError(f"{path}: unrecognised file format (header {head[0]!r}); supported: {', '.join(FORMATS)}")


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if value == value else None  # NaN is missing


def _parse_moment(text: str) -> datetime | date:
    """A date, an aware datetime, or a naive datetime (timezone decided later)."""
    text = text.strip()
    if len(text) == 10:
        return date.fromisoformat(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class _Row:
    moment: datetime | date
    open: float
    high: float
    low: float
    close: float
    volume: int


def _ohlc_rows(records: Iterator[dict[str, str]], result: ImportResult, time_key: str) -> list[_Row]:
    rows: list[_Row] = []
    for record in records:
        result.rows += 1
        stamp = record.get(time_key, "")
        try:
            moment = _parse_moment(stamp)
        except ValueError:
            result.skipped["bad_timestamp"] += 1
            continue
        values = [_float(record.get(key, "")) for key in ("open", "high", "low", "close")]
        if any(value is None for value in values):
            result.skipped["missing_price"] += 1
            continue
        open_, high, low, close = (float(value) for value in values if value is not None)
        if min(open_, high, low, close) <= 0:
            result.skipped["non_positive_price"] += 1
            continue
        if high < max(open_, close, low) or low > min(open_, close, high):
            result.skipped["inconsistent_ohlc"] += 1
            continue
        volume = _float(record.get("volume", "") or "0") or 0.0
        rows.append(_Row(moment, open_, high, low, close, int(volume)))
    return rows


class Importer:
    def __init__(self, calendar: NseCalendar, segment: Segment = Segment.EQUITY) -> None:
        self.calendar = calendar
        self.segment = segment

    # -- entry point ---------------------------------------------------------------------------

    def load(self, path: Path, symbol: str, timeframe: Timeframe | None = None) -> ImportResult:
        kind = detect_format(path)
        if kind == "option_chain":
            raise UserError(
                f"{path} is an option-chain snapshot (quotes, not bars): show it with "
                "`optbot chain SYMBOL --snapshot FILE`"
            )
        symbol = store_symbol(symbol)
        if kind == "bhavcopy":
            return self._bhavcopy(path, symbol)
        with path.open(newline="", encoding="utf-8-sig") as handle:
            lines = handle.read().splitlines()
        if kind == "yahoo_multiheader":
            header = ["datetime", *_lower(next(csv.reader([lines[0]])))[1:]]
            body = lines[3:]
            time_key = "datetime"
        else:
            header = _lower(next(csv.reader([lines[0]])))
            body = lines[1:]
            time_key = "timestamp" if kind == "dhan" else ("datetime" if "datetime" in header else "date")
        records = (dict(zip(header, row, strict=False)) for row in csv.reader(body))
        result = ImportResult(path, kind, timeframe or Timeframe.D1)
        rows = self._dhan_rows(records, result) if kind == "dhan" else _ohlc_rows(records, result, time_key)
        if not rows:
            raise UserError(f"{path}: no usable rows ({dict(result.skipped) or 'file has only a header'})")
        detected = self._detect_timeframe(rows)
        if timeframe is not None and detected is not None and detected is not timeframe:
            raise UserError(
                f"{path}: rows are {detected.value} bars but --timeframe {timeframe.value} was given"
            )
        result.timeframe = timeframe or detected or Timeframe.D1
        if result.timeframe is Timeframe.D1:
            bars = self._daily(rows, symbol, result)
            self._check_synthetic_opens(bars, result)
        else:
            bars = self._intraday(rows, symbol, result)
        result.bars[symbol] = bars
        return result

    # -- timeframe + timezone ------------------------------------------------------------------

    @staticmethod
    def _detect_timeframe(rows: list[_Row]) -> Timeframe | None:
        moments = [row.moment for row in rows[:500] if isinstance(row.moment, datetime)]
        if not moments:
            return Timeframe.D1
        steps = Counter(
            int((after - before).total_seconds())
            for before, after in itertools.pairwise(moments)
            if timedelta(0) < after - before < timedelta(hours=2)
        )
        if not steps:
            return None
        step = steps.most_common(1)[0][0]
        for timeframe in (Timeframe.M1, Timeframe.M5, Timeframe.M15, Timeframe.H1):
            if step == timeframe.seconds:
                return timeframe
        if all(moment.astimezone(IST).time() == time(0) for moment in moments if moment.tzinfo):
            return Timeframe.D1
        return None

    def _dhan_rows(self, records: Iterator[dict[str, str]], result: ImportResult) -> list[_Row]:
        converted: list[dict[str, str]] = []
        for record in records:
            stamp = record.get("timestamp", "").strip()
            try:
                if stamp.replace(".", "", 1).isdigit():
                    moment = datetime.fromtimestamp(float(stamp), tz=UTC)
                else:
                    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
                    if moment.tzinfo is None:
                        moment = moment.replace(tzinfo=UTC)  # Dhan's documented convention: UTC
            except ValueError:
                result.rows += 1
                result.skipped["bad_timestamp"] += 1
                continue
            ist_moment = moment.astimezone(IST)
            text = ist_moment.date().isoformat() if ist_moment.time() == time(0) else ist_moment.isoformat()
            converted.append({**record, "timestamp": text})
        return _ohlc_rows(iter(converted), result, "timestamp")

    def _daily(self, rows: list[_Row], symbol: str, result: ImportResult) -> list[Bar]:
        bars: dict[date, Bar] = {}
        for row in rows:
            moment = row.moment
            day = moment.astimezone(IST).date() if isinstance(moment, datetime) else moment
            if not self.calendar.covers(day):
                result.skipped["outside_calendar_range"] += 1
                continue
            session = self.calendar.session(day, self.segment)
            if session is None:
                result.issues.append(DayIssue(day, "row on a non-trading day", "rejected"))
                result.skipped["non_trading_day"] += 1
                continue
            if day in bars:
                result.skipped["duplicate_day"] += 1
            bars[day] = Bar(
                ts_utc=session.close_utc,
                token="",
                symbol=symbol,
                timeframe=Timeframe.D1,
                start_utc=session.open_utc,
                end_utc=session.close_utc,
                open=row.open,
                high=row.high,
                low=row.low,
                close=row.close,
                volume=row.volume,
            )
        return [bars[day] for day in sorted(bars)]

    @staticmethod
    def _check_synthetic_opens(bars: list[Bar], result: ImportResult) -> None:
        """Yahoo's INDIA VIX daily 'Open' is the previous close: report it (gap checks need real opens)."""
        if len(bars) < SYNTHETIC_OPEN_MIN_BARS:
            return
        same = sum(1 for before, after in itertools.pairwise(bars) if abs(after.open - before.close) < 1e-6)
        share = same / (len(bars) - 1)
        if share >= SYNTHETIC_OPEN_SHARE:
            result.issues.append(
                DayIssue(
                    bars[0].start_utc.astimezone(IST).date(),
                    f"open equals the previous close on {share:.0%} of days: opens are not real "
                    "(do not use them for opening-gap checks)",
                    "imported",
                )
            )

    def expected_starts(self, day: date, timeframe: Timeframe) -> list[datetime]:
        """Bar starts the calendar expects on a day (every trading interval, aligned to its start)."""
        session = self.calendar.session(day, self.segment)
        if session is None:
            return []
        step = timedelta(seconds=timeframe.seconds)
        starts: list[datetime] = []
        for open_, close in session.trading_intervals:
            moment = open_.astimezone(UTC)
            while moment < close.astimezone(UTC):
                starts.append(moment)
                moment += step
        return starts

    def _intraday(self, rows: list[_Row], symbol: str, result: ImportResult) -> list[Bar]:
        by_day: dict[date, list[_Row]] = defaultdict(list)
        for row in rows:
            moment = row.moment
            if not isinstance(moment, datetime):
                result.skipped["date_only_row_in_intraday_file"] += 1
                continue
            local = moment.astimezone(IST) if moment.tzinfo else moment.replace(tzinfo=IST)
            row.moment = local
            by_day[local.date()].append(row)
        timeframe = result.timeframe
        step = timedelta(seconds=timeframe.seconds)
        bars: list[Bar] = []
        for day in sorted(by_day):
            if not self.calendar.covers(day):
                result.skipped["outside_calendar_range"] += len(by_day[day])
                continue
            expected = set(self.expected_starts(day, timeframe))
            day_rows = by_day[day]
            problem = ""
            if not expected:
                result.issues.append(DayIssue(day, "rows on a non-trading day", "rejected"))
                result.skipped["non_trading_day"] += len(day_rows)
                continue
            stamps = [row.moment.astimezone(UTC) for row in day_rows if isinstance(row.moment, datetime)]
            if not set(stamps) <= expected:
                shifted = [stamp + _UTC_SHIFT for stamp in stamps]
                if set(shifted) <= expected:
                    for row in day_rows:
                        assert isinstance(row.moment, datetime)
                        row.moment = row.moment + _UTC_SHIFT
                    stamps = shifted
                    problem = "timestamps in UTC, shifted to IST"
                    result.issues.append(DayIssue(day, problem, "repaired"))
                else:
                    outside = len(set(stamps) - expected)
                    result.issues.append(
                        DayIssue(day, f"{outside} rows outside the session's trading intervals", "rejected")
                    )
                    result.skipped["malformed_day_rows"] += len(day_rows)
                    continue
            unique: dict[datetime, _Row] = {}
            conflict = False
            for stamp, row in zip(stamps, day_rows, strict=True):
                previous = unique.get(stamp)
                if previous is not None and (previous.open, previous.close) != (row.open, row.close):
                    conflict = True
                unique[stamp] = row
            if conflict:
                result.issues.append(DayIssue(day, "conflicting duplicate timestamps", "rejected"))
                result.skipped["malformed_day_rows"] += len(day_rows)
                continue
            if len(unique) < len(stamps):
                result.issues.append(
                    DayIssue(day, f"{len(stamps) - len(unique)} duplicate rows removed", "repaired")
                )
            complete = len(unique) == len(expected)
            if not complete:
                result.issues.append(
                    DayIssue(
                        day, f"partial day: {len(unique)} of {len(expected)} bars", "imported_incomplete"
                    )
                )
            for stamp in sorted(unique):
                row = unique[stamp]
                bars.append(
                    Bar(
                        ts_utc=stamp + step,
                        token="",
                        symbol=symbol,
                        timeframe=timeframe,
                        start_utc=stamp,
                        end_utc=stamp + step,
                        open=row.open,
                        high=row.high,
                        low=row.low,
                        close=row.close,
                        volume=row.volume,
                        complete=complete,
                    )
                )
        return bars

    # -- options -------------------------------------------------------------------------------

    def _bhavcopy(self, path: Path, underlying: str) -> ImportResult:
        result = ImportResult(path, "bhavcopy", Timeframe.D1)
        with path.open(newline="", encoding="utf-8-sig") as handle:
            for record in csv.DictReader(handle):
                result.rows += 1
                try:
                    day = date.fromisoformat(record["date"].strip())
                    expiry = date.fromisoformat(record["expiry"].strip())
                    strike = float(record["strike"])
                    option_type = OptionType(record["opt_type"].strip().upper())
                    prices = [float(record[key]) for key in ("open", "high", "low", "close")]
                except (KeyError, ValueError):
                    result.skipped["bad_row"] += 1
                    continue
                if min(prices[:3]) <= 0:
                    result.skipped["not_traded"] += 1  # zero OHLC: close/settle are theoretical
                    continue
                session = self.calendar.session(day, Segment.FO) if self.calendar.covers(day) else None
                if session is None:
                    result.skipped["non_trading_day"] += 1
                    continue
                symbol = f"{underlying}{expiry.strftime('%d%b%y').upper()}{strike:g}{option_type.value}"
                oi_text = record.get("oi", "")
                bar = Bar(
                    ts_utc=session.close_utc,
                    token="",
                    symbol=symbol,
                    timeframe=Timeframe.D1,
                    start_utc=session.open_utc,
                    end_utc=session.close_utc,
                    open=prices[0],
                    high=prices[1],
                    low=prices[2],
                    close=prices[3],
                    volume=int(float(record.get("volume") or 0)),
                    open_interest=int(float(oi_text)) if oi_text else None,
                )
                result.bars.setdefault(symbol, []).append(bar)
        if not result.bars:
            raise UserError(f"{path}: no traded option rows ({dict(result.skipped)})")
        return result
