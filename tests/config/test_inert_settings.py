"""A setting with no effect that a config tunes is reported at load, not silently ignored."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from optbot.config import load_settings
from optbot.config.settings import INERT_SETTINGS


def no_effect_warnings(tmp_path: Path, caplog: pytest.LogCaptureFixture, toml: str) -> list[str]:
    path = tmp_path / "optbot.toml"
    path.write_text(toml)
    caplog.set_level(logging.WARNING, logger="optbot.config.settings")
    load_settings(path)
    return [record.getMessage() for record in caplog.records if "has no effect" in record.getMessage()]


def test_a_tuned_inert_setting_gets_one_warning_naming_it_and_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    warnings = no_effect_warnings(tmp_path, caplog, "[data]\nraw_tick_retention_days = 5\n")
    reason = INERT_SETTINGS[("data", "raw_tick_retention_days")]
    assert warnings == [f"config: data.raw_tick_retention_days has no effect ({reason})"]


def test_an_inert_setting_left_at_its_default_is_not_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    default = load_settings(None).universe.option_exchange
    toml = f'[universe]\noption_exchange = "{default}"\n[execution]\nallow_market_orders = false\n'
    assert no_effect_warnings(tmp_path, caplog, toml) == []


def test_every_inert_setting_is_a_real_setting() -> None:
    settings = load_settings(None)
    for section, key in INERT_SETTINGS:
        assert hasattr(getattr(settings, section), key), f"{section}.{key}"
