"""Issue 8: a strategy produces identical intents for the same ticks in the tick replay and in paper.

Path A is the in-process tick replay (`InProcessReplay`: raw bar aggregators, every tick of a market
step delivered before that step's bars, paper fills pumped inside `on_tick`). Path B is driven here
the way a paper session is: an engine from the same builder fed through its bus-facing API only —
each tick as it arrives (`on_tick`) and bars from the live `MarketDataPipeline` (stored to disk,
published through its asynchronous outbox as soon as they close, i.e. before the ticks of the step
that closed them). Same day, same ReplayMarket ticks: the intent sequences must match field for field.
(Backtests are bar-driven and fill on bars; `tests/backtest/test_runner.py` covers them.)
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from optbot.backtest.runner import IntentLine, intent_lines
from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import Timeframe
from optbot.core.events import Bar, Event, Tick
from optbot.core.instrument import InstrumentKey
from optbot.core.timeutil import ist_datetime, to_utc
from optbot.data.pipeline import MarketDataPipeline
from optbot.data.store import JsonStore
from optbot.engine.builder import Venue, VenueSpec, build_engine
from optbot.engine.core import preload_history
from optbot.engine.replay import (
    PREMARKET_START,
    SUBSCRIPTION_REFRESH_SECONDS,
    WARMUP_TIMEFRAMES,
    InProcessReplay,
    candle_rows_to_bars,
    sim_quote_to_tick,
)
from optbot.instruments.master import InstrumentMaster, MasterInfo
from optbot.instruments.scripmaster import parse_rows
from optbot.persistence.store import Store
from optbot.sim.contracts import SimQuote
from optbot.sim.market.replay import ReplayMarket
from optbot.strategy.builtin.adx_trend import AdxTrendStrategy
from tests.backtest.conftest import DAY, make_settings


async def paper_replay(settings: Settings, state: Path, day: date) -> list[IntentLine]:
    calendar = get_calendar()
    clock = SimClock(ist_datetime(day, PREMARKET_START))
    market = ReplayMarket(clock, settings.replay, calendar)
    market.advance_to(clock.now_utc())
    rows, _ = parse_rows(market.scrip_master_rows())
    instruments = InstrumentMaster(rows, MasterInfo(as_of=day, source="paper parity test"))
    store = Store.open(state, clock)
    engine = build_engine(
        settings,
        clock,
        store,
        instruments,
        VenueSpec(Venue.PAPER, order_id_prefix="PP"),
        strategies=[AdxTrendStrategy(settings)],
        underlyings=["NIFTY"],
        calendar=calendar,
    ).engine

    async def publish(event: Event) -> None:
        if isinstance(event, Bar):
            await engine.on_bar(event)

    pipeline = MarketDataPipeline(
        clock, calendar, JsonStore(settings.paths, settings.data, clock), settings.data, publish=publish
    )
    arrived: list[Tick] = []
    subscribed: set[tuple[str, str]] = set()

    def on_quote(quote: SimQuote) -> None:
        if (quote.exchange, quote.token) in subscribed:
            arrived.append(sim_quote_to_tick(quote))

    market.subscribe_quotes(on_quote)

    async def settle() -> None:
        """Let the pipeline's outbox publish every closed bar, then apply the venue's reports."""
        await pipeline._outbox.join()
        await engine.pump_paper()

    await engine.start(day)
    now = clock.now_utc()
    for underlying in ["NIFTY", settings.universe.vix_symbol]:
        index = engine.market.underlying_instrument(underlying)
        for interval, timeframe in WARMUP_TIMEFRAMES:
            span = settings.engine.warmup_daily_bars if timeframe is Timeframe.D1 else None
            days = (span if span is not None else settings.engine.warmup_intraday_days) * 1.5
            candles = market.candles("NSE", index.token, interval, now - timedelta(days=days), now)
            preload_history(
                engine, candle_rows_to_bars(candles, index.token, index.underlying, timeframe, calendar)
            )
    schedule = engine.begin_day(day)
    assert schedule.session is not None
    for underlying in ["NIFTY", settings.universe.vix_symbol]:
        index = engine.market.underlying_instrument(underlying)
        pipeline.track(index.token, index.underlying, False, check_opening_gap=False)
        subscribed.add((index.exchange.value, index.token))
    await pipeline.start()
    watched: set[InstrumentKey] = set()
    end = to_utc(schedule.post_market_end or schedule.session.close_utc)
    next_refresh = next_verify = clock.now_utc()
    verify_every = timedelta(seconds=settings.engine.order_poll_seconds)
    while True:
        moment = market.step(horizon=end - clock.now_utc())
        if moment is None or moment > end:
            break
        if moment >= next_refresh:
            for instrument in engine.desired_instruments():
                if instrument.key not in watched:
                    watched.add(instrument.key)
                    subscribed.add((instrument.exchange.value, instrument.token))
                    if instrument.is_option:
                        market.watch(instrument.exchange.value, instrument.token)
                        pipeline.track_instrument(instrument)
            next_refresh = moment + timedelta(seconds=SUBSCRIPTION_REFRESH_SECONDS)
        await settle()  # bars the clock closed at this step reach the engine before its ticks
        while arrived:
            tick = arrived.pop(0)
            pipeline.on_tick(tick)
            await engine.on_tick(tick)
            await settle()
        if moment >= next_verify and store.orders_in_flight():  # the session's order-poll timer
            await engine.verify_orders()
            next_verify = moment + verify_every
    for when, _ in [*engine.pending_deadlines(), (end, "end")]:
        if clock.now_utc() < when <= end:
            clock.advance_to(when)
        await settle()
        await engine.fire_due_deadlines()
    await engine.end_of_day()
    await settle()
    await engine.verify_orders()
    await engine.stop()
    await pipeline.stop()
    lines = intent_lines(store)
    store.close()
    return lines


async def tick_replay(settings: Settings, state: Path, day: date) -> list[IntentLine]:
    replay = InProcessReplay(
        settings, state, day, strategies=[AdxTrendStrategy(settings)], underlyings=["NIFTY"]
    )
    try:
        await replay.run([day])
        return intent_lines(replay.store)
    finally:
        replay.close()


@pytest.mark.asyncio
async def test_tick_replay_and_paper_replay_produce_identical_intents(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "data", replay={"tick_seconds": 15.0}, strategy={"entry_timeframe": "5m"}
    )
    replayed = await tick_replay(settings, tmp_path / "replay.sqlite", DAY)
    paper = await paper_replay(settings, tmp_path / "paper.sqlite", DAY)
    assert len(replayed) >= 2, "the chosen day must make the strategy trade"
    assert {line.strategy for line in replayed} >= {"adx_trend"}
    assert paper == replayed
