"""Today's session rules as absolute deadlines, derived from the calendar — never clock constants.

Spec §1.1/§6.2/§10.4 give "cancel pending at 15:25" and "close 30 minutes before the close"; with F&O
closing at 15:40 from 2026-08-03 those are offsets from the calendar's close, set in `SessionSettings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from optbot.calendar import NseCalendar, Segment, TradingSession
from optbot.config.sections.session import SessionSettings
from optbot.core.timeutil import to_utc


class Phase(StrEnum):
    NON_TRADING_DAY = "non_trading_day"  # weekend/holiday: data-management mode
    BEFORE_PREMARKET = "before_premarket"  # too early: data-management mode, then prepare
    PREMARKET = "premarket"  # checks, login, master, history, warm-up
    OPENING = "opening"  # market open, but no entries yet (opening buffer)
    TRADING = "trading"  # entries allowed
    NO_NEW_ENTRIES = "no_new_entries"  # exits only
    FLATTENING = "flattening"  # intraday positions are being closed
    CLOSED = "closed"  # after the close: EOD work (post-market)
    AFTER_HOURS = "after_hours"  # post-market done: data-management mode


@dataclass(frozen=True, slots=True)
class DaySchedule:
    day: date
    session: TradingSession | None
    premarket_start: datetime | None = None
    entries_from: datetime | None = None
    no_new_entries_at: datetime | None = None
    cancel_pending_at: datetime | None = None
    flatten_at: datetime | None = None
    post_market_end: datetime | None = None

    @property
    def is_trading_day(self) -> bool:
        return self.session is not None

    def phase_at(self, moment: datetime) -> Phase:
        if self.session is None:
            return Phase.NON_TRADING_DAY
        assert self.premarket_start and self.entries_from and self.no_new_entries_at
        assert self.flatten_at and self.post_market_end
        now = to_utc(moment)
        if now < to_utc(self.premarket_start):
            return Phase.BEFORE_PREMARKET
        if now < self.session.open_utc:
            return Phase.PREMARKET
        if now >= to_utc(self.post_market_end):
            return Phase.AFTER_HOURS
        if now >= self.session.close_utc:
            return Phase.CLOSED
        if now >= to_utc(self.flatten_at):
            return Phase.FLATTENING
        if now >= to_utc(self.no_new_entries_at):
            return Phase.NO_NEW_ENTRIES
        if now < to_utc(self.entries_from):
            return Phase.OPENING
        return Phase.TRADING

    def entries_allowed(self, moment: datetime) -> bool:
        return self.phase_at(moment) is Phase.TRADING

    def deadlines(self) -> list[tuple[datetime, str]]:
        """Named deadlines in time order, for the engine to arm as Clock timers."""
        if self.session is None:
            return []
        named = [
            (self.premarket_start, "premarket"),
            (self.session.open, "open"),
            (self.entries_from, "entries_from"),
            (self.no_new_entries_at, "no_new_entries"),
            (self.cancel_pending_at, "cancel_pending"),
            (self.flatten_at, "flatten"),
            (self.session.close, "close"),
            (self.post_market_end, "post_market_end"),
        ]
        return sorted(
            ((to_utc(when), name) for when, name in named if when is not None), key=lambda item: item[0]
        )


def build_schedule(
    calendar: NseCalendar, day: date, settings: SessionSettings, segment: Segment = Segment.FO
) -> DaySchedule:
    session = calendar.session(day, segment)
    if session is None:
        return DaySchedule(day=day, session=None)
    close = session.close

    def before_close(minutes: float) -> datetime:
        return max(session.open, close - timedelta(minutes=minutes))

    return DaySchedule(
        day=day,
        session=session,
        premarket_start=session.open - timedelta(minutes=settings.premarket_check_minutes),
        entries_from=min(close, session.open + timedelta(minutes=settings.no_entry_after_open_minutes)),
        no_new_entries_at=before_close(settings.no_new_entries_before_close_minutes),
        cancel_pending_at=before_close(settings.cancel_pending_before_close_minutes),
        flatten_at=before_close(settings.flatten_before_close_minutes),
        post_market_end=close + timedelta(minutes=settings.post_market_minutes),
    )
