"""TradingEngine behaviour with an in-memory broker: the intent path, session gates, fills, flatten, kill."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, IntentPurpose, OrderStatus, RiskState, Side, Timeframe
from optbot.core.events import Alert, Bar, RiskDecision, Tick
from optbot.core.timeutil import ist_datetime, to_utc
from optbot.engine.builder import Venue, VenueSpec, build_engine
from optbot.instruments.master import InstrumentMaster
from optbot.persistence.records import PositionRecord
from optbot.persistence.store import Store
from optbot.test_kit.execution import FakeBroker, deliver_updates, drive, option_quote
from optbot.test_kit.instruments import build_master
from optbot.test_kit.ops import ScriptedAtmCall

DAY = date(2026, 8, 7)  # a Friday; F&O closes 15:40 IST from 2026-08-03
NIFTY_TOKEN = "99926000"
VIX_TOKEN = "99926017"
SPOT = 24550.0


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        paths={"data_root": tmp_path},
        universe={"underlyings": ["NIFTY"]},
        strategy={"entry_timeframe": "5m"},
    )


class Rig:
    """An engine on a SimClock over a FakeBroker, with helpers to feed it ticks and bars."""

    def __init__(self, tmp_path: Path, start: time = time(10, 0), fill_policy: str = "immediate") -> None:
        self.clock = SimClock(ist_datetime(DAY, start))
        self.master: InstrumentMaster = build_master(as_of=DAY)
        self.broker = FakeBroker(self.clock, fill_policy=fill_policy)  # type: ignore[arg-type]
        self.store = Store.open(tmp_path / "state.sqlite", self.clock)
        self.settings = _settings(tmp_path)
        self.strategy = ScriptedAtmCall(self.settings, entry_after=time(10, 0), exit_at=time(14, 0))
        self.engine = build_engine(
            self.settings,
            self.clock,
            self.store,
            self.master,
            VenueSpec(Venue.BROKER, broker=self.broker),  # type: ignore[arg-type]
            strategies=[self.strategy],
        ).engine

    async def start(self) -> None:
        await drive(self.clock, self.engine.start(DAY))

    async def ticks(self, spot: float = SPOT, option_ltp: float = 120.0) -> None:
        now = self.clock.now_utc()
        await self.engine.on_tick(Tick(now, NIFTY_TOKEN, Exchange.NSE, "NIFTY", spot))
        await self.engine.on_tick(Tick(now, VIX_TOKEN, Exchange.NSE, "INDIA VIX", 14.0))
        for contract in self.engine.desired_instruments():
            if not contract.is_option:
                continue
            self.broker.set_quote(option_quote(contract.token, contract.symbol, option_ltp))
            tick = Tick(now, contract.token, contract.exchange, contract.symbol, option_ltp)
            await self.engine.on_tick(
                replace(
                    tick, bid=option_ltp - 0.25, ask=option_ltp + 0.25, volume=10_000, open_interest=500_000
                )
            )

    async def bar(self, minutes: int = 5) -> None:
        end = self.clock.now_utc()
        start = end - timedelta(minutes=minutes)
        await drive(
            self.clock,
            self.engine.on_bar(
                Bar(end, NIFTY_TOKEN, "NIFTY", Timeframe.M5, start, end, SPOT, SPOT + 5, SPOT - 5, SPOT)
            ),
        )

    async def deliver(self) -> None:
        await drive(self.clock, deliver_updates(self.broker, self.engine.on_order_update))

    async def advance_to(self, moment: datetime) -> None:
        self.clock.advance_to(to_utc(moment))

    async def entry_signal(self) -> None:
        """At 10:05 IST: fresh ticks, then the bar on which the scripted strategy enters."""
        await self.advance_to(ist_datetime(DAY, time(10, 5)))
        await self.ticks()
        await self.bar()


async def test_an_entry_goes_strategy_risk_order_fill_position(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    await rig.start()
    await rig.ticks()
    await rig.entry_signal()
    await rig.deliver()
    assert rig.strategy.entered
    orders = rig.store.all_orders()
    assert len(orders) == 1 and orders[0].side is Side.BUY and orders[0].status is OrderStatus.FILLED
    intent = rig.store.find_intent(orders[0].intent_id)
    assert intent is not None and intent.trace_id  # the engine gives every intent a trace id
    decisions = rig.store.risk_decisions(orders[0].intent_id)
    assert decisions and decisions[0]["approved"]
    positions = rig.engine.ctx.positions()
    assert len(positions) == 1 and positions[0].net_quantity == orders[0].quantity
    assert rig.strategy.held == orders[0].quantity  # the owning strategy heard of its fill
    journal = "\n".join(entry.line() for entry in rig.engine.journal)
    assert "[order] ops_scripted_atm_call BUY" in journal and "[fill] BUY" in journal


async def test_each_risk_decision_is_published_once(tmp_path: Path) -> None:
    """The engine publishes the final decision; the risk engine only records it (no second copy)."""
    rig = Rig(tmp_path)
    published: list[RiskDecision] = []
    rig.engine.bus.subscribe("test", (RiskDecision,), published.append)
    await rig.start()
    await rig.ticks()
    await rig.entry_signal()
    await rig.deliver()
    await drive(rig.clock, asyncio.sleep(0))
    intents = [order.intent_id for order in rig.store.all_orders()]
    assert intents and [decision.intent_id for decision in published] == intents[:1]


async def test_no_new_entries_after_the_entry_window(tmp_path: Path) -> None:
    rig = Rig(tmp_path, start=time(15, 0))  # close 15:40, no new entries from 14:55
    await rig.start()
    await rig.ticks()
    await rig.advance_to(ist_datetime(DAY, time(15, 5)))
    await rig.ticks()
    await rig.bar()
    assert rig.broker.placed_requests == []
    refused = [entry.text for entry in rig.engine.journal if entry.kind == "refused"]
    assert refused and "session phase no_new_entries" in refused[0]


async def test_a_reconciliation_mismatch_blocks_entries_until_acknowledged(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    contract = rig.master.options("NIFTY", rig.master.expiries("NIFTY")[0])[0]
    now = rig.clock.now_utc()
    rig.store.save_position(  # the local book says 75 the broker never had
        PositionRecord(
            contract.exchange, contract.token, contract.symbol, 75, 100.0, 0.0, 0.0, 75, 0, 7500.0, 0.0, now
        )
    )
    await rig.start()
    assert rig.engine.trading_blocked is not None and "mismatch" in rig.engine.trading_blocked
    await rig.ticks()
    await rig.entry_signal()
    assert not [request for request in rig.broker.placed_requests if request.side is Side.BUY]
    refused = [entry.text for entry in rig.engine.journal if entry.kind == "refused"]
    assert refused and "reconciliation mismatch" in refused[0]


async def test_flatten_deadline_closes_positions_once(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    await rig.start()
    await rig.ticks()
    await rig.entry_signal()
    await rig.deliver()
    assert rig.engine.portfolio.open_positions()
    rig.broker.fill_policy = "none"  # exits rest: a second flatten pass must not send them again
    rig.strategy.exit_at = time(23, 0)
    await rig.advance_to(ist_datetime(DAY, time(15, 10)))  # flatten at close - 30 min = 15:10
    await drive(rig.clock, rig.engine.fire_due_deadlines())
    await drive(rig.clock, rig.engine.flatten_intraday("again"))
    sells = [request for request in rig.broker.placed_requests if request.side is Side.SELL]
    assert len(sells) == 1 and sells[0].quantity == rig.engine.portfolio.open_positions()[0].net_quantity
    flatten = rig.store.find_intent(rig.store.all_orders()[-1].intent_id)
    assert flatten is not None and flatten.purpose is IntentPurpose.FLATTEN


async def test_kill_switch_halts_and_alerts(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    alerts: list[Alert] = []
    rig.engine.bus.subscribe("test-alerts", (Alert,), alerts.append)
    await rig.start()
    await rig.ticks()
    await drive(rig.clock, rig.engine.kill_switch("test", actor="tester"))
    assert rig.engine.risk.state is RiskState.HALTED
    assert any(alert.title == "Kill switch engaged" for alert in alerts)
    await rig.entry_signal()
    assert rig.broker.placed_requests == []  # HALTED: no new risk
