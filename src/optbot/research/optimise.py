"""Parameter optimisation (spec §11.5) with Optuna: samplers, pruning, resumable and shared studies.

A study lives in an Optuna storage: SQLite by default (one machine), PostgreSQL for several
`optbot research optimise` processes on several machines working one study at once. Each trial
applies sampled values to the strategy's declared tunables, runs a backtest of the one engine, and
records the metrics; the study's trial budget is global, so N workers never run more than `trials`
completed trials between them (a trial numbered past the budget stops its worker without running).

Trials breaking a constraint (too few trades, too deep a drawdown) stay in the study, marked
infeasible, and are never reported as best. Pruning compares each trial's net P&L at the end of every
replayed calendar month with the completed trials' at the same month (the median rule,
`MonthMedianPruner`); the summary counts the pruned trials.

A backtest is deterministic (the same settings and data give a byte-identical report), so a trial
whose sampled values equal an earlier finished trial's in the same study is not replayed: it takes
that trial's metrics and value (or is pruned again, as that one was) and records `repeat_of`. A
search over a small grid (a legs template's steps and choices) samples the same values many times;
the summary counts the trials that were backtested and the repeats apart.
"""

from __future__ import annotations

import math
import multiprocessing
import statistics
import sys
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Protocol, runtime_checkable

import optuna
import sqlalchemy
from optuna.trial import FrozenTrial, TrialState

from optbot.config import Settings
from optbot.core.errors import ParameterError, UserError
from optbot.research.objectives import BacktestMetrics, Constraints, Objective
from optbot.strategy.tunable import ParameterValue, Tunable, apply_parameters

#: Called at the end of each replayed calendar month with (month index, net P&L so far); may raise to
#: stop the run (pruning).
ProgressHook = Callable[[int, float], None]
#: Runs one backtest: (settings with the trial's values, start, end, progress hook) -> metrics.
Evaluator = Callable[[Settings, date, date, ProgressHook], BacktestMetrics]


@runtime_checkable
class Preparable(Protocol):
    """An evaluator that can load and prepare the market data of a date range in advance (before
    worker processes are forked, so they inherit it)."""

    def prepare(self, settings: Settings, start: date, end: date) -> None: ...


SAMPLERS = ("tpe", "random", "cmaes")
PRUNERS = ("median", "none")


@dataclass(frozen=True)
class StudySpec:
    study_name: str
    storage: str  # an Optuna/SQLAlchemy URL: sqlite:///path.db or postgresql://user:pw@host/db
    start: date
    end: date
    trials: int
    tunables: tuple[Tunable, ...]
    objective: Objective
    constraints: Constraints = field(default_factory=Constraints)
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int = 20_240_604
    workers: int = 1  # processes on this machine working the study at once


@dataclass(frozen=True, slots=True)
class TrialSummary:
    number: int
    state: str
    value: float | None
    parameters: dict[str, ParameterValue]
    metrics: dict[str, Any]
    violations: tuple[str, ...]
    worker: str
    repeat_of: int | None = None  # the earlier trial with the same values whose result this one reused

    @property
    def feasible(self) -> bool:
        return self.state == "COMPLETE" and not self.violations and self.value is not None


@dataclass(frozen=True, slots=True)
class StudySummary:
    study_name: str
    storage: str
    trials: tuple[TrialSummary, ...]
    best: TrialSummary | None

    @property
    def completed(self) -> int:
        return sum(1 for trial in self.trials if trial.state == "COMPLETE")

    @property
    def pruned(self) -> int:
        return sum(1 for trial in self.trials if trial.state == "PRUNED")

    @property
    def backtested(self) -> int:
        """Trials that ran a backtest (to the end or until pruned); the rest repeated earlier values."""
        return sum(1 for trial in self.trials if trial.repeat_of is None and trial.state != "FAIL")


def storage_url(url: str) -> str:
    """SQLAlchemy URL for Optuna; plain `postgresql://` uses the psycopg (v3) driver optbot installs."""
    text = url.strip()
    if text.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    if text.startswith(("sqlite:///", "postgresql+")):
        return text
    raise UserError(f"--storage {url!r}: expected sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB")


def check_search(spec: StudySpec) -> None:
    """Refuse a sampler or pruner not in `SAMPLERS` / `PRUNERS`, before any storage is opened: opening
    one creates the study's database, which a refused command would leave behind."""
    if spec.sampler not in SAMPLERS:
        raise UserError(f"--sampler {spec.sampler!r}: choose one of {', '.join(SAMPLERS)}")
    if spec.pruner not in PRUNERS:
        raise UserError(f"--pruner {spec.pruner!r}: choose one of {', '.join(PRUNERS)}")


def _sampler(spec: StudySpec) -> optuna.samplers.BaseSampler:
    check_search(spec)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    if spec.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=spec.seed)
    return optuna.samplers.TPESampler(seed=spec.seed)


