"""`optbot run`: live trading needs both switches — `mode = "live"` in the config file and `--confirm-live`
(README "Going live"); `--mode live` on the command line is not the config's switch."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from optbot.cli.main import app
from optbot.core.enums import RunMode
from optbot.core.errors import UserError
from optbot.engine import cli as engine_cli

runner = CliRunner()


def refusal(result: Result) -> str:
    """The one-line refusal (`optbot` prints it and exits 2: a UserError)."""
    assert isinstance(result.exception, UserError), result.output
    return str(result.exception)


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[RunMode]:
    """The modes `optbot run` would start the bot in (the bot itself is not started)."""
    monkeypatch.delenv("OPTBOT_CONFIG", raising=False)
    monkeypatch.delenv("OPTBOT__MODE", raising=False)
    monkeypatch.setenv("OPTBOT__PATHS__DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("OPTBOT__METRICS__PORT", "0")  # `run` checks its ports first: never fixed ones
    monkeypatch.setenv("OPTBOT__DASHBOARD__PORT", "0")
    modes: list[RunMode] = []

    async def fake_run_bot(settings: object, run_mode: RunMode, *rest: object) -> int:
        modes.append(run_mode)
        return 0

    monkeypatch.setattr(engine_cli, "_run_bot", fake_run_bot)
    return modes


def config(tmp_path: Path, mode: str) -> Path:
    path = tmp_path / f"{mode}.toml"
    path.write_text(f'mode = "{mode}"\n')
    return path


def test_mode_live_on_the_command_line_alone_does_not_trade_live(
    started: list[RunMode], tmp_path: Path
) -> None:
    result = runner.invoke(
        app, ["--config", str(config(tmp_path, "paper")), "run", "--mode", "live", "--confirm-live"]
    )
    assert 'needs mode = "live" in the config file (it is "paper")' in refusal(result) and started == []
    result = runner.invoke(app, ["run", "--mode", "live", "--confirm-live"])  # no config file: defaults
    assert "both switches must agree" in refusal(result) and started == []


def test_both_switches_trade_live(started: list[RunMode], tmp_path: Path) -> None:
    live = str(config(tmp_path, "live"))
    assert runner.invoke(app, ["--config", live, "run", "--mode", "live", "--confirm-live"]).exit_code == 0
    assert runner.invoke(app, ["--config", live, "run", "--confirm-live"]).exit_code == 0
    assert started == [RunMode.LIVE, RunMode.LIVE]


@pytest.mark.parametrize(
    ("mode", "arguments", "expected"),
    [
        ("live", ["run"], "--confirm-live was not given"),
        ("live", ["run", "--mode", "live"], "--confirm-live was not given"),
        ("paper", ["run", "--confirm-live"], "live needs mode"),
        ("live", ["run", "--mode", "paper", "--confirm-live"], "live needs mode"),
    ],
)
def test_one_switch_alone_refuses_to_start(
    started: list[RunMode], tmp_path: Path, mode: str, arguments: list[str], expected: str
) -> None:
    result = runner.invoke(app, ["--config", str(config(tmp_path, mode)), *arguments])
    assert expected in refusal(result) and started == []


def test_paper_needs_no_confirmation(started: list[RunMode], tmp_path: Path) -> None:
    assert runner.invoke(app, ["run"]).exit_code == 0
    assert (
        runner.invoke(app, ["--config", str(config(tmp_path, "live")), "run", "--mode", "paper"]).exit_code
        == 0
    )
    assert started == [RunMode.PAPER, RunMode.PAPER]
