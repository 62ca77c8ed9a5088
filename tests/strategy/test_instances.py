"""One class, two instances with their own typed settings; the guide's example strategy runs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from optbot.config import Settings
from optbot.core.clock import SimClock
from optbot.core.enums import Timeframe
from optbot.core.errors import UserError
from optbot.core.events import Bar
from optbot.research.harness import synthetic_chain
from optbot.strategy.context import BarHistoryContext
from optbot.strategy.registry import load_strategies
from tests.strategy.example_breakout import BreakoutSettings
from tests.strategy.legs.test_leg_engine import EXPIRY, at

CLASS = "tests.strategy.example_breakout:Breakout"


def test_one_class_runs_twice_with_its_own_settings_and_names() -> None:
    settings = Settings(
        strategy={
            "enabled": [f"{CLASS}@fast", f"{CLASS}@bank"],
            "instances": {"fast": {"lookback_bars": 3}, "bank": {"underlying": "BANKNIFTY"}},
        }
    )
    fast, bank = load_strategies(settings)
    assert (fast.name, bank.name) == ("breakout@fast", "breakout@bank")
    assert fast.config == BreakoutSettings(lookback_bars=3)
    assert bank.config == BreakoutSettings(underlying="BANKNIFTY")


def test_a_bad_instance_value_is_one_line_naming_it() -> None:
    settings = Settings(strategy={"enabled": [f"{CLASS}@x"], "instances": {"x": {"lookback_bars": 1}}})
    with pytest.raises(UserError, match=r"^strategy.instances.x.lookback_bars: Input should be greater"):
        load_strategies(settings)


def test_the_guides_example_enters_on_a_breakout_with_a_built_intent() -> None:
    settings = Settings(strategy={"enabled": [f"{CLASS}@fast"], "instances": {"fast": {"lookback_bars": 3}}})
    (strategy,) = load_strategies(settings)
    clock = SimClock(at(10, 0))
    ctx = BarHistoryContext(clock)
    ctx.chains["NIFTY"] = synthetic_chain("NIFTY", 24_800, clock.now_utc(), EXPIRY, 0.12, 75, 1800)
    start = at(9, 40)
    for number, close in enumerate([24_790, 24_800, 24_795, 24_810]):
        begin = start + timedelta(minutes=5 * number)
        bar = Bar(
            begin + timedelta(minutes=5),
            "26000",
            "NIFTY",
            Timeframe.M5,
            begin,
            begin + timedelta(minutes=5),
            close - 5,
            close + 2 if number < 3 else close,
            close - 10,
            close,
        )
        ctx.add_bar(bar)
        strategy.on_bar(ctx, bar)
    (intent,) = ctx.intents
    assert intent.strategy == "breakout@fast" and intent.quantity == 75 and intent.symbol.endswith("24800CE")
    assert intent.ts_utc == clock.now_utc() and intent.limit_price is None
