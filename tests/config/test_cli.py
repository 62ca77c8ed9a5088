from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optbot.cli.main import app
from optbot.config import Settings, load_settings
from optbot.config.cli import example_toml, masked, render_toml, toml_value

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "optbot.example.toml"
runner = CliRunner()


def test_committed_example_is_the_generator_output() -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == example_toml(), (
        "config/optbot.example.toml is stale: run `optbot config example > config/optbot.example.toml`"
    )


def test_example_loads_to_the_defaults() -> None:
    assert load_settings(EXAMPLE).model_dump(mode="json") == Settings().model_dump(mode="json")


def test_example_documents_every_described_field() -> None:
    text = example_toml()
    for name, field in Settings.model_fields["risk"].annotation.model_fields.items():  # type: ignore[union-attr]
        assert f"\n{name} = " in text or f"# {name} =" in text
        if field.description:
            assert field.description.splitlines()[0] in text


def test_validate_ok(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text('mode = "paper"\n[risk]\nvix_high = 26.0\n')
    result = runner.invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 0 and result.output.startswith("OK")


def test_validate_live_mentions_confirmation(tmp_path: Path) -> None:
    path = tmp_path / "live.toml"
    path.write_text('mode = "live"\n')
    result = runner.invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 0 and "--confirm-live" in result.output


def test_validate_lists_every_error_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[risk]\nvix_low = "abc"\nbogus = 1\n[broker]\napi_key = "k-secret-123"\n')
    result = runner.invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert "risk.bogus: unknown setting" in lines
    assert any(line.startswith("risk.vix_low: ") for line in lines)
    assert any(line.startswith("broker.api_key: secrets are not read") for line in lines)
    assert "k-secret-123" not in result.output and "Traceback" not in result.output


def test_show_toml_marks_environment_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTBOT__RISK__VIX_HIGH", "26")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert "vix_high = 26.0  # from environment OPTBOT__RISK__VIX_HIGH" in result.output
    parsed = tomllib.loads(result.output)
    assert parsed["risk"]["vix_high"] == 26.0


def test_show_json_uses_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[session]\nflatten_before_close_minutes = 25.0\n")
    result = runner.invoke(app, ["--config", str(path), "config", "show", "--format", "json"])
    payload = json.loads(result.output)
    assert payload["config_file"] == str(path)
    assert payload["settings"]["session"]["flatten_before_close_minutes"] == 25.0
    assert payload["from_env"] == {}


def test_show_with_a_bad_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[session]\nnope = 1\n")
    result = runner.invoke(app, ["--config", str(path), "config", "show"])
    assert result.exit_code == 2 and "session.nope: unknown setting" in result.output


def test_show_rejects_unknown_format() -> None:
    assert runner.invoke(app, ["config", "show", "--format", "yaml"]).exit_code == 2


def test_masking() -> None:
    data = {"dashboard": {"viewer_token": "abcd1234", "max_tokens_per_connection": 1000}, "pin": "1234"}
    assert masked(data) == {
        "dashboard": {"viewer_token": "***", "max_tokens_per_connection": 1000},
        "pin": "***",
    }


def test_toml_writer_round_trips() -> None:
    data = {
        "a": 1,
        "b": 'x"y\\z',
        "c": [1.5, 2.0],
        "d": {"e": True, "weird key": {"f": -3}},
        "g": float("inf"),
    }
    assert tomllib.loads("\n".join(render_toml(data))) == data
    assert toml_value({"x": 1}) == "{ x = 1 }"


def test_validate_checks_the_calendar_override_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[paths]\ndata_root = "{tmp_path}"\n[calendar]\noverrides_file = "missing.toml"\n')
    result = runner.invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 2
    assert "calendar.overrides_file: calendar override file not found" in result.output
    (tmp_path / "broken.toml").write_text('version = "x"\n')
    path.write_text(f'[paths]\ndata_root = "{tmp_path}"\n[calendar]\noverrides_file = "broken.toml"\n')
    result = runner.invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 2 and "first_date" in result.output
