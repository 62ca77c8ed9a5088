"""Work shared by a process's backtests (listings, model valuations, parsed contracts, the implied
volatilities of marks) never changes a report: a run served from what earlier runs with other
parameters cached is byte-identical to one that computed every value itself."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from optbot.analytics.synthetic import SyntheticOptionModel, model_for
from optbot.analytics.synthetic_params import load_calibration
from optbot.backtest import shared_cache
from optbot.backtest.runner import BacktestOutcome, default_data_root, run_backtest
from optbot.backtest.store_data import StoreHistory
from optbot.calendar import get_calendar
from optbot.config import Settings
from optbot.engine import market as engine_market
from optbot.strategy.tunable import apply_parameters

STRATEGY = "iron_condor"
START, END = date(2023, 2, 15), date(2023, 3, 15)  # 15-minute sample sessions, modelled option prices
FIRST = {"iron_condor:exits.mtm_stop": 2000, "iron_condor:exits.lock_and_trail.at": 1250}
OTHER = {"iron_condor:exits.mtm_stop": 4500, "iron_condor:exits.lock_and_trail.at": 3000}


@pytest.fixture(autouse=True)
def cold() -> Iterator[None]:
    shared_cache.clear()
    yield
    shared_cache.clear()


def _fills(outcome: BacktestOutcome) -> list[tuple[object, ...]]:
    """The fills without their random ids (intent, order and fill ids differ run to run)."""
    return [
        (fill.ts_utc, fill.token, fill.side, fill.quantity, fill.price, fill.charges, fill.source)
        for fill in outcome.fills
    ]


def _run(values: dict[str, int], out: Path) -> tuple[BacktestOutcome, bytes]:
    outcome = run_backtest(apply_parameters(Settings(), values), START, END, strategy=STRATEGY, out_dir=out)
    return outcome, outcome.files.json_path.read_bytes()


def test_a_run_served_from_the_shared_tables_gives_the_uncached_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as uncached:  # tables of one entry: every value is computed again
        uncached.setattr(shared_cache, "VALUATIONS_LIMIT", 1)
        uncached.setattr(shared_cache, "LISTINGS_LIMIT", 1)
        uncached.setattr(shared_cache, "PARSED_LIMIT", 0)
        uncached.setattr(engine_market, "SOLVED_LIMIT", 1)
        reference, reference_report = _run(FIRST, tmp_path / "uncached")
    shared_cache.clear()
    assert reference.result.trades and reference.synthetic_tokens  # it traded modelled contracts
    cold_outcome, cold_report = _run(FIRST, tmp_path / "cold")
    table = shared_cache.valuations(_backtest_model())
    filled = len(table)
    assert filled > 100
    other, _ = _run(OTHER, tmp_path / "other")  # another trial's exits: other marks, other fills
    assert other.result.trades != reference.result.trades
    grown, solved = len(table), len(engine_market._SOLVED)
    assert solved > 100
    warm, warm_report = _run(FIRST, tmp_path / "warm")
    assert len(table) == grown and len(engine_market._SOLVED) == solved  # all read, none computed
    assert cold_report == reference_report and warm_report == reference_report
    assert _fills(warm) == _fills(cold_outcome) == _fills(reference)
    assert warm.intent_log == reference.intent_log


def _backtest_model() -> SyntheticOptionModel:
    """The model as a backtest of the default data root builds it (the packaged calibration, the
    recent returns of that root's stored closes)."""
    settings, calendar = Settings(), get_calendar()
    found = model_for(settings.analytics.calibration_file, calendar)
    found.use_recent_returns(StoreHistory(default_data_root(settings), calendar))
    return found


def test_each_model_has_its_own_valuations() -> None:
    calendar = get_calendar()
    packaged = model_for(None, calendar)
    again = model_for(None, calendar)  # a new model object on the same cached parameters
    assert shared_cache.valuations(packaged) is shared_cache.valuations(again)
    params = load_calibration(None)  # equal values, another object: another calibration as far as we know
    assert shared_cache.valuations(SyntheticOptionModel(params, calendar)) is not shared_cache.valuations(
        packaged
    )
    # the ATM vol reads recent returns: models reading another source do not share values
    assert shared_cache.valuations(_backtest_model()) is not shared_cache.valuations(packaged)
    assert shared_cache.valuations(_backtest_model()) is shared_cache.valuations(_backtest_model())


def test_a_full_table_starts_again_empty() -> None:
    table: shared_cache.MemoTable[str, int] = shared_cache.MemoTable(2)
    table.put("a", 1)
    table.put("b", 2)
    assert table.get("a") == 1 and len(table) == 2
    table.put("c", 3)
    assert len(table) == 1 and table.get("a") is None and table.get("c") == 3
