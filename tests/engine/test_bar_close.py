"""A bar-driven run's price event (`TradingEngine.on_bar_close`) does what a feed tick carrying the
bar's close at its close does (`on_tick`): the same market view, order-manager levels, risk windows and
risk state, and the same tick for strategies that want ticks."""

from __future__ import annotations

from datetime import date, time, timedelta
from pathlib import Path
from typing import ClassVar

from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, Timeframe
from optbot.core.events import Bar, Tick
from optbot.core.timeutil import ist_datetime
from optbot.engine.builder import Venue, VenueSpec, build_engine
from optbot.engine.core import TradingEngine
from optbot.engine.market import BAR_SOURCE
from optbot.persistence.store import Store
from optbot.strategy.base import Strategy
from optbot.strategy.context import StrategyContext
from optbot.test_kit.execution import FakeBroker
from optbot.test_kit.instruments import build_master

DAY = date(2026, 8, 7)
NIFTY_TOKEN = "99926000"
VIX_TOKEN = "99926017"


class TickRecorder(Strategy):
    name: ClassVar[str] = "tick_recorder"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.ticks: list[Tick] = []

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        return None

    def on_tick(self, ctx: StrategyContext, tick: Tick) -> None:
        self.ticks.append(tick)


class BarsOnly(Strategy):
    name: ClassVar[str] = "bars_only"

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        return None


def _engine(tmp_path: Path, strategy: Strategy) -> tuple[TradingEngine, SimClock]:
    clock = SimClock(ist_datetime(DAY, time(10, 0)))
    settings = Settings(paths={"data_root": tmp_path}, universe={"underlyings": ["NIFTY"]})
    store = Store.open(tmp_path / "state.sqlite", clock)
    engine = build_engine(
        settings,
        clock,
        store,
        build_master(as_of=DAY),
        VenueSpec(Venue.BROKER, broker=FakeBroker(clock)),  # type: ignore[arg-type]
        strategies=[strategy],
    ).engine
    return engine, clock


def _closes(start: float) -> list[tuple[str, Exchange, str, float]]:
    """A minute's index and VIX closes; the index moves ~2 % within the spike window at the end."""
    return [
        (NIFTY_TOKEN, Exchange.NSE, "NIFTY", start),
        (VIX_TOKEN, Exchange.NSE, "INDIA VIX", 14.0),
        (NIFTY_TOKEN, Exchange.NSE, "NIFTY", start + 10),
        (VIX_TOKEN, Exchange.NSE, "INDIA VIX", 21.0),
        (NIFTY_TOKEN, Exchange.NSE, "NIFTY", start * 1.02),
    ]


async def _feed(engine: TradingEngine, clock: SimClock, as_bars: bool) -> None:
    await engine.start(DAY)
    for token, exchange, symbol, close in _closes(24500.0):
        end = clock.now_utc() + timedelta(minutes=1)
        clock.advance_to(end)
        if as_bars:
            start = end - timedelta(minutes=1)
            bar = Bar(end, token, symbol, Timeframe.M1, start, end, close, close, close, close)
            await engine.on_bar_close(bar, exchange)
        else:
            tick = Tick(end, token, exchange, symbol, close, ts_exchange=end, source=BAR_SOURCE)
            await engine.on_tick(tick)


def _view(engine: TradingEngine) -> tuple[object, ...]:
    risk = engine.risk
    windows = {symbol: list(detector.window._samples) for symbol, detector in risk._price_detectors.items()}
    return (
        engine.market.underlying_price("NIFTY"),
        engine.market.vix(),
        engine.market.last_tick_utc,
        engine.market.ticks_seen,
        engine.market.quote(Exchange.NSE, NIFTY_TOKEN),
        engine.orders._underlying_prices,
        engine.orders._latest_vix,
        windows,
        risk.state,
        [str(change) for change in risk.state_changes],
        risk.size_multiplier,
    )


async def test_a_bar_close_moves_the_engine_as_the_tick_carrying_it(tmp_path: Path) -> None:
    by_tick, tick_clock = _engine(tmp_path / "tick", TickRecorder(Settings()))
    by_bar, bar_clock = _engine(tmp_path / "bar", TickRecorder(Settings()))
    await _feed(by_tick, tick_clock, as_bars=False)
    await _feed(by_bar, bar_clock, as_bars=True)
    assert _view(by_bar) == _view(by_tick)
    assert by_bar.risk.state_changes  # the VIX jump and the index move did change the risk state
    ticked, barred = by_tick.runner.strategies[0], by_bar.runner.strategies[0]
    assert isinstance(ticked, TickRecorder) and isinstance(barred, TickRecorder)
    assert barred.ticks == ticked.ticks and len(barred.ticks) == len(_closes(0.0))
    assert by_bar.counters.ticks == 0  # no tick came from a feed


async def test_without_a_tick_strategy_no_tick_is_built(tmp_path: Path) -> None:
    engine, clock = _engine(tmp_path, BarsOnly(Settings()))
    await _feed(engine, clock, as_bars=True)
    assert not engine.runner.wants_ticks
    assert isinstance(engine.market._last[(Exchange.NSE, NIFTY_TOKEN)], Bar)
    tick = engine.market.last_tick(Exchange.NSE, NIFTY_TOKEN)
    assert tick is not None and tick.source == BAR_SOURCE and tick.ltp == 24500.0 * 1.02


async def test_a_bar_with_nothing_to_await_is_taken_without_a_coroutine(tmp_path: Path) -> None:
    """`take_bar` / `take_bar_close` (the bar-driven run's calls) handle an idle bar in place and hand
    back the coroutine that finishes a bar with a deadline due; `on_bar` is the same code awaited."""
    engine, clock = _engine(tmp_path, BarsOnly(Settings()))
    await engine.start(DAY)
    end = clock.now_utc() + timedelta(minutes=1)
    clock.advance_to(end)
    bar = Bar(end, NIFTY_TOKEN, "NIFTY", Timeframe.M1, end - timedelta(minutes=1), end, 1.0, 2.0, 1.0, 2.0)
    assert engine.take_bar_close(bar, Exchange.NSE) is None
    assert engine.take_bar(bar) is None
    assert engine.market.underlying_price("NIFTY") == 2.0
    assert engine.ctx.bars("NIFTY", Timeframe.M1, 5) == [bar] and engine.counters.bars == 1
    deadline = engine.next_deadline()
    assert deadline is not None
    clock.advance_to(deadline)
    later = Bar(
        deadline, NIFTY_TOKEN, "NIFTY", Timeframe.M1, deadline - timedelta(minutes=1), deadline, 2, 3, 2, 3
    )
    fired = len(engine.counters.deadlines)
    rest = engine.take_bar(later)
    assert rest is not None and len(engine.counters.deadlines) == fired  # nothing happened yet
    await rest
    assert len(engine.counters.deadlines) > fired  # the deadline first, then the bar
    assert engine.ctx.bars("NIFTY", Timeframe.M1, 5) == [bar, later] and engine.counters.bars == 2
