"""Walk-forward analysis and time-series cross-validation (spec §11.5).

Walk-forward: for each window, optimise on the in-sample months, then trade the best parameters on the
following out-of-sample month(s) that no trial saw; the out-of-sample pieces are stitched into one
equity curve — the only curve that says how the *process* of optimising would have done.
Windows roll (fixed in-sample length) or are anchored (in-sample always starts at the first day).

Walk-forward efficiency (WFE) = out-of-sample net P&L per session ÷ in-sample net P&L per session of
the chosen trial: near 1 the edge survived, near 0 (or negative) it was fitted noise.

Cross-validation: the range is cut into k contiguous folds; each fold is tested with parameters
optimised on the others, leaving `purge_days` calendar days out on both sides of the test fold so
indicator warm-up and overnight positions cannot leak across the boundary.

Windows (and folds) do not depend on each other, so with `workers` > 1 they are spread over that many
forked processes, each window's study worked by one process from its own seed: the result is the same
as working the windows one after another (a study shared by several processes would depend on which
trial finished first). Before forking, the runner may load and prepare the market data once
(`Preparable.prepare`); the workers inherit it read-only.
"""

from __future__ import annotations

import calendar as month_calendar
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, TypeVar

from optbot.config import Settings
from optbot.core.errors import UserError
from optbot.research.objectives import BacktestMetrics, metrics_from_equity
from optbot.research.optimise import (
    Preparable,
    ProgressHook,
    StudySpec,
    StudySummary,
    best_parameters,
    create_storage,
    fork_pool,
    run_study,
)
from optbot.research.tearsheet import TearsheetInput, WalkForwardWindow
from optbot.strategy.tunable import ParameterValue, apply_parameters


@dataclass(frozen=True, slots=True)
class Segment:
    """What one backtest over a date range produced, in the form stitching needs."""

    start: date
    end: date
    equity: tuple[tuple[str, float], ...]  # end-of-session points, the first is the starting capital
    trade_pnls: tuple[float, ...]
    charges: float

    @property
    def sessions(self) -> int:
        return max(len(self.equity) - 1, 0)

    @property
    def net_pnl(self) -> float:
        return self.equity[-1][1] - self.equity[0][1] if self.equity else 0.0


#: Runs one backtest over [start, end] with the given settings and returns its segment.
SegmentRunner = Callable[[Settings, date, date, ProgressHook | None], Segment]


Job = TypeVar("Job")
Done = TypeVar("Done")


def _in_processes(
    work: Callable[[Job], Done],
    jobs: Sequence[Job],
    template: StudySpec,
    settings: Settings,
    run: SegmentRunner,
    span: tuple[date, date],
) -> list[Done]:
    """`work` over `jobs`, in order: here when `template.workers` is 1, else in that many forked
    processes that inherit the market data `run` prepared for `span` here."""
    processes = template.workers
    if processes <= 1 or len(jobs) < 2:
        return [work(job) for job in jobs]
    if isinstance(run, Preparable):
        run.prepare(settings, *span)
    create_storage(template)
    with fork_pool(min(processes, len(jobs))) as pool:
        return list(pool.map(work, jobs))


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, month_calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class WindowPlan:
    in_sample: tuple[date, date]
    out_of_sample: tuple[date, date]


def plan_windows(
    start: date, end: date, in_sample_months: int, out_of_sample_months: int, step_months: int, anchored: bool
) -> list[WindowPlan]:
    """Windows whose out-of-sample parts tile [start + in-sample, end] without overlap."""
    if min(in_sample_months, out_of_sample_months, step_months) < 1:
        raise UserError("walk-forward lengths (in-sample, out-of-sample, step) must be at least 1 month")
    if step_months < out_of_sample_months:
        raise UserError("--step must be at least --oos, or out-of-sample periods would overlap")
    windows: list[WindowPlan] = []
    while True:
        oos_start = add_months(start, in_sample_months + len(windows) * step_months)
        if oos_start > end:
            break
        first = start if anchored else add_months(oos_start, -in_sample_months)
        oos_end = min(add_months(oos_start, out_of_sample_months) - timedelta(days=1), end)
        windows.append(WindowPlan((first, oos_start - timedelta(days=1)), (oos_start, oos_end)))
    if not windows:
        raise UserError(
            f"{start}..{end} is shorter than one window ({in_sample_months} in-sample + "
            f"{out_of_sample_months} out-of-sample months)"
        )
    return windows


def stitch(segments: Sequence[Segment], initial_capital: float) -> tuple[tuple[str, float], ...]:
    """One equity curve from consecutive segments: each segment's P&L added on top of the last."""
    points: list[tuple[str, float]] = []
    level = initial_capital
    for segment in segments:
        if not segment.equity:
            continue
        base = segment.equity[0][1]
        if not points:
            points.append((segment.equity[0][0], level))
        points.extend((stamp, round(level + value - base, 2)) for stamp, value in segment.equity[1:])
        level += segment.net_pnl
    return tuple(points)


