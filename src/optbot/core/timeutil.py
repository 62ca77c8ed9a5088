"""IST/UTC helpers. Everything is stored in UTC; IST is for display and session rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

IST = timezone(timedelta(hours=5, minutes=30), "IST")


def require_aware(moment: datetime) -> datetime:
    """Reject naive datetimes: a naive timestamp is a bug waiting to trade at the wrong time."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime not allowed: {moment!r}")
    return moment


def to_utc(moment: datetime) -> datetime:
    if moment.tzinfo is UTC:  # already UTC (the clock's and every stored time): nothing to convert
        return moment
    return require_aware(moment).astimezone(UTC)


def to_ist(moment: datetime) -> datetime:
    return require_aware(moment).astimezone(IST)


def ist_datetime(day: date, clock_time: time) -> datetime:
    """An IST wall-clock time on a date, as an aware datetime."""
    return datetime.combine(day, clock_time, tzinfo=IST)


def ist_date(moment: datetime) -> date:
    return to_ist(moment).date()


def parse_iso(text: str) -> datetime:
    """Parse ISO-8601; a trailing Z is UTC; naive strings are rejected."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return require_aware(parsed)


def iso_utc(moment: datetime) -> str:
    """UTC ISO string with millisecond precision and a Z suffix (spec §2.1.1)."""
    utc = to_utc(moment)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def epoch_ms_to_utc(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


def utc_to_epoch_ms(moment: datetime) -> int:
    return round(to_utc(moment).timestamp() * 1000)
