"""Calendar test helpers other packages can reuse: IST moments, clocks at a session time, and
calendars built from a modified copy of the packaged override data (e.g. an extra holiday)."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import date, datetime, time
from importlib import resources
from typing import Any

from optbot.calendar import NseCalendar
from optbot.calendar.overrides import DEFAULT_OVERRIDES, parse_overrides
from optbot.core.clock import SimClock
from optbot.core.timeutil import IST


def ist(day: date | str, clock_time: time | str = "09:15") -> datetime:
    """An IST-aware moment: `ist("2024-05-21", "10:00")`."""
    parsed_day = date.fromisoformat(day) if isinstance(day, str) else day
    parsed_time = time.fromisoformat(clock_time) if isinstance(clock_time, str) else clock_time
    return datetime.combine(parsed_day, parsed_time, tzinfo=IST)


def sim_clock_at(day: date | str, clock_time: time | str = "09:15", speed: float | None = None) -> SimClock:
    """A SimClock starting at an IST wall-clock time."""
    return SimClock(ist(day, clock_time), speed=speed)


def packaged_overrides_data() -> dict[str, Any]:
    """A fresh, mutable copy of the packaged override document."""
    text = resources.files("optbot.calendar").joinpath("data", DEFAULT_OVERRIDES).read_text("utf-8")
    return tomllib.loads(text)


def calendar_with(mutate: Callable[[dict[str, Any]], None]) -> NseCalendar:
    """A calendar from the packaged overrides after `mutate` edits them in place.

    Example: `calendar_with(lambda d: d["holidays"].append({"date": date(2024, 5, 22), "name": "x"}))`.
    """
    data = packaged_overrides_data()
    mutate(data)
    return NseCalendar(overrides=parse_overrides(data))


def add_holiday(day: date, name: str = "test holiday") -> Callable[[dict[str, Any]], None]:
    """A `calendar_with` mutation adding one trading holiday."""

    def mutate(data: dict[str, Any]) -> None:
        data.setdefault("holidays", []).append({"date": day, "name": name})

    return mutate
