from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, Timeframe
from optbot.core.errors import UserError
from optbot.core.events import Bar, Tick
from optbot.strategy import (
    BUILTIN_STRATEGIES,
    BarHistoryContext,
    Strategy,
    StrategyRunner,
    load_strategies,
    resolve,
)
from optbot.strategy.context import StrategyContext

NOW = datetime(2024, 5, 21, 5, 0, tzinfo=UTC)


class Exploding(Strategy):
    name = "exploding"

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        raise RuntimeError("boom")


class Counting(Strategy):
    name = "counting"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.bars = 0

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        self.bars += 1


def bar(minutes: int) -> Bar:
    start = NOW - timedelta(minutes=minutes + 5)
    return Bar(
        start + timedelta(minutes=5),
        "1",
        "NIFTY",
        Timeframe.M5,
        start,
        start + timedelta(minutes=5),
        1,
        1,
        1,
        1,
    )


def test_failing_strategy_is_paused_others_continue() -> None:
    settings = Settings()
    counting = Counting(settings)
    paused: list = []
    runner = StrategyRunner([Exploding(settings), counting], BarHistoryContext(SimClock(NOW)), paused.append)
    runner.start()
    runner.on_bar(bar(10))
    runner.on_bar(bar(5))
    assert counting.bars == 2
    assert "exploding" in runner.paused and "RuntimeError: boom" in runner.paused["exploding"].error
    assert [s.name for s in runner.active()] == ["counting"]
    assert [p.name for p in paused] == ["exploding"] and paused[0].hook == "on_bar"
    assert runner.resume("exploding") and not runner.resume("exploding")


class TickWatching(Strategy):
    name = "tick_watching"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.ticks: list[float] = []

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        return None

    def on_tick(self, ctx: StrategyContext, tick: Tick) -> None:
        if tick.ltp < 0:
            raise ValueError("negative price")
        self.ticks.append(tick.ltp)


def test_ticks_reach_strategies_that_handle_them_until_paused() -> None:
    """Bar-only strategies are skipped on the tick path; a tick strategy gets every tick, and none once a
    failing hook has paused it (until resumed)."""
    settings = Settings()
    watching, counting = TickWatching(settings), Counting(settings)
    runner = StrategyRunner([counting, watching], BarHistoryContext(SimClock(NOW)))

    def tick(ltp: float) -> Tick:
        return Tick(NOW, "1", Exchange.NSE, "NIFTY", ltp)

    runner.on_tick(tick(100.0))
    runner.on_tick(tick(-1.0))
    runner.on_tick(tick(101.0))
    assert watching.ticks == [100.0] and "tick_watching" in runner.paused
    assert runner.paused["tick_watching"].hook == "on_tick" and "counting" not in runner.paused
    assert runner.resume("tick_watching")
    runner.on_tick(tick(102.0))
    assert watching.ticks == [100.0, 102.0]


def test_duplicate_names_refused() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="unique"):
        StrategyRunner([Counting(settings), Counting(settings)], BarHistoryContext(SimClock(NOW)))


def test_registry_builtins_and_dotted_paths() -> None:
    assert {
        "adx_trend",
        "momentum",
        "trend_following",
        "mean_reversion",
        "volatility",
        "gap_fill",
        "adaptive",
    } <= set(BUILTIN_STRATEGIES)
    assert resolve("tests.strategy.test_runner_registry:Counting") is Counting
    settings = Settings(strategy={"enabled": ["adx_trend", "tests.strategy.test_runner_registry:Counting"]})
    assert [s.name for s in load_strategies(settings)] == ["adx_trend", "counting"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nope", "unknown strategy 'nope'"),
        ("no_such_module_xyz:Thing", "cannot import module"),
        ("optbot.core.enums:Side", "is not a Strategy subclass"),
    ],
)
def test_registry_errors_are_user_errors(name: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        resolve(name)


def test_listed_twice_refused() -> None:
    with pytest.raises(UserError, match="listed twice"):
        load_strategies(Settings(strategy={"enabled": ["adx_trend", "adx_trend"]}))


USER_STRATEGY = """
from optbot.strategy.base import Strategy


class Mine(Strategy):
    name = "mine"

    def on_bar(self, ctx, bar):
        return None
"""


def test_a_strategy_file_loads_by_path_and_again_as_the_same_class(tmp_path: Path) -> None:
    path = tmp_path / "my_strategy.py"
    path.write_text(USER_STRATEGY)
    found = resolve(f"{path}:Mine")
    assert found.name == "mine" and issubclass(found, Strategy)
    assert resolve(f"{path}:Mine") is found  # imported once: a worker resolving it again gets the same


def test_a_strategy_module_in_the_current_directory_loads_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_local_strategies_xyz.py").write_text(USER_STRATEGY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [entry for entry in sys.path if entry not in ("", str(tmp_path))])
    assert resolve("my_local_strategies_xyz:Mine").name == "mine"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (None, "no strategy file"),
        ("raise RuntimeError('broken on import')\n", "RuntimeError: broken on import"),
        ("x = 1\n", "is not a Strategy subclass"),
    ],
)
def test_a_bad_strategy_file_is_one_user_error(tmp_path: Path, source: str | None, message: str) -> None:
    path = tmp_path / "bad_strategy.py"
    if source is not None:
        path.write_text(source)
    with pytest.raises(UserError, match=message):
        resolve(f"{path}:Mine")
