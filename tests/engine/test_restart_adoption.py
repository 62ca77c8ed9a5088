"""A restart mid-session with an option position open: its strategy takes it back with its exits.

The first engine (process) enters a long call through a directional strategy named `adx_trend`; it is
then dropped and a second engine opens the same store, with the built-in `adx_trend` strategy freshly
constructed, as after a restart. The first underlying price beyond the stop must produce the
strategy's STOP exit. A position no strategy entered is reported unmanaged, once, and left alone.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time, timedelta
from pathlib import Path

import pytest

from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, IntentPurpose, Side, SignalDirection, Timeframe
from optbot.core.events import Bar, OrderIntent, Signal, Tick
from optbot.core.timeutil import ist_datetime
from optbot.engine.builder import Venue, VenueSpec, build_engine
from optbot.engine.core import ENGINE_STRATEGY, TradingEngine
from optbot.instruments.master import InstrumentMaster
from optbot.persistence.records import PositionRecord
from optbot.persistence.store import Store
from optbot.risk.engine import flatten_intent
from optbot.strategy.base import Strategy
from optbot.strategy.builtin.adx_trend import AdxTrendStrategy
from optbot.strategy.context import StrategyContext
from optbot.strategy.directional import DirectionalOptionStrategy, EntryIdea
from optbot.test_kit.execution import FakeBroker, FillPolicy, deliver_updates, drive, option_quote
from optbot.test_kit.instruments import build_master

DAY = date(2026, 8, 7)  # a Friday; F&O closes 15:40 IST from 2026-08-03
NIFTY_TOKEN = "99926000"
VIX_TOKEN = "99926017"
SPOT = 24550.0


class ScriptedTrend(DirectionalOptionStrategy):
    """`adx_trend` before the restart, with its entry decided by the test: bullish on the first bar."""

    name = "adx_trend"

    def entry_idea(self, ctx: StrategyContext, bar: Bar) -> EntryIdea | None:
        return EntryIdea(SignalDirection.BULLISH, "scripted entry", True, "scripted trend", True, "scripted")


class Session:
    """One clock, one broker and one store file across engines, as across a process restart."""

    def __init__(self, tmp_path: Path, fill_policy: FillPolicy = "immediate") -> None:
        self.tmp_path = tmp_path
        self.clock = SimClock(ist_datetime(DAY, time(10, 0)))
        self.master: InstrumentMaster = build_master(as_of=DAY)
        self.broker = FakeBroker(self.clock, fill_policy=fill_policy)  # type: ignore[arg-type]
        self.settings = Settings(
            paths={"data_root": tmp_path},
            universe={"underlyings": ["NIFTY"]},
            strategy={"entry_timeframe": "5m"},
        )
        self.store: Store | None = None

    def open_store(self) -> Store:
        """The store file opened afresh (the previous connection closed), as by a new process."""
        if self.store is not None:
            self.store.close()
        self.store = Store.open(self.tmp_path / "state.sqlite", self.clock)
        return self.store

    def engine(self, strategy: Strategy) -> TradingEngine:
        return build_engine(
            self.settings,
            self.clock,
            self.open_store(),
            self.master,
            VenueSpec(Venue.BROKER, broker=self.broker),  # type: ignore[arg-type]
            strategies=[strategy],
        ).engine

    async def ticks(self, engine: TradingEngine, spot: float) -> None:
        now = self.clock.now_utc()
        await engine.on_tick(Tick(now, NIFTY_TOKEN, Exchange.NSE, "NIFTY", spot))
        await engine.on_tick(Tick(now, VIX_TOKEN, Exchange.NSE, "INDIA VIX", 14.0))
        for contract in engine.desired_instruments():
            if contract.is_option:
                self.broker.set_quote(option_quote(contract.token, contract.symbol, 120.0))
                tick = Tick(now, contract.token, contract.exchange, contract.symbol, 120.0)
                await engine.on_tick(
                    replace(tick, bid=119.75, ask=120.25, volume=10_000, open_interest=500_000)
                )

    async def bar_at(self, engine: TradingEngine, minute: time, close: float) -> None:
        """Advance to `minute` IST, send fresh ticks at `close`, then the 5-minute NIFTY bar ending then."""
        end = ist_datetime(DAY, minute)
        self.clock.advance_to(end)
        await self.ticks(engine, close)
        bar = Bar(
            end,
            NIFTY_TOKEN,
            "NIFTY",
            Timeframe.M5,
            end - timedelta(minutes=5),
            end,
            close,
            close + 5,
            close - 5,
            close,
        )
        await drive(self.clock, engine.on_bar(bar))
        await drive(self.clock, deliver_updates(self.broker, engine.on_order_update))

    async def enter_before_restart(self, record_plan: bool = True) -> tuple[TradingEngine, ScriptedTrend]:
        strategy = ScriptedTrend(self.settings)
        engine = self.engine(strategy)
        if not record_plan:  # an entry audited before exit plans were recorded with the signal
            sink = engine.ctx.signal_sink
            assert sink is not None
            engine.ctx.signal_sink = lambda signal: sink(_without_plan(signal))
        await drive(self.clock, engine.start(DAY))
        await self.ticks(engine, SPOT)
        await self.bar_at(engine, time(10, 5), SPOT)
        assert len(strategy.trades) + len(strategy.pending_entries) == 1, strategy.journal
        return engine, strategy


def _without_plan(signal: Signal) -> Signal:
    return replace(
        signal, details={key: value for key, value in signal.details.items() if key != "exit_plan"}
    )


def _exits(engine: TradingEngine) -> list[OrderIntent]:
    return [intent for intent in engine.ctx.intents if intent.side is Side.SELL]


async def test_a_restarted_strategy_takes_back_its_position_and_its_stop_fires(tmp_path: Path) -> None:
    session = Session(tmp_path)
    _, before = await session.enter_before_restart()
    trade = next(iter(before.trades.values()))
    stop, target = trade.plan.stop, trade.plan.target
    restarted = AdxTrendStrategy(session.settings)  # the built-in strategy, knowing nothing yet
    engine = session.engine(restarted)
    session.clock.advance_to(ist_datetime(DAY, time(10, 7)))
    await drive(session.clock, engine.start(DAY))
    assert "NIFTY" in restarted.trades
    plan = restarted.trades["NIFTY"].plan
    assert (plan.stop, plan.target) == pytest.approx((stop, target))
    assert plan.quantity == trade.open_quantity
    assert any("took back" in line and "as planned at entry" in line for line in restarted.journal)
    await session.bar_at(engine, time(10, 10), stop - 1.0)
    exits = _exits(engine)
    assert len(exits) == 1 and exits[0].purpose is IntentPurpose.STOP
    assert exits[0].token == trade.contract.token and exits[0].quantity == trade.open_quantity
    assert "(stop)" in exits[0].reason


async def test_an_entry_without_a_recorded_plan_gets_a_conservative_one(tmp_path: Path) -> None:
    session = Session(tmp_path)
    _, before = await session.enter_before_restart(record_plan=False)
    original_stop = next(iter(before.trades.values())).plan.stop
    restarted = AdxTrendStrategy(session.settings)
    engine = session.engine(restarted)
    await drive(session.clock, engine.start(DAY))
    plan = restarted.trades["NIFTY"].plan
    params = session.settings.strategy
    tightest = min(params.initial_stop_pct, params.high_vix_stop_pct)
    assert plan.stop == pytest.approx(SPOT * (1 - tightest / 100))
    assert plan.stop >= original_stop  # never a wider stop than the entry had
    assert any("conservative stop" in line for line in restarted.journal)
    await session.bar_at(engine, time(10, 10), plan.stop - 1.0)
    exits = _exits(engine)
    assert len(exits) == 1 and exits[0].purpose is IntentPurpose.STOP


async def test_an_entry_sent_before_the_restart_and_filled_after_it_is_taken_back(tmp_path: Path) -> None:
    session = Session(tmp_path, fill_policy="none")
    _, before = await session.enter_before_restart()
    assert not before.trades  # the entry order is working at the broker, unfilled
    restarted = AdxTrendStrategy(session.settings)
    engine = session.engine(restarted)
    await drive(session.clock, engine.start(DAY))
    assert not restarted.trades
    (order_id,) = [order_id for order_id, order in session.broker.orders.items() if order.status == "open"]
    session.broker.fill(order_id)
    await drive(session.clock, deliver_updates(session.broker, engine.on_order_update))
    plan = restarted.trades["NIFTY"].plan
    assert plan.quantity > 0 and plan.stop < SPOT < plan.target
    await session.bar_at(engine, time(10, 10), plan.stop - 1.0)
    exits = _exits(engine)
    assert len(exits) == 1 and exits[0].purpose is IntentPurpose.STOP


async def test_the_rest_of_a_part_filled_entry_joins_the_trade_taken_back(tmp_path: Path) -> None:
    session = Session(tmp_path, fill_policy="none")
    engine, _ = await session.enter_before_restart()
    (order_id,) = [order_id for order_id, order in session.broker.orders.items() if order.status == "open"]
    ordered = session.broker.orders[order_id].request.quantity
    lot = ordered // 2
    session.broker.fill(order_id, quantity=lot)
    await drive(session.clock, deliver_updates(session.broker, engine.on_order_update))
    restarted = AdxTrendStrategy(session.settings)
    engine = session.engine(restarted)
    await drive(session.clock, engine.start(DAY))
    assert restarted.trades["NIFTY"].plan.quantity == lot
    session.broker.fill(order_id)
    await drive(session.clock, deliver_updates(session.broker, engine.on_order_update))
    trade = restarted.trades["NIFTY"]
    assert trade.plan.quantity == trade.open_quantity == ordered
    await session.bar_at(engine, time(10, 10), trade.plan.stop - 1.0)
    exits = _exits(engine)
    assert len(exits) == 1 and exits[0].purpose is IntentPurpose.STOP and exits[0].quantity == ordered


async def test_a_position_no_strategy_entered_is_reported_once_and_left_alone(tmp_path: Path) -> None:
    session = Session(tmp_path)
    store = session.open_store()
    contract = session.master.options("NIFTY", session.master.expiries("NIFTY")[0])[0]
    now = session.clock.now_utc()
    store.save_position(  # bought by hand: no entry intent names a strategy
        PositionRecord(
            contract.exchange, contract.token, contract.symbol, 75, 100.0, 0.0, 0.0, 75, 0, 7500.0, 0.0, now
        )
    )
    restarted = AdxTrendStrategy(session.settings)
    engine = session.engine(restarted)
    await drive(session.clock, engine.start(DAY))
    await session.bar_at(engine, time(10, 5), SPOT * 0.95)
    await session.bar_at(engine, time(10, 10), SPOT * 0.94)
    unmanaged = [entry.text for entry in engine.journal if "unmanaged" in entry.text]
    assert len(unmanaged) == 1 and contract.symbol in unmanaged[0] and "opened by hand" in unmanaged[0]
    assert _exits(engine) == [] and restarted.trades == {}


def _working_sells(session: Session, token: str) -> int:
    """Units still open on SELL orders at the broker in `token` (what can still fill)."""
    return sum(
        order.request.quantity - order.filled_quantity
        for order in session.broker.orders.values()
        if order.status == "open" and order.request.token == token and order.request.side is Side.SELL
    )


async def _exit_working_across_a_restart(session: Session) -> tuple[TradingEngine, AdxTrendStrategy, int]:
    """An entry filled, then its STOP exit sent and left working at the broker, then a restart whose
    strategy takes the position back and sees the stop broken again. Returns the second engine, its
    strategy and the quantity held."""
    first, before = await session.enter_before_restart()
    trade = next(iter(before.trades.values()))
    held, token, stop = trade.open_quantity, trade.contract.token, trade.plan.stop
    session.broker.fill_policy = "none"  # exits from here on rest at the broker until filled by hand
    await session.bar_at(first, time(10, 10), stop - 1.0)
    assert _working_sells(session, token) == held  # the exit sent before the crash, still working
    restarted = AdxTrendStrategy(session.settings)
    engine = session.engine(restarted)
    await drive(session.clock, engine.start(DAY))
    assert restarted.trades["NIFTY"].open_quantity == held
    await session.bar_at(engine, time(10, 15), stop - 2.0)
    return engine, restarted, held


async def test_an_exit_working_at_the_restart_is_not_doubled_by_the_taken_back_stop(tmp_path: Path) -> None:
    session = Session(tmp_path)
    engine, restarted, held = await _exit_working_across_a_restart(session)
    token = restarted.trades["NIFTY"].contract.token
    assert _working_sells(session, token) == held  # no second SELL for lots already being sold
    refusals = [entry.text for entry in engine.journal if "already working" in entry.text]
    assert refusals, [entry.text for entry in engine.journal]
    assert restarted.trades["NIFTY"].plan.quantity == held  # the strategy still means to exit them
    for order_id, order in list(session.broker.orders.items()):
        if order.status == "open":
            session.broker.fill(order_id)
    await drive(session.clock, deliver_updates(session.broker, engine.on_order_update))
    position = engine.store.position(Exchange.NFO, token)
    assert position is None or position.net_quantity == 0  # closed once, never turned short
    await session.bar_at(engine, time(10, 20), SPOT * 0.9)
    assert "NIFTY" not in restarted.trades and _working_sells(session, token) == 0


@pytest.mark.parametrize("cancelled_by", ["exchange", "us"])
async def test_a_working_exit_cancelled_after_the_restart_leaves_the_strategy_exiting(
    tmp_path: Path, cancelled_by: str
) -> None:
    session = Session(tmp_path)
    engine, restarted, held = await _exit_working_across_a_restart(session)
    token, stop = restarted.trades["NIFTY"].contract.token, restarted.trades["NIFTY"].plan.stop
    (working,) = [order for order in engine.store.orders_in_flight() if order.token == token]
    if cancelled_by == "exchange":  # the order manager sends the exit again itself
        await session.broker.cancel_order(working.broker_order_id)
    else:  # a cancel we asked for is not sent again: the strategy, still holding, must exit
        assert await drive(session.clock, engine.orders.cancel(working.ordertag, "operator cancel"))
        await session.bar_at(engine, time(10, 17), stop - 3.0)  # cancel asked, not yet confirmed
        assert _working_sells(session, token) == 0
        assert "already working" in restarted.journal[-1]  # refused: the cancelled order may still fill
    await drive(session.clock, deliver_updates(session.broker, engine.on_order_update))
    await session.bar_at(engine, time(10, 20), stop - 4.0)
    await drive(session.clock, engine.verify_orders())
    assert _working_sells(session, token) == held  # the position is being exited again, exactly once
    for order_id, order in list(session.broker.orders.items()):
        if order.status == "open":
            session.broker.fill(order_id)
    await drive(session.clock, deliver_updates(session.broker, engine.on_order_update))
    position = engine.store.position(Exchange.NFO, token)
    assert position is None or position.net_quantity == 0


async def test_a_stop_beside_a_working_part_exit_sends_the_rest_and_keeps_the_part_it_could_not(
    tmp_path: Path,
) -> None:
    session = Session(tmp_path)
    session.settings = session.settings.model_copy(
        update={"backtest": session.settings.backtest.model_copy(update={"initial_capital": 1_500_000.0})}
    )
    engine, strategy = await session.enter_before_restart()
    trade = strategy.trades["NIFTY"]
    held, lot, token = trade.open_quantity, trade.contract.lot_size, trade.contract.token
    assert held >= 2 * lot
    session.broker.fill_policy = "none"
    (position,) = engine.risk_view.open_positions()
    now = session.clock.now_utc()
    engine._queue_intent(
        flatten_intent(position, "operator: one lot", now, strategy=ENGINE_STRATEGY, quantity=lot)
    )
    await drive(session.clock, engine._process_intents())
    assert _working_sells(session, token) == lot
    await session.bar_at(engine, time(10, 10), trade.plan.stop - 1.0)
    assert _working_sells(session, token) == held  # the stop sent only what the other exit leaves
    assert trade.plan.quantity == lot  # ... and still counts the lot it did not send as its own to exit
    assert any("back under the plan" in line and "already working" in line for line in strategy.journal)
    (operator_exit,) = [order for order in engine.store.orders_in_flight() if order.quantity == lot]
    assert await drive(session.clock, engine.orders.cancel(operator_exit.ordertag, "operator changed mind"))
    await drive(session.clock, deliver_updates(session.broker, engine.on_order_update))
    await session.bar_at(engine, time(10, 15), trade.plan.stop - 2.0)
    assert _working_sells(session, token) == held  # the cancelled lot is being exited again by the strategy
