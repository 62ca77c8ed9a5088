"""§3.4 in a live/paper session: an opening gap re-centres the feed at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.config.sections.instruments import InstrumentsSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange
from optbot.core.instrument import Instrument, InstrumentKey
from optbot.data.opening_gap import OpeningGap
from optbot.engine.subscriptions import GapWindows, PricedChain
from optbot.ops.session import SessionRunner
from optbot.test_kit.execution import option_instrument

NOW = datetime(2024, 6, 3, 3, 45, 5, tzinfo=UTC)
OLD = [option_instrument(token=token, symbol=f"OLD{token}") for token in ("101", "102")]
NEW = [option_instrument(token=token, symbol=f"NEW{token}") for token in ("201", "202")]
HELD = option_instrument(token="150", symbol="HELD150")


class Market:
    def __init__(self) -> None:
        self.gap_windows = GapWindows(InstrumentsSettings())


class Engine:
    """What the session asks of the engine here: the contracts it wants, its market's gap windows and a
    place for notes."""

    def __init__(self, wanted: list[Instrument]) -> None:
        self.wanted = wanted
        self.notes: list[tuple[str, str]] = []
        self.market = Market()

    def desired_instruments(self) -> list[Instrument]:
        return self.wanted

    def window_chains(self) -> dict[str, PricedChain]:
        return {}  # no underlying priced: the ATM check has nothing to follow here

    def note(self, kind: str, text: str) -> None:
        self.notes.append((kind, text))


class Feed:
    def __init__(self) -> None:
        self.subscribed: list[tuple[Exchange, str]] = []
        self.unsubscribed: list[tuple[Exchange, str]] = []

    def set_symbol(self, token: str, symbol: str) -> None:
        pass

    async def subscribe(self, keys: list[tuple[Exchange, str]], mode: int) -> None:
        self.subscribed.extend(keys)

    async def unsubscribe(self, keys: list[tuple[Exchange, str]], mode: int) -> None:
        self.unsubscribed.extend(keys)


def _session(tmp_path: Path) -> tuple[SessionRunner, Engine, Feed]:
    settings = Settings(paths={"data_root": tmp_path})
    runner = SessionRunner(
        settings, SimClock(NOW), cast(Any, None), get_calendar(), paper=True, serve_operations=False
    )
    engine, feed = Engine([*OLD, HELD]), Feed()
    runner.engine, runner.feed = cast(Any, engine), cast(Any, feed)
    return runner, engine, feed


def _keys(instruments: list[Instrument]) -> list[tuple[Exchange, str]]:
    return [(instrument.exchange, instrument.token) for instrument in instruments]


def test_an_opening_gap_drops_the_old_window_at_once_and_keeps_held_contracts(tmp_path: Path) -> None:
    async def scenario() -> tuple[Engine, Feed, set[InstrumentKey]]:
        runner, engine, feed = _session(tmp_path)
        await runner.refresh_subscriptions()
        engine.wanted = [*NEW, HELD]  # the price gapped: the engine's window follows it
        runner._on_opening_gap(OpeningGap("NIFTY", 22_000.0, 22_700.0, 3.18, NOW))
        await asyncio.gather(*runner._tasks)
        return engine, feed, set(runner._subscribed)

    engine, feed, subscribed = asyncio.run(scenario())
    assert sorted(feed.subscribed) == sorted(_keys([*OLD, HELD, *NEW]))
    assert sorted(feed.unsubscribed) == _keys(OLD)  # at the gap's refresh, not 90 s later
    assert subscribed == {instrument.key for instrument in (*NEW, HELD)}
    assert any("opening gap NIFTY +3.18%" in text for _, text in engine.notes)
    assert engine.market.gap_windows.is_open("NIFTY")  # the wider §3.4 window until the ATM settles


def test_without_a_gap_a_moved_window_leaves_after_the_replacement_window(tmp_path: Path) -> None:
    async def scenario() -> Feed:
        runner, engine, feed = _session(tmp_path)
        clock = cast(SimClock, runner.clock)
        await runner.refresh_subscriptions()
        engine.wanted = [*NEW, HELD]
        await runner.refresh_subscriptions()
        clock.advance(89)
        await runner.refresh_subscriptions()
        assert feed.unsubscribed == []  # instruments.replacement_window_seconds is 90
        clock.advance(1)
        await runner.refresh_subscriptions()
        return feed

    assert sorted(asyncio.run(scenario()).unsubscribed) == _keys(OLD)
