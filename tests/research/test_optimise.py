"""The study loop with a stand-in evaluator (fast); real backtests are used in test_research_cli."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from optbot.config import Settings
from optbot.core.errors import UserError
from optbot.research.objectives import Constraints, Objective, metrics_from_equity
from optbot.research.optimise import StudySpec, best_parameters, run_study, storage_url
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
