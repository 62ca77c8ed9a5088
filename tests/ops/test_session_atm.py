"""Spec §3.3 in a live/paper session: the ATM check every `instruments.atm_check_interval_seconds`
re-centres the feed window as soon as the ATM moved more than `instruments.atm_move_strikes` strikes,
and strikes the window left leave the socket `instruments.replacement_window_seconds` later (held
contracts never). Driven by the session's own `_every` task on a SimClock."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, cast

import pytest

from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange
from optbot.core.events import Tick
from optbot.core.instrument import Instrument
from optbot.core.timeutil import ist_datetime
from optbot.engine.market import MarketState
from optbot.engine.subscriptions import PricedChain
from optbot.ops.session import SessionRunner
from optbot.test_kit.instruments import build_master

DAY = date(2026, 8, 7)
START = ist_datetime(DAY, time(10, 0))
Key = tuple[Exchange, str]


class Engine:
    """What the session asks of the engine for its subscriptions, over a real `MarketState`: the
    NIFTY window around its last price (`engine.atm_strike_window` 6 either side) and the held
    contracts, and the chain the window is centred on."""

    def __init__(self, market: MarketState, held: list[Instrument]) -> None:
        self.market = market
        self.held = held
        self.notes: list[str] = []

    def desired_instruments(self) -> list[Instrument]:
        return [*self.market.watch_list("NIFTY"), *self.held]

    def window_chains(self) -> dict[str, PricedChain]:
        priced = self.market.priced_chain("NIFTY")
        return {} if priced is None else {"NIFTY": priced}

    def note(self, kind: str, text: str) -> None:
        self.notes.append(text)


class Feed:
    """Records every subscribe/unsubscribe message with the clock's time."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.subscribed: list[tuple[datetime, list[Key]]] = []
        self.unsubscribed: list[tuple[datetime, list[Key]]] = []

    def set_symbol(self, token: str, symbol: str) -> None:
        pass

    async def subscribe(self, keys: list[Key], mode: int) -> None:
        self.subscribed.append((self.clock.now_utc(), list(keys)))

    async def unsubscribe(self, keys: list[Key], mode: int) -> None:
        self.unsubscribed.append((self.clock.now_utc(), list(keys)))


class Session:
    def __init__(self, tmp_path: Path, held_strike: float | None = None) -> None:
        self.clock = SimClock(START)
        settings = Settings(
            paths={"data_root": tmp_path},
            universe={"underlyings": ["NIFTY"]},
            engine={"atm_strike_window": 6},
        )
        self.market = MarketState(settings, self.clock, get_calendar(), build_master(as_of=DAY))
        self.price(24_550.0)
        held = [] if held_strike is None else [self._contract(held_strike, "CE")]
        self.engine, self.feed = Engine(self.market, held), Feed(self.clock)
        self.runner = SessionRunner(
            settings, self.clock, cast(Any, None), get_calendar(), paper=True, serve_operations=False
        )
        self.runner.engine, self.runner.feed = cast(Any, self.engine), cast(Any, self.feed)

    def price(self, ltp: float) -> None:
        index = self.market.track_underlying("NIFTY")
        self.market.on_tick(Tick(self.clock.now_utc(), index.token, index.exchange, "NIFTY", ltp))

    def _contract(self, strike: float, side: str) -> Instrument:
        priced = self.market.priced_chain("NIFTY")
        assert priced is not None
        row = priced[0].row(strike)
        contract = row.call if side == "CE" else row.put
        assert contract is not None
        return contract

    def keys(self, *strikes: float) -> set[Key]:
        return {
            (contract.exchange, contract.token)
            for strike in strikes
            for contract in (self._contract(strike, "CE"), self._contract(strike, "PE"))
        }

    def seconds(self, moment: datetime) -> float:
        return (moment - START).total_seconds()

    async def run(self, until_seconds: float, moves: dict[float, float]) -> None:
        """The session's first refresh, then its ATM-check task for `until_seconds` of the clock,
        one second at a time, the price set to `moves[second]` at those seconds."""
        await self.runner.refresh_subscriptions()
        check = self.runner.settings.instruments.atm_check_interval_seconds
        task = asyncio.create_task(self.runner._every("atm-check", check, self.runner.check_atm))
        await self.clock.settle()  # the task is asleep until its first check, 5 s on
        try:
            for second in range(1, int(until_seconds) + 1):
                self.clock.advance(1)
                if second in moves:
                    self.price(moves[second])
                await self.clock.settle()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _strikes(low: float, high: float) -> list[float]:
    return [low + 50 * step for step in range(int((high - low) / 50) + 1)]


