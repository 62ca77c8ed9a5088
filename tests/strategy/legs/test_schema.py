"""A bad legs file is refused in one line naming the file, the line, the field and what is allowed."""

from __future__ import annotations

import pytest

from optbot.core.errors import UserError
from optbot.strategy.legs import parse_strategy_text

GOOD = """\
[strategy]
name = "demo"
underlying = "NIFTY"

[entry]
time = 09:20:00

[[legs]]
id = "ce"
option = "CE"
side = "SELL"
strike = { mode = "atm" }

[[legs]]
id = "pe"
option = "PE"
side = "SELL"
strike = { mode = "atm" }
stop = { pct = 25 }
"""


def refusal(text: str) -> str:
    with pytest.raises(UserError) as caught:
        parse_strategy_text(text, "demo.toml")
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_good_file_parses() -> None:
    plan = parse_strategy_text(GOOD, "demo.toml")
    assert [leg.id for leg in plan.legs] == ["ce", "pe"] and plan.legs[1].stop is not None


def test_a_wrong_choice_names_line_field_and_allowed_values() -> None:
    message = refusal(GOOD.replace('option = "PE"', 'option = "PX"'))
    assert message == "demo.toml:16: legs.1.option: must be one of 'CE' or 'PE' (got 'PX')"


def test_an_unknown_field_is_refused_not_ignored() -> None:
    message = refusal(
        GOOD.replace(
            'side = "SELL"\nstrike = { mode = "atm" }\nstop',
            'side = "SELL"\nstrik = 1\nstrike = { mode = "atm" }\nstop',
        )
    )
    assert message.startswith("demo.toml:18: legs.1.strik: unknown field")


def test_a_level_needs_exactly_one_distance() -> None:
    message = refusal(GOOD.replace("stop = { pct = 25 }", "stop = { pct = 25, points = 10 }"))
    assert "legs.1.stop" in message and "exactly one of points, pct, underlying_points" in message


def test_missing_section_and_bad_toml() -> None:
    assert "entry: required field missing" in refusal(GOOD.replace("[entry]\ntime = 09:20:00\n", ""))
    assert refusal("[strategy\n").startswith("demo.toml: not valid TOML")


def test_repeated_leg_ids_are_refused() -> None:
    assert "leg ids must be unique, repeated: ce" in refusal(GOOD.replace('id = "pe"', 'id = "ce"'))
