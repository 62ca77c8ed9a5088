"""Which listed expiry a leg means by "current weekly", "next weekly", "monthly" or "next monthly".

Two sources, each trusted for what it knows:
- the **listing** (the instrument master live and in paper, the option archive's contracts in a
  backtest) says which contracts exist today;
- the **exchange's expiry rules** (the calendar: weekday changes, holiday shifts, the end of the
  BANKNIFTY/FINNIFTY/MIDCPNIFTY weeklies on 2024-11-20) say which expiry *kind* a date is.

A listing alone cannot tell a weekly from a monthly when it is partial (an archive that kept only
the nearest expiry would make that expiry "the last listed of its month"), and the rules alone do not
know what is listed. So each kind is the rules' date, and it must be listed: a leg is never silently
moved to another expiry. With a complete listing the month's monthly is its last listed expiry
(tests check the two agree on real NSE listings).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Literal, get_args

ExpiryChoice = Literal["current_weekly", "next_weekly", "monthly", "next_monthly"]
EXPIRY_CHOICES: tuple[ExpiryChoice, ...] = get_args(ExpiryChoice)
WEEKLY_CHOICES: frozenset[str] = frozenset({"current_weekly", "next_weekly"})


class ExpiryUnavailable(LookupError):
    """The expiry a leg asks for is not listed today (e.g. the data holds only the nearest expiry)."""


class NoWeeklyExpiries(ExpiryUnavailable):
    """The underlying has no weekly contracts on this date: a weekly leg is a strategy error, not data."""


def choose_expiry(
    choice: ExpiryChoice,
    underlying: str,
    today: date,
    listed: Collection[date],
    weekly_dates: Sequence[date],
    monthly_dates: Sequence[date],
) -> date:
    """The listed expiry for `choice` on `today`.

    `weekly_dates` / `monthly_dates`: the exchange rules' expiries on or after today, ascending (the
    weekly sequence includes the monthly contract in the monthly week, as NSE lists it). Raises
    NoWeeklyExpiries for a weekly choice when the rules have no weekly expiry (monthly-only underlying),
    ExpiryUnavailable when the rules' date is not listed.
    """
    weekly = choice in WEEKLY_CHOICES
    dates = [day for day in (weekly_dates if weekly else monthly_dates) if day >= today]
    position = 1 if choice.startswith("next_") else 0
    if weekly and not dates:
        raise NoWeeklyExpiries(
            f"{underlying} has no weekly expiries on {today.isoformat()} (monthly contracts only): "
            f'a {choice} leg cannot trade it; use expiry = "monthly"'
        )
    if len(dates) <= position:
        raise ExpiryUnavailable(f"{underlying} {choice}: no such expiry known on {today.isoformat()}")
    wanted = dates[position]
    if wanted not in listed:
        shown = ", ".join(day.isoformat() for day in sorted(day for day in listed if day >= today)) or "none"
        raise ExpiryUnavailable(
            f"{underlying} {choice} expiry {wanted.isoformat()} is not listed on {today.isoformat()} "
            f"(listed: {shown})"
        )
    return wanted