class MonthMedianPruner(optuna.pruners.BasePruner):
    """Prune a trial whose net P&L at the end of a month is below the median of the completed trials'
    net P&L at the end of the same month.

    Optuna's `MedianPruner` compares the trial's *best* report so far with the median, which suits a
    learning curve that only improves; a running P&L is not one: in a losing stretch every trial's
    best report is its first month, above every later median, and nothing would ever be pruned."""

    def __init__(self, startup_trials: int = 5, warmup_months: int = 1) -> None:
        self.startup_trials = startup_trials
        self.warmup_months = warmup_months

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        month = trial.last_step
        if month is None or month < self.warmup_months:
            return False
        peers = [
            done.intermediate_values[month]
            for done in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if month in done.intermediate_values
        ]
        if len(peers) < self.startup_trials:
            return False
        return trial.intermediate_values[month] < statistics.median(peers)


def _pruner(spec: StudySpec) -> optuna.pruners.BasePruner:
    check_search(spec)
    if spec.pruner == "median":
        return MonthMedianPruner()
    return optuna.pruners.NopPruner()


#: How long a SQLite writer waits for another process's write (several workers share one file).
SQLITE_BUSY_TIMEOUT_SECONDS = 60


def _storage(spec: StudySpec) -> optuna.storages.RDBStorage:
    check_search(spec)
    url = storage_url(spec.storage)
    engine = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}} if url.startswith("sqlite") else {}
    try:
        with warnings.catch_warnings():  # heartbeats are "experimental"; they let a dead worker's trial fail
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(
                url, engine_kwargs=engine, heartbeat_interval=30, grace_period=120
            )
    except Exception as exc:  # SQLAlchemy raises many kinds; all mean "cannot open that storage"
        raise UserError(f"--storage {spec.storage!r}: cannot open it ({type(exc).__name__}: {exc})") from None
    if url.startswith("sqlite"):
        sqlalchemy.event.listen(storage.engine, "connect", _write_ahead_log)
        storage.engine.dispose()  # the connections opened so far did not have it
    return storage


