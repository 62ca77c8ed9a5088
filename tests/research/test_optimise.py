"""The study loop with a stand-in evaluator (fast); real backtests are used in test_research_cli."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from optbot.config import Settings
from optbot.core.errors import UserError
from optbot.research.objectives import Constraints, Objective, metrics_from_equity
from optbot.research.optimise import StudySpec, _storage, best_parameters, run_study, storage_url
from optbot.strategy.tunable import Tunable


def _evaluate(settings: Settings, start: date, end: date, progress) -> object:
    # A smooth, known optimum: net P&L peaks at rsi_oversold = 27; few trades when it is low.
    x = settings.strategy.rsi_oversold
    pnl = 10_000.0 - 100.0 * (x - 27.0) ** 2
    progress(0, pnl / 2)
    trades = 2 if x < 22 else 10
    return metrics_from_equity(
        [500_000.0, 500_000.0 + pnl / 2, 500_000.0 + pnl], [pnl / trades] * trades, 0.0
    )


def _spec(tmp_path: Path, **extra) -> StudySpec:
    values = dict(
        study_name="unit",
        storage=f"sqlite:///{tmp_path / 'studies.db'}",
        start=date(2020, 11, 17),
        end=date(2020, 11, 18),
        trials=12,
        tunables=(Tunable("strategy.rsi_oversold", 15.0, 40.0, 1.0),),
        objective=Objective("net_pnl"),
        pruner="none",
    )
    values.update(extra)
    return StudySpec(**values)


def test_study_finds_the_optimum_region_and_respects_the_budget(tmp_path: Path) -> None:
    summary = run_study(Settings(), _spec(tmp_path, trials=25), _evaluate)
    assert summary.completed == 25 and len(summary.trials) == 25
    assert abs(best_parameters(summary)["strategy.rsi_oversold"] - 27.0) <= 3.0


def test_a_sqlite_study_is_written_ahead_and_synced_at_checkpoints(tmp_path: Path) -> None:
    run_study(Settings(), _spec(tmp_path, trials=2), _evaluate)
    with sqlite3.connect(tmp_path / "studies.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    storage = _storage(_spec(tmp_path))
    with storage.engine.connect() as connection:  # NORMAL (1), not the default FULL (2)
        assert connection.exec_driver_sql("PRAGMA synchronous").fetchone() == (1,)
    storage.engine.dispose()


def test_a_study_resumes_and_never_exceeds_its_trials(tmp_path: Path) -> None:
    run_study(Settings(), _spec(tmp_path, trials=5), _evaluate)
    again = run_study(Settings(), _spec(tmp_path, trials=8), _evaluate)
    assert again.completed == 8
    assert sorted(trial.number for trial in again.trials) == list(range(8))
    assert run_study(Settings(), _spec(tmp_path, trials=8), _evaluate).completed == 8


def test_infeasible_trials_are_never_best(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        trials=15,
        constraints=Constraints(min_trades=5),
        tunables=(Tunable("strategy.rsi_oversold", 15.0, 21.0, 1.0),),
    )
    summary = run_study(Settings(), spec, _evaluate)
    assert summary.best is None
    with pytest.raises(UserError, match="no feasible trial"):
        best_parameters(summary)


def test_bad_storage_and_empty_search_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--storage"):
        storage_url("mysql://x")
    with pytest.raises(UserError, match="nothing to optimise"):
        run_study(Settings(), _spec(tmp_path, tunables=()), _evaluate)
    assert storage_url("postgresql://u:p@127.0.0.1:5/db").startswith("postgresql+psycopg://")


def test_a_combination_that_breaks_a_settings_rule_is_pruned_not_fatal(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        trials=6,
        tunables=(
            Tunable("strategy.rsi_oversold", 15.0, 40.0, 1.0),
            Tunable("strategy.target_reward_risk", 1.0, 3.0, 0.5),  # must be >= min_reward_risk (2.0)
        ),
    )
    summary = run_study(Settings(), spec, _evaluate)
    assert len(summary.trials) == 6
    pruned = [t for t in summary.trials if t.state == "PRUNED"]
    assert pruned and all("min_reward_risk" in t.violations[0] for t in pruned)
    assert all(t.parameters["strategy.target_reward_risk"] >= 2.0 for t in summary.trials if t.feasible)


def test_two_worker_processes_share_one_study_without_losing_or_repeating_a_trial(tmp_path: Path) -> None:
    summary = run_study(Settings(), _spec(tmp_path, trials=10, workers=2), _evaluate)
    assert summary.completed == 10
    assert sorted(trial.number for trial in summary.trials) == list(range(10))
    workers = {trial.worker for trial in summary.trials}
    assert workers == {"local-1", "local-2"}, workers  # both processes ran trials
    # each worker samples with its own seed: their first proposals differ
    first = {
        worker: next(t for t in summary.trials if t.worker == worker).parameters["strategy.rsi_oversold"]
        for worker in workers
    }
    assert first["local-1"] != first["local-2"]


class CountingEvaluator:
    """`_evaluate`, counting the backtests it is asked for."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, settings: Settings, start: date, end: date, progress) -> object:
        self.calls.append(settings.strategy.rsi_oversold)
        return _evaluate(settings, start, end, progress)


