"""A provisional session is confirmed by the exchange's ticks, or entries wait for them (§13.7)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from optbot.calendar import TradingSession, get_calendar
from optbot.core.enums import AlertPriority
from optbot.engine.core import TradingEngine
from optbot.engine.provisional import confirm_provisional_session, unconfirmed_reason
from optbot.test_kit.calendar import ist, sim_clock_at
from optbot.test_kit.execution import drive

DAY = date(2027, 1, 4)
GRACE = timedelta(minutes=5)


@dataclass
class _Market:
    last_tick_utc: datetime | None = None


@dataclass
class EngineStandIn:
    """The four things the confirmation uses from the engine: ticks seen, alerts, notes, the pause."""

    market: _Market = field(default_factory=_Market)
    alerts: list[tuple[AlertPriority, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    trading_blocked: str | None = None

    async def alert(self, priority: AlertPriority, title: str, message: str, **_: Any) -> None:
        self.alerts.append((priority, title))

    def note(self, kind: str, text: str) -> None:
        self.notes.append(text)

    def pause_trading(self, reason: str) -> None:
        self.trading_blocked = reason

    def resume_trading(self) -> None:
        self.trading_blocked = None


def _session() -> TradingSession:
    session = get_calendar().session(DAY)
    assert session is not None and session.provisional
    return session


async def test_ticks_after_the_open_confirm_the_day() -> None:
    clock = sim_clock_at(DAY, "09:00")
    engine = EngineStandIn()
    engine.market.last_tick_utc = ist(DAY, "09:15:02")
    await drive(clock, confirm_provisional_session(cast(TradingEngine, engine), clock, _session(), GRACE))
    assert engine.alerts == [(AlertPriority.IMPORTANT, "Provisional trading calendar")]
    assert engine.trading_blocked is None
    assert any("confirmed by the exchange" in note for note in engine.notes)
    assert clock.now_ist() == ist(DAY, "09:20")


async def test_no_ticks_pauses_entries_until_they_come() -> None:
    clock = sim_clock_at(DAY, "09:00")
    engine = EngineStandIn()
    engine.market.last_tick_utc = ist(date(2026, 12, 31), "15:39")  # yesterday's last tick only
    session = _session()
    task = confirm_provisional_session(cast(TradingEngine, engine), clock, session, GRACE)

    async def tick_arrives_at_ten() -> None:
        await clock.sleep_until(ist(DAY, "10:00"))
        engine.market.last_tick_utc = ist(DAY, "10:00:01")

    ticker = asyncio.ensure_future(tick_arrives_at_ten())
    await drive(clock, task)
    await ticker
    assert (AlertPriority.CRITICAL, "Exchange not seen trading") in engine.alerts
    assert engine.trading_blocked is None  # resumed once the exchange was seen trading
    assert any("confirmed late" in note for note in engine.notes)
    assert ist(DAY, "10:00") <= clock.now_ist() <= ist(DAY, "10:05")


async def test_a_day_the_exchange_never_opens_stays_paused_to_the_close() -> None:
    clock = sim_clock_at(DAY, "09:00")
    engine = EngineStandIn()
    session = _session()
    await drive(clock, confirm_provisional_session(cast(TradingEngine, engine), clock, session, GRACE))
    assert engine.trading_blocked == unconfirmed_reason(session, GRACE)
    assert clock.now_utc() >= session.close_utc


async def test_another_pause_is_not_lifted_by_the_confirmation() -> None:
    clock = sim_clock_at(DAY, "09:00")
    engine = EngineStandIn()
    session = _session()

    async def kill_then_tick() -> None:
        await clock.sleep_until(ist(DAY, "09:30"))
        engine.pause_trading("kill switch")
        engine.market.last_tick_utc = ist(DAY, "09:30:01")

    other = asyncio.ensure_future(kill_then_tick())
    await drive(clock, confirm_provisional_session(cast(TradingEngine, engine), clock, session, GRACE))
    await other
    assert engine.trading_blocked == "kill switch"
