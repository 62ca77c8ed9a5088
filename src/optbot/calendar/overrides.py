"""Typed reading of the calendar override file (`data/nse_overrides.toml`).

The file holds what the base library lacks: regular-session regimes (the F&O 15:40 close),
NSE holidays spelled out for the live years, clearing-only holidays, special sessions and the
expiry rule table. Everything is validated on load so a bad edit fails loudly, naming the entry.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from optbot.core.errors import UserError

DEFAULT_OVERRIDES = "nse_overrides.toml"

#: Pre-open starts this long before a special session's first window unless the file says otherwise.
SPECIAL_PRE_OPEN_LEAD = timedelta(minutes=15)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Segment(StrEnum):
    EQUITY = "equity"
    FO = "fo"


class CalendarDataError(UserError):
    """The override file is malformed; the message names the entry and field."""


@dataclass(frozen=True, slots=True)
class RegularSessionRegime:
    """Normal-market hours for a segment from `effective_from` until the next regime."""

    segment: Segment
    effective_from: date
    pre_open: time
    open: time
    close: time
    post_close: time


@dataclass(frozen=True, slots=True)
class NamedDay:
    day: date
    name: str
    segments: frozenset[Segment]


@dataclass(frozen=True, slots=True)
class SpecialSessionSpec:
    """A session on a weekend or holiday (Muhurat, Budget day, DR drill) with its own windows."""

    day: date
    kind: str
    name: str
    pre_open: time
    intervals: tuple[tuple[time, time], ...]
    segments: frozenset[Segment]


@dataclass(frozen=True, slots=True)
class ExpiryRule:
    """`kind` expiries of `underlying` fall on `weekday` (0=Monday) for nominal dates in the period."""

    underlying: str
    exchange: str
    kind: Literal["weekly", "monthly"]
    weekday: int
    effective_from: date
    until: date | None
    note: str

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (self.until is None or day <= self.until)


@dataclass(frozen=True, slots=True)
class CalendarOverrides:
    version: str
    first_date: date
    last_date: date
    regular_sessions: tuple[RegularSessionRegime, ...]
    holidays: tuple[NamedDay, ...]
    not_holidays: tuple[NamedDay, ...]
    clearing_holidays: tuple[NamedDay, ...]
    special_sessions: tuple[SpecialSessionSpec, ...]
    expiry_rules: tuple[ExpiryRule, ...]


def _where(table: str, index: int) -> str:
    return f"{table}[{index}]"


def _require(entry: dict[str, Any], key: str, where: str) -> Any:
    if key not in entry:
        raise CalendarDataError(f"calendar overrides {where}: missing '{key}'")
    return entry[key]


def _as_date(value: Any, where: str, key: str) -> date:
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    raise CalendarDataError(f"calendar overrides {where}.{key}: expected a date, got {value!r}")


def _as_time(value: Any, where: str, key: str) -> time:
    try:
        parsed = time.fromisoformat(str(value))
    except ValueError:
        raise CalendarDataError(f"calendar overrides {where}.{key}: expected HH:MM, got {value!r}") from None
    return parsed


def _segments(entry: dict[str, Any], where: str) -> frozenset[Segment]:
    raw = entry.get("segments", [segment.value for segment in Segment])
    try:
        return frozenset(Segment(str(item)) for item in raw)
    except ValueError:
        raise CalendarDataError(f"calendar overrides {where}.segments: unknown segment in {raw!r}") from None


def _named_days(data: dict[str, Any], table: str) -> tuple[NamedDay, ...]:
    days: list[NamedDay] = []
    for index, entry in enumerate(data.get(table, [])):
        where = _where(table, index)
        days.append(
            NamedDay(
                day=_as_date(_require(entry, "date", where), where, "date"),
                name=str(_require(entry, "name", where)),
                segments=_segments(entry, where),
            )
        )
    return tuple(days)


def _regimes(data: dict[str, Any]) -> tuple[RegularSessionRegime, ...]:
    regimes: list[RegularSessionRegime] = []
    for index, entry in enumerate(data.get("regular_sessions", [])):
        where = _where("regular_sessions", index)
        try:
            segment = Segment(str(_require(entry, "segment", where)))
        except ValueError:
            raise CalendarDataError(
                f"calendar overrides {where}.segment: unknown {entry['segment']!r}"
            ) from None
        regime = RegularSessionRegime(
            segment=segment,
            effective_from=_as_date(_require(entry, "from", where), where, "from"),
            pre_open=_as_time(_require(entry, "pre_open", where), where, "pre_open"),
            open=_as_time(_require(entry, "open", where), where, "open"),
            close=_as_time(_require(entry, "close", where), where, "close"),
            post_close=_as_time(_require(entry, "post_close", where), where, "post_close"),
        )
        if not regime.pre_open <= regime.open < regime.close <= regime.post_close:
            raise CalendarDataError(
                f"calendar overrides {where}: need pre_open <= open < close <= post_close"
            )
        regimes.append(regime)
    for segment in Segment:
        if not any(regime.segment is segment for regime in regimes):
            raise CalendarDataError(f"calendar overrides regular_sessions: no regime for segment {segment}")
    return tuple(sorted(regimes, key=lambda regime: (regime.segment, regime.effective_from)))


def _special_sessions(data: dict[str, Any]) -> tuple[SpecialSessionSpec, ...]:
    sessions: list[SpecialSessionSpec] = []
    for index, entry in enumerate(data.get("special_sessions", [])):
        where = _where("special_sessions", index)
        raw_intervals = _require(entry, "intervals", where)
        intervals = tuple(
            (_as_time(pair[0], where, "intervals"), _as_time(pair[1], where, "intervals"))
            for pair in raw_intervals
        )
        if not intervals:
            raise CalendarDataError(f"calendar overrides {where}.intervals: at least one window needed")
        previous_end: time | None = None
        for start, end in intervals:
            if start >= end or (previous_end is not None and start < previous_end):
                raise CalendarDataError(f"calendar overrides {where}.intervals: windows must be ordered")
            previous_end = end
        first_open = intervals[0][0]
        if "pre_open" in entry:
            pre_open = _as_time(entry["pre_open"], where, "pre_open")
        else:
            pre_open = (datetime.combine(date(2000, 1, 1), first_open) - SPECIAL_PRE_OPEN_LEAD).time()
        if pre_open > first_open:
            raise CalendarDataError(f"calendar overrides {where}.pre_open: after the first window opens")
        sessions.append(
            SpecialSessionSpec(
                day=_as_date(_require(entry, "date", where), where, "date"),
                kind=str(_require(entry, "kind", where)),
                name=str(_require(entry, "name", where)),
                pre_open=pre_open,
                intervals=intervals,
                segments=_segments(entry, where),
            )
        )
    return tuple(sessions)


def _expiry_rules(data: dict[str, Any]) -> tuple[ExpiryRule, ...]:
    rules: list[ExpiryRule] = []
    for index, entry in enumerate(data.get("expiry_rules", [])):
        where = _where("expiry_rules", index)
        kind = str(_require(entry, "kind", where))
        if kind not in ("weekly", "monthly"):
            raise CalendarDataError(
                f"calendar overrides {where}.kind: expected weekly or monthly, got {kind!r}"
            )
        weekday_name = str(_require(entry, "weekday", where)).lower()
        if weekday_name not in WEEKDAYS[:5]:
            raise CalendarDataError(f"calendar overrides {where}.weekday: not a weekday: {weekday_name!r}")
        until = entry.get("until")
        rule = ExpiryRule(
            underlying=str(_require(entry, "underlying", where)).upper(),
            exchange=str(entry.get("exchange", "NSE")),
            kind="weekly" if kind == "weekly" else "monthly",
            weekday=WEEKDAYS.index(weekday_name),
            effective_from=_as_date(_require(entry, "from", where), where, "from"),
            until=None if until is None else _as_date(until, where, "until"),
            note=str(entry.get("note", "")),
        )
        if rule.until is not None and rule.until < rule.effective_from:
            raise CalendarDataError(f"calendar overrides {where}: until is before from")
        for other in rules:
            if other.underlying == rule.underlying and other.kind == rule.kind and _overlap(other, rule):
                raise CalendarDataError(
                    f"calendar overrides {where}: overlaps another {rule.kind} rule for {rule.underlying}"
                )
        rules.append(rule)
    return tuple(rules)


def _overlap(first: ExpiryRule, second: ExpiryRule) -> bool:
    first_end = first.until or date.max
    second_end = second.until or date.max
    return first.effective_from <= second_end and second.effective_from <= first_end


def parse_overrides(data: dict[str, Any]) -> CalendarOverrides:
    """Validate a decoded override document into typed records."""
    first_date = _as_date(_require(data, "first_date", "(root)"), "(root)", "first_date")
    last_date = _as_date(_require(data, "last_date", "(root)"), "(root)", "last_date")
    if last_date < first_date:
        raise CalendarDataError("calendar overrides: last_date is before first_date")
    overrides = CalendarOverrides(
        version=str(_require(data, "version", "(root)")),
        first_date=first_date,
        last_date=last_date,
        regular_sessions=_regimes(data),
        holidays=_named_days(data, "holidays"),
        not_holidays=_named_days(data, "not_holidays"),
        clearing_holidays=_named_days(data, "clearing_holidays"),
        special_sessions=_special_sessions(data),
        expiry_rules=_expiry_rules(data),
    )
    holiday_days = {entry.day for entry in overrides.holidays}
    for entry in overrides.clearing_holidays:
        if entry.day in holiday_days:
            raise CalendarDataError(
                f"calendar overrides clearing_holidays {entry.day}: also a trading holiday; "
                "clearing-only holidays are trading days"
            )
    return overrides


def load_overrides(path: Path | None = None) -> CalendarOverrides:
    """Load the packaged override file, or `path` when given."""
    try:
        if path is None:
            text = resources.files("optbot.calendar").joinpath("data", DEFAULT_OVERRIDES).read_text("utf-8")
        else:
            text = path.read_text("utf-8")
    except FileNotFoundError:
        raise CalendarDataError(f"calendar override file not found: {path}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarDataError(f"calendar override file is not valid TOML: {exc}") from None
    return parse_overrides(data)
