"""NSE market calendar: trading days, sessions (incl. special sessions) and expiry rules."""

from optbot.calendar.nse import (
    CalendarRangeError,
    ExpiryKind,
    NseCalendar,
    TradingSession,
    UnknownUnderlyingError,
    get_calendar,
    load_calendar,
)
from optbot.calendar.overrides import CalendarDataError, Segment

__all__ = [
    "CalendarDataError",
    "CalendarRangeError",
    "ExpiryKind",
    "NseCalendar",
    "Segment",
    "TradingSession",
    "UnknownUnderlyingError",
    "get_calendar",
    "load_calendar",
]
