"""`run_backtest` and `optbot backtest` on the real engine: determinism, report contents, refusals.

The replayed session (see conftest.py) is shared by the tests that only read its outcome.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from optbot.backtest.runner import BacktestOutcome, in_market_by_day, run_backtest
from optbot.cli.main import app
from optbot.core.enums import Exchange, Side
from optbot.core.errors import UserError
from optbot.persistence.records import FillRecord
from optbot.portfolio.trades import closed_trades
from tests.backtest.conftest import DAY, PROGRESS, PROGRESS_EQUITY, make_settings
from tests.conftest import SAMPLE_STORE

SRC = Path(__file__).resolve().parents[2] / "src"

METRICS = (
    "total_return",
    "annualised_return",
    "volatility",
    "max_drawdown",
    "sharpe",
    "sortino",
    "win_rate",
    "profit_factor",
    "average_trade",
    "exposure",
)


def test_the_strategy_traded_and_the_books_add_up(outcome: BacktestOutcome) -> None:
    result = outcome.result
    assert [day.day for day in outcome.days] == [DAY]
    assert len(outcome.fills) >= 2 and len(result.trades) >= 1
    assert outcome.intents == len(outcome.intent_log) >= 2
    net_trades = sum(trade.net_pnl for trade in result.trades)
    # Flat at the end of the day: equity moves by exactly the round trips' net P&L (after charges).
    assert outcome.net_pnl == pytest.approx(net_trades, abs=0.01)
    assert outcome.charges == pytest.approx(sum(trade.charges for trade in result.trades), abs=0.01)
    assert all(trade.charges > 0 for trade in result.trades)
    for trade in result.trades:
        assert trade.entry_time < trade.exit_time


def test_progress_is_reported_after_each_session(outcome: BacktestOutcome) -> None:
    assert PROGRESS == [(DAY, 1, 1)]
    assert [day.day for day in outcome.days] == [DAY]
    # the progress line's equity is the report's (initial capital + the fills' cash + held value)
    assert PROGRESS_EQUITY == [day.equity for day in outcome.days]
    assert PROGRESS_EQUITY[0] == pytest.approx(outcome.result.initial_capital + outcome.net_pnl, abs=0.01)


def test_report_has_the_metrics_equity_trades_and_the_synthetic_note(outcome: BacktestOutcome) -> None:
    data = orjson.loads(outcome.files.json_path.read_bytes())
    for name in (*METRICS, "net_pnl", "charges", "trades", "final_equity"):
        assert name in data["metrics"], name
    assert data["metrics"]["trades"] == len(outcome.result.trades)
    assert data["metrics"]["net_pnl"] == outcome.net_pnl
    assert len(data["series"]["equity"]) == 2 and len(data["series"]["drawdown"]) == 2
    assert data["tables"]["trades"] and all(row["prices"] == "synthetic" for row in data["tables"]["trades"])
    assert data["tables"]["days"][0]["day"] == DAY.isoformat()
    assert data["tables"]["coverage"] == [
        {
            "underlying": "NIFTY",
            "day": DAY.isoformat(),
            "index_bars": "15m",
            "vix_bars": "15m",
            "options": "synthetic",
            "option_bars": "-",
            "replayed": True,
            "entries": "15m",
        }
    ]
    notes = " ".join(data["notes"])
    assert "synthetic model" in notes and "no random number" in notes
    html = outcome.files.html_path.read_text()
    assert "<svg" in html and "synthetic" in html and "profit factor" in html and "sortino" in html.lower()
    assert "coverage" in html and "option bars" in html
    assert "<script src=" not in html and "<link " not in html  # self-contained


def test_the_equity_chart_starts_at_the_session_open_not_the_pre_market(outcome: BacktestOutcome) -> None:
    """The curve's first point is the first session's open (09:15 IST), where trading data starts; the
    charts drew from 08:45 IST (the replay's pre-market start) before."""
    data = orjson.loads(outcome.files.json_path.read_bytes())
    assert [stamp for stamp, _ in data["series"]["equity"]] == [
        "2020-11-18T03:45:00+00:00",  # 09:15 IST
        "2020-11-18T10:00:00+00:00",  # 15:30 IST
    ]
    assert data["series"]["drawdown"][0][0] == "2020-11-18T03:45:00+00:00"
    assert "2020-11-18 09:15:00 IST" in outcome.files.html_path.read_text()


def test_report_carries_no_random_ids(outcome: BacktestOutcome) -> None:
    text = outcome.files.json_path.read_text()
    for fill in outcome.fills:
        assert fill.intent_id not in text
        assert fill.ordertag is None or fill.ordertag not in text


def test_fills_are_at_bar_boundaries_on_modelled_option_bars(outcome: BacktestOutcome) -> None:
    """Bars are the events: an order sent on a bar's close fills at the next bar's open."""
    assert outcome.fills
    for fill in outcome.fills:
        assert fill.exchange is Exchange.NFO and fill.token in outcome.synthetic_tokens
        assert fill.ts_utc.second == 0 and fill.ts_utc.minute % 15 == 0, fill.ts_utc
    assert not outcome.real_tokens


def test_same_inputs_give_byte_identical_files_and_the_cli_summarises(
    outcome: BacktestOutcome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPTBOT_CONFIG", raising=False)
    monkeypatch.setenv("OPTBOT__PATHS__DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("OPTBOT__UNIVERSE__UNDERLYINGS", '["NIFTY"]')
    monkeypatch.setenv("OPTBOT__STRATEGY__ENTRY_TIMEFRAME", "15m")
    monkeypatch.setenv("OPTBOT__REPLAY__SEED", "7")  # the seed no longer reaches any price
    out = tmp_path / "again"
    args = ["backtest", "--from", str(DAY), "--to", str(DAY), "--strategy", "adx_trend"]
    args += ["--data", str(SAMPLE_STORE), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "coverage of" in result.output and "NIFTY       2020-11-18  15m    15m  synthetic" in result.output
    assert f"{len(outcome.result.trades)} closed trade(s)" in result.output
    assert f"{outcome.net_pnl:,.2f}" in result.output and "synthetic model" in result.output
    json_path = out / outcome.files.json_path.name
    assert f"report: {out / outcome.files.html_path.name}" in result.output
    assert json_path.read_bytes() == outcome.files.json_path.read_bytes()
    assert (out / outcome.files.html_path.name).read_bytes() == outcome.files.html_path.read_bytes()
    assert list((out / "logs").glob("optbot-20201118.jsonl")), "the log follows the replay clock"


@pytest.mark.parametrize(
    ("start", "end", "kwargs", "message"),
    [
        (date(2020, 11, 19), date(2020, 11, 18), {}, "--from 2020-11-19 is after --to 2020-11-18"),
        (date(2014, 6, 2), date(2014, 6, 3), {}, "outside the market calendar's known range"),
        (
            date(2026, 1, 5),
            date(2026, 1, 6),
            {},
            "has no bars for any trading day between 2026-01-05 and 2026-01-06",
        ),
        (date(2020, 11, 21), date(2020, 11, 22), {}, "no F&O trading day between 2020-11-21 and 2020-11-22"),
        (DAY, DAY, {"strategy": "no_such_strategy"}, "--strategy 'no_such_strategy': unknown strategy"),
        (DAY, DAY, {"underlyings": ["MIDCPNIFTY"]}, "has no index bars for MIDCPNIFTY"),
        (DAY, DAY, {"require_real_options": True}, "no real option bars for NIFTY on 2020-11-18"),
        (DAY, DAY, {"data_dir": Path("/nonexistent/bars")}, "'/nonexistent/bars' is not a folder"),
    ],
)
def test_bad_input_is_refused_with_a_message_naming_it(
    tmp_path: Path, start: date, end: date, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(UserError, match=None) as caught:
        run_backtest(make_settings(tmp_path), start, end, out_dir=tmp_path / "out", **kwargs)  # type: ignore[arg-type]
    assert message in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_cli_bad_dates_exit_2_without_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTBOT__PATHS__DATA_ROOT", str(tmp_path))
    result = CliRunner().invoke(app, ["backtest", "--from", "2020-13-01", "--to", "2020-11-18"])
    assert isinstance(result.exception, UserError)
    assert "--from: not an ISO date (YYYY-MM-DD): '2020-13-01'" in str(result.exception)


def test_cli_refuses_a_missing_data_root_or_a_reversed_range_before_importing_the_engine(
    tmp_path: Path,
) -> None:
    """The plan's first refusals (the data root, then the range) come before the engine and its data
    stack are imported, with the plan's own messages, in the plan's order."""
    missing = str(tmp_path / "missing")
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from optbot.cli.main import app\n"
        "runner = CliRunner()\n"
        "days = ['--from', '2024-01-02', '--to', '2024-01-01']\n"
        f"folder = runner.invoke(app, ['backtest', *days, '--data', {missing!r}])\n"
        "print(folder.exception)\n"
        "reversed_ = runner.invoke(app, ['backtest', *days])\n"
        "print(reversed_.exception)\n"
        "heavy = ('scipy', 'pyarrow', 'optbot.engine', 'optbot.backtest.runner', 'optbot.strategy')\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in heavy or name in heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "OPTBOT__PATHS__DATA_ROOT": str(tmp_path)},
        check=True,
        timeout=120,
    )
    assert done.stdout.splitlines() == [
        f"--data / replay.data_dir: {missing!r} is not a folder (it should be a data root holding "
        "timeframes/<SYMBOL>/<tf>.json, e.g. data/sample/store)",
        "--from 2024-01-02 is after --to 2024-01-01",
        "[]",
    ], done.stderr


def _fill(token: str, side: Side, quantity: int, price: float, day: date, minute: int) -> FillRecord:
    from datetime import UTC, datetime

    moment = datetime(day.year, day.month, day.day, 4, minute, tzinfo=UTC)
    return FillRecord(
        f"F{minute}",
        f"O{minute}",
        None,
        f"i{minute}",
        Exchange.NFO,
        token,
        token,
        side,
        quantity,
        price,
        day,
        moment,
    )


def test_round_trip_times_follow_closed_trades_fifo_and_exposure_counts_carried_days() -> None:
    d1, d2, d3 = date(2020, 11, 17), date(2020, 11, 18), date(2020, 11, 19)
    fills = [
        _fill("A", Side.BUY, 150, 100.0, d1, 1),
        _fill("B", Side.SELL, 75, 50.0, d1, 2),
        _fill("A", Side.SELL, 75, 110.0, d1, 3),
        _fill("B", Side.BUY, 75, 40.0, d1, 4),
        _fill("A", Side.SELL, 75, 90.0, d2, 5),
    ]
    trades = closed_trades(fills)
    assert [(t.token, t.entry_time_utc.minute, t.exit_time_utc.minute, t.exit_intent_id) for t in trades] == [
        ("A", 1, 3, "i3"),
        ("B", 2, 4, "i4"),
        ("A", 1, 5, "i5"),
    ]
    assert in_market_by_day(fills, [d1, d2, d3]) == [True, True, False]
    assert in_market_by_day(fills[:1], [d1, d2]) == [True, True]


def test_require_real_options_on_the_cli_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPTBOT__PATHS__DATA_ROOT", str(tmp_path))
    monkeypatch.setenv("OPTBOT__UNIVERSE__UNDERLYINGS", '["NIFTY"]')
    monkeypatch.setenv("OPTBOT__STRATEGY__ENTRY_TIMEFRAME", "15m")
    args = ["backtest", "--from", str(DAY), "--to", str(DAY), "--data", str(SAMPLE_STORE)]
    result = CliRunner().invoke(app, [*args, "--require-real-options", "--out", str(tmp_path / "out")])
    assert isinstance(result.exception, UserError)
    assert str(result.exception) == (
        "--require-real-options: no real option bars for NIFTY on 2020-11-18 (option prices would be "
        "synthetic); import them or drop the flag"
    )


def test_entries_on_bars_coarser_than_the_data_are_refused_naming_the_fix(tmp_path: Path) -> None:
    """15-minute bars cannot make adx_trend's 5-minute entries: without adapting, refused before
    anything runs."""
    settings = make_settings(tmp_path, strategy={"entry_timeframe": "5m", "entry_timeframe_adapts": False})
    with pytest.raises(UserError) as caught:
        run_backtest(
            settings, DAY, DAY, strategy="adx_trend", data_dir=SAMPLE_STORE, out_dir=tmp_path / "out"
        )
    assert str(caught.value) == (
        "no replayed day has bars the strategies can decide on (NIFTY 2020-11-18: refused: 15m bars too "
        "coarse for adx_trend's 5m entries); import finer bars, set strategy.entry_timeframe to the "
        "bars you have (e.g. OPTBOT__STRATEGY__ENTRY_TIMEFRAME=15m), or let it adapt "
        "(OPTBOT__STRATEGY__ENTRY_TIMEFRAME_ADAPTS=true)"
    )
    assert not (tmp_path / "out").exists()


def test_the_default_entry_timeframe_adapts_to_a_day_of_15_minute_bars(tmp_path: Path) -> None:
    """The defaults (5m entries, adapting) on a 15-minute day: entries on 15m bars, declared in the
    coverage table, the report's notes and the strategy's journal; the same trades as asking for 15m."""
    adapted = run_backtest(
        make_settings(tmp_path / "a", strategy={"entry_timeframe": "5m"}),
        DAY,
        DAY,
        strategy="adx_trend",
        data_dir=SAMPLE_STORE,
        out_dir=tmp_path / "adapted",
    )
    (row,) = [row for row in adapted.coverage if row.underlying == "NIFTY"]
    assert row.entries == "15m (adapted: adx_trend's 5m needs finer bars)"
    assert any("entered on the finest bars those days had" in note for note in adapted.result.notes)
    asked = run_backtest(
        make_settings(tmp_path / "b", strategy={"entry_timeframe": "15m"}),
        DAY,
        DAY,
        strategy="adx_trend",
        data_dir=SAMPLE_STORE,
        out_dir=tmp_path / "asked",
    )
    assert adapted.result.trades, "the sample day trades on 15-minute entries"
    assert adapted.result.trades == asked.result.trades


def test_pnl_does_not_depend_on_the_replay_seed(outcome: BacktestOutcome, tmp_path: Path) -> None:
    for seed in (1, 20250904, 99):
        again = run_backtest(
            make_settings(tmp_path / str(seed), replay={"seed": seed}),
            DAY,
            DAY,
            strategy="adx_trend",
            data_dir=SAMPLE_STORE,
            out_dir=tmp_path / f"out{seed}",
        )
        assert again.files.json_path.read_bytes() == outcome.files.json_path.read_bytes()