def combined_metrics(segments: Sequence[Segment], initial_capital: float) -> BacktestMetrics:
    equity = stitch(segments, initial_capital)
    values = [value for _, value in equity] or [initial_capital, initial_capital]
    return metrics_from_equity(
        values, [pnl for segment in segments for pnl in segment.trade_pnls], sum(s.charges for s in segments)
    )


@dataclass(frozen=True, slots=True)
class WindowResult:
    plan: WindowPlan
    parameters: dict[str, ParameterValue]
    in_sample: dict[str, Any]  # the chosen trial's metrics
    in_sample_sessions: int
    out_of_sample: BacktestMetrics
    out_of_sample_sessions: int
    trials: int
    backtested: int = 0  # trials that ran a backtest; the others repeated earlier values
    pruned: int = 0  # trials stopped early by the pruner (or repeating a pruned trial's values)

    @property
    def efficiency(self) -> float | None:
        is_pnl = float(self.in_sample.get("net_pnl") or 0.0)
        if self.in_sample_sessions == 0 or self.out_of_sample_sessions == 0 or is_pnl <= 0:
            return None
        return (self.out_of_sample.net_pnl / self.out_of_sample_sessions) / (is_pnl / self.in_sample_sessions)


@dataclass(frozen=True, slots=True)
class ParameterStability:
    name: str
    values: tuple[ParameterValue, ...]
    mean: float | None
    stdev: float | None
    coefficient_of_variation: float | None  # stdev / |mean|; small = the optimum did not wander


@dataclass(frozen=True)
class WalkForwardResult:
    windows: tuple[WindowResult, ...]
    out_of_sample_equity: tuple[tuple[str, float], ...]
    out_of_sample: BacktestMetrics
    in_sample_mean_net_pnl: float
    efficiency: float | None
    stability: tuple[ParameterStability, ...]


def parameter_stability(windows: Sequence[WindowResult]) -> tuple[ParameterStability, ...]:
    names = sorted({name for window in windows for name in window.parameters})
    result = []
    for name in names:
        values = tuple(window.parameters[name] for window in windows if name in window.parameters)
        numeric = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        mean = statistics.fmean(numeric) if numeric else None
        stdev = statistics.stdev(numeric) if len(numeric) >= 2 else None
        cv = stdev / abs(mean) if stdev is not None and mean not in (None, 0.0) else None
        result.append(ParameterStability(name, values, mean, stdev, cv))
    return tuple(result)


@dataclass(frozen=True)
class _SegmentEvaluator:
    """An Optuna evaluator over one or several date ranges (cross-validation trains on two); a plain
    object, so a study's trials can run in worker processes."""

    run: SegmentRunner
    ranges: tuple[tuple[date, date], ...]
    capital: float

    def __call__(self, settings: Settings, start: date, end: date, progress: ProgressHook) -> BacktestMetrics:
        single = len(self.ranges) == 1
        segments = [
            self.run(settings, first, last, progress if single else None) for first, last in self.ranges
        ]
        return combined_metrics(segments, self.capital)


@dataclass(frozen=True)
class _WindowJob:
    settings: Settings
    spec: StudySpec  # the window's own study (its name and in-sample range), worked by one process
    window: WindowPlan
    run: SegmentRunner


def _run_window(job: _WindowJob) -> tuple[WindowResult, Segment]:
    """Optimise one window in-sample, then trade its best parameters out-of-sample."""
    settings, window, run = job.settings, job.window, job.run
    capital = settings.backtest.initial_capital
    study = run_study(settings, job.spec, _SegmentEvaluator(run, (window.in_sample,), capital))
    parameters = dict(best_parameters(study))
    chosen = study.best
    segment = run(apply_parameters(settings, parameters), *window.out_of_sample, None)
    result = WindowResult(
        plan=window,
        parameters=parameters,
        in_sample=dict(chosen.metrics) if chosen else {},
        in_sample_sessions=_sessions(chosen.metrics if chosen else {}),
        out_of_sample=combined_metrics([segment], capital),
        out_of_sample_sessions=segment.sessions,
        trials=len(study.trials),
        backtested=study.backtested,
        pruned=study.pruned,
    )
    return result, segment


def run_walk_forward(
    settings: Settings,
    template: StudySpec,
    windows: Sequence[WindowPlan],
    run: SegmentRunner,
) -> WalkForwardResult:
    """Optimise each window in-sample (its own study, `<name>-wf<N>`), trade the best out-of-sample;
    the windows are spread over `template.workers` processes (see the module docstring)."""
    if not windows:
        raise UserError("walk-forward: no window to run")
    jobs = [
        _WindowJob(
            settings,
            replace(
                template,
                study_name=f"{template.study_name}-wf{number}",
                start=window.in_sample[0],
                end=window.in_sample[1],
                workers=1,
            ),
            window,
            run,
        )
        for number, window in enumerate(windows)
    ]
    span = (min(w.in_sample[0] for w in windows), max(w.out_of_sample[1] for w in windows))
    done = _in_processes(_run_window, jobs, template, settings, run, span)
    return _walk_forward_result(
        [result for result, _ in done], [segment for _, segment in done], settings.backtest.initial_capital
    )


