"""Which listed expiry a leg means by "current weekly", "next weekly", "monthly" or "next monthly".

The **listing** decides (the instrument master live and in paper, the option archive's contracts in a
backtest), because NSE's own dates win over any rule: on 2025-01-01 BANKNIFTY's January contract
still expired on Wednesday the 29th although the Thursday rule began the next day.
- current weekly: the first listed expiry on or after today (in the monthly week, the monthly, as
  NSE lists it); next weekly: the one after it, if it is a week away (a listing that skips weeks
  does not name a next weekly);
- monthly: the last listed expiry of its month, next monthly the month after's. A month counts only
  when the listing reaches into a later month, so a partial listing (an archive that kept only the
  nearest expiry) never passes a weekly off as the monthly.
An underlying has weekly contracts when the listing shows two expiries in one month or the exchange's
expiry rules (the calendar) say weeklies trade: BANKNIFTY, FINNIFTY and MIDCPNIFTY have none since
2024-11-20, and a weekly leg on them is an error (NoWeeklyExpiries), never a silent monthly.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Literal, get_args

ExpiryChoice = Literal["current_weekly", "next_weekly", "monthly", "next_monthly"]
EXPIRY_CHOICES: tuple[ExpiryChoice, ...] = get_args(ExpiryChoice)
WEEKLY_CHOICES: frozenset[str] = frozenset({"current_weekly", "next_weekly"})
#: The longest gap between two consecutive weekly expiries: a week, plus a holiday shift (an expiry
#: moved to the previous trading day makes the following gap up to 8-9 days).
MAX_WEEKLY_GAP_DAYS = 10


class ExpiryUnavailable(LookupError):
    """The expiry a leg asks for is not listed today (e.g. the data holds only the nearest expiry)."""


class NoWeeklyExpiries(ExpiryUnavailable):
    """The underlying has no weekly contracts on this date: a weekly leg is a strategy error, not data."""


def monthly_expiries(listed: Collection[date]) -> list[date]:
    """The last listed expiry of each month the listing is known to cover in full (a later month is
    listed too)."""
    last_in_month: dict[tuple[int, int], date] = {}
    for expiry in sorted(listed):
        last_in_month[(expiry.year, expiry.month)] = expiry
    months = sorted(last_in_month)
    return [last_in_month[month] for month in months[:-1]]


def lists_weeklies(listed: Collection[date]) -> bool:
    """Two listed expiries in one month: the underlying has weekly contracts."""
    months = [(expiry.year, expiry.month) for expiry in listed]
    return len(months) != len(set(months))


def choose_expiry(
    choice: ExpiryChoice, underlying: str, today: date, listed: Collection[date], rules_have_weeklies: bool
) -> date:
    """The listed expiry for `choice` on `today` (see the module docstring).

    `rules_have_weeklies`: the exchange rules (calendar) list a weekly expiry in the coming weeks.
    Raises NoWeeklyExpiries for a weekly choice on a monthly-only underlying, ExpiryUnavailable when
    the listing does not hold the expiry asked for.
    """
    ahead = sorted(expiry for expiry in listed if expiry >= today)
    shown = ", ".join(expiry.isoformat() for expiry in ahead) or "none"
    if choice in WEEKLY_CHOICES:
        if not (rules_have_weeklies or lists_weeklies(ahead)):
            raise NoWeeklyExpiries(
                f"{underlying} has no weekly expiries on {today.isoformat()} (monthly contracts only; "
                f'listed: {shown}): a {choice} leg cannot trade it; use expiry = "monthly"'
            )
        if not ahead:
            raise ExpiryUnavailable(f"{underlying} lists no expiry on or after {today.isoformat()}")
        if choice == "current_weekly":
            return ahead[0]
        if len(ahead) < 2 or (ahead[1] - ahead[0]).days > MAX_WEEKLY_GAP_DAYS:
            raise ExpiryUnavailable(
                f"{underlying} next_weekly: the listing on {today.isoformat()} holds no expiry within "
                f"{MAX_WEEKLY_GAP_DAYS} days after {ahead[0].isoformat()} (listed: {shown})"
            )
        return ahead[1]
    monthlies = monthly_expiries(ahead)
    position = 1 if choice == "next_monthly" else 0
    if len(monthlies) <= position:
        raise ExpiryUnavailable(
            f"{underlying} {choice}: the listing on {today.isoformat()} does not show that month's last "
            f"expiry (a month counts once a later month is listed; listed: {shown})"
        )
    return monthlies[position]
