"""Issue 14's done-when as one user session on a fresh data root, through the CLI only.

1. A real NIFTY 5-minute vendor file (naive UTC stamps, two stray prints outside the session; built
   from the bundled Yahoo 1-minute file, see tests/fixtures/e2e/README.md), INDIA VIX and NIFTY daily
   history go in with `optbot data import`; `optbot backtest` over those dates runs without renaming
   anything, twice with byte-identical reports, and with the same P&L under another `replay.seed`.
2. The November 2022 per-contract option bars (NIFTY, BANKNIFTY and FINNIFTY), the NIFTY index minute
   bars, the near-month futures' minute bars and daily history go into another fresh root; `optbot
   backtest --require-real-options` trades all three underlyings (BANKNIFTY on its future's minutes,
   shifted to the index by the put-call-parity basis; FINNIFTY, which has no index data at all, on the
   spot its option bars imply by put-call parity) and every option fill lies inside the real bar of its
   minute, allowing the modelled spread and slippage; the coverage table says what was real.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import orjson
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner, Result

from optbot.broker.paper.fill_model import FillModel, bar_costs
from optbot.cli.main import app
from optbot.config import load_settings
from optbot.core.timeutil import ist_date
from optbot.data.archive import OptionArchive
from tests.conftest import REPO_ROOT, SAMPLE_DATA

VENDOR_FILE = REPO_ROOT / "tests" / "fixtures" / "e2e" / "nifty_5min_vendor_utc_2025-09-04_to_2025-09-10.csv"
DAILY = SAMPLE_DATA / "daily"
NIFTY_DAILY = DAILY / "nifty50_daily_merged_2016-09-15_to_2025-09-10.csv"
BANKNIFTY_DAILY = DAILY / "banknifty_daily_merged_2016-09-15_to_2025-09-10.csv"
VIX_DAILY = DAILY / "indiavix_daily_merged_2015-01-01_to_2025-09-10.csv"
NOV_DAYS = ("2022-11-01", "2022-11-02")
UNDERLYINGS = ("NIFTY", "BANKNIFTY", "FINNIFTY")
STRATEGY = "tests.backtest.strategies:TimedAtmCall"


def _run(args: list[str]) -> Result:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


def _report(out: Path) -> Path:
    (found,) = out.glob("backtest-*.json")
    return found


def _pnl_line(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("net P&L after charges"))


@pytest.fixture
def fresh_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new user's data root: no config file, only OPTBOT__ settings."""
    monkeypatch.delenv("OPTBOT_CONFIG", raising=False)
    monkeypatch.setenv("OPTBOT__PATHS__DATA_ROOT", str(tmp_path / "data"))
    return tmp_path / "data"


