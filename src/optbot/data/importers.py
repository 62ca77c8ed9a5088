"""Importers for real history files (the formats in `data/sample/`), with timezone detection.

Formats (detected from the header, see `detect_format`):

* ``yahoo_multiheader`` - yfinance CSV with 3 header lines (Price / Ticker / Datetime); timestamps
  carry an offset (UTC); intraday or daily.
* ``ohlcv`` - ``Date/date`` + open/high/low/close[/volume][/source] in any column order: NSE history,
  Yahoo daily, merged files, and the naive-IST 15-minute files.
* ``dhan`` - ``timestamp`` column with epoch seconds or ISO UTC; daily rows are UTC instants of IST
  midnight (18:30Z the previous day) and are mapped back to the IST date.
* ``option_chain`` - an NSE option-chain snapshot (quotes, not bars): see
  `optbot.instruments.snapshot.load_chain_snapshot`.

Option bar files (bhavcopies, vendor per-contract bars) go to the option archive instead
(`optbot.data.option_importers`); `detect_format` names them so this importer can refuse them.
A file with a ``symbol`` column (e.g. NIFTY-I, BANKNIFTY-I futures in one file) is split into one
series per symbol when no ``--symbol`` is given. ``.csv.gz`` files are read transparently.

Every intraday day is checked against the calendar's trading intervals (special sessions included).
Naive stamps are IST unless ``tz="utc"`` (``--tz``) says otherwise; a day stamped in UTC (more rows
in session once shifted by +05:30) is repaired. A stray row outside the session, or a timestamp with
conflicting duplicate rows, is dropped on its own and reported with its time, never the whole day;
identical duplicate rows are de-duplicated; a partial day is imported with ``complete=False``. Every
one of these is reported, never applied silently.
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
from optbot.config.sections.data import DataSettings
from optbot.core.enums import Timeframe
from optbot.core.errors import UserError
from optbot.core.events import Bar
from optbot.core.timeutil import IST
from optbot.data.option_importers import OPTION_FORMATS, TIMEZONES, naive_zone, option_format
from optbot.data.store import store_symbol
from optbot.data.textfiles import read_lines

log = logging.getLogger("optbot.data.importers")

FORMATS = ("yahoo_multiheader", "ohlcv", "dhan", "option_chain", *OPTION_FORMATS)
_UTC_SHIFT = timedelta(hours=5, minutes=30)
#: A daily file whose opens equal the previous close this often has synthetic opens (Yahoo quirk).
SYNTHETIC_OPEN_SHARE = 0.9
SYNTHETIC_OPEN_MIN_BARS = 20
#: Stored and imported bars whose open/high/low/close differ by no more than this are the same bar.
PRICE_TOLERANCE = 0.05
#: Where a converted record keeps its stamp as written (the zone check needs the naive stamp).
NAIVE_STAMP_KEY = "naive timestamp"


@dataclass(frozen=True, slots=True)
class DayIssue:
    day: date
    problem: str
    action: str  # repaired | rejected | dropped | imported_incomplete | imported


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
    head = [next(csv.reader([line]), []) for line in read_lines(path)[:3]]
    if not head:
        raise UserError(f"{path}: empty file")
    first = _lower(head[0])
    if first and first[0] == "price" and len(head) > 1 and _lower(head[1])[:1] == ["ticker"]:
        return "yahoo_multiheader"
    option_kind = option_format(path)
    if option_kind is not None:
        return option_kind
    columns = set(first)
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
    naive: datetime | None = None  # the stamp as written when it carried no zone (a --tz applies to it)


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
        written = record.get(NAIVE_STAMP_KEY) or stamp
        naive = _parse_moment(written) if isinstance(moment, datetime) else None
        naive = naive if isinstance(naive, datetime) and naive.tzinfo is None else None
        rows.append(_Row(moment, open_, high, low, close, int(volume), naive))
    return rows


def _is_intraday_stamp(moment: datetime | date) -> bool:
    """A time of day other than midnight (IST for aware stamps): such a row is never a daily bar."""
    if not isinstance(moment, datetime):
        return False
    return (moment.astimezone(IST) if moment.tzinfo else moment).time() != time(0)


def conflicting_bars(stored: list[Bar], incoming: list[Bar]) -> list[Bar]:
    """Incoming bars whose start is stored with an open/high/low/close more than a tick away."""
    by_start = {bar.start_utc: bar for bar in stored}
    conflicts: list[Bar] = []
    for bar in incoming:
        old = by_start.get(bar.start_utc)
        if old is None:
            continue
        pairs = zip(
            (old.open, old.high, old.low, old.close), (bar.open, bar.high, bar.low, bar.close), strict=True
        )
        if any(abs(before - after) > PRICE_TOLERANCE + 1e-9 for before, after in pairs):
            conflicts.append(bar)
    return conflicts


class Importer:
    def __init__(
        self,
        calendar: NseCalendar,
        segment: Segment = Segment.EQUITY,
        max_outside_session_share: float = DataSettings().import_max_outside_session_share,
    ) -> None:
        self.calendar = calendar
        self.segment = segment
        self.max_outside_session_share = max_outside_session_share

    # -- entry point ---------------------------------------------------------------------------

    def load(
        self, path: Path, symbol: str | None, timeframe: Timeframe | None = None, tz: str | None = None
    ) -> ImportResult:
        """Bars per symbol from one file; `symbol` names a single-series file, `tz` its naive stamps."""
        kind = detect_format(path)
        if kind == "option_chain":
            raise UserError(
                f"{path} is an option-chain snapshot (quotes, not bars): show it with "
                "`optbot chain SYMBOL --snapshot FILE`"
            )
        if kind in OPTION_FORMATS:
            raise UserError(f"{path} holds option bars ({kind}): they belong in the option archive")
        if tz is not None and tz not in TIMEZONES:
            raise UserError(f"--tz must be one of {', '.join(TIMEZONES)}, got {tz!r}")
        lines = read_lines(path)
        if kind == "yahoo_multiheader":
            header = ["datetime", *_lower(next(csv.reader([lines[0]])))[1:]]
            body = lines[3:]
            time_key = "datetime"
        else:
            header = _lower(next(csv.reader([lines[0]])))
            body = lines[1:]
            time_key = "timestamp" if kind == "dhan" else ("datetime" if "datetime" in header else "date")
        records = [dict(zip(header, row, strict=False)) for row in csv.reader(body)]
        result = ImportResult(path, kind, timeframe or Timeframe.D1)
        series: dict[str, list[_Row]] = {}
        for name, group in self._series(path, records, header, symbol).items():
            rows = (
                self._dhan_rows(group, result, tz)
                if kind == "dhan"
                else _ohlc_rows(iter(group), result, time_key)
            )
            if rows:
                series[name] = rows
        # One timeframe per file, judged on the densest series (a sparse one has irregular steps).
        detected = self._detect_timeframe(max(series.values(), key=len)) if series else None
        if timeframe is not None and detected is not None and detected is not timeframe:
            raise UserError(
                f"{path}: rows are {detected.value} bars but --timeframe {timeframe.value} was given"
            )
        result.timeframe = self._decide_timeframe(path, series, timeframe, detected)
        if tz is not None and result.timeframe is not Timeframe.D1:
            for rows in series.values():
                self._check_forced_zone(path, rows, tz, result.timeframe)
        for name, rows in series.items():
            if result.timeframe is Timeframe.D1:
                bars = self._daily(rows, name, result)
                self._check_synthetic_opens(bars, result)
            else:
                bars = self._intraday(rows, name, result, tz or "ist")
            result.bars[name] = bars
        if not result.bars:
            raise UserError(f"{path}: no usable rows ({dict(result.skipped) or 'file has only a header'})")
        return result

    @staticmethod
    def _series(
        path: Path, records: list[dict[str, str]], header: list[str], symbol: str | None
    ) -> dict[str, list[dict[str, str]]]:
        """One group per stored symbol: the `symbol` column's values, or `symbol` for the whole file."""
        named: dict[str, list[dict[str, str]]] = defaultdict(list)
        if "symbol" in header:
            for record in records:
                named[record.get("symbol", "").strip()].append(record)
        if symbol:
            if len(named) > 1:
                raise UserError(
                    f"{path} holds {len(named)} symbols ({', '.join(sorted(named)[:5])}): "
                    "leave out --symbol to store each under its own name"
                )
            return {store_symbol(symbol): records}
        if not named:
            raise UserError(f"{path} does not name its instrument: pass --symbol (e.g. --symbol NIFTY)")
        return {store_symbol(name): group for name, group in named.items()}

    # -- timeframe + timezone ------------------------------------------------------------------

    @staticmethod
    def _decide_timeframe(
        path: Path, series: dict[str, list[_Row]], given: Timeframe | None, detected: Timeframe | None
    ) -> Timeframe:
        """The given or detected timeframe; rows stamped with a time of day are never daily bars."""
        intraday = sum(_is_intraday_stamp(row.moment) for rows in series.values() for row in rows)
        chosen = given or detected
        if chosen is None and not intraday:
            return Timeframe.D1
        if chosen is None or (chosen is Timeframe.D1 and intraday):
            raise UserError(
                f"{path}: {intraday} row(s) carry a time of day, so they are not daily bars, and their "
                "bar length cannot be told from the stamps: pass --timeframe (e.g. --timeframe 1m)"
            )
        return chosen

    def _outside_session_rows(self, rows: list[_Row], zone: str) -> tuple[int, int]:
        """(rows outside the session, rows on trading days) when naive stamps are read in `zone`."""
        zone_info = IST if zone == "ist" else UTC
        outside = counted = 0
        for row in rows:
            if row.naive is None:
                continue
            local = row.naive.replace(tzinfo=zone_info).astimezone(IST)
            if not self.calendar.covers(local.date()):
                continue
            session = self.calendar.session(local.date(), self.segment)
            if session is None:
                continue
            counted += 1
            outside += not session.contains(local)
        return outside, counted

    def _check_forced_zone(self, path: Path, rows: list[_Row], tz: str, timeframe: Timeframe) -> None:
        """A forced --tz that puts most rows outside the session is a wrong zone: refuse before
        anything is stored (the rows would be dropped and the rest land at the wrong times)."""
        outside, counted = self._outside_session_rows(rows, tz)
        if not counted or outside / counted <= self.max_outside_session_share:
            return
        other = "utc" if tz == "ist" else "ist"
        other_outside, _ = self._outside_session_rows(rows, other)
        hint = (
            f"the stamps look like {other.upper()} ({other_outside} outside under it): pass --tz {other} "
            "or leave --tz out"
            if other_outside < outside
            else "check the file's time stamps"
        )
        raise UserError(
            f"{path}: --tz {tz} puts {outside} of {counted} {timeframe.value} rows outside the session; "
            f"{hint}"
        )

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
        for timeframe in (Timeframe.M1, Timeframe.M3, Timeframe.M5, Timeframe.M15, Timeframe.H1):
            if step == timeframe.seconds:
                return timeframe
        if all(moment.astimezone(IST).time() == time(0) for moment in moments if moment.tzinfo):
            return Timeframe.D1
        return None

    def _dhan_rows(self, records: list[dict[str, str]], result: ImportResult, tz: str | None) -> list[_Row]:
        """Epoch seconds or ISO stamps; naive ISO stamps are IST or UTC as `tz` says, else as the rows'
        times show (Dhan's documented convention, UTC, when they cannot tell)."""
        parsed: list[tuple[datetime, dict[str, str]]] = []
        for record in records:
            stamp = record.get("timestamp", "").strip()
            try:
                if stamp.replace(".", "", 1).isdigit():
                    moment = datetime.fromtimestamp(float(stamp), tz=UTC)
                else:
                    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            except ValueError:
                result.rows += 1
                result.skipped["bad_timestamp"] += 1
                continue
            parsed.append((moment, record))
        try:
            zone, _how = naive_zone([moment for moment, _ in parsed], tz)
        except UserError:
            zone = "utc"
        converted: list[dict[str, str]] = []
        for moment, record in parsed:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=IST if zone == "ist" else UTC)
            ist_moment = moment.astimezone(IST)
            text = ist_moment.date().isoformat() if ist_moment.time() == time(0) else ist_moment.isoformat()
            converted.append({**record, "timestamp": text, NAIVE_STAMP_KEY: record.get("timestamp", "")})
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

    def _intraday(self, rows: list[_Row], symbol: str, result: ImportResult, zone: str) -> list[Bar]:
        by_day: dict[date, list[_Row]] = defaultdict(list)
        naive_zone_info = IST if zone == "ist" else UTC
        for row in rows:
            moment = row.moment
            if not isinstance(moment, datetime):
                result.skipped["date_only_row_in_intraday_file"] += 1
                continue
            local = (moment if moment.tzinfo else moment.replace(tzinfo=naive_zone_info)).astimezone(IST)
            row.moment = local
            by_day[local.date()].append(row)
        bars: list[Bar] = []
        for day in sorted(by_day):
            if not self.calendar.covers(day):
                result.skipped["outside_calendar_range"] += len(by_day[day])
                continue
            expected = set(self.expected_starts(day, result.timeframe))
            if not expected:
                result.issues.append(DayIssue(day, "rows on a non-trading day", "rejected"))
                result.skipped["non_trading_day"] += len(by_day[day])
                continue
            kept = self._in_session_rows(day, by_day[day], expected, result)
            bars.extend(self._day_bars(day, kept, expected, symbol, result))
        return bars

    def _in_session_rows(
        self, day: date, day_rows: list[_Row], expected: set[datetime], result: ImportResult
    ) -> dict[datetime, _Row]:
        """The day's rows keyed by bar start: a UTC-stamped day shifted, stray rows and conflicting
        duplicates dropped one by one with their times (the rest of the day stays)."""
        stamps = [row.moment.astimezone(UTC) for row in day_rows if isinstance(row.moment, datetime)]
        shifted = [stamp + _UTC_SHIFT for stamp in stamps]
        if sum(stamp in expected for stamp in shifted) > sum(stamp in expected for stamp in stamps):
            stamps = shifted
            result.issues.append(DayIssue(day, "timestamps in UTC, shifted to IST", "repaired"))
        session = self.calendar.session(day, self.segment)
        by_start: dict[datetime, list[_Row]] = defaultdict(list)
        for stamp, row in zip(stamps, day_rows, strict=True):
            if stamp in expected:
                by_start[stamp].append(row)
                continue
            inside = session is not None and session.contains(stamp.astimezone(IST))
            where = f"not a {result.timeframe.value} bar start" if inside else "outside the session"
            when = stamp.astimezone(IST).strftime("%H:%M:%S IST")
            result.issues.append(DayIssue(day, f"row at {when} {where}", "dropped"))
            result.skipped["outside_session" if not inside else "off_grid"] += 1
        unique: dict[datetime, _Row] = {}
        duplicates = 0
        for stamp, group in by_start.items():
            if len({(row.open, row.high, row.low, row.close) for row in group}) > 1:
                when = stamp.astimezone(IST).strftime("%H:%M IST")
                result.issues.append(DayIssue(day, f"{len(group)} conflicting rows at {when}", "dropped"))
                result.skipped["conflicting_duplicate"] += len(group)
                continue
            duplicates += len(group) - 1
            unique[stamp] = group[-1]
        if duplicates:
            result.issues.append(DayIssue(day, f"{duplicates} duplicate rows removed", "repaired"))
        return unique

    def _day_bars(
        self,
        day: date,
        unique: dict[datetime, _Row],
        expected: set[datetime],
        symbol: str,
        result: ImportResult,
    ) -> list[Bar]:
        if not unique:
            return []
        complete = len(unique) == len(expected)
        if not complete:
            result.issues.append(
                DayIssue(day, f"partial day: {len(unique)} of {len(expected)} bars", "imported_incomplete")
            )
        step = timedelta(seconds=result.timeframe.seconds)
        return [
            Bar(
                ts_utc=stamp + step,
                token="",
                symbol=symbol,
                timeframe=result.timeframe,
                start_utc=stamp,
                end_utc=stamp + step,
                open=row.open,
                high=row.high,
                low=row.low,
                close=row.close,
                volume=row.volume,
                complete=complete,
            )
            for stamp, row in sorted(unique.items())
        ]
