"""The NSE trading calendar: trading days, sessions and expiry dates per segment.

Why exchange-calendars' XBOM: it is a maintained, pip-installed library (already a dependency) whose
BSE holiday list is the same as NSE's trading-holiday list for 2015-2026 (the two exchanges publish
identical trading holidays; the sample data in `data/sample` agrees day for day, see tests/calendar).
pandas-market-calendars has an "NSE" calendar, but it would be one more dependency (it wraps
exchange-calendars itself) whose list is also a static table needing the same overrides. What no
library models —
special sessions (Muhurat, Budget-day and weekend/DR sessions), clearing-only holidays, the F&O close
moving to 15:40 on 2026-08-03, pre-open times and the expiry rule table — lives in the versioned
override file `data/nse_overrides.toml`, which also spells out the live years' holidays in full so a
library update cannot silently drop one.

Everything is precomputed once into plain dicts and sorted lists, so queries never touch pandas.
"""

from __future__ import annotations

import bisect
import importlib.metadata
import json
import os
import warnings
from calendar import monthrange
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

from optbot.calendar.holiday_list import SyncedHolidays, read_synced_dir
from optbot.calendar.overrides import (
    CalendarOverrides,
    ExpiryRule,
    RegularSessionRegime,
    Segment,
    SpecialSessionSpec,
    load_overrides,
)
from optbot.core.errors import UserError
from optbot.core.timeutil import IST, ist_date, require_aware, to_utc

ExpiryKind = Literal["weekly", "monthly", "all"]

#: Name of the exchange-calendars calendar used as the holiday base.
BASE_LIBRARY_CALENDAR = "XBOM"

#: Holidays NSE closes for on the same date every year (when a weekday); used past the known range.
FIXED_DATE_HOLIDAYS: dict[tuple[int, int], str] = {
    (1, 26): "Republic Day",
    (5, 1): "Maharashtra Day",
    (8, 15): "Independence Day",
    (10, 2): "Mahatma Gandhi Jayanti",
    (12, 25): "Christmas",
}

#: Whole calendar years past the known range that are answered provisionally (weekdays trade).
PROVISIONAL_YEARS = 2


class CalendarRangeError(UserError):
    """A date outside the range the calendar knows; guessing would be worse than refusing."""


class UnknownUnderlyingError(UserError):
    """No expiry rules for this underlying."""


@dataclass(frozen=True, slots=True)
class TradingSession:
    """One day's session for a segment. Datetimes are IST-aware.

    `intervals` are the continuous-trading windows; a normal day has one, (open, close). A special
    session (`special` names its kind: muhurat, budget, weekend, disaster_recovery) may have several.
    """

    date: date
    pre_open: datetime
    open: datetime
    close: datetime
    special: str | None
    post_close: datetime
    intervals: tuple[tuple[datetime, datetime], ...] = field(default=())
    name: str | None = None
    #: Past the calendar's known range: a weekday assumed to trade with the last known hours, until
    #: the broker shows the exchange open on the day.
    provisional: bool = False

    @property
    def open_utc(self) -> datetime:
        return to_utc(self.open)

    @property
    def close_utc(self) -> datetime:
        return to_utc(self.close)

    @property
    def trading_intervals(self) -> tuple[tuple[datetime, datetime], ...]:
        return self.intervals or ((self.open, self.close),)

    def contains(self, moment: datetime) -> bool:
        """Whether continuous trading is on at `moment` (pre-open does not count)."""
        return any(start <= moment < end for start, end in self.trading_intervals)


def _at(day: date, clock_time: time) -> datetime:
    return datetime.combine(day, clock_time, tzinfo=IST)


def _library_cache_path(first: date, last: date) -> Path | None:
    """Where the library's holiday list for this range is cached, keyed by the library's version.

    Importing exchange-calendars pulls in pandas (~75 MB resident); a process that only needs the
    holiday dates reads them from this small file instead after the first computation.
    """
    try:
        version = importlib.metadata.version("exchange-calendars")
    except importlib.metadata.PackageNotFoundError:
        return None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    name = f"{BASE_LIBRARY_CALENDAR}-{version}-{first.isoformat()}-{last.isoformat()}.json"
    return Path(base) / "optbot" / "calendar" / name