def test_a_move_of_more_than_atm_move_strikes_recentres_at_the_next_check(tmp_path: Path) -> None:
    """ATM 24,550 -> 24,700 (three strikes) at 12 s: the new strikes are subscribed at the 15 s check,
    not at the next minute; the strikes left behind leave 90 s later, at the 105 s check, not before."""
    session = Session(tmp_path)
    asyncio.run(session.run(200, {12: 24_705.0}))
    feed = session.feed
    (first_at, first), (moved_at, added) = feed.subscribed
    assert session.seconds(first_at) == 0 and set(first) == session.keys(*_strikes(24_250, 24_850))
    assert session.seconds(moved_at) == 15
    assert set(added) == session.keys(*_strikes(24_900, 25_000))
    [(left_at, left)] = feed.unsubscribed
    assert session.seconds(left_at) == 105
    assert set(left) == session.keys(*_strikes(24_250, 24_350))


def test_a_move_of_at_most_atm_move_strikes_sends_nothing(tmp_path: Path) -> None:
    """One strike away (ATM 24,600) is within `instruments.atm_move_strikes` 1: the checks every 5 s
    send no message at all (the minute's refresh follows such a move)."""
    session = Session(tmp_path)
    asyncio.run(session.run(58, {12: 24_610.0, 30: 24_490.0}))
    assert len(session.feed.subscribed) == 1 and session.feed.unsubscribed == []


def test_a_strike_the_price_comes_back_to_in_time_is_never_unsubscribed(tmp_path: Path) -> None:
    """Up three strikes at 12 s (re-centred at 15 s), back at 50 s (re-centred at 50 s, within the
    90 s): the first window never leaves; the strikes added for the move leave at 140 s."""
    session = Session(tmp_path)
    asyncio.run(session.run(300, {12: 24_705.0, 50: 24_550.0}))
    feed = session.feed
    assert [session.seconds(at) for at, _ in feed.subscribed] == [0, 15]
    [(left_at, left)] = feed.unsubscribed
    assert session.seconds(left_at) == 140
    assert set(left) == session.keys(*_strikes(24_900, 25_000))


def test_a_held_contract_never_leaves_the_feed(tmp_path: Path) -> None:
    """The 24,250 call is held: when the window moves away from it, its put leaves, it stays."""
    session = Session(tmp_path, held_strike=24_250.0)
    asyncio.run(session.run(400, {12: 24_705.0, 200: 24_900.0}))
    unsubscribed = {key for _, keys in session.feed.unsubscribed for key in keys}
    held = session.engine.held[0]
    assert (held.exchange, held.token) not in unsubscribed
    assert held.key in session.runner._subscribed
    put = session._contract(24_250.0, "PE")
    assert (put.exchange, put.token) in unsubscribed


class RefusingFeed(Feed):
    """A socket at its token cap: every subscription is refused (the subscription manager raises)."""

    async def subscribe(self, keys: list[Key], mode: int) -> None:
        self.subscribed.append((self.clock.now_utc(), list(keys)))
        raise RuntimeError("token cap reached")


def test_a_refused_subscription_is_not_retried_at_every_atm_check(tmp_path: Path) -> None:
    """The window counts as centred before anything is sent: a refused refresh is retried by the
    minute's refresh (or the next move), not every 5 s."""
    session = Session(tmp_path)
    feed = RefusingFeed(session.clock)
    session.runner.feed = cast(Any, feed)

    async def scenario() -> None:
        with pytest.raises(RuntimeError):
            await session.runner.refresh_subscriptions()
        for _ in range(11):  # 55 s of ATM checks
            session.clock.advance(5)
            await session.runner.check_atm()

    asyncio.run(scenario())
    assert len(feed.subscribed) == 1