def test_repeated_values_reuse_the_earlier_trials_result_without_a_backtest(tmp_path: Path) -> None:
    evaluate = CountingEvaluator()
    grid = (Tunable("strategy.rsi_oversold", choices=(20, 25, 27, 30)),)
    summary = run_study(Settings(), _spec(tmp_path, trials=20, tunables=grid), evaluate)
    assert summary.completed == 20 and len(summary.trials) == 20
    assert len(evaluate.calls) == len(set(evaluate.calls)) == summary.backtested <= 4
    by_number = {trial.number: trial for trial in summary.trials}
    repeats = [trial for trial in summary.trials if trial.repeat_of is not None]
    assert len(repeats) == 20 - summary.backtested
    for repeat in repeats:
        original = by_number[repeat.repeat_of]
        assert original.repeat_of is None and original.parameters == repeat.parameters
        assert (repeat.value, repeat.metrics) == (original.value, original.metrics)
    assert best_parameters(summary)["strategy.rsi_oversold"] == 27


def _monthly(settings: Settings, start: date, end: date, progress) -> object:
    """Six monthly reports of a losing stretch: each month loses 1000 + 500·|x − 27| (every trial's
    best report is its first month: a pruner comparing best reports would never prune here)."""
    x = settings.strategy.rsi_oversold
    level = 0.0
    for month in range(6):
        level -= 1_000.0 + 500.0 * abs(x - 27)
        progress(month, level)
    return metrics_from_equity([500_000.0, 500_000.0 + level], [level], 0.0)


def test_the_median_pruner_stops_bad_trials_per_month_and_repeats_of_a_pruned_trial(tmp_path: Path) -> None:
    grid = (Tunable("strategy.rsi_oversold", choices=tuple(range(17, 38))),)
    summary = run_study(
        Settings(),
        _spec(tmp_path, trials=40, tunables=grid, pruner="median", sampler="random"),
        _monthly,
    )
    assert summary.pruned > 0 and summary.completed + summary.pruned == 40
    pruned_values = {t.parameters["strategy.rsi_oversold"] for t in summary.trials if t.state == "PRUNED"}
    completed_values = {
        t.parameters["strategy.rsi_oversold"] for t in summary.trials if t.state == "COMPLETE"
    }
    # a pruned value lost more a month than the median of the values finished before it
    assert min(abs(x - 27) for x in pruned_values) > min(abs(x - 27) for x in completed_values)
    first_pruned = {}
    for trial in sorted(summary.trials, key=lambda t: t.number):
        value = trial.parameters["strategy.rsi_oversold"]
        if trial.state == "PRUNED" and trial.repeat_of is None:
            first_pruned.setdefault(value, trial.number)
        elif value in first_pruned:  # once pruned, the same values are pruned again without a run
            assert trial.state == "PRUNED" and trial.repeat_of is not None


def test_the_same_seed_gives_the_same_study(tmp_path: Path) -> None:
    first = run_study(Settings(), _spec(tmp_path, study_name="a", trials=15), _evaluate)
    second = run_study(Settings(), _spec(tmp_path, study_name="b", trials=15), _evaluate)
    assert [t.parameters for t in first.trials] == [t.parameters for t in second.trials]
    assert first.best is not None and second.best is not None
    assert first.best.parameters == second.best.parameters


@pytest.mark.parametrize(("option", "value"), [("sampler", "bogus"), ("pruner", "sometimes")])
def test_an_unknown_sampler_or_pruner_is_refused_before_the_study_database_is_created(
    tmp_path: Path, option: str, value: str
) -> None:
    with pytest.raises(UserError, match=f"--{option} '{value}': choose one of"):
        run_study(Settings(), _spec(tmp_path, **{option: value}), _evaluate)
    assert not (tmp_path / "studies.db").exists()