def _library_holidays(first: date, last: date) -> set[date]:
    """Weekdays in [first, last] that the base library says are not sessions (cached on disk)."""
    cache = _library_cache_path(first, last)
    if cache is not None:
        try:
            return {date.fromisoformat(text) for text in json.loads(cache.read_text(encoding="utf-8"))}
        except (OSError, ValueError, TypeError):
            pass  # absent or unreadable: compute it from the library and rewrite it
    holidays = _compute_library_holidays(first, last)
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            temporary = cache.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(sorted(day.isoformat() for day in holidays)), encoding="utf-8")
            os.replace(temporary, cache)
        except OSError:
            pass  # a read-only home only costs the pandas import next time
    return holidays


def _compute_library_holidays(first: date, last: date) -> set[date]:
    import exchange_calendars  # imported lazily: it pulls in pandas, which the query path never needs

    with warnings.catch_warnings():
        # pandas deprecation noise from inside the library; it does not affect the session list.
        warnings.simplefilter("ignore")
        library = exchange_calendars.get_calendar(BASE_LIBRARY_CALENDAR)
        sessions_index = library.sessions_in_range(
            max(first, library.first_session.date()), min(last, library.last_session.date())
        )
    library_first = library.first_session.date()
    library_last = library.last_session.date()
    sessions = {stamp.date() for stamp in sessions_index}
    holidays: set[date] = set()
    day = max(first, library_first)
    while day <= min(last, library_last):
        if day.weekday() < 5 and day not in sessions:
            holidays.add(day)
        day += timedelta(days=1)
    return holidays


def _synced_years(synced: SyncedHolidays | None, base_last: date, over_base: bool) -> frozenset[int]:
    """The years the synced list decides: all it covers (or, over an operator's own override file,
    only those past it), and only as far as they run on without a gap from the known range."""
    if synced is None:
        return frozenset()
    years = {year for year in synced.years if over_base or date(year, 1, 1) > base_last}
    chosen = {year for year in years if year <= base_last.year}
    following = base_last.year + 1
    while following in years:
        chosen.add(following)
        following += 1
    return frozenset(chosen)


