"""A usage error of any command (bad value, unknown or missing option, unknown command, extra
argument) is one `error ...` line on stderr naming what was wrong, exit code 2: the form every other
refused input has, not typer's usage block and boxed panel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optbot.cli.main import app, run

SRC = Path(__file__).resolve().parents[2] / "src"

DAYS = ["--from", "2022-11-01", "--to", "2022-11-02"]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A data root of the test's own: nothing a refused command might touch is the user's."""
    monkeypatch.delenv("OPTBOT_CONFIG", raising=False)
    monkeypatch.setenv("OPTBOT__PATHS__DATA_ROOT", str(tmp_path / "root"))


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["backtest", "--workers", "0", *DAYS],
            "error --workers: Input should be greater than or equal to 1, got '0'",
        ),
        (["backtest", "--workers", "two", *DAYS], "error --workers: Input should be a valid integer"),
        (["backtest", "--from", "2022-11-01"], "error Missing option '--to'."),
        (["backtest", *DAYS, "--workers"], "error Option '--workers' requires an argument."),
        (
            ["research", "walkforward", "--strategy", "orb", *DAYS, "--step", "x"],
            "error --step: Input should be a valid integer",
        ),
        (
            ["data", "gaps", "--limit", "-1"],
            "error --limit: Input should be greater than or equal to 1, got '-1'",
        ),
        (["instruments", "search", "NIFTY", "--limit", "0"], "error --limit: Input should be greater than"),
        (
            ["notify", "test", "--priority", "urgent"],
            "error --priority: 'urgent' is not one of 'critical', 'important', 'info'.",
        ),
        (
            ["research", "montecarlo", "--strategy", "gap_fill", *DAYS, "--paths", "0"],
            "error --paths: Input should be greater than or equal to 1, got '0'",
        ),
        (
            ["research", "optimise", "--strategy", "adx_trend", *DAYS, "--max-drawdown", "-5"],
            "error --max-drawdown: Input should be greater than or equal to 0, got '-5'",
        ),
        (["calendar", "session"], "error Missing argument 'day'."),
        (["auth", "login", "extra"], "error Got unexpected extra argument(s) (extra)"),
        (["status", "--bogus"], "error No such option: --bogus"),
        (["--bogus"], "error No such option: --bogus"),
        (["calendr"], "error No such command 'calendr'. Did you mean 'calendar'?"),
    ],
)
def test_a_usage_error_is_one_line_naming_what_was_wrong(args: list[str], line: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(line), result.stderr


def test_help_and_a_group_without_a_subcommand_still_show_the_help() -> None:
    top = CliRunner().invoke(app, ["--help"])
    assert top.exit_code == 0 and "Usage:" in top.stdout and "backtest" in top.stdout
    command = CliRunner().invoke(app, ["backtest", "--help"])
    assert command.exit_code == 0 and "--workers" in command.stdout
    group = CliRunner().invoke(app, ["data"])  # no_args_is_help: the help, exit 2 as click has it
    assert group.exit_code == 2 and "Usage:" in group.stdout and "import" in group.stdout
    assert group.stderr == ""


GROUPS = ("config", "calendar", "auth", "sim", "instruments", "data", "strategy", "research", "risk")


@pytest.mark.parametrize("group", [*GROUPS, "report", "audit", "notify"])
def test_every_group_without_a_subcommand_shows_its_help(group: str) -> None:
    """`optbot research` alone printed only `Error Missing command.`; every group lists its commands."""
    result = CliRunner().invoke(app, [group])
    assert result.exit_code == 2, result.output
    assert f"Usage: optbot {group}" in " ".join(result.stdout.split()) and "Commands" in result.stdout
    assert result.stderr == ""


def test_a_refusal_prints_brackets_in_the_value_as_given(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The error line is not read as Rich markup: `[bold]` in a value used to vanish from it."""
    monkeypatch.setattr(sys, "argv", ["optbot", "backtest", "--from", "[bold]x", "--to", "2024-01-02"])
    with pytest.raises(SystemExit) as exited:
        run()
    assert exited.value.code == 2
    assert capsys.readouterr().err == "error --from: not an ISO date (YYYY-MM-DD): '[bold]x'\n"


def test_the_installed_entry_point_answers_a_usage_error_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "optbot.cli.main", "backtest", "--workers", "0", *DAYS],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "OPTBOT__PATHS__DATA_ROOT": str(tmp_path / "root")},
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == "error --workers: Input should be greater than or equal to 1, got '0'\n"
    assert done.stdout == ""
