"""The leg vocabulary driven through bars: wait-and-trade on a leg's premium, re-entry at cost (same
contract, once flat), reversed re-entry, and a re-entered leg's earlier P&L kept in the combined MTM."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import IntentPurpose, OptionType, Side, Timeframe
from optbot.core.events import Bar, OrderIntent
from optbot.core.timeutil import ist_datetime, to_utc
from optbot.research.harness import synthetic_chain
from optbot.strategy.context import BarHistoryContext
from optbot.strategy.legs import parse_strategy_text, strategy_class_for
from optbot.strategy.legs.engine import LegStrategy
from tests.strategy.legs.test_leg_engine import fill, mark

DAY = date(2025, 9, 8)  # a Monday
EXPIRY = date(2025, 9, 9)
SPOT = 24_800.0

HEADER = """
[strategy]
name = "vocab"
underlying = "NIFTY"
"""


def at(hour: int, minute: int) -> datetime:
    return to_utc(ist_datetime(DAY, time(hour, minute)))


def strategy(body: str) -> LegStrategy:
    return strategy_class_for(parse_strategy_text(HEADER + body, "vocab.toml"))(Settings())


def context(clock: SimClock) -> BarHistoryContext:
    ctx = BarHistoryContext(clock)
    ctx.account = 500_000.0
    ctx.current_vix = 13.0
    return ctx


def step(ctx: BarHistoryContext, strategy: LegStrategy, spot: float) -> None:
    """One closed 1-minute NIFTY bar at `spot`, with the chain re-priced around it."""
    clock = ctx.clock
    assert isinstance(clock, SimClock)
    clock.advance(60)
    end = clock.now_utc()
    ctx.chains["NIFTY"] = synthetic_chain("NIFTY", spot, end, EXPIRY, 0.12, 75, 1800)
    bar = Bar(end, "26000", "NIFTY", Timeframe.M1, end - timedelta(minutes=1), end, spot, spot, spot, spot)
    ctx.add_bar(bar)
    strategy.on_bar(ctx, bar)


def premium(ctx: BarHistoryContext, intent: OrderIntent) -> float:
    chain = ctx.chains["NIFTY"]
    for row in chain.rows:
        for option_type in (OptionType.CE, OptionType.PE):
            contract, quote = row.contract(option_type), row.quote(option_type)
            if contract is not None and contract.token == intent.token and quote is not None:
                assert quote.ltp is not None
                return quote.ltp
    raise AssertionError(f"{intent.symbol} not in the chain")


def test_wait_and_trade_enters_the_leg_only_once_its_premium_moved() -> None:
    clock = SimClock(at(9, 19))
    ctx = context(clock)
    legs = strategy(
        """
[entry]
time = 09:20:00
[[legs]]
id = "ce"
option = "CE"
side = "SELL"
strike = { mode = "atm" }
wait = { points = 10, direction = "down" }
[[legs]]
id = "pe"
option = "PE"
side = "SELL"
strike = { mode = "atm" }
"""
    )
    step(ctx, legs, SPOT)  # 09:20: the PE goes out, the CE waits for its premium to fall 10 points
    assert [(i.symbol[-7:], i.side) for i in ctx.intents] == [("24800PE", Side.SELL)]
    day = legs.day
    assert day is not None
    reference = day.waiting["ce"][1]
    step(ctx, legs, SPOT - 10)  # the call loses ~5: not yet
    assert len(ctx.intents) == 1
    step(ctx, legs, SPOT - 25)  # ~12 points lower now
    entered = ctx.intents[-1]
    assert entered.symbol.endswith("24800CE") and entered.side is Side.SELL
    assert premium(ctx, entered) <= reference - 10
    assert "wait-and-trade" in entered.reason and day.waiting == {}


def stop_out_first_leg(ctx: BarHistoryContext, legs: LegStrategy, stop_spot: float) -> OrderIntent:
    """Enter at 09:20, fill, then move the market until the leg's 20 % stop is hit and filled."""
    step(ctx, legs, SPOT)
    entry = ctx.intents[0]
    price = premium(ctx, entry)
    legs.on_fill(ctx, fill(entry, price))
    sign = 1 if entry.side is Side.BUY else -1
    mark(ctx, entry, sign * entry.quantity, price)
    step(ctx, legs, stop_spot)
    mark(ctx, entry, sign * entry.quantity, premium(ctx, entry))
    step(ctx, legs, stop_spot)
    stop = ctx.intents[-1]
    assert stop.purpose is IntentPurpose.STOP and stop.token == entry.token
    legs.on_fill(ctx, fill(stop, premium(ctx, entry)))
    mark(ctx, entry, 0, premium(ctx, entry))
    return entry


def test_re_entry_at_cost_sells_the_same_contract_again_once_its_premium_is_back() -> None:
    clock = SimClock(at(9, 19))
    ctx = context(clock)
    legs = strategy(
        """
[entry]
time = 09:20:00
[[legs]]
id = "ce"
option = "CE"
side = "SELL"
strike = { mode = "atm" }
stop = { pct = 20 }
[reentry]
mode = "at_cost"
max_per_leg = 1
"""
    )
    entry = stop_out_first_leg(ctx, legs, SPOT + 60)
    count = len(ctx.intents)
    step(ctx, legs, SPOT + 150)  # the new ATM is 24950, but the premium is far above cost: wait
    assert len(ctx.intents) == count
    step(ctx, legs, SPOT - 5)  # back below the stopped leg's entry price
    again = ctx.intents[-1]
    assert again.token == entry.token and again.side is Side.SELL and "re-entry at_cost" in again.reason
    step(ctx, legs, SPOT - 5)
    assert len(ctx.intents) == count + 1  # one re-entry only


def test_reversed_re_entry_buys_after_a_sold_leg_stopped_and_keeps_its_loss_in_the_mtm() -> None:
    clock = SimClock(at(9, 19))
    ctx = context(clock)
    legs = strategy(
        """
[entry]
time = 09:20:00
[[legs]]
id = "ce"
option = "CE"
side = "SELL"
strike = { mode = "atm" }
stop = { pct = 20 }
[reentry]
mode = "reversed"
max_per_leg = 2
"""
    )
    stop_out_first_leg(ctx, legs, SPOT + 60)
    day = legs.day
    assert day is not None
    first = day.legs["ce"]
    loss = first.pnl(first.entry_price)
    assert loss < 0
    step(ctx, legs, SPOT + 60)
    reversed_entry = ctx.intents[-1]
    assert reversed_entry.side is Side.BUY and "re-entry reversed" in reversed_entry.reason
    assert day.realised == pytest.approx(loss)
    assert legs.combined_mtm({}) == pytest.approx(loss)  # the new leg is not filled yet
    price = premium(ctx, reversed_entry)
    legs.on_fill(ctx, fill(reversed_entry, price))
    assert legs.combined_mtm({reversed_entry.token: price + 4}) == pytest.approx(loss + 4 * 75)
