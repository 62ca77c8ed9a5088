"""`optbot research stress | shock | regimes` on real sample data, and the market context of tearsheets."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from optbot.cli.main import app
from optbot.config import Settings
from optbot.core.errors import UserError
from optbot.research.cli_checks import _choose_windows, _run_window, _window_row
from optbot.research.evaluate import BacktestEvaluator, with_market
from optbot.research.market import IndexDaily
from optbot.research.stress import StressWindow
from optbot.research.tearsheet import TearsheetInput, TradeRow
from tests.conftest import SAMPLE_STORE


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPTBOT_CONFIG", raising=False)
    monkeypatch.setenv("OPTBOT__PATHS__DATA_ROOT", str(tmp_path / "root"))


def test_benchmark_follows_the_equity_dates_with_nifty_closes() -> None:
    daily = IndexDaily.load(SAMPLE_STORE)
    equity = [("2024-06-03T10:00:00+00:00", 1e6), ("2024-06-04T10:00:00+00:00", 1.01e6)]
    benchmark = daily.benchmark(equity)
    assert [stamp for stamp, _ in benchmark] == [stamp for stamp, _ in equity]
    assert [close for _, close in benchmark] == [
        daily.nifty[date(2024, 6, 3)].close,
        daily.nifty[date(2024, 6, 4)].close,
    ]
    assert daily.nifty[date(2024, 6, 4)].close < daily.nifty[date(2024, 6, 3)].close  # the results-day fall


def test_with_market_adds_the_benchmark_and_the_three_splits() -> None:
    trade = TradeRow(
        "NIFTY06JUN2422500CE",
        "BUY",
        75,
        "2024-06-04T04:00:00+00:00",
        "2024-06-04T06:00:00+00:00",
        100.0,
        80.0,
        40.0,
        -1540.0,
        "stop",
        "adx_trend",
        "",
    )
    sheet = TearsheetInput("t", "s", 1e6, [("2024-06-04T10:00:00+00:00", 998_460.0)], [trade])
    enriched = with_market(sheet, IndexDaily.load(SAMPLE_STORE), Settings())
    assert len(enriched.benchmark) == 1
    titles = [section.title for section in enriched.tables]
    assert titles == [
        "Trades by §10.1 regime of the day (judged on NIFTY)",
        "Trades by days to expiry at entry",
        "Trades by entry weekday",
    ]
    weekday = enriched.tables[2].rows
    assert weekday == [{"group": "Tue", "trades": 1, "net P&L ₹": "-1,540.00", "win rate": "0.0%"}]
    assert enriched.tables[1].rows[0]["group"] == "2 days"


def test_windows_by_name_unknown_names_refused_and_windows_without_data_skipped() -> None:
    daily = IndexDaily.load(SAMPLE_STORE)
    chosen = _choose_windows(["covid crash"], daily, 3)
    assert [w.name for w in chosen] == ["COVID crash"]
    assert len(_choose_windows(["all"], daily, 3)) == len(_choose_windows([], daily, 3)) >= 14
    with pytest.raises(UserError, match="--windows: unknown window"):
        _choose_windows(["Brexit"], daily, 3)
    before_data = StressWindow("2008 crash", date(2008, 10, 1), date(2008, 10, 31))
    run = _run_window(BacktestEvaluator("adx_trend", SAMPLE_STORE), Settings(), daily, before_data)
    assert run.outcome is None and run.skipped is not None and "no NIFTY daily bars" in run.skipped
    row = _window_row(run)  # the reason goes in the note, not under a number's heading
    assert (
        row["sessions"] == "skipped"
        and row["max drawdown"] == ""
        and "no NIFTY daily bars" in str(row["note"])
    )
    assert row["dates"] == "2008-10-01…2008-10-31"


def test_shock_command_prints_every_shock_and_writes_a_tearsheet(tmp_path: Path) -> None:
    positions = tmp_path / "positions.json"
    positions.write_bytes(
        orjson.dumps(
            [
                {"symbol": "NIFTY06JUN2422500CE", "quantity": -75, "price": 180.0},
                {"symbol": "NIFTY06JUN2422000PE", "quantity": 75, "price": 95.5},
            ]
        )
    )
    args = ["research", "shock", "--positions", str(positions), "--spot", "NIFTY=22300"]
    args += ["--at", "2024-06-03T11:00+05:30", "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    spot_down = next(line for line in lines if line.startswith("spot -5 % "))
    spot_up = next(line for line in lines if line.startswith("spot +5 % "))
    # short call + long put: a fall pays, a rise costs
    assert float(spot_down.split()[3].replace(",", "")) > 0 > float(spot_up.split()[3].replace(",", ""))
    assert any("implied vol" in line for line in lines)
    page = (tmp_path / "out" / "tearsheet.html").read_text(encoding="utf-8")
    assert "P&amp;L under each shock" in page and "one day of decay" in page


def test_shock_command_refuses_bad_input_with_one_line(tmp_path: Path) -> None:
    args = ["research", "shock", "--spot", "NIFTY=22300", "--at", "2024-06-03T11:00+05:30"]
    neither = CliRunner().invoke(app, args)
    assert isinstance(neither.exception, UserError) and "--positions" in str(neither.exception)
    no_state = CliRunner().invoke(app, [*args, "--state"])
    assert isinstance(no_state.exception, UserError) and "no state database" in str(no_state.exception)
    bad = tmp_path / "bad.json"
    bad.write_text('[{"symbol": "NIFTY", "quantity": 1, "price": 1}]', encoding="utf-8")
    wrong = CliRunner().invoke(app, [*args, "--positions", str(bad)])
    assert isinstance(wrong.exception, UserError) and "not an option trading symbol" in str(wrong.exception)


def test_regimes_command_on_a_sample_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTBOT__STRATEGY__ENTRY_TIMEFRAME", "15m")  # the sample day has 15-minute bars
    args = ["research", "regimes", "--strategy", "adx_trend", "--from", "2024-06-04", "--to", "2024-06-04"]
    result = CliRunner().invoke(app, [*args, "--data", str(SAMPLE_STORE), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    for title in ("§10.1 regime", "days to expiry", "weekday"):
        assert title in result.output
    page = (tmp_path / "out" / "tearsheet.html").read_text(encoding="utf-8")
    assert "NIFTY buy &amp; hold" in page or "NIFTY buy & hold" in page


def test_stress_refuses_an_unknown_strategy_before_any_window(tmp_path: Path) -> None:
    """Each window's refusal is reported as that window skipped; an unknown strategy name used to
    come out as a table of skipped windows, a tearsheet and exit 0."""
    out = tmp_path / "out"
    args = ["research", "stress", "--strategy", "no_such_strategy", "--data", str(SAMPLE_STORE)]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert isinstance(result.exception, UserError), result.output
    assert str(result.exception).startswith("--strategy 'no_such_strategy': unknown strategy")
    assert not out.exists()
