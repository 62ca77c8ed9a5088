"""NSE's published trading-holiday list: parsing, validation, and the dated synced file.

NSE publishes its holidays (`/api/holiday-master?type=trading`) as JSON keyed by segment — "CM"
(capital market, our equity segment), "FO" (equity derivatives) and others we ignore — each a list of
rows like `{"tradingDate": "26-Jan-2027", "weekDay": "Tuesday", "description": "Republic Day"}`.

A list is only stored after it passes every check here, because a wrong list is worse than none: the
bot would stay flat on a trading day or try to trade on a holiday. The stored form is a small TOML
file per sync day (`nse-holidays-YYYY-MM-DD.toml`); the calendar reads the newest one that parses,
so an older good copy is always there to fall back to.
"""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from optbot.calendar.overrides import WEEKDAYS, NamedDay, Segment
from optbot.core.errors import UserError

log = logging.getLogger("optbot.calendar.holiday_list")

#: NSE's segment keys and the calendar segment each feeds.
NSE_SEGMENT_KEYS: Mapping[str, Segment] = {"CM": Segment.EQUITY, "FO": Segment.FO}
SYNCED_PREFIX = "nse-holidays-"
SYNCED_SUFFIX = ".toml"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class HolidayListError(UserError):
    """NSE's holiday list (or a synced copy of it) failed validation; nothing was stored."""


@dataclass(frozen=True, slots=True)
class SyncedHolidays:
    """A validated NSE trading-holiday list: authoritative for every weekday of `years`."""

    source: str
    fetched_on: date
    years: tuple[int, ...]
    holidays: tuple[NamedDay, ...]
    weekend_rows_dropped: int = 0
    acknowledged_removals: tuple[date, ...] = ()

    def days(self, segment: Segment) -> set[date]:
        return {entry.day for entry in self.holidays if segment in entry.segments}


@dataclass(frozen=True, slots=True)
class ListLimits:
    """Sanity bounds on a year's weekday holidays per segment (NSE has had 12-19 since 2015)."""

    min_per_year: int
    max_per_year: int


def _nse_date(text: str, where: str) -> date:
    """NSE's "26-Jan-2027" (English month abbreviations, whatever the machine's locale)."""
    parts = text.strip().split("-")
    try:
        if len(parts) != 3:
            raise ValueError(text)
        return date(int(parts[2]), MONTHS.index(parts[1].title()) + 1, int(parts[0]))
    except ValueError:
        raise HolidayListError(f"NSE holiday list {where}: tradingDate {text!r} is not DD-Mon-YYYY") from None


def _parse_row(row: Any, key: str, index: int) -> tuple[date, str] | None:
    """One NSE row as (date, name); None for a weekend row (NSE lists some; they close nothing)."""
    where = f"{key}[{index}]"
    if not isinstance(row, dict):
        raise HolidayListError(f"NSE holiday list {where}: expected an object, got {type(row).__name__}")
    raw_date, raw_weekday = row.get("tradingDate"), row.get("weekDay")
    if not isinstance(raw_date, str) or not isinstance(raw_weekday, str):
        raise HolidayListError(f"NSE holiday list {where}: needs string tradingDate and weekDay")
    day = _nse_date(raw_date, where)
    actual = WEEKDAYS[day.weekday()]
    if raw_weekday.strip().lower() != actual:
        raise HolidayListError(
            f"NSE holiday list {where}: {day.isoformat()} is a {actual.title()}, "
            f"the list says {raw_weekday!r}"
        )
    if day.weekday() >= 5:
        return None
    name = str(row.get("description") or "NSE trading holiday").strip()
    return day, name


def parse_nse_holidays(
    payload: Any,
    *,
    source: str,
    fetched_on: date,
    limits: ListLimits,
    latest_year: int,
) -> SyncedHolidays:
    """Validate NSE's JSON into a holiday list; raises HolidayListError naming the first problem.

    `latest_year`: the furthest year a genuine list can cover (NSE publishes the next year's list in
    December), so a list dated decades ahead is refused as corrupt.
    """
    if not isinstance(payload, dict):
        raise HolidayListError(
            f"NSE holiday list: expected a JSON object by segment, got {type(payload).__name__}"
        )
    by_day: dict[date, tuple[str, set[Segment]]] = {}
    weekend = 0
    for key, segment in NSE_SEGMENT_KEYS.items():
        rows = payload.get(key)
        if not isinstance(rows, list) or not rows:
            raise HolidayListError(f"NSE holiday list: segment {key!r} is missing or empty")
        for index, row in enumerate(rows):
            parsed = _parse_row(row, key, index)
            if parsed is None:
                weekend += 1
                continue
            day, name = parsed
            _first_name, segments = by_day.setdefault(day, (name, set()))
            segments.add(segment)
    if not by_day:
        raise HolidayListError("NSE holiday list: no weekday holiday in it")
    years = tuple(sorted({day.year for day in by_day}))
    _check_years(years, latest_year)
    holidays = tuple(
        NamedDay(day, name, frozenset(segments)) for day, (name, segments) in sorted(by_day.items())
    )
    synced = SyncedHolidays(source, fetched_on, years, holidays, weekend_rows_dropped=weekend)
    _check_counts(synced, limits)
    return synced


