"""Research commands check `--out` before running anything: a folder, under a parent that exists."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from optbot.cli.main import app
from optbot.core.errors import UserError

DAYS = ["--from", "2022-11-01", "--to", "2022-11-04"]


@pytest.mark.parametrize(
    ("command", "out", "message"),
    [
        (["research", "regimes", *DAYS], "r.html", "give a folder"),
        (["research", "stress"], "missing/stress", "the folder"),
        (["research", "montecarlo", *DAYS], "mc.json", "give a folder"),
    ],
)
def test_a_bad_out_is_refused_up_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], out: str, message: str
) -> None:
    monkeypatch.setenv("OPTBOT__PATHS__DATA_ROOT", str(tmp_path / "home"))
    result = CliRunner().invoke(app, [*command, "--out", str(tmp_path / out)])
    assert isinstance(result.exception, UserError), result.output
    assert message in str(result.exception)
    assert not (tmp_path / "home").exists()  # nothing ran, nothing was written


def test_tearsheet_out_names_the_file_or_a_folder(tmp_path: Path) -> None:
    report = tmp_path / "backtest-x.json"
    report.write_text("{}")
    out = str(tmp_path / "no" / "t.html")
    result = CliRunner().invoke(app, ["research", "tearsheet", str(report), "--out", out])
    assert isinstance(result.exception, UserError)
    assert "the folder" in str(result.exception) and "does not exist" in str(result.exception)


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["optimise", "--strategy", "nope", *DAYS], "unknown strategy 'nope'"),
        (
            ["walkforward", "--strategy", "nope", "--from", "2022-01-01", "--to", "2022-12-31"],
            "unknown strategy",
        ),
        (["cv", "--strategy", "nope", *DAYS], "unknown strategy 'nope'"),
        (["optimise", "--strategy", "short_straddle_0920", "--objective", "foo +", *DAYS], "not a valid"),
    ],
)
def test_a_refused_study_makes_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], message: str
) -> None:
    """An unknown strategy used to leave an empty reports/research/nope-FROM-TO folder behind."""
    monkeypatch.setenv("OPTBOT__PATHS__DATA_ROOT", str(tmp_path / "home"))
    result = CliRunner().invoke(app, ["research", *command, "--trials", "1"])
    assert isinstance(result.exception, UserError), result.output
    assert message in str(result.exception)
    assert not (tmp_path / "home" / "reports" / "research").exists()