def _write_ahead_log(connection: Any, _record: object) -> None:
    """A study's SQLite file in write-ahead-log mode, synced at checkpoints rather than at each of
    a trial's ~25 commits (its values, user attributes and monthly reports each commit; with the
    default rollback journal every commit waited ~10 ms on the disk, ~30 s per 100 trials). A commit
    is atomic either way and the file is never left corrupt; a power cut can undo the last
    commits, which a resumed study runs again (a trial is a deterministic backtest)."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_storage(spec: StudySpec) -> None:
    """Create the storage's tables now, before worker processes race to (SQLite would refuse the
    second `CREATE TABLE`), and leave no connection of this process for a fork to inherit."""
    _storage(spec).engine.dispose()


def open_study(spec: StudySpec, storage: optuna.storages.RDBStorage | None = None) -> optuna.Study:
    """Create the study or join the existing one of that name (resumable, shared across processes)."""
    # ERROR: a worker stopping at the budget ends its last trial as "failed", which Optuna would log
    # with a traceback at WARNING; a real failure still raises out of the study
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna.create_study(
        study_name=spec.study_name,
        storage=storage if storage is not None else _storage(spec),
        sampler=_sampler(spec),
        pruner=_pruner(spec),
        direction="maximize",
        load_if_exists=True,
    )


def suggest(trial: optuna.Trial, tunable: Tunable) -> ParameterValue:
    if tunable.choices:
        choice = trial.suggest_categorical(tunable.path, list(tunable.choices))
        return next(option for option in tunable.choices if option == choice)
    low, high = float(tunable.low or 0.0), float(tunable.high or 0.0)
    if tunable.integer:
        step = int(tunable.step or 1)
        return trial.suggest_int(tunable.path, int(low), int(high), step=step, log=tunable.log)
    return trial.suggest_float(tunable.path, low, high, step=tunable.step, log=tunable.log)


class _BudgetReached(Exception):
    """The study already has its trials; this worker stops without running another."""


def _earlier_result(study: optuna.Study, trial: optuna.Trial) -> FrozenTrial | None:
    """The first finished trial of the study (completed, or pruned by the pruner) with exactly the
    values `trial` sampled, or None."""
    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    return next(
        (
            earlier
            for earlier in finished
            if earlier.number != trial.number
            and earlier.params == trial.params
            and not earlier.user_attrs.get("over_budget")
        ),
        None,
    )


def _reuse(trial: optuna.Trial, earlier: FrozenTrial) -> float:
    """The earlier trial's outcome for the same values: the backtest is deterministic, so replaying
    it would give the same metrics (see the module docstring)."""
    trial.set_user_attr("repeat_of", earlier.number)
    for step, value in sorted(earlier.intermediate_values.items()):
        trial.report(value, step)  # the pruner's medians count this trial as they counted that one
    violations = list(earlier.user_attrs.get("violations", ()))
    trial.set_user_attr("violations", violations)
    if earlier.state is TrialState.PRUNED:
        raise optuna.TrialPruned(f"same values as trial {earlier.number}, which was pruned")
    trial.set_user_attr("metrics", dict(earlier.user_attrs.get("metrics", {})))
    trial.set_constraint("violations", float(len(violations)))
    assert earlier.value is not None  # a COMPLETE trial has its value
    return float(earlier.value)


def _objective(
    settings: Settings, spec: StudySpec, evaluate: Evaluator, worker: str, study: optuna.Study
) -> Callable[[optuna.Trial], float]:
    def run(trial: optuna.Trial) -> float:
        if trial.number >= spec.trials:
            trial.set_user_attr("over_budget", True)
            study.stop()
            raise _BudgetReached
        trial.set_user_attr("worker", worker)
        values = {tunable.path: suggest(trial, tunable) for tunable in spec.tunables}
        earlier = _earlier_result(study, trial)
        if earlier is not None:
            return _reuse(trial, earlier)

        def progress(month: int, net_pnl: float) -> None:
            trial.report(net_pnl, month)
            if trial.should_prune():
                raise optuna.TrialPruned(f"net P&L {net_pnl:,.2f} after month {month + 1} below the median")

        try:
            metrics = evaluate(apply_parameters(settings, values), spec.start, spec.end, progress)
        except ParameterError as exc:  # each value is in range, but the combination breaks a rule
            trial.set_user_attr("violations", [str(exc)])
            raise optuna.TrialPruned(str(exc)) from None
        trial.set_user_attr("metrics", metrics.as_dict())
        violations = spec.constraints.violations(metrics)
        trial.set_user_attr("violations", violations)
        trial.set_constraint("violations", float(len(violations)))
        value = spec.objective.value(metrics)
        return value if math.isfinite(value) else -1e18

    return run


def run_study(
    settings: Settings, spec: StudySpec, evaluate: Evaluator, worker: str = "local"
) -> StudySummary:
    """Run trials until the study holds `spec.trials` of them (counting other workers' trials), in
    `spec.workers` processes of this machine (each joins the one shared study, as a second machine
    would; the study's budget keeps them from running a trial too many)."""
    if spec.trials < 1:
        raise UserError(f"--trials must be at least 1, got {spec.trials}")
    if spec.workers < 1:
        raise UserError(f"--workers must be at least 1, got {spec.workers}")
    if not spec.tunables:
        raise UserError("nothing to optimise: the strategy declares no tunables and no --param was given")
    if spec.workers == 1:
        _work(settings, spec, evaluate, worker, 0)
    else:
        _work_in_processes(settings, spec, evaluate, worker)
    return summarise(open_study(spec), spec)


def _work(settings: Settings, spec: StudySpec, evaluate: Evaluator, worker: str, index: int) -> None:
    """One worker: join the study and run trials while the budget lasts. Each worker samples with its
    own seed (the study's + its index), so two workers never propose the same first values."""
    study = open_study(replace(spec, seed=spec.seed + index))
    remaining = spec.trials - sum(
        1 for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("over_budget")
    )
    if remaining > 0:
        study.optimize(
            _objective(settings, spec, evaluate, worker, study),
            n_trials=remaining,
            catch=(_BudgetReached,),
            gc_after_trial=False,
        )


def fork_pool(processes: int) -> ProcessPoolExecutor:
    """Worker processes that, on Linux, are forked: they share what this process already loaded (the
    parsed bar store, the built sessions) instead of reading it again."""
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    return ProcessPoolExecutor(processes, mp_context=context)


def _work_in_processes(settings: Settings, spec: StudySpec, evaluate: Evaluator, worker: str) -> None:
    """`spec.workers` worker processes joining one study; no storage connection of this process is
    open while they start."""
    if isinstance(evaluate, Preparable):
        evaluate.prepare(settings, spec.start, spec.end)
    storage = _storage(spec)
    open_study(spec, storage)  # tables and study exist before the workers race to join them
    storage.engine.dispose()  # and no connection of this process is inherited by a fork
    with fork_pool(spec.workers) as pool:
        futures = [
            pool.submit(_work, settings, spec, evaluate, f"{worker}-{index + 1}", index)
            for index in range(spec.workers)
        ]
        for future in futures:
            future.result()


def summarise(study: optuna.Study, spec: StudySpec) -> StudySummary:
    trials = tuple(
        _trial_summary(trial)
        for trial in study.get_trials(deepcopy=False)
        if not trial.user_attrs.get("over_budget")
    )
    feasible = [trial for trial in trials if trial.feasible]
    best = max(feasible, key=lambda trial: (trial.value or -math.inf, -trial.number)) if feasible else None
    return StudySummary(spec.study_name, spec.storage, trials, best)


def _trial_summary(trial: FrozenTrial) -> TrialSummary:
    value = trial.value if trial.state is TrialState.COMPLETE else None
    return TrialSummary(
        number=trial.number,
        state=trial.state.name,
        value=None if value is None or value <= -1e18 else float(value),
        parameters=dict(trial.params),
        metrics=dict(trial.user_attrs.get("metrics", {})),
        violations=tuple(trial.user_attrs.get("violations", ())),
        worker=str(trial.user_attrs.get("worker", "")),
        repeat_of=trial.user_attrs.get("repeat_of"),
    )


def best_parameters(summary: StudySummary) -> Mapping[str, ParameterValue]:
    if summary.best is None:
        raise UserError(
            f"study {summary.study_name!r}: no feasible trial (all {len(summary.trials)} broke a constraint, "
            "were pruned or failed)"
        )
    return summary.best.parameters