def _sessions(metrics: dict[str, Any]) -> int:
    return int(metrics.get("sessions") or 0)


def _walk_forward_result(
    results: Sequence[WindowResult], oos_segments: Sequence[Segment], capital: float
) -> WalkForwardResult:
    is_pnl = [float(r.in_sample.get("net_pnl") or 0.0) for r in results]
    is_sessions = sum(r.in_sample_sessions for r in results)
    oos_sessions = sum(r.out_of_sample_sessions for r in results)
    out_of_sample = combined_metrics(oos_segments, capital)
    efficiency = None
    if is_sessions and oos_sessions and sum(is_pnl) > 0:
        efficiency = (out_of_sample.net_pnl / oos_sessions) / (sum(is_pnl) / is_sessions)
    return WalkForwardResult(
        windows=tuple(results),
        out_of_sample_equity=stitch(oos_segments, capital),
        out_of_sample=out_of_sample,
        in_sample_mean_net_pnl=statistics.fmean(is_pnl) if is_pnl else 0.0,
        efficiency=None if efficiency is None or not math.isfinite(efficiency) else efficiency,
        stability=parameter_stability(results),
    )


@dataclass(frozen=True, slots=True)
class FoldResult:
    test: tuple[date, date]
    train: tuple[tuple[date, date], ...]
    parameters: dict[str, ParameterValue]
    test_metrics: BacktestMetrics


def plan_folds(
    start: date, end: date, folds: int, purge_days: int
) -> list[tuple[tuple[date, date], list[tuple[date, date]]]]:
    """k contiguous test folds; each one's training ranges are the rest, minus `purge_days` either side
    (a negative purge would train on the test fold's own edge days)."""
    if purge_days < 0:
        raise UserError(f"--purge-days must be zero or more, got {purge_days}")
    total = (end - start).days + 1
    if folds < 2 or total < folds:
        raise UserError(
            f"cross-validation needs at least 2 folds and a day per fold (got {folds} over {total} days)"
        )
    bounds = [start + timedelta(days=round(total * i / folds)) for i in range(folds + 1)]
    plans = []
    for i in range(folds):
        test = (bounds[i], bounds[i + 1] - timedelta(days=1))
        train = []
        left_end = test[0] - timedelta(days=purge_days + 1)
        if left_end >= start:
            train.append((start, left_end))
        right_start = test[1] + timedelta(days=purge_days + 1)
        if right_start <= end:
            train.append((right_start, end))
        if not train:
            raise UserError(f"fold {i + 1}: nothing left to train on after a {purge_days}-day purge")
        plans.append((test, train))
    return plans


@dataclass(frozen=True)
class _FoldJob:
    settings: Settings
    spec: StudySpec
    test: tuple[date, date]
    train: tuple[tuple[date, date], ...]
    run: SegmentRunner


def _run_fold(job: _FoldJob) -> FoldResult:
    capital = job.settings.backtest.initial_capital
    study: StudySummary = run_study(job.settings, job.spec, _SegmentEvaluator(job.run, job.train, capital))
    parameters = dict(best_parameters(study))
    segment = job.run(apply_parameters(job.settings, parameters), *job.test, None)
    return FoldResult(job.test, job.train, parameters, combined_metrics([segment], capital))


def run_cross_validation(
    settings: Settings, template: StudySpec, folds: int, purge_days: int, run: SegmentRunner
) -> tuple[FoldResult, ...]:
    """Each fold tested with parameters optimised on the others (folds spread over
    `template.workers` processes, as walk-forward windows are)."""
    jobs = [
        _FoldJob(
            settings,
            replace(template, study_name=f"{template.study_name}-cv{number}", workers=1),
            test,
            tuple(train),
            run,
        )
        for number, (test, train) in enumerate(plan_folds(template.start, template.end, folds, purge_days))
    ]
    span = (template.start, template.end)
    return tuple(_in_processes(_run_fold, jobs, template, settings, run, span))


def walk_forward_tearsheet(
    result: WalkForwardResult, title: str, subtitle: str, initial_capital: float
) -> TearsheetInput:
    """The page of a walk-forward: the stitched out-of-sample equity and the windows table."""
    return TearsheetInput(
        title=title,
        subtitle=subtitle,
        initial_capital=initial_capital,
        equity=list(result.out_of_sample_equity),
        trades=[],
        metrics={
            "net_pnl": result.out_of_sample.net_pnl,
            "total_return": result.out_of_sample.total_return,
            "max_drawdown": result.out_of_sample.max_drawdown,
            "trades": result.out_of_sample.trades,
            "sharpe": result.out_of_sample.sharpe,
            "walk_forward_efficiency": result.efficiency,
        },
        walk_forward=[
            WalkForwardWindow(
                (str(w.plan.in_sample[0]), str(w.plan.in_sample[1])),
                (str(w.plan.out_of_sample[0]), str(w.plan.out_of_sample[1])),
                w.parameters,
                float(w.in_sample.get("net_pnl") or 0.0),
                w.out_of_sample.net_pnl,
                w.trials,
                w.backtested,
                w.pruned,
            )
            for w in result.windows
        ],
    )
