"""`optbot check`: the startup checks (config, data root, calendar, trading-day decision)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from optbot.cli.main import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OPTBOT_CONFIG", raising=False)
    monkeypatch.setenv("OPTBOT__PATHS__DATA_ROOT", str(tmp_path / "data"))


def test_trading_day_in_market_hours() -> None:
    result = runner.invoke(app, ["check", "--at", "2026-08-03T10:00:00+05:30"])
    assert result.exit_code == 0, result.output
    assert "PASS config" in result.output
    assert "2026-08-03 is an F&O trading day" in result.output
    assert "close 15:40 IST" in result.output and "trading mode" in result.output


def test_holiday_means_data_management_mode() -> None:
    result = runner.invoke(app, ["check", "--at", "2026-11-24T10:00:00+05:30"])
    assert result.exit_code == 0
    assert "not a trading day (Prakash Gurpurb" in result.output
    assert "next trading day 2026-11-25" in result.output and "data-management mode" in result.output


def test_after_the_session_is_data_management_mode() -> None:
    result = runner.invoke(app, ["check", "--at", "2026-08-03T17:00:00+05:30"])
    assert "session over: data-management mode" in result.output


def test_past_the_known_range_passes_with_a_provisional_warning() -> None:
    """§13.7: 1 January must not stop the bot; the day is a provisional session, said plainly."""
    result = runner.invoke(app, ["check", "--at", "2027-01-04T09:00+05:30"])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "WARN calendar" in output and "2027-01-04 is PROVISIONAL" in output
    assert "known range 2015-01-01..2026-12-31" in output and "optbot calendar sync" in output
    assert "PASS trading day: 2027-01-04 is an F&O trading day" in output
    assert "close 15:40" in output and "provisional" in output.split("PASS trading day")[1]


def test_a_provisional_weekend_is_data_management_mode() -> None:
    result = runner.invoke(app, ["check", "--at", "2027-01-02T10:00+05:30"])
    assert result.exit_code == 0, result.output
    assert "not a trading day (weekend); next trading day 2027-01-04" in " ".join(result.output.split())


def test_date_past_the_provisional_range_fails_the_check() -> None:
    result = runner.invoke(app, ["check", "--at", "2029-03-01T10:00:00+05:30"])
    assert result.exit_code == 1
    assert "FAIL calendar" in result.output and "OUTSIDE" in result.output


def test_bad_config_fails_the_check(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[risk]\nbogus = 1\n")
    result = runner.invoke(app, ["--config", str(path), "check", "--at", "2026-08-03T10:00:00+05:30"])
    assert result.exit_code == 1
    assert "FAIL config: risk.bogus: unknown setting" in result.output


def test_bad_at_is_a_user_error() -> None:
    from optbot.core.errors import UserError

    result = runner.invoke(app, ["check", "--at", "yesterday"])
    assert isinstance(result.exception, UserError)


def test_calendar_near_its_end_warns_but_passes() -> None:
    result = runner.invoke(app, ["check", "--at", "2026-11-24T10:00:00+05:30"])
    assert result.exit_code == 0
    assert "WARN calendar" in result.output and "37 days of coverage left" in result.output


def test_calendar_far_from_its_end_passes() -> None:
    result = runner.invoke(app, ["check", "--at", "2026-08-03T10:00:00+05:30"])
    assert "PASS calendar" in result.output and "coverage left" not in result.output


def test_checks_are_written_to_the_json_log(tmp_path: Path) -> None:
    import json

    result = runner.invoke(app, ["check", "--at", "2026-08-03T10:00:00+05:30"])
    log_file = tmp_path / "data" / "logs" / "optbot-20260803.jsonl"
    assert f"structured log: {log_file}" in result.output.replace("\n", "")
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [record["check"] for record in records] == ["config", "data root", "calendar", "trading day"]
    assert {record["status"] for record in records} == {"pass"}
    assert len({record["trace_id"] for record in records}) == 1
    assert records[0]["timestamp"] == "2026-08-03T04:30:00.000Z"


UNKNOWN_STRATEGY = "strategy.enabled: unknown strategy 'nope_strategy'"


def test_unknown_strategy_fails_check_validate_and_run_alike(tmp_path: Path) -> None:
    """`config validate` and `check` accepted a name that `run` then refused at the session's start."""
    from optbot.core.errors import UserError

    path = tmp_path / "c.toml"
    path.write_text('[strategy]\nenabled = ["adx_trend", "nope_strategy"]\n')
    checked = runner.invoke(app, ["--config", str(path), "check", "--at", "2026-08-03T10:00:00+05:30"])
    assert checked.exit_code == 1 and f"FAIL config: {UNKNOWN_STRATEGY}" in checked.output
    validated = runner.invoke(app, ["config", "validate", str(path)])
    assert validated.exit_code == 2 and UNKNOWN_STRATEGY in validated.output
    ran = runner.invoke(app, ["--config", str(path), "run", "--mode", "paper"])
    assert isinstance(ran.exception, UserError) and str(ran.exception).startswith(UNKNOWN_STRATEGY)
    path.write_text('[strategy]\nenabled = ["adx_trend", "adx_trend"]\n')
    validated = runner.invoke(app, ["config", "validate", str(path)])
    assert validated.exit_code == 2 and "strategy listed twice: adx_trend" in validated.output


def test_status_names_each_underlying_price_in_plain_text(tmp_path: Path) -> None:
    state = tmp_path / "data" / "state"
    state.mkdir(parents=True)
    document = (
        '{"running": false, "pid": 0, "mode": "paper", "phase": "trading", '
        '"engine": {"risk_state": "ACTIVE", "vix": 19.1, '
        '"underlyings": {"NIFTY": 12919.25, "BANKNIFTY": 29784.75}}}'
    )
    (state / "status.json").write_text(document, encoding="utf-8")
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert "underlyings NIFTY 12,919.25, BANKNIFTY 29,784.75" in result.output
