"""Deprecated keys keep old configs loading: one warning naming the replacement, value carried over."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from optbot.config import ConfigError, load_settings
from optbot.config.cli import example_toml
from optbot.config.settings import DEPRECATED_ALIASES


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "optbot.toml"
    path.write_text(text)
    return path


def alias_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if "deprecated" in record.getMessage()]


def test_strikes_around_atm_sets_the_engine_window_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="optbot.config.settings")
    settings = load_settings(write(tmp_path, "[instruments]\nstrikes_around_atm = 9\n"))
    assert settings.engine.atm_strike_window == 9
    assert alias_warnings(caplog) == [
        "config: instruments.strikes_around_atm is deprecated, use engine.atm_strike_window "
        "(its value is applied there)"
    ]


def test_instruments_min_open_interest_sets_the_entry_checklist_minimum(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="optbot.config.settings")
    settings = load_settings(write(tmp_path, "[instruments]\nmin_open_interest = 2500\n"))
    assert settings.strategy.min_open_interest == 2500
    assert alias_warnings(caplog) == [
        "config: instruments.min_open_interest is deprecated, use strategy.min_open_interest "
        "(its value is applied there)"
    ]


def test_subscription_token_limit_sets_the_feed_tokens_per_connection(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "[instruments]\nsubscription_token_limit = 400\n"))
    assert settings.broker.max_tokens_per_connection == 400


def test_an_alias_value_the_replacement_refuses_is_reported_under_the_replacement(tmp_path: Path) -> None:
    """More than 1000 tokens per socket is refused by the broker (reference §5): said, not dropped."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "[instruments]\nsubscription_token_limit = 2000\n"))
    assert any(problem.startswith("broker.max_tokens_per_connection:") for problem in caught.value.problems)


def test_the_replacement_wins_when_both_are_set(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="optbot.config.settings")
    text = "[instruments]\nstrikes_around_atm = 9\n[engine]\natm_strike_window = 4\n"
    settings = load_settings(write(tmp_path, text))
    assert settings.engine.atm_strike_window == 4
    (message,) = alias_warnings(caplog)
    assert "ignored: engine.atm_strike_window is set too" in message


def test_the_alias_from_the_environment_is_applied(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="optbot.config.settings")
    monkeypatch.setenv("OPTBOT__INSTRUMENTS__STRIKES_AROUND_ATM", "7")
    assert load_settings().engine.atm_strike_window == 7
    assert len(alias_warnings(caplog)) == 1


def test_assigning_after_load_does_not_repeat_the_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="optbot.config.settings")
    settings = load_settings(write(tmp_path, "[instruments]\nstrikes_around_atm = 9\n"))
    settings.mode = settings.mode  # re-validates the root model
    assert len(alias_warnings(caplog)) == 1


def test_a_config_without_aliases_loads_silently_at_the_default_window(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="optbot.config.settings")
    settings = load_settings()
    assert settings.engine.atm_strike_window == 6
    assert settings.strategy.min_open_interest == 1000
    assert settings.broker.max_tokens_per_connection == 1000
    assert alias_warnings(caplog) == []


def test_the_example_leaves_every_deprecated_key_unset() -> None:
    """Copying the example must not produce deprecation warnings."""
    text = example_toml()
    for _section, key in DEPRECATED_ALIASES:
        assert f"# {key} =   (unset)" in text
