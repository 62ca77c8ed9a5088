"""Legs fields set by path (config overrides, optimisation trials) and the files' `[tunable]` ranges."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from optbot.config import Settings
from optbot.core.errors import ParameterError, UserError
from optbot.strategy.legs import load_legs, parse_strategy_text, qualified, template_names
from optbot.strategy.legs.fields import tunables_of, with_overrides
from optbot.strategy.registry import resolve
from optbot.strategy.tunable import Tunable, apply_parameters, check_buildable
from tests.strategy.legs.test_schema import GOOD

TUNED = (
    GOOD
    + """
[tunable]
"legs.*.stop.pct" = { low = 10, high = 40, step = 5 }
"entry.time" = { choices = [09:20:00, 09:30:00] }
"exits.mtm_stop" = { low = 1000.0, high = 4000.0 }
"""
)


def test_a_path_sets_one_leg_every_leg_or_a_section_and_revalidates() -> None:
    plan = parse_strategy_text(GOOD, "demo.toml")
    one = with_overrides(plan, {"legs.pe.stop.pct": 40}, "here")
    assert one.legs[0].stop is None and one.legs[1].stop is not None and one.legs[1].stop.pct == 40
    every = with_overrides(plan, {"legs.*.stop.pct": 30, "entry.time": "09:45:00"}, "here")
    assert [leg.stop.pct for leg in every.legs if leg.stop] == [30, 30]  # the missing stop is created
    assert every.entry.time == time(9, 45)
    assert with_overrides(plan, {"exits.mtm_stop": 2500}, "here").exits.mtm_stop == 2500
    assert plan.legs[0].stop is None, "the loaded plan itself never changes"


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("legs.cx.stop.pct", 10, "here: legs.cx.stop.pct: no leg 'cx' (legs: ce, pe, or * for every leg)"),
        ("legs.ce.stop.percent", 10, "here: legs.ce.stop.percent: no field 'percent' there (fields:"),
        ("legs.pe.stop.pct", 0, "here: legs.1.stop.pct: Input should be greater than 0"),
        ("strategy.name", "x", "here: strategy.name: a field path starts with one of entry, legs"),
        ("legs.ce.option.x", 1, "here: legs.ce.option.x: 'option' holds a value, not a table"),
    ],
)
def test_a_bad_path_or_value_is_one_clear_line(path: str, value: object, expected: str) -> None:
    plan = parse_strategy_text(GOOD, "demo.toml")
    with pytest.raises(ParameterError) as caught:
        with_overrides(plan, {path: value}, "here")
    assert str(caught.value).startswith(expected) and "\n" not in str(caught.value)


def test_a_file_declares_its_tunables_with_ranges(tmp_path: Path) -> None:
    path = tmp_path / "demo.toml"
    path.write_text(TUNED, encoding="utf-8")
    strategy = load_legs(str(path))
    by_path = {tunable.path: tunable for tunable in strategy.tunables}
    assert by_path["demo:legs.*.stop.pct"] == Tunable("demo:legs.*.stop.pct", 10, 40, 5, integer=True)
    assert by_path["demo:entry.time"].choices == ("09:20:00", "09:30:00")
    assert not by_path["demo:exits.mtm_stop"].integer
    # a trial's values reach the strategy through the settings, validated against the file
    settings = apply_parameters(Settings(), {"demo:legs.*.stop.pct": 35, "demo:entry.time": "09:30:00"})
    built = strategy(settings)
    assert [leg.stop.pct for leg in built.plan.legs if leg.stop] == [35, 35]
    assert built.plan.entry.time == time(9, 30)
    assert strategy(Settings()).plan.entry.time == time(9, 20)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ('"legs.*.stop.pct" = { low = 40, high = 10 }', "demo.toml:22: tunable.legs.*.stop.pct: low (40.0)"),
        ('"legs.*.stop.pct" = { low = 0, high = 10 }', "demo.toml:22: tunable.legs.*.stop.pct = 0: legs.0"),
        ('"legs.zz.lots" = { low = 1, high = 3 }', "demo.toml:22: tunable.legs.zz.lots = 1: legs.zz"),
        ('"exits.mtm_stop" = { high = 10 }', "demo.toml:22: tunable.exits.mtm_stop: a range needs both"),
    ],
)
def test_a_bad_tunable_range_is_refused_on_load(tmp_path: Path, entry: str, expected: str) -> None:
    path = tmp_path / "demo.toml"
    path.write_text(GOOD + "\n[tunable]\n" + entry + "\n", encoding="utf-8")
    with pytest.raises(UserError) as caught:
        load_legs(str(path))
    message = str(caught.value).replace(str(tmp_path) + "/", "")
    assert message.startswith(expected), message
    assert "\n" not in message


@pytest.mark.parametrize("name", template_names())
def test_every_template_declares_tunables_the_strategy_accepts(name: str) -> None:
    strategy = resolve(name)
    assert strategy.tunables, f"{name} declares no [tunable] section"
    assert all(tunable.path.startswith(f"{name}:") for tunable in strategy.tunables)
    check_buildable(Settings(), strategy, strategy.tunables)


def test_a_param_for_a_legs_strategy_is_named_for_it_and_checked() -> None:
    strategy = resolve("short_straddle_0920")
    tunable = qualified(strategy, Tunable.parse("legs.ce.stop.pct=10:30"))
    assert tunable.path == "short_straddle_0920:legs.ce.stop.pct"
    setting = qualified(strategy, Tunable.parse("risk.daily_loss_limit_pct=1:3"))
    assert setting.path == "risk.daily_loss_limit_pct"
    with pytest.raises(UserError, match=r"no leg 'cx'"):
        check_buildable(Settings(), strategy, [qualified(strategy, Tunable.parse("legs.cx.stop.pct=10:30"))])
    assert tunables_of(strategy.plan) == strategy.tunables
