"""Commands that read the bundled sample work from any directory, and `--out` names a file or a folder.

Run as a user would: a shell somewhere else (the current directory is a scratch folder), no config
file, the default data root empty, so the sample store is what `optbot strategy payoff` and
`optbot backtest` read.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from optbot.backtest import payoff
from optbot.cli.main import app
from optbot.core.errors import UserError

AT = "2022-11-09T10:30"


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("OPTBOT_CONFIG", raising=False)
    monkeypatch.delenv("OPTBOT__REPLAY__DATA_DIR", raising=False)
    monkeypatch.setenv("OPTBOT__PATHS__DATA_ROOT", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(payoff, "_render_png", lambda _html, _png: False)  # no browser needed
    return tmp_path


def _invoke(args: list[str]) -> Result:
    return CliRunner().invoke(app, args)


def _refusal(result: Result) -> str:
    """The one line `optbot` prints (exit 2) for a UserError the command raised."""
    assert isinstance(result.exception, UserError), result.output
    return str(result.exception)


def test_payoff_outside_the_project_writes_the_named_file(elsewhere: Path) -> None:
    result = _invoke(["strategy", "payoff", "iron_condor", "--at", AT, "--out", "chart.html"])
    assert result.exit_code == 0, result.output
    assert "iron_condor at 2022-11-09 10:30 IST" in result.output
    assert (elsewhere / "chart.html").is_file()
    assert not (elsewhere / "chart.html").is_dir()


def test_payoff_into_a_folder_gets_the_default_name(elsewhere: Path) -> None:
    (elsewhere / "charts").mkdir()
    result = _invoke(["strategy", "payoff", "iron_condor", "--at", AT, "--out", "charts"])
    assert result.exit_code == 0, result.output
    written = [path.name for path in (elsewhere / "charts").iterdir()]
    assert written == ["payoff-iron_condor-20221109-1030.html"]


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("nowhere/chart.png", "the folder nowhere does not exist"),
        ("chart.pdf", "must end in .html or .png"),
        ("chart.png", "a PNG needs headless Chromium"),
    ],
)
def test_payoff_bad_out_is_one_line_and_exit_2(elsewhere: Path, out: str, message: str) -> None:
    result = _invoke(["strategy", "payoff", "iron_condor", "--at", AT, "--out", out])
    assert message in _refusal(result)
    assert not (elsewhere / "nowhere").exists()


def test_payoff_on_a_holiday_names_it(elsewhere: Path) -> None:
    refusal = _refusal(_invoke(["strategy", "payoff", "iron_condor", "--at", "2022-11-08T10:30"]))
    assert "2022-11-08 is not a trading day" in refusal
    assert "the next one is 2022-11-09" in refusal


def test_backtest_outside_the_project_writes_the_named_report(elsewhere: Path) -> None:
    args = ["backtest", "--from", "2022-11-01", "--to", "2022-11-01", "--underlying", "NIFTY"]
    args += ["--strategy", "iron_condor", "--require-real-options", "--workers", "1", "--out", "run.html"]
    result = _invoke(args)
    assert result.exit_code == 0, result.output
    assert "closed trade(s)" in result.output
    assert (elsewhere / "run.html").is_file() and (elsewhere / "run.json").is_file()
    refusal = _refusal(_invoke([*args[:-1], "gone/run.json"]))
    assert "--out gone/run.json: the folder gone does not exist" in refusal
