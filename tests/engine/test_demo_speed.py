"""`optbot demo` replays at engine.demo_speed unless --speed is given."""

from __future__ import annotations

from optbot.config import Settings
from optbot.config.sections.engine import EngineSettings
from optbot.engine.cli import demo_replay_speed, describe_speed


def test_the_configured_speed_is_used_without_the_option() -> None:
    assert demo_replay_speed(None, Settings()) == 3000.0  # the speed the demo always ran at
    configured = Settings(engine=EngineSettings(demo_speed=250.0))
    assert demo_replay_speed(None, configured) == 250.0


def test_the_option_wins_over_the_setting() -> None:
    configured = Settings(engine=EngineSettings(demo_speed=250.0))
    assert demo_replay_speed(40.0, configured) == 40.0


def test_zero_is_described_as_unpaced() -> None:
    assert describe_speed(0.0) == "as fast as the machine allows"
    assert describe_speed(3000.0) == "at 3000x"
