from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optbot.cli.main import app

runner = CliRunner()
NSE_DAILY = "daily/nifty50_daily_nse_2016-09-15_to_2021-09-13.csv"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTBOT__PATHS__DATA_ROOT", str(tmp_path))
    monkeypatch.delenv("OPTBOT_CONFIG", raising=False)


def test_list_shows_builtins() -> None:
    result = runner.invoke(app, ["strategy", "list"])
    assert result.exit_code == 0
    for name in ("adx_trend", "momentum", "gap_fill", "adaptive"):
        assert name in result.output
    assert "(SELL CE ATM+3, BUY CE ATM+6, SELL PE ATM-3, BUY PE ATM-6)" in result.output  # iron_condor's legs


def test_categorise_covid_crash_json(sample_data: Path) -> None:
    result = runner.invoke(
        app,
        ["strategy", "categorise", str(sample_data / NSE_DAILY), "--as-of", "2020-03-20", "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["category"] == 2 and payload["as_of"] == "2020-03-20"
    assert payload["adx"] > 25 and payload["minus_di"] > payload["plus_di"]
    assert payload["volume_ratio"] is not None and "category 2 buy PE" in payload["reason"]


def test_categorise_text_with_vix(sample_data: Path) -> None:
    result = runner.invoke(app, ["strategy", "categorise", str(sample_data / NSE_DAILY), "--vix", "13"])
    assert result.exit_code == 0
    assert "as of 2021-09-13: category" in result.output and "low volatility" in result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--as-of", "soon"], "--as-of must be a date"),
        (["--format", "xml"], "--format must be text or json"),
        (["--vix", "-1"], "--vix must be positive"),
        (["--as-of", "2000-01-01"], "no rows on or before"),
    ],
)
def test_bad_input_exits_2(sample_data: Path, extra: list[str], message: str) -> None:
    result = runner.invoke(app, ["strategy", "categorise", str(sample_data / NSE_DAILY), *extra])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_missing_file_is_user_error(tmp_path: Path) -> None:
    from optbot.core.errors import UserError

    result = runner.invoke(app, ["strategy", "categorise", str(tmp_path / "none.csv")])
    assert isinstance(result.exception, UserError) and "file not found" in str(result.exception)
