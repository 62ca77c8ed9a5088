from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optbot.config import ConfigError, Settings, effective_mode, load_settings
from optbot.config.settings import SECRET_KEYS
from optbot.core.enums import RunMode


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "optbot.toml"
    path.write_text(text)
    return path


def problems_of(path: Path | None = None, overrides: dict[str, object] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, overrides)
    return caught.value.problems


def test_defaults_load_and_are_paper() -> None:
    settings = load_settings()
    assert settings.mode is RunMode.PAPER
    assert settings.paths.data_root.is_absolute()  # ~ expanded even for the default


def test_file_values_apply(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "[risk]\nvix_high = 26.5\n"))
    assert settings.risk.vix_high == 26.5


def test_environment_beats_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTBOT__RISK__VIX_HIGH", "27")
    settings = load_settings(write(tmp_path, "[risk]\nvix_high = 26.5\n"))
    assert settings.risk.vix_high == 27.0


def test_environment_alone_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTBOT__SESSION__FLATTEN_BEFORE_CLOSE_MINUTES", "20")
    assert load_settings().session.flatten_before_close_minutes == 20.0


def test_bad_environment_value_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTBOT__RISK__VIX_HIGH", "very")
    assert any(problem.startswith("risk.vix_high:") for problem in problems_of())


def test_a_list_setting_from_the_environment_that_is_not_json_is_one_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It was a traceback from the environment source naming only the section `broker`."""
    monkeypatch.setenv("OPTBOT__BROKER__REGISTERED_STATIC_IPS", "127.0.0.1")
    assert problems_of() == [
        "broker.registered_static_ips: OPTBOT__BROKER__REGISTERED_STATIC_IPS must be JSON, "
        "e.g. '[\"a\", \"b\"]' (got '127.0.0.1')"
    ]
    monkeypatch.setenv("OPTBOT__BROKER__REGISTERED_STATIC_IPS", '["127.0.0.1"]')
    assert load_settings().broker.registered_static_ips == ["127.0.0.1"]


def test_unknown_keys_are_named(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, "colour = 1\n[risk]\nvix_hgih = 26\n[nosuch]\nx = 1\n"))
    assert "colour: unknown setting" in problems
    assert "risk.vix_hgih: unknown setting" in problems
    assert "nosuch: unknown setting" in problems


def test_wrong_type_is_named(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, '[session]\nflatten_before_close_minutes = "soon"\n'))
    assert len(problems) == 1 and problems[0].startswith("session.flatten_before_close_minutes:")
    assert "'soon'" in problems[0]


def test_out_of_range_is_named(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, "[session]\nflatten_before_close_minutes = -5\n"))
    assert problems[0].startswith("session.flatten_before_close_minutes:")
    assert "greater than or equal to 0" in problems[0]


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    text = '[session]\nflatten_before_close_minutes = -5\npost_market_minutes = "x"\n[risk]\nnope = 1\n'
    assert len(problems_of(write(tmp_path, text))) == 3


def test_impossible_combination(tmp_path: Path) -> None:
    text = "[strategy]\nmin_reward_risk = 3.0\ntarget_reward_risk = 1.0\n"
    problems = problems_of(write(tmp_path, text))
    assert any(problem.startswith("strategy:") and "target_reward_risk" in problem for problem in problems)


@pytest.mark.parametrize("key", sorted(SECRET_KEYS))
def test_secret_keys_in_the_file_are_refused(tmp_path: Path, key: str) -> None:
    problems = problems_of(write(tmp_path, f'[broker]\n{key} = "hunter2-value"\n'))
    assert any(problem.startswith(f"broker.{key}: secrets are not read") for problem in problems)
    assert not any("hunter2-value" in problem for problem in problems)


def test_missing_and_broken_files(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "absent.toml") == [f"{tmp_path / 'absent.toml'}: file not found"]
    assert "not valid TOML" in problems_of(write(tmp_path, "[risk\n"))[0]


@pytest.mark.parametrize(
    ("mode", "confirm", "expected"),
    [
        ("live", True, RunMode.LIVE),
        ("live", False, RunMode.PAPER),
        ("paper", True, RunMode.PAPER),
        ("paper", False, RunMode.PAPER),
        ("backtest", True, RunMode.BACKTEST),
    ],
)
def test_live_needs_config_and_confirmation(mode: str, confirm: bool, expected: RunMode) -> None:
    assert effective_mode(load_settings(overrides={"mode": mode}), confirm) is expected


def test_live_from_environment_still_needs_confirmation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTBOT__MODE", "live")
    settings = load_settings()
    assert settings.mode is RunMode.LIVE
    assert effective_mode(settings, confirm_live=False) is RunMode.PAPER


@given(st.floats(min_value=0, max_value=600, allow_nan=False))
def test_any_valid_minutes_round_trip(minutes: float) -> None:
    settings = load_settings(overrides={"session": {"flatten_before_close_minutes": minutes}})
    assert settings.session.flatten_before_close_minutes == minutes
    assert isinstance(settings, Settings)
