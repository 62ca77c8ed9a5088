"""The daily report's "longest feed silence in market hours": the quiet between the pre-open and the open
is not market hours. A bot that subscribes in the pre-open gets a snapshot (or pre-open ticks) before
09:15 and trades from 09:15; measured from that tick, the first look after the open read the whole
pre-open as a silence (900 s on a replayed day whose bot subscribed at 09:00)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from optbot.calendar import get_calendar
from optbot.config import load_settings
from optbot.core.clock import LiveClock, SimClock
from optbot.core.enums import Exchange
from optbot.core.events import Tick
from optbot.core.timeutil import ist_datetime, to_utc
from optbot.engine.follow import FollowingClock, session_clock
from optbot.engine.replay import InProcessReplay
from optbot.engine.schedule import build_schedule
from optbot.ops.session import SessionRunner
from optbot.ops.wiring import (
    Operations,
    attach_operations,
    market_hours_silence_seconds,
    replay_clock_notes,
)
from optbot.sim.server import Simulator
from optbot.test_kit.sim import TEST_ACCOUNT, StaticMarket

DAY = date(2025, 9, 8)  # a Monday with 1-minute NIFTY sample data


@pytest.fixture
def day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[InProcessReplay, Operations]]:
    for name in ("OPTBOT_SECRET_NOTIFY_URLS", "OPTBOT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(
        None,
        {
            "paths": {"data_root": str(tmp_path / "data")},
            "universe": {"underlyings": ["NIFTY"]},
            "metrics": {"port": 0},
            "dashboard": {"port": 0},
        },
    )
    replay = InProcessReplay(
        settings, tmp_path / "data" / "state" / "optbot.sqlite", DAY, strategies=[], underlyings=["NIFTY"]
    )
    try:
        yield replay, attach_operations(replay.engine, settings, replay.clock, environ={})
    finally:
        replay.close()


def _tick_now(replay: InProcessReplay) -> None:
    replay.engine.market.on_tick(Tick(replay.clock.now_utc(), "99926000", Exchange.NSE, "Nifty 50", 24_800.0))


async def test_a_pre_open_tick_then_the_open_is_no_silence_in_market_hours(
    day: tuple[InProcessReplay, Operations],
) -> None:
    replay, ops = day
    await replay.engine.start(DAY)
    replay.clock.advance_to(ist_datetime(DAY, time(9, 0)))
    _tick_now(replay)  # the subscription's snapshot in the pre-open
    replay.clock.advance_to(ist_datetime(DAY, time(9, 15)))
    ops.sampler.sample()  # the first look in market hours, before the open's first tick
    assert ops.sampler.state.max_stale_seconds == 0.0

    replay.clock.advance_to(ist_datetime(DAY, time(9, 15, 40)))
    ops.sampler.sample()  # no tick since the open: 40 s of market hours, not 15 min 40 s
    assert ops.sampler.state.max_stale_seconds == 40.0

    _tick_now(replay)
    replay.clock.advance_to(ist_datetime(DAY, time(10, 0, 5)))
    ops.sampler.sample()  # a silence inside the session counts from its last tick
    assert ops.sampler.state.max_stale_seconds == pytest.approx(44 * 60 + 25)

    report = json.loads(ops.write_daily_report(DAY, notify=False).json_path.read_text())
    quality = {row["check"]: row["value"] for row in report["tables"]["data quality"]}
    assert quality["longest feed silence in market hours (s)"] == 44 * 60 + 25


def test_silence_counts_from_the_later_of_the_last_tick_and_the_open() -> None:
    opened = ist_datetime(DAY, time(9, 15))
    pre_open_tick = ist_datetime(DAY, time(9, 7, 30))
    assert market_hours_silence_seconds(ist_datetime(DAY, time(9, 15, 10)), pre_open_tick, opened) == 10.0
    in_session_tick = ist_datetime(DAY, time(11, 0))
    assert market_hours_silence_seconds(ist_datetime(DAY, time(11, 0, 3)), in_session_tick, opened) == 3.0
    assert market_hours_silence_seconds(ist_datetime(DAY, time(11, 0, 3)), in_session_tick, None) == 3.0


@dataclass
class _Market:
    last_tick_utc: datetime | None


@dataclass
class _Engine:
    market: _Market
    trading_blocked: str | None = None
    warnings: list[str] = field(default_factory=list)

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def lift_acknowledged_block(self) -> bool:
        return False


class _HealthyAuth:
    async def check_health(self) -> bool:
        return True


async def test_session_health_does_not_call_the_feed_stale_for_the_pre_open_quiet(tmp_path: Path) -> None:
    """The 5-minute session health check at the open: a tick in the pre-open and none yet since 09:15 is
    not "no tick for over 30 s" (the warning halves position sizes for 30 minutes)."""
    settings = load_settings(None, {"paths": {"data_root": str(tmp_path)}})
    clock = SimClock(ist_datetime(DAY, time(9, 15, 5)))
    runner = SessionRunner(
        settings, clock, cast(Any, None), get_calendar(), paper=True, serve_operations=False
    )
    runner.schedule = build_schedule(runner.calendar, DAY, settings.session)
    runner.stack = cast(Any, SimpleNamespace(auth=_HealthyAuth()))
    engine = _Engine(_Market(to_utc(ist_datetime(DAY, time(9, 0)))))
    runner.engine = cast(Any, engine)
    await runner._session_health()
    assert engine.warnings == []

    clock.advance_to(ist_datetime(DAY, time(9, 15, 45)))  # 45 s into the session without a tick
    await runner._session_health()
    assert engine.warnings == ["market data stale: no tick for over 30 s"]


def test_the_report_says_a_followed_replays_silences_are_replay_seconds() -> None:
    url = "http://localhost"  # only named in the note, never reached
    clock = FollowingClock(ist_datetime(DAY, time(15, 45)), url, replay_speed=150.0)
    (note,) = replay_clock_notes(clock, 100.0)
    assert note.startswith(f"The session's clock followed the simulator's replay at {url} at 150x real")
    assert "the longest silence, 100 s, lasted about 0.67 s of real time" in note
    assert replay_clock_notes(LiveClock(), 100.0) == ()


async def test_the_followed_clock_knows_the_simulators_speed() -> None:
    """`optbot sim serve --speed 150` says so on its clock; the bot's clock keeps it for the report."""
    replay_clock = SimClock(ist_datetime(DAY, time(9, 15)), speed=150.0)
    simulator = Simulator(StaticMarket(replay_clock), replay_clock, [TEST_ACCOUNT])
    await simulator.start()
    try:
        async with session_clock(simulator.base_url) as clock:
            assert isinstance(clock, FollowingClock) and clock.replay_speed == 150.0
    finally:
        await simulator.stop()
