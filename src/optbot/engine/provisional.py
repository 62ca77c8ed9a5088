"""A provisional session (past the calendar's known range) is confirmed by the exchange itself.

Past the known range the calendar assumes every weekday trades (spec §13.7: never refuse to start).
On such a day the market socket is the authority: once it carries a tick stamped after the open,
the exchange is trading and the day is confirmed. Until then — a holiday NSE announced after the
last sync, say — no new entries are sent (exits still run) and the operator is told.
"""

from __future__ import annotations

from datetime import timedelta

from optbot.calendar import TradingSession
from optbot.core.clock import Clock
from optbot.core.enums import AlertPriority
from optbot.core.timeutil import ist_date
from optbot.engine.core import TradingEngine


def exchange_confirmed(engine: TradingEngine, session: TradingSession) -> bool:
    """A tick stamped by the exchange on this session's day, at or after its open."""
    last = engine.market.last_tick_utc
    return last is not None and last >= session.open_utc and ist_date(last) == session.date


def unconfirmed_reason(session: TradingSession, grace: timedelta) -> str:
    minutes = grace.total_seconds() / 60
    return (
        f"provisional session {session.date} not confirmed: no exchange tick in the {minutes:g} min "
        "after the open (a holiday the calendar does not know?)"
    )


async def confirm_provisional_session(
    engine: TradingEngine, clock: Clock, session: TradingSession, grace: timedelta
) -> None:
    """Warn, wait until `grace` after the open, then confirm — or pause entries until ticks come."""
    await engine.alert(
        AlertPriority.IMPORTANT,
        "Provisional trading calendar",
        f"{session.date} is past the calendar's known range: assumed a session "
        f"{session.open:%H:%M}-{session.close:%H:%M} IST, to be confirmed by the exchange's ticks",
        action_required="run `optbot calendar sync` (NSE's holiday list) or extend calendar.overrides_file",
        dedupe_key=f"calendar-provisional:{session.date}",
    )
    await clock.sleep_until(session.open_utc + grace)
    if exchange_confirmed(engine, session):
        engine.note("calendar", f"provisional session {session.date} confirmed by the exchange's ticks")
        return
    reason = unconfirmed_reason(session, grace)
    engine.pause_trading(reason)
    await engine.alert(
        AlertPriority.CRITICAL,
        "Exchange not seen trading",
        reason,
        action_required="check NSE's holiday circulars; run `optbot calendar sync`",
        impact="no new entries until the exchange's ticks arrive; exits still run",
        dedupe_key=f"calendar-unconfirmed:{session.date}",
    )
    while clock.now_utc() < session.close_utc:
        await clock.sleep(grace.total_seconds())
        if exchange_confirmed(engine, session):
            if engine.trading_blocked == reason:
                engine.resume_trading()
            engine.note(
                "calendar", f"provisional session {session.date} confirmed late by the exchange's ticks"
            )
            return
