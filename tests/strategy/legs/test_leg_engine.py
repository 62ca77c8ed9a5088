"""The leg engine on a hand-built context: entry window, ATM legs, leg stop and move-to-cost, baskets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

import pytest

from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, IntentPurpose, Side
from optbot.core.events import Fill, OrderIntent, Tick
from optbot.core.ids import new_id
from optbot.core.timeutil import ist_datetime, to_utc
from optbot.research.harness import synthetic_chain
from optbot.risk.views import PositionSnapshot
from optbot.strategy.context import BarHistoryContext
from optbot.strategy.legs import load_legs, template_names

DAY = date(2025, 9, 8)  # a Monday
EXPIRY = date(2025, 9, 9)
SPOT = 24_800.0


@dataclass
class BasketContext(BarHistoryContext):
    baskets: list[list[OrderIntent]] = field(default_factory=list)

    def submit_basket(self, intents: list[OrderIntent], label: str) -> None:
        self.baskets.append(list(intents))
        for intent in intents:
            self.submit(intent)


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return to_utc(ist_datetime(DAY, time(hour, minute, second)))


def context(clock: SimClock, basket: bool = False) -> BarHistoryContext:
    ctx: BarHistoryContext = BasketContext(clock) if basket else BarHistoryContext(clock)
    ctx.account = 500_000.0
    ctx.current_vix = 13.0
    ctx.chains["NIFTY"] = synthetic_chain("NIFTY", SPOT, clock.now_utc(), EXPIRY, 0.12, 75, 1800)
    return ctx


def spot_tick(clock: SimClock, price: float = SPOT) -> Tick:
    return Tick(clock.now_utc(), "26000", Exchange.NSE, "NIFTY", price)


def fill(intent: OrderIntent, price: float) -> Fill:
    return Fill(
        intent.ts_utc,
        new_id(),
        new_id(),
        intent.token,
        intent.exchange,
        intent.symbol,
        intent.side,
        intent.quantity,
        price,
        intent_id=intent.intent_id,
    )


def mark(ctx: BarHistoryContext, intent: OrderIntent, net: int, price: float) -> None:
    ctx.set_position(PositionSnapshot(intent.token, intent.exchange, intent.symbol, "NIFTY", net, price))


def test_short_straddle_sells_both_atm_legs_at_0920_then_stops_one_and_moves_the_other_to_cost() -> None:
    clock = SimClock(at(9, 19, 30))
    ctx = context(clock)
    strategy = load_legs("short_straddle_0920")(Settings())
    strategy.on_tick(ctx, spot_tick(clock))
    assert ctx.intents == []  # before 09:20
    clock.advance_to(at(9, 20, 5))
    strategy.on_tick(ctx, spot_tick(clock))
    ce, pe = ctx.intents
    assert {ce.side, pe.side} == {Side.SELL} and ce.quantity == pe.quantity == 75
    assert ce.symbol.endswith("24800CE") and pe.symbol.endswith("24800PE")
    assert ce.purpose is pe.purpose is IntentPurpose.ENTRY
    strategy.on_fill(ctx, fill(ce, 100.0))
    strategy.on_fill(ctx, fill(pe, 90.0))
    mark(ctx, ce, -75, 124.0)
    mark(ctx, pe, -75, 80.0)
    clock.advance(300)
    strategy.on_tick(ctx, spot_tick(clock))
    assert len(ctx.intents) == 2  # 124 < the 125 stop (100 + 25 %)
    mark(ctx, ce, -75, 125.5)
    strategy.on_tick(ctx, spot_tick(clock))
    stop = ctx.intents[-1]
    assert stop.purpose is IntentPurpose.STOP and stop.side is Side.BUY and stop.token == ce.token
    strategy.on_fill(ctx, fill(stop, 125.5))
    mark(ctx, ce, 0, 125.5)
    day = strategy.day
    assert day is not None and day.legs["pe"].stop == pytest.approx(90.0)  # moved to cost
    mark(ctx, pe, -75, 89.0)
    strategy.on_tick(ctx, spot_tick(clock))
    assert len(ctx.intents) == 3
    mark(ctx, pe, -75, 90.5)
    strategy.on_tick(ctx, spot_tick(clock))
    exit_pe = ctx.intents[-1]
    assert exit_pe.token == pe.token and exit_pe.purpose is IntentPurpose.STOP and exit_pe.side is Side.BUY


def test_no_entry_after_the_window() -> None:
    clock = SimClock(at(9, 22))
    ctx = context(clock)
    strategy = load_legs("short_straddle_0920")(Settings())
    strategy.on_tick(ctx, spot_tick(clock))
    assert ctx.intents == []


def test_iron_condor_goes_out_as_one_basket_of_four_legs() -> None:
    clock = SimClock(at(9, 45, 5))
    ctx = context(clock, basket=True)
    strategy = load_legs("iron_condor")(Settings())
    strategy.on_tick(ctx, spot_tick(clock))
    assert isinstance(ctx, BasketContext) and len(ctx.baskets) == 1
    strikes = {(i.side, i.symbol[-7:]) for i in ctx.baskets[0]}
    assert strikes == {
        (Side.SELL, "24950CE"),
        (Side.BUY, "25100CE"),
        (Side.SELL, "24650PE"),
        (Side.BUY, "24500PE"),
    }


def test_without_a_basket_door_hedges_are_submitted_first() -> None:
    clock = SimClock(at(9, 45, 5))
    ctx = context(clock)
    load_legs("iron_condor")(Settings()).on_tick(ctx, spot_tick(clock))
    sides = [intent.side for intent in ctx.intents]
    assert sides == [Side.BUY, Side.BUY, Side.SELL, Side.SELL]


def test_combined_mtm_stop_is_capped_by_the_risk_settings_max_strategy_loss() -> None:
    clock = SimClock(at(9, 20, 5))
    ctx = context(clock)
    settings = Settings(risk={"max_strategy_loss_pct": 0.5})  # 2,500 on 5 lakh
    strategy = load_legs("short_straddle_0920")(settings)
    strategy.on_tick(ctx, spot_tick(clock))
    ce, pe = ctx.intents
    strategy.on_fill(ctx, fill(ce, 100.0))
    strategy.on_fill(ctx, fill(pe, 100.0))
    mark(ctx, ce, -75, 120.0)  # -1,500 (inside its 125 stop)
    mark(ctx, pe, -75, 114.0)  # -1,050: together -2,550
    strategy.on_tick(ctx, spot_tick(clock))
    exits = ctx.intents[2:]
    assert {i.token for i in exits} == {ce.token, pe.token}
    assert all(i.purpose is IntentPurpose.EXIT and "combined MTM" in i.reason for i in exits)


@pytest.mark.parametrize("name", template_names())
def test_every_template_loads_and_names_its_strategy(name: str) -> None:
    assert load_legs(name).name == name
