"""Walk-forward and cross-validation with a stand-in backtest whose best parameter drifts over time."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from optbot.config import Settings
from optbot.core.errors import UserError
from optbot.research.objectives import Objective
from optbot.research.optimise import StudySpec
from optbot.research.walkforward import (
    Segment,
    add_months,
    plan_folds,
    plan_windows,
    run_cross_validation,
    run_walk_forward,
    stitch,
)
from optbot.strategy.tunable import Tunable

CAPITAL = Settings().backtest.initial_capital


def _run(settings: Settings, start: date, end: date, progress) -> Segment:
    """Each weekday earns 1000 − 40·(x − best)², where the best x is 25 in 2021 and 30 from 2022."""
    x = settings.strategy.rsi_oversold
    equity = [(f"{start - timedelta(days=1)}T10:00:00+00:00", CAPITAL)]
    day, level, pnls = start, CAPITAL, []
    while day <= end:
        if day.weekday() < 5:
            best = 25.0 if day.year == 2021 else 30.0
            pnl = 1000.0 - 40.0 * (x - best) ** 2
            level += pnl
            pnls.append(pnl)
            equity.append((f"{day}T10:00:00+00:00", level))
        day += timedelta(days=1)
    if progress is not None:
        progress(0, level - CAPITAL)
    return Segment(start, end, tuple(equity), tuple(pnls), 0.0)


def _template(tmp_path: Path, trials: int = 12) -> StudySpec:
    return StudySpec(
        study_name="wf",
        storage=f"sqlite:///{tmp_path / 'wf.db'}",
        start=date(2021, 1, 1),
        end=date(2022, 6, 30),
        trials=trials,
        tunables=(Tunable("strategy.rsi_oversold", 20.0, 35.0, 1.0),),
        objective=Objective("net_pnl"),
        pruner="none",
    )


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2024, 11, 15), 3) == date(2025, 2, 15)


def test_rolling_and_anchored_windows_tile_the_out_of_sample_range() -> None:
    rolling = plan_windows(date(2021, 1, 1), date(2021, 12, 31), 6, 1, 1, anchored=False)
    assert len(rolling) == 6
    assert rolling[0].in_sample == (date(2021, 1, 1), date(2021, 6, 30))
    assert rolling[0].out_of_sample == (date(2021, 7, 1), date(2021, 7, 31))
    assert rolling[1].in_sample == (date(2021, 2, 1), date(2021, 7, 31))
    for earlier, later in zip(rolling, rolling[1:]):
        assert later.out_of_sample[0] == earlier.out_of_sample[1] + timedelta(days=1)
    anchored = plan_windows(date(2021, 1, 1), date(2021, 12, 31), 6, 1, 1, anchored=True)
    assert all(window.in_sample[0] == date(2021, 1, 1) for window in anchored)
    with pytest.raises(UserError, match="shorter than one window"):
        plan_windows(date(2021, 1, 1), date(2021, 3, 1), 6, 1, 1, anchored=False)
    with pytest.raises(UserError, match="overlap"):
        plan_windows(date(2021, 1, 1), date(2022, 3, 1), 6, 2, 1, anchored=False)


def test_stitch_chains_segments() -> None:
    first = Segment(date(2021, 1, 1), date(2021, 1, 2), (("a", 100.0), ("b", 110.0)), (10.0,), 0.0)
    second = Segment(date(2021, 1, 3), date(2021, 1, 4), (("c", 100.0), ("d", 95.0)), (-5.0,), 0.0)
    assert stitch([first, second], 1000.0) == (("a", 1000.0), ("b", 1010.0), ("d", 1005.0))


def test_walk_forward_follows_the_drifting_optimum(tmp_path: Path) -> None:
    windows = plan_windows(date(2021, 1, 1), date(2022, 3, 31), 6, 3, 3, anchored=False)
    result = run_walk_forward(Settings(), _template(tmp_path), windows, _run)
    assert len(result.windows) == 3
    assert abs(result.windows[0].parameters["strategy.rsi_oversold"] - 25.0) <= 2
    assert abs(result.windows[-1].parameters["strategy.rsi_oversold"] - 25.0) <= 5
    assert result.out_of_sample.sessions == sum(w.out_of_sample_sessions for w in result.windows)
    assert result.efficiency is not None and result.efficiency < 1.5
    assert result.stability[0].name == "strategy.rsi_oversold" and len(result.stability[0].values) == 3
    assert result.out_of_sample_equity[0][1] == CAPITAL


def test_cross_validation_purges_and_tests_every_fold(tmp_path: Path) -> None:
    folds = plan_folds(date(2021, 1, 1), date(2021, 12, 31), 4, purge_days=5)
    assert len(folds) == 4
    for test, train in folds:
        for first, last in train:
            assert last < test[0] - timedelta(days=5) or first > test[1] + timedelta(days=5)
    template = _template(tmp_path, trials=8)
    results = run_cross_validation(Settings(), template, folds=3, purge_days=5, run=_run)
    assert [r.test[0] for r in results] == sorted(r.test[0] for r in results)
    with pytest.raises(UserError):
        plan_folds(date(2021, 1, 1), date(2021, 1, 2), 3, 0)


def test_a_negative_purge_is_refused_it_would_train_on_the_test_folds_edges() -> None:
    with pytest.raises(UserError, match="--purge-days must be zero or more, got -1"):
        plan_folds(date(2021, 1, 1), date(2021, 12, 31), 4, purge_days=-1)


def test_windows_in_two_processes_give_the_same_result_as_one(tmp_path: Path) -> None:
    windows = plan_windows(date(2021, 1, 1), date(2021, 12, 31), 6, 3, 3, anchored=False)
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = run_walk_forward(Settings(), _template(tmp_path / "one", trials=6), windows, _run)
    two = run_walk_forward(
        Settings(), replace(_template(tmp_path / "two", trials=6), workers=2), windows, _run
    )
    assert len(one.windows) == 2
    assert [w.parameters for w in two.windows] == [w.parameters for w in one.windows]
    assert two.out_of_sample_equity == one.out_of_sample_equity
    assert two.efficiency == one.efficiency
    assert [(w.trials, w.backtested, w.pruned) for w in two.windows] == [
        (w.trials, w.backtested, w.pruned) for w in one.windows
    ]
    folds_one = run_cross_validation(Settings(), _template(tmp_path / "one", trials=4), 2, 5, _run)
    template_two = replace(_template(tmp_path / "two", trials=4), workers=2)
    assert run_cross_validation(Settings(), template_two, 2, 5, _run) == folds_one