def test_vendor_five_minute_file_imports_and_replays_deterministically(
    fresh_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    imported = _run(["data", "import", str(VENDOR_FILE), "--symbol", "NIFTY"])
    assert "NIFTY  │ 5m" in imported.output and "375" in imported.output
    assert "timestamps in UTC, shifted to IST" in imported.output
    assert "row at 15:40:00 IST outside the session" in imported.output  # the stray print, with its time
    assert "row at 09:08:00 IST outside the session" in imported.output
    assert "rejected" not in imported.output  # no session lost for one stray print
    _run(["data", "import", str(VIX_DAILY), "--symbol", "INDIA VIX"])
    _run(["data", "import", str(NIFTY_DAILY), "--symbol", "NIFTY"])

    args = ["backtest", "--from", "2025-09-04", "--to", "2025-09-10", "--strategy", STRATEGY]
    first = _run([*args, "--out", str(tmp_path / "first")])
    assert f"coverage of {fresh_root}:" in first.output  # the user's own root, no --data needed
    assert "NIFTY       2025-09-04  5m     daily  synthetic" in first.output
    assert "left out (no bars in the data root): BANKNIFTY" in first.output
    assert "5 session(s)" in first.output, first.output
    again = _run([*args, "--out", str(tmp_path / "again")])
    monkeypatch.setenv("OPTBOT__REPLAY__SEED", "987654321")
    reseeded = _run([*args, "--out", str(tmp_path / "reseeded")])
    report = _report(tmp_path / "first").read_bytes()
    assert _report(tmp_path / "again").read_bytes() == report
    assert _report(tmp_path / "reseeded").read_bytes() == report
    assert _pnl_line(first.output) == _pnl_line(again.output) == _pnl_line(reseeded.output)
    data = orjson.loads(report)
    # an entry each session at 10:00 and its exit at 14:00 (an entry limit the next bar jumps over
    # is cancelled unfilled, as a live limit would be)
    assert len(data["tables"]["trades"]) >= 3
    assert f"{len(data['tables']['trades'])} closed trade(s)" in first.output
    assert {row["index_bars"] for row in data["tables"]["coverage"]} == {"5m"}


def test_november_2022_real_option_bars_fill_inside_their_bars(fresh_root: Path, tmp_path: Path) -> None:
    options = SAMPLE_DATA / "options" / "nov2022_1min"
    files = [
        path
        for name in UNDERLYINGS
        for day in NOV_DAYS
        for path in sorted((options / name).glob(f"{name}_{day}_exp*.csv.gz"))
    ]
    assert len(files) == 6
    _run(["data", "import", *(str(path) for path in files)])  # the files name their contracts
    index_minutes = SAMPLE_DATA / "intraday" / "nifty50_1min_nsechart_2022-11-01_to_2022-11-15.csv"
    _run(["data", "import", str(index_minutes), "--symbol", "NIFTY"])
    futures = SAMPLE_DATA / "intraday" / "futures_1min_2022-11"
    _run(
        ["data", "import", *(str(futures / f"FUT_I_{day}.csv") for day in NOV_DAYS)]
    )  # NIFTY-I, BANKNIFTY-I ...
    _run(["data", "import", str(NIFTY_DAILY), "--symbol", "NIFTY"])
    _run(["data", "import", str(BANKNIFTY_DAILY), "--symbol", "BANKNIFTY"])
    _run(["data", "import", str(VIX_DAILY), "--symbol", "INDIA VIX"])

    out = tmp_path / "real"
    result = _run(
        ["backtest", "--from", NOV_DAYS[0], "--to", NOV_DAYS[-1], "--strategy", STRATEGY,
         "--require-real-options", *(part for name in UNDERLYINGS for part in ("--underlying", name)),
         "--out", str(out)]
    )  # fmt: skip
    assert "NIFTY       2022-11-01  1m          daily  real     1m" in result.output
    assert "BANKNIFTY   2022-11-01  futures 1m  daily  real     1m" in result.output
    assert "FINNIFTY    2022-11-01  parity 1m   daily  real     1m" in result.output
    data = orjson.loads(_report(out).read_bytes())
    assert {(row["underlying"], row["options"]) for row in data["tables"]["coverage"]} == {
        (name, "real") for name in UNDERLYINGS
    }
    assert any("future's bars were used" in note for note in data["notes"])
    assert any("derived from the real option bars by put-call parity" in note for note in data["notes"])
    trades = data["tables"]["trades"]
    assert {trade["symbol"][:5] for trade in trades} == {"NIFTY", "BANKN", "FINNI"}  # all three traded
    assert all(trade["prices"] == "recorded" for trade in trades)  # the option bars, not the model

    settings = load_settings(None, {})
    model = FillModel.from_settings(settings.backtest)
    archive = OptionArchive(fresh_root)
    for trade in trades:
        underlying = next(name for name in sorted(UNDERLYINGS) if trade["symbol"].startswith(name))
        for stamp, price in (
            (trade["entry_time"], trade["entry_price"]),
            (trade["exit_time"], trade["exit_price"]),
        ):
            moment = datetime.fromisoformat(stamp)
            table = archive.day(underlying, ist_date(moment), "1m")
            bar = table.filter(
                pc.and_(pc.equal(table["symbol"], trade["symbol"]), pc.equal(table["ts"], moment))
            )
            assert bar.num_rows == 1, f"{trade['symbol']} filled at {stamp} without a real bar of that minute"
            high, low = bar["high"][0].as_py(), bar["low"][0].as_py()
            costs = bar_costs(model, high, 0.05) + 0.05  # plus one tick of rounding against the trader
            assert low - costs <= price <= high + costs, (trade["symbol"], stamp, price, low, high)
            assert trade["quantity"] <= bar["volume"][0].as_py() * settings.backtest.bar_volume_share
