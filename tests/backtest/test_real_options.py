"""Issue 14 done-when: with the November 2022 option bars, index minute bars and daily history in the
bundled data root, `--require-real-options` trades them and every option fill lies inside the real bar
of its minute, allowing the modelled spread and slippage. Plus: split runs give the same report."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow.compute as pc
import pytest

from optbot.backtest.option_bars import REAL
from optbot.backtest.parallel import BacktestConfig, run_many
from optbot.backtest.runner import BacktestOutcome, run_backtest
from optbot.broker.paper.fill_model import FillModel, bar_costs
from optbot.core.timeutil import ist_date
from optbot.data.archive import OptionArchive
from optbot.log import JsonLogInFolder, shutdown_logging
from tests.backtest.conftest import make_settings
from tests.conftest import SAMPLE_STORE

FIRST, LAST = date(2022, 11, 1), date(2022, 11, 4)
STRATEGY = "tests.backtest.strategies:TimedAtmCall"


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> BacktestOutcome:
    root = tmp_path_factory.mktemp("real")
    return run_backtest(
        make_settings(root / "data"),
        FIRST,
        LAST,
        strategy=STRATEGY,
        data_dir=SAMPLE_STORE,
        out_dir=root / "out",
        require_real_options=True,
    )


def test_real_option_bars_are_traded_and_every_fill_lies_inside_its_bar(real: BacktestOutcome) -> None:
    assert [row.options for row in real.coverage] == [REAL] * 4
    assert len(real.fills) == 8 and not real.synthetic_tokens
    settings = make_settings(Path("unused"))
    model = FillModel.from_settings(settings.backtest)
    archive = OptionArchive(SAMPLE_STORE)
    for fill in real.fills:
        assert fill.token in real.real_tokens
        table = archive.day("NIFTY", ist_date(fill.ts_utc), "1m")
        rows = table.filter(
            pc.and_(pc.equal(table["symbol"], fill.symbol), pc.equal(table["ts"], fill.ts_utc))
        )
        assert rows.num_rows == 1, f"{fill.symbol} filled at {fill.ts_utc} without a bar of that minute"
        high, low = rows["high"][0].as_py(), rows["low"][0].as_py()
        costs = bar_costs(model, high, 0.05) + 0.05  # plus one tick of rounding against the trader
        assert low - costs <= fill.price <= high + costs, (fill.symbol, fill.ts_utc, fill.price, low, high)
        assert fill.quantity <= rows["volume"][0].as_py() * settings.backtest.bar_volume_share


def test_the_report_says_the_option_prices_were_real(real: BacktestOutcome) -> None:
    text = real.files.json_path.read_text()
    assert '"options": "real"' in text and '"option_bars": "1m"' in text and "from their own bars" in text


def test_each_trade_says_what_closed_it(real: BacktestOutcome) -> None:
    assert real.result.trades
    assert {trade.exit_reason for trade in real.result.trades} == {"test: timed sell"}


def test_split_over_processes_the_report_is_the_same_file(real: BacktestOutcome, tmp_path: Path) -> None:
    split = run_backtest(
        make_settings(tmp_path / "data"),
        FIRST,
        LAST,
        strategy=STRATEGY,
        data_dir=SAMPLE_STORE,
        out_dir=tmp_path / "out",
        workers=2,
    )
    assert split.workers == 2
    assert split.files.json_path.read_bytes() == real.files.json_path.read_bytes()
    assert split.files.html_path.read_bytes() == real.files.html_path.read_bytes()


def test_split_over_processes_each_worker_logs_to_the_run_folder_not_the_terminal(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(tmp_path / "data")
    folder = tmp_path / "logs"
    split = run_backtest(
        settings,
        FIRST,
        LAST,
        strategy=STRATEGY,
        data_dir=SAMPLE_STORE,
        out_dir=tmp_path / "out",
        workers=2,
        on_clock=JsonLogInFolder(settings, folder),
    )
    shutdown_logging()
    assert split.workers == 2
    logged = sorted(path.name for path in folder.iterdir())
    assert logged == [f"optbot-202211{day:02d}.jsonl" for day in range(1, 5)]  # both workers' days
    printed = "".join(capfd.readouterr())
    assert "timed_atm_call" not in printed, printed  # no engine line reached the terminal


def test_many_configurations_run_in_parallel_in_the_order_given(
    real: BacktestOutcome, tmp_path: Path
) -> None:
    configs = [
        BacktestConfig(make_settings(tmp_path / name), FIRST, LAST, tmp_path / name, STRATEGY, SAMPLE_STORE)
        for name in ("a", "b")
    ]
    outcomes = run_many(configs, workers=2)
    assert [outcome.files.json_path.read_bytes() for outcome in outcomes] == [
        real.files.json_path.read_bytes()
    ] * 2