class NseCalendar:
    """Trading days, sessions and expiries for NSE equity and F&O.

    The known range (`first_date`..`last_date`) comes from the library, the packaged override file
    and a synced NSE holiday list. Past it, up to `provisional_until`, every weekday is a
    *provisional* session with the last known hours, except the fixed-date national holidays
    (`FIXED_DATE_HOLIDAYS`; movable festivals are unknown until NSE's list is synced): the bot keeps
    running on 1 January and the broker confirms each such day; nothing silently refuses.
    """

    def __init__(
        self,
        overrides: CalendarOverrides | None = None,
        overrides_path: Path | None = None,
        synced: SyncedHolidays | None = None,
        provisional_years: int = PROVISIONAL_YEARS,
        synced_overrides_user_years: bool = True,
    ) -> None:
        """`synced`: NSE's published list, authoritative for the years it covers, except those an
        operator's own override file covers (`synced_overrides_user_years=False`)."""
        self.overrides = overrides if overrides is not None else load_overrides(overrides_path)
        self.version = self.overrides.version
        self.first_date = self.overrides.first_date
        base_last = self.overrides.last_date
        synced_years = _synced_years(synced, base_last, synced_overrides_user_years)
        self.synced = synced if synced_years else None
        self.synced_years = synced_years
        # Past the library's last session, holidays come from the override file or the synced list
        # alone: an updated file that extends `last_date` must list every holiday of the added years.
        self.last_date = max(base_last, date(max(synced_years), 12, 31)) if synced_years else base_last
        self.provisional_until = date(self.last_date.year + provisional_years, 12, 31)
        library_holidays = _library_holidays(self.first_date, base_last)
        self._holidays: dict[Segment, dict[date, str]] = {}
        for segment in Segment:
            named = {day: "NSE trading holiday" for day in library_holidays}
            for entry in self.overrides.holidays:
                if segment in entry.segments:
                    named[entry.day] = entry.name
            for entry in self.overrides.not_holidays:
                if segment in entry.segments:
                    named.pop(entry.day, None)
            if self.synced is not None:
                named = {day: name for day, name in named.items() if day.year not in synced_years}
                for entry in self.synced.holidays:
                    if entry.day.year in synced_years and segment in entry.segments:
                        named[entry.day] = entry.name
            named.update(self._fixed_holidays_past_known_range())
            self._holidays[segment] = named
        self._clearing = {entry.day: entry.name for entry in self.overrides.clearing_holidays}
        self._special: dict[Segment, dict[date, SpecialSessionSpec]] = {
            segment: {spec.day: spec for spec in self.overrides.special_sessions if segment in spec.segments}
            for segment in Segment
        }
        self._sessions: dict[Segment, dict[date, TradingSession]] = {}
        self._days: dict[Segment, list[date]] = {}
        self._regular_days: dict[Segment, list[date]] = {}
        for segment in Segment:
            sessions = self._build_sessions(segment)
            self._sessions[segment] = sessions
            self._days[segment] = sorted(sessions)
            self._regular_days[segment] = sorted(
                day for day, item in sessions.items() if item.special is None
            )
        self._rules: dict[str, tuple[ExpiryRule, ...]] = {}
        for rule in self.overrides.expiry_rules:
            self._rules[rule.underlying] = (*self._rules.get(rule.underlying, ()), rule)

    # -- construction -------------------------------------------------------------------------

    def _fixed_holidays_past_known_range(self) -> dict[date, str]:
        """National holidays on fixed dates, closed every year they fall on a weekday: a provisional
        year is never wrong about these even before NSE publishes its list."""
        found: dict[date, str] = {}
        for year in range(self.last_date.year, self.provisional_until.year + 1):
            for (month, day_of_month), name in FIXED_DATE_HOLIDAYS.items():
                day = date(year, month, day_of_month)
                if day > self.last_date and day.weekday() < 5:
                    found[day] = f"{name} (fixed-date holiday; provisional until NSE's list is synced)"
        return found

    def _regime(self, segment: Segment, day: date) -> RegularSessionRegime:
        applicable = [
            regime
            for regime in self.overrides.regular_sessions
            if regime.segment is segment and regime.effective_from <= day
        ]
        if not applicable:
            raise CalendarRangeError(f"no regular session hours known for {segment} on {day.isoformat()}")
        return applicable[-1]

    def _build_sessions(self, segment: Segment) -> dict[date, TradingSession]:
        sessions: dict[date, TradingSession] = {}
        holidays = self._holidays[segment]
        specials = self._special[segment]
        day = self.first_date
        while day <= self.provisional_until:
            spec = specials.get(day)
            if spec is not None:
                sessions[day] = self._special_session(spec, segment)
            elif day.weekday() < 5 and day not in holidays:
                regime = self._regime(segment, day)
                sessions[day] = TradingSession(
                    date=day,
                    pre_open=_at(day, regime.pre_open),
                    open=_at(day, regime.open),
                    close=_at(day, regime.close),
                    special=None,
                    post_close=_at(day, regime.post_close),
                    provisional=day > self.last_date,
                )
            day += timedelta(days=1)
        return sessions

    def _special_session(self, spec: SpecialSessionSpec, segment: Segment) -> TradingSession:
        intervals = tuple((_at(spec.day, start), _at(spec.day, end)) for start, end in spec.intervals)
        close = intervals[-1][1]
        regime = self._regime(segment, spec.day)
        # A special session ending at the regular close has the regular post-close; others have none.
        post_close = _at(spec.day, regime.post_close) if close.time() == regime.close else close
        return TradingSession(
            date=spec.day,
            pre_open=_at(spec.day, spec.pre_open),
            open=intervals[0][0],
            close=close,
            special=spec.kind,
            post_close=post_close,
            intervals=intervals,
            name=spec.name,
        )

    # -- range --------------------------------------------------------------------------------

    def check_range(self, day: date) -> date:
        if not isinstance(day, date) or isinstance(day, datetime):
            raise TypeError(f"expected a date, got {day!r}")
        if day < self.first_date or day > self.provisional_until:
            raise CalendarRangeError(
                f"{day.isoformat()} is outside the calendar's range: known "
                f"{self.first_date.isoformat()}..{self.last_date.isoformat()} (overrides v{self.version}), "
                f"provisional to {self.provisional_until.isoformat()}; run `optbot calendar sync`"
            )
        return day

    def covers(self, day: date) -> bool:
        """Whether the calendar answers for `day` (known or provisional)."""
        return self.first_date <= day <= self.provisional_until

    def is_provisional(self, day: date) -> bool:
        """Past the known range: weekdays are assumed sessions until NSE's list or the broker says."""
        return self.last_date < day <= self.provisional_until

    def days_of_coverage_left(self, today: date) -> int:
        """Days from `today` to the end of the known range (negative once past it): upkeep warnings."""
        return (self.last_date - today).days

    # -- days and sessions --------------------------------------------------------------------

    def session(self, day: date, segment: Segment = Segment.FO) -> TradingSession | None:
        """The day's session, or None on a weekend or holiday without a special session."""
        self.check_range(day)
        return self._sessions[Segment(segment)].get(day)

    def is_trading_day(self, day: date, segment: Segment = Segment.FO, include_special: bool = True) -> bool:
        """True when the segment trades that day; special (Muhurat, weekend) sessions count by default."""
        found = self.session(day, segment)
        return found is not None and (include_special or found.special is None)

    def is_holiday(self, day: date, segment: Segment = Segment.FO) -> bool:
        """A weekday with no normal session (a Muhurat-only day is still a holiday)."""
        self.check_range(day)
        return day.weekday() < 5 and day in self._holidays[Segment(segment)]

    def holiday_name(self, day: date, segment: Segment = Segment.FO) -> str | None:
        self.check_range(day)
        return self._holidays[Segment(segment)].get(day)

    def is_clearing_holiday(self, day: date) -> bool:
        """Trading happens but nothing settles that day (affects T+1 settlement dates, not trading)."""
        self.check_range(day)
        return day in self._clearing

    def settlement_day(self, trade_day: date, segment: Segment = Segment.FO) -> date:
        """T+1 settlement: the next regular trading day that is not a clearing holiday."""
        day = self.next_trading_day(trade_day, segment, include_special=False)
        while day in self._clearing:
            day = self.next_trading_day(day, segment, include_special=False)
        return day

    def holidays(self, start: date, end: date, segment: Segment = Segment.FO) -> list[date]:
        """Weekday trading holidays in [start, end]."""
        self.check_range(start)
        self.check_range(end)
        return sorted(
            day for day in self._holidays[Segment(segment)] if start <= day <= end and day.weekday() < 5
        )

    def _day_list(self, segment: Segment, include_special: bool) -> list[date]:
        return self._days[Segment(segment)] if include_special else self._regular_days[Segment(segment)]

    def trading_days(
        self, start: date, end: date, segment: Segment = Segment.FO, include_special: bool = True
    ) -> list[date]:
        """Trading days in [start, end], ascending."""
        self.check_range(start)
        self.check_range(end)
        days = self._day_list(segment, include_special)
        return days[bisect.bisect_left(days, start) : bisect.bisect_right(days, end)]

    def previous_trading_day(
        self, day: date, segment: Segment = Segment.FO, include_special: bool = True
    ) -> date:
        """The last trading day strictly before `day`."""
        self.check_range(day)
        days = self._day_list(segment, include_special)
        index = bisect.bisect_left(days, day)
        if index == 0:
            raise CalendarRangeError(f"no trading day before {day.isoformat()} within the calendar's range")
        return days[index - 1]

    def next_trading_day(
        self, day: date, segment: Segment = Segment.FO, include_special: bool = True
    ) -> date:
        """The first trading day strictly after `day`."""
        self.check_range(day)
        days = self._day_list(segment, include_special)
        index = bisect.bisect_right(days, day)
        if index == len(days):
            raise CalendarRangeError(f"no trading day after {day.isoformat()} within the calendar's range")
        return days[index]

    def is_open(self, moment: datetime, segment: Segment = Segment.FO) -> bool:
        """Whether continuous trading is on at `moment` (aware datetime; pre-open is not open)."""
        require_aware(moment)
        found = self.session(ist_date(moment), segment)
        return found is not None and found.contains(moment)

    def next_open(self, moment: datetime, segment: Segment = Segment.FO) -> datetime:
        """Start of the trading window in progress at `moment`, or of the next one (IST-aware)."""
        require_aware(moment)
        day = ist_date(moment)
        while True:
            found = self.session(day, segment)
            if found is not None:
                for start, end in found.trading_intervals:
                    if moment < end:
                        return start
            day = self.next_trading_day(day, segment)

    # -- expiries -----------------------------------------------------------------------------

    @property
    def underlyings(self) -> tuple[str, ...]:
        return tuple(sorted(self._rules))

    def expiry_rules(self, underlying: str) -> tuple[ExpiryRule, ...]:
        key = underlying.strip().upper()
        if key not in self._rules:
            known = ", ".join(self.underlyings)
            raise UnknownUnderlyingError(
                f"no expiry rules for underlying {underlying!r}; known: {known} (use STOCK for stock options)"
            )
        return self._rules[key]

    def _shift_to_trading_day(self, day: date) -> date | None:
        """An expiry on a non-trading day moves to the previous regular F&O trading day."""
        if not self.covers(day):
            return None
        if self.is_trading_day(day, Segment.FO, include_special=False):
            return day
        try:
            return self.previous_trading_day(day, Segment.FO, include_special=False)
        except CalendarRangeError:
            return None

    @staticmethod
    def _last_weekday(year: int, month: int, weekday: int) -> date:
        last = date(year, month, monthrange(year, month)[1])
        return last - timedelta(days=(last.weekday() - weekday) % 7)

    def _monthly_nominal(self, rules: Iterable[ExpiryRule], year: int, month: int) -> date | None:
        for rule in rules:
            if rule.kind == "monthly":
                candidate = self._last_weekday(year, month, rule.weekday)
                if rule.covers(candidate):
                    return candidate
        return None

    def _weekly_nominal(self, rules: Iterable[ExpiryRule], monday: date) -> date | None:
        for rule in rules:
            if rule.kind == "weekly":
                candidate = monday + timedelta(days=rule.weekday)
                if rule.covers(candidate):
                    return candidate
        return None

    def _monthly_nominals(self, rules: tuple[ExpiryRule, ...], start: date, end: date) -> list[date]:
        nominals: list[date] = []
        year, month = start.year, start.month
        while (year, month) <= (end.year, end.month):
            found = self._monthly_nominal(rules, year, month)
            if found is not None:
                nominals.append(found)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return nominals

    def _weekly_nominals(self, rules: tuple[ExpiryRule, ...], start: date, end: date) -> list[date]:
        monthly_by_week = {
            nominal - timedelta(days=nominal.weekday()): nominal
            for nominal in self._monthly_nominals(rules, start - timedelta(days=7), end + timedelta(days=7))
        }
        nominals: list[date] = []
        monday = start - timedelta(days=start.weekday())
        while monday <= end:
            weekly = self._weekly_nominal(rules, monday)
            if weekly is not None:
                nominals.append(monthly_by_week.get(monday, weekly))
            monday += timedelta(days=7)
        return nominals

    def expiries(self, underlying: str, start: date, end: date, kind: ExpiryKind = "all") -> list[date]:
        """Expiry dates in [start, end], after holiday shifts.

        weekly: one expiry per week while weeklies exist (in the monthly week, the monthly contract);
        monthly: the monthly contracts; all: both. Planning only: live, the instrument master rules.
        """
        self.check_range(start)
        self.check_range(end)
        if kind not in ("weekly", "monthly", "all"):
            raise UserError(f"expiry kind must be weekly, monthly or all, got {kind!r}")
        rules = self.expiry_rules(underlying)
        # Nominal dates a few days past `end` can shift back into the window.
        search_end = end + timedelta(days=7)
        nominals: set[date] = set()
        if kind in ("monthly", "all"):
            nominals.update(self._monthly_nominals(rules, start, search_end))
        if kind in ("weekly", "all"):
            nominals.update(self._weekly_nominals(rules, start, search_end))
        shifted = {self._shift_to_trading_day(nominal) for nominal in nominals}
        return sorted(day for day in shifted if day is not None and start <= day <= end)

    def next_expiry(self, underlying: str, on_or_after: date, kind: ExpiryKind = "weekly") -> date | None:
        """The first expiry on or after the date, or None if none is known (e.g. weeklies discontinued)."""
        self.check_range(on_or_after)
        window_start = on_or_after
        while window_start <= self.provisional_until:
            window_end = min(window_start + timedelta(days=62), self.provisional_until)
            found = self.expiries(underlying, window_start, window_end, kind)
            if found:
                return found[0]
            window_start = window_end + timedelta(days=1)
        return None


@cache
def get_calendar() -> NseCalendar:
    """The default calendar (packaged overrides), built once per process."""
    return NseCalendar()


@cache
def _calendar_from(
    overrides_path: Path | None,
    synced: SyncedHolidays | None,
    provisional_years: int,
) -> NseCalendar:
    return NseCalendar(
        overrides_path=overrides_path,
        synced=synced,
        provisional_years=provisional_years,
        synced_overrides_user_years=overrides_path is None,
    )


def load_calendar(
    overrides_path: Path | None = None,
    synced_dir: Path | None = None,
    provisional_years: int = PROVISIONAL_YEARS,
) -> NseCalendar:
    """The calendar: packaged overrides < the newest valid synced NSE list in `synced_dir` < an
    operator's own override file (config `calendar.overrides_file`), which replaces the packaged one.

    Cached per inputs (the synced list by content), so every component in a process shares one
    instance and a fresh sync is picked up by the next call.
    """
    synced = read_synced_dir(synced_dir) if synced_dir is not None else None
    if overrides_path is None and synced is None and provisional_years == PROVISIONAL_YEARS:
        return get_calendar()
    resolved = None if overrides_path is None else overrides_path.expanduser().resolve()
    return _calendar_from(resolved, synced, provisional_years)
