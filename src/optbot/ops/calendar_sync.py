"""Calendar upkeep (spec §13.7): fetch NSE's trading-holiday list, validate it, store it dated.

NSE's site answers its JSON API only to a browser-like client holding the cookies its home page
sets, so a sync first GETs the home page, then the list (TLS verified, both within the configured
time limit). A list is written only after it validates, atomically, as a new dated file next to the
older good copies; a failed download, a malformed reply or a suspicious list replaces nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from optbot.calendar.holiday_list import (
    HolidayListError,
    ListLimits,
    SyncedHolidays,
    dropped_holidays,
    parse_nse_holidays,
    render_synced,
    synced_file_name,
    synced_files,
)
from optbot.calendar.nse import NseCalendar, load_calendar
from optbot.calendar.overrides import Segment
from optbot.config import Settings
from optbot.core.atomic import atomic_write_text


def synced_dir(settings: Settings) -> Path:
    return settings.paths.resolve(settings.calendar.synced_dir)


def calendar_from_settings(settings: Settings) -> NseCalendar:
    """The configured calendar: packaged overrides < synced NSE list < `calendar.overrides_file`."""
    configured = settings.calendar.overrides_file
    return load_calendar(
        None if configured is None else settings.paths.resolve(configured),
        synced_dir(settings),
        settings.calendar.provisional_years,
    )


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    path: Path
    synced: SyncedHolidays
    previous_last_date: date
    last_date: date

    def summary(self) -> str:
        years = f"{self.synced.years[0]}-{self.synced.years[-1]}"
        extended = (
            f"known range now ends {self.last_date}"
            if self.last_date > self.previous_last_date
            else f"known range still ends {self.last_date}"
        )
        weekend = (
            f"; {self.synced.weekend_rows_dropped} weekend row(s) ignored"
            if self.synced.weekend_rows_dropped
            else ""
        )
        return (
            f"{len(self.synced.holidays)} NSE holidays for {years} stored in {self.path}; {extended}{weekend}"
        )


def _browser_headers(settings: Settings, url: str) -> dict[str, str]:
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    return {
        "User-Agent": settings.calendar.sync_user_agent,
        "Accept": "application/json, text/plain, */*",
        "Accept-Language": "en-IN,en;q=0.9",
        "Referer": f"{origin}/resources/exchange-communication-holidays",
    }


async def fetch_holiday_json(settings: Settings, url: str) -> Any:
    """GET the site's home page (cookies), then the list; raises HolidayListError with one clear line."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HolidayListError(f"calendar sync URL is not an http(s) URL: {url!r}")
    home = f"{parts.scheme}://{parts.netloc}/"
    headers = _browser_headers(settings, url)
    try:
        async with httpx.AsyncClient(
            headers=headers, timeout=settings.calendar.sync_timeout_seconds, follow_redirects=True
        ) as client:
            await client.get(home)  # sets the cookies the API checks; its status does not matter
            response = await client.get(url)
    except httpx.HTTPError as exc:
        raise HolidayListError(f"calendar sync: {url} unreachable: {type(exc).__name__}: {exc}") from None
    if response.status_code != 200:
        raise HolidayListError(f"calendar sync: {url} answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise HolidayListError(f"calendar sync: {url} did not return JSON") from None


def read_holiday_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HolidayListError(f"calendar sync: cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise HolidayListError(f"calendar sync: {path} is not valid JSON: {exc}") from None


def validate_list(
    settings: Settings, payload: Any, source: str, today: date, accept_removals: bool
) -> SyncedHolidays:
    """Parse and check the list against the calendar already in use (dropped holidays refused)."""
    limits = ListLimits(
        settings.calendar.sync_min_holidays_per_year, settings.calendar.sync_max_holidays_per_year
    )
    synced = parse_nse_holidays(
        payload, source=source, fetched_on=today, limits=limits, latest_year=today.year + 1
    )
    current = calendar_from_settings(settings)
    start = max(current.first_date, date(synced.years[0], 1, 1))
    known = {
        segment: current.holidays(start, current.last_date, segment) if start <= current.last_date else []
        for segment in Segment
    }
    dropped = dropped_holidays(synced, known, current.last_date)
    if dropped and not accept_removals:
        listed = ", ".join(day.isoformat() for day in dropped)
        raise HolidayListError(
            f"NSE holiday list drops holiday(s) the calendar knows: {listed}; "
            "check NSE's circulars and rerun with --accept-removals if they were really cancelled"
        )
    if dropped:
        synced = SyncedHolidays(
            synced.source,
            synced.fetched_on,
            synced.years,
            synced.holidays,
            synced.weekend_rows_dropped,
            tuple(dropped),
        )
    return synced


def store_synced(settings: Settings, synced: SyncedHolidays) -> Path:
    """Write the dated file atomically and keep the newest `synced_keep` copies."""
    directory = synced_dir(settings)
    path = directory / synced_file_name(synced.fetched_on)
    atomic_write_text(path, render_synced(synced))
    for old in synced_files(directory)[settings.calendar.synced_keep :]:
        old.unlink(missing_ok=True)
    return path


async def sync_calendar(
    settings: Settings,
    today: date,
    *,
    url: str | None = None,
    from_file: Path | None = None,
    accept_removals: bool = False,
) -> SyncOutcome:
    """One sync: fetch (or read `from_file`), validate, store. HolidayListError leaves files as they were."""
    source_url = url or settings.calendar.sync_url
    if from_file is not None:
        payload, source = read_holiday_file(from_file), str(from_file)
    else:
        payload, source = await fetch_holiday_json(settings, source_url), source_url
    previous_last = calendar_from_settings(settings).last_date
    synced = validate_list(settings, payload, source, today, accept_removals)
    path = store_synced(settings, synced)
    return SyncOutcome(path, synced, previous_last, calendar_from_settings(settings).last_date)
