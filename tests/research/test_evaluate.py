"""The research path of a trial (quiet logging, monthly progress, prepared data, reused repeats) gives
exactly the metrics of a plain backtest with the same parameters."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from optbot.backtest.runner import run_backtest
from optbot.config import Settings
from optbot.research.evaluate import BacktestEvaluator, outcome_metrics
from optbot.research.objectives import Objective
from optbot.research.optimise import StudySpec, run_study
from optbot.strategy.tunable import Tunable, apply_parameters

STRATEGY = "iron_condor"
START, END = date(2023, 2, 15), date(2023, 3, 15)  # 15-minute sample sessions over two months
VALUES = {"iron_condor:exits.mtm_stop": 2000, "iron_condor:exits.lock_and_trail.at": 1250}


def test_a_trial_gives_the_plain_backtests_metrics_and_a_repeat_reuses_them(tmp_path: Path) -> None:
    settings = Settings()
    plain = outcome_metrics(
        run_backtest(
            apply_parameters(settings, VALUES), START, END, strategy=STRATEGY, out_dir=tmp_path / "plain"
        )
    )
    assert plain.trades > 0  # the equivalence below is about a run that traded
    evaluator = BacktestEvaluator(STRATEGY)
    evaluator.prepare(settings, START, END)
    reports: list[tuple[int, float]] = []
    research = evaluator(apply_parameters(settings, VALUES), START, END, lambda m, p: reports.append((m, p)))
    assert research == plain
    assert [month for month, _ in reports] == [0, 1]  # one report per calendar month (the pruner's steps)
    assert abs(reports[-1][1] - plain.net_pnl) < 0.01  # the last report is the final net P&L
    spec = StudySpec(
        "equivalence",
        f"sqlite:///{tmp_path / 'studies.db'}",
        START,
        END,
        trials=2,
        tunables=tuple(Tunable(path, choices=(value,)) for path, value in VALUES.items()),
        objective=Objective("net_pnl"),
    )
    summary = run_study(settings, spec, evaluator)
    first, second = sorted(summary.trials, key=lambda trial: trial.number)
    assert first.metrics == plain.as_dict() and first.repeat_of is None
    assert second.repeat_of == first.number and second.metrics == first.metrics
    assert summary.backtested == 1
