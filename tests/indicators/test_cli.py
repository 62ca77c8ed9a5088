"""`optbot indicators`: reference numbers on the sample files, formats, and clean exit-2 errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import talib
import typer
from typer.testing import CliRunner

from optbot.indicators.cli import register
from optbot.test_kit.indicators import NIFTY_1MIN_YAHOO, NIFTY_DAILY_MERGED, NIFTY_DAILY_YAHOO, load_sample

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Group mode, as in the real `optbot` app."""

    register(app)
    return app


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPTBOT_CONFIG", raising=False)


def test_adx_csv_matches_talib_after_warmup() -> None:
    result = runner.invoke(
        _app(), ["indicators", str(NIFTY_DAILY_MERGED), "--indicator", "adx", "--period", "14"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == "date,value,plus_di,minus_di"
    bars = load_sample(NIFTY_DAILY_MERGED)
    assert len(lines) - 1 == len(bars) - 27  # ADX starts at bar 2N-1
    reference = talib.ADX(bars.high, bars.low, bars.close, 14)
    last_date, last_value, *_ = lines[-1].split(",")
    assert last_date == bars.dates[-1]
    assert float(last_value) == pytest.approx(reference[-1], abs=1e-6)


def test_rsi_json_on_yahoo_column_order() -> None:
    result = runner.invoke(_app(), ["indicators", str(NIFTY_DAILY_YAHOO), "-i", "rsi", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    bars = load_sample(NIFTY_DAILY_YAHOO)
    reference = talib.RSI(bars.close, 14)
    assert rows[0]["date"] == bars.dates[14]
    assert np.allclose([row["value"] for row in rows], reference[14:], atol=1e-9)


@pytest.mark.parametrize(
    ("name", "columns"), [("bollinger", 4), ("hv", 2), ("vwap", 2), ("atr", 2), ("ema", 2)]
)
def test_other_indicators_print_rows(name: str, columns: int) -> None:
    result = runner.invoke(_app(), ["indicators", str(NIFTY_1MIN_YAHOO), "-i", name])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) > 1000
    assert all(len(line.split(",")) == columns for line in lines)


def test_bad_inputs_exit_2_with_message(tmp_path: Path) -> None:
    missing = runner.invoke(_app(), ["indicators", str(tmp_path / "nope.csv"), "-i", "rsi"])
    assert missing.exit_code == 2 and "file not found" in missing.output
    no_columns = tmp_path / "bad.csv"
    no_columns.write_text("date,price\n2024-01-01,5\n")
    result = runner.invoke(_app(), ["indicators", str(no_columns), "-i", "rsi"])
    assert result.exit_code == 2 and "missing column(s) open, high, low, close" in result.output
    garbage = tmp_path / "garbage.csv"
    garbage.write_text("date,open,high,low,close\n2024-01-01,1,2,0.5,x\n")
    result = runner.invoke(_app(), ["indicators", str(garbage), "-i", "rsi"])
    assert result.exit_code == 2 and "line 2" in result.output and "'close'" in result.output
    result = runner.invoke(_app(), ["indicators", str(NIFTY_DAILY_MERGED), "-i", "hv", "--period", "1"])
    assert result.exit_code == 2 and "--period" in result.output
    chain = (
        Path(NIFTY_DAILY_MERGED).parents[1] / "options" / "nifty_options_eod_2024-05-21_exp_2024-05-23.csv"
    )
    result = runner.invoke(_app(), ["indicators", str(chain), "-i", "rsi"])
    assert result.exit_code == 2 and "increasing time order" in result.output
    assert "Traceback" not in result.output


def test_session_date_uses_ist_for_aware_timestamps() -> None:
    from optbot.indicators.cli import session_date

    assert session_date("2025-09-04 03:45:00+00:00") == "2025-09-04"
    assert session_date("2025-09-04T20:00:00Z") == "2025-09-05"  # 01:30 IST next day
    assert session_date("2015-01-09 09:15:00") == "2015-01-09"
    assert session_date("2016-09-15") == "2016-09-15"
