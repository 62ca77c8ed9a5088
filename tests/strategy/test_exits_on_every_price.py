"""Spec §7.1/§10.4: with strategy.exits_on_every_price an open trade's stop is checked on each price of
its underlying (a feed tick, or each bar close of a bar backtest), not only at entry-timeframe closes."""

from __future__ import annotations

from datetime import date, time, timedelta

from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, IntentPurpose, Side, SignalDirection
from optbot.core.events import Tick
from optbot.core.timeutil import ist_datetime, to_utc
from optbot.risk.views import PositionSnapshot
from optbot.strategy.builtin.adx_trend import AdxTrendStrategy
from optbot.strategy.context import BarHistoryContext
from optbot.strategy.directional import EntryIdea, OpenTrade
from optbot.strategy.exits import plan_exits
from optbot.strategy.runner import StrategyRunner
from optbot.test_kit.execution import option_instrument

DAY = date(2025, 10, 20)
ENTRY_PRICE = 24400.0


def _holding(**strategy: object) -> tuple[AdxTrendStrategy, BarHistoryContext]:
    """A strategy holding one NIFTY call bought with the underlying at 24,400 (stop 1 % below)."""
    settings = Settings(strategy=strategy)  # type: ignore[arg-type]
    entered = to_utc(ist_datetime(DAY, time(10, 0)))
    ctx = BarHistoryContext(SimClock(entered + timedelta(minutes=2)), current_vix=14.0)
    strategy_ = AdxTrendStrategy(settings)
    contract = option_instrument()
    plan = plan_exits(
        settings.strategy, SignalDirection.BULLISH, entered, ENTRY_PRICE, 75, 75, 14.0, 25.0,
        contract.expiry, False,
    )  # fmt: skip
    idea = EntryIdea(SignalDirection.BULLISH, "test", True, "", True, "")
    strategy_.trades["NIFTY"] = OpenTrade("NIFTY", contract, idea, plan, filled=75, cost=7_500.0)
    ctx.set_position(PositionSnapshot(contract.token, Exchange.NFO, contract.symbol, "NIFTY", 75, 100.0))
    return strategy_, ctx


def _tick(ctx: BarHistoryContext, symbol: str, price: float) -> Tick:
    return Tick(ctx.now_utc(), "99926000", Exchange.NSE, symbol, price)


def test_a_tick_through_the_stop_exits_at_once() -> None:
    strategy, ctx = _holding(exits_on_every_price=True)
    assert StrategyRunner([strategy], ctx).wants_ticks
    strategy.on_tick(ctx, _tick(ctx, "Nifty 50", 24350.0))  # above the 24,156 stop: nothing
    assert not ctx.intents
    strategy.on_tick(ctx, _tick(ctx, "Nifty 50", 24100.0))  # a live feed's index symbol
    assert [(i.side, i.quantity, i.purpose) for i in ctx.intents] == [(Side.SELL, 75, IntentPurpose.STOP)]
    strategy.on_tick(ctx, _tick(ctx, "NIFTY", 24000.0))
    assert len(ctx.intents) == 1  # the whole quantity is already on its way out


def test_by_default_the_stop_waits_for_the_bar_close() -> None:
    strategy, ctx = _holding()
    assert not StrategyRunner([strategy], ctx).wants_ticks
    strategy.on_tick(ctx, _tick(ctx, "NIFTY", 24100.0))
    assert not ctx.intents