def _check_years(years: tuple[int, ...], latest_year: int) -> None:
    if years[-1] > latest_year:
        raise HolidayListError(
            f"NSE holiday list: covers {years[-1]}, later than {latest_year} can be published"
        )
    missing = sorted(set(range(years[0], years[-1] + 1)) - set(years))
    if missing:
        raise HolidayListError(
            f"NSE holiday list: covers {years[0]}-{years[-1]} with no holiday in {missing}"
        )


def _check_counts(synced: SyncedHolidays, limits: ListLimits) -> None:
    for segment in Segment:
        days = synced.days(segment)
        for year in synced.years:
            count = sum(1 for day in days if day.year == year)
            if not limits.min_per_year <= count <= limits.max_per_year:
                raise HolidayListError(
                    f"NSE holiday list: {count} {segment} weekday holidays in {year}, expected "
                    f"{limits.min_per_year}-{limits.max_per_year} (a partial or wrong list)"
                )


def dropped_holidays(
    synced: SyncedHolidays, known: Mapping[Segment, Iterable[date]], known_until: date
) -> list[date]:
    """Holidays the calendar already knows, in years the list covers, that the list no longer has."""
    dropped: set[date] = set()
    for segment, days in known.items():
        listed = synced.days(segment)
        dropped.update(
            day for day in days if day.year in synced.years and day <= known_until and day not in listed
        )
    return sorted(dropped)


# ---------------------------------------------------------------- the stored form


def synced_file_name(fetched_on: date) -> str:
    return f"{SYNCED_PREFIX}{fetched_on.isoformat()}{SYNCED_SUFFIX}"


def render_synced(synced: SyncedHolidays) -> str:
    """TOML for the synced file (json.dumps yields valid TOML basic strings)."""
    lines = [
        "# NSE trading holidays, written by `optbot calendar sync` after validation. Do not edit:",
        "# put local corrections in the file named by calendar.overrides_file.",
        f"source = {json.dumps(synced.source)}",
        f"fetched_on = {synced.fetched_on.isoformat()}",
        f"years = [{', '.join(str(year) for year in synced.years)}]",
        f"weekend_rows_dropped = {synced.weekend_rows_dropped}",
        f"acknowledged_removals = [{', '.join(day.isoformat() for day in synced.acknowledged_removals)}]",
    ]
    for entry in synced.holidays:
        segments = ", ".join(json.dumps(segment.value) for segment in sorted(entry.segments))
        lines += ["", "[[holidays]]", f"date = {entry.day.isoformat()}", f"name = {json.dumps(entry.name)}"]
        lines.append(f"segments = [{segments}]")
    return "\n".join(lines) + "\n"


def read_synced(path: Path) -> SyncedHolidays:
    """Read one synced file back; raises HolidayListError naming the file and the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        holidays = tuple(
            NamedDay(
                _toml_date(entry["date"]),
                str(entry["name"]),
                frozenset(Segment(str(item)) for item in entry["segments"]),
            )
            for entry in data["holidays"]
        )
        synced = SyncedHolidays(
            source=str(data["source"]),
            fetched_on=_toml_date(data["fetched_on"]),
            years=tuple(sorted(int(year) for year in data["years"])),
            holidays=holidays,
            weekend_rows_dropped=int(data.get("weekend_rows_dropped", 0)),
            acknowledged_removals=tuple(_toml_date(day) for day in data.get("acknowledged_removals", [])),
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise HolidayListError(f"synced calendar file {path}: {type(exc).__name__}: {exc}") from None
    if not synced.years or any(entry.day.year not in synced.years for entry in holidays):
        raise HolidayListError(f"synced calendar file {path}: holidays outside its years {synced.years}")
    return synced


def _toml_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise ValueError(f"expected a date, got {value!r}")


def synced_files(directory: Path) -> list[Path]:
    """The synced files in `directory`, newest sync first."""
    if not directory.is_dir():
        return []
    return sorted(directory.glob(f"{SYNCED_PREFIX}*{SYNCED_SUFFIX}"), reverse=True)


def read_synced_dir(directory: Path) -> SyncedHolidays | None:
    """The newest synced list that reads back cleanly (a damaged file falls back to the one before)."""
    for path in synced_files(directory):
        try:
            return read_synced(path)
        except HolidayListError as exc:
            log.warning("%s; trying the previous synced copy", exc)
    return None
