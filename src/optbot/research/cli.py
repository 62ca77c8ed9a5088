"""`optbot research optimise | walkforward | cv | montecarlo | tearsheet` (spec §11.5, §11.8, §11.9)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from optbot.cli.common import console, data_root_option, parse_date_option, settings_from
from optbot.core.errors import UserError
from optbot.core.output_path import output_target

if TYPE_CHECKING:
    from optbot.config import Settings
    from optbot.research.evaluate import BacktestEvaluator
    from optbot.research.montecarlo import MonteCarloResult, MonteCarloSettings
    from optbot.research.optimise import StudySpec, StudySummary
    from optbot.research.walkforward import WalkForwardResult
    from optbot.strategy.tunable import Tunable

# The research stack (optuna, plotly, pandas, scipy, the engine) is imported inside each command, after
# its arguments are checked, so `optbot research --help` and a bad argument answer without loading it.

research_app = typer.Typer(
    help="Optimisation, walk-forward, cross-validation, Monte Carlo, stress and bias checks, tearsheets.",
    no_args_is_help=True,
)


def _research_dir(settings: Settings, out: Path | None, name: str) -> Path:
    """The folder a research command writes its files to (`--out`, checked: a folder whose parent
    exists; default reports/research/<name>)."""
    default = settings.paths.resolve(settings.paths.reports_dir) / "research" / name
    folder = output_target(out, default, ()).directory
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _monte_carlo_settings(settings: Settings, paths: int | None) -> MonteCarloSettings:
    from optbot.research.montecarlo import MonteCarloSettings

    research = settings.research
    return MonteCarloSettings(
        paths=paths if paths is not None else research.monte_carlo_paths,
        seed=research.monte_carlo_seed,
        block_days=research.bootstrap_block_days,
        confidence=research.confidence,
        ruin_loss_fraction=research.ruin_loss_fraction,
        slippage_bps=research.slippage_perturbation_bps,
        charges_perturbation=research.charges_perturbation_pct / 100.0,
        fill_probability=research.fill_probability,
    )


# Options the study commands share, declared once.
StrategyOption = Annotated[
    str, typer.Option("--strategy", help="strategy name, legs template or .toml file, or module:Class")
]
FromOption = Annotated[str, typer.Option("--from", help="first day (YYYY-MM-DD)")]
ToOption = Annotated[str, typer.Option("--to", help="last day (YYYY-MM-DD), inclusive")]
ObjectiveOption = Annotated[
    str,
    typer.Option(
        "--objective", help="net_pnl, sharpe, sortino, calmar, profit_factor, or an expression of the metrics"
    ),
]
ParamOption = Annotated[
    list[str],
    typer.Option(
        "--param",
        help="PATH=LOW:HIGH[:STEP] or PATH=A,B (repeatable): a setting (strategy.rsi_oversold) or a legs "
        "field (legs.*.stop.pct); default: the strategy's declared tunables",
    ),
]
StorageOption = Annotated[
    str | None, typer.Option("--storage", help="sqlite:///FILE (default) or postgresql://…")
]
DataOption = Annotated[
    Path | None, typer.Option("--data", callback=data_root_option, help="market data for the backtests")
]
WorkersOption = Annotated[
    int,
    typer.Option(
        "--workers",
        help="processes on this machine (e.g. 2 on 2 cores): optimise runs the study's trials on them; "
        "walkforward and cv run whole windows / folds on them, so the result is the same as with 1",
    ),
]


def checked_out_folder(out: Path | None) -> Path | None:
    """`--out` of a command that writes a folder of files, checked before anything runs."""
    if out is not None:
        output_target(out, out, ())
    return out


OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="output folder (default: reports/research/…)", callback=checked_out_folder),
]


@dataclass(frozen=True)
class StudyOptions:
    """What `optimise`, `walkforward` and `cv` share: the strategy, the dates and the search."""

    strategy: str
    start: date
    end: date
    trials: int
    objective: str = "net_pnl"
    min_trades: int = 0
    max_drawdown_pct: float | None = None
    params: tuple[str, ...] = ()
    storage: str | None = None
    study: str | None = None
    sampler: str = "tpe"
    pruner: str = "median"
    data: Path | None = None
    out: Path | None = None
    workers: int = 1

    @classmethod
    def parse(cls, strategy: str, from_: str, to: str, **options: Any) -> StudyOptions:
        start, end = parse_date_option("--from", from_), parse_date_option("--to", to)
        if end < start:
            raise UserError(f"--to {end} is before --from {start}")
        params = tuple(options.pop("params", ()))
        return cls(strategy, start, end, params=params, **options)

    def name(self, kind: str = "") -> str:
        """The study's name: `--study`, else STRATEGY[-KIND]-FROM-TO."""
        return self.study or "-".join(
            part for part in (self.strategy, kind, str(self.start), str(self.end)) if part
        )

    def folder(self, settings: Settings, kind: str = "") -> Path:
        return _research_dir(settings, self.out, self.name(kind))

    def evaluator(self) -> BacktestEvaluator:
        from optbot.research.evaluate import BacktestEvaluator

        return BacktestEvaluator(self.strategy, self.data)

    def tunables(self, settings: Settings) -> tuple[Tunable, ...]:
        """`--param` values (legs fields named for the strategy) or the strategy's declared tunables,
        each checked by building the strategy at both ends of its range."""
        from optbot.strategy.legs import qualified
        from optbot.strategy.registry import resolve_option
        from optbot.strategy.tunable import Tunable, check_buildable

        strategy = resolve_option(self.strategy)
        if self.params:
            tunables = tuple(qualified(strategy, Tunable.parse(text)) for text in self.params)
        else:
            tunables = tuple(strategy.tunables)
        check_buildable(settings, strategy, tunables)
        return tunables

    def spec(self, settings: Settings, kind: str = "") -> StudySpec:
        from optbot.research.objectives import Constraints, Objective
        from optbot.research.optimise import StudySpec

        # every argument is checked before the folder is made: a refused run leaves nothing behind
        tunables = self.tunables(settings)
        objective = Objective(self.objective)
        max_drawdown = None if self.max_drawdown_pct is None else self.max_drawdown_pct / 100
        folder = self.folder(settings, kind)
        return StudySpec(
            study_name=self.name(kind),
            storage=self.storage or f"sqlite:///{folder / 'studies.db'}",
            start=self.start,
            end=self.end,
            trials=self.trials,
            tunables=tunables,
            objective=objective,
            constraints=Constraints(min_trades=self.min_trades, max_drawdown=max_drawdown),
            sampler=self.sampler,
            pruner=self.pruner,
            seed=settings.research.monte_carlo_seed,
            workers=self.workers,
        )


def _print_study(summary: StudySummary) -> None:
    feasible = sum(1 for trial in summary.trials if trial.feasible)
    console.print(
        f"study [bold]{summary.study_name}[/bold]: {summary.completed} completed trial(s), "
        f"{feasible} feasible, {summary.pruned} pruned, "
        f"{len(summary.trials) - summary.completed - summary.pruned} failed; "
        f"{summary.backtested} backtested, {len(summary.trials) - summary.backtested} repeated "
        "earlier values (their results reused)",
        highlight=False,
        soft_wrap=True,
    )
    if summary.best is not None:
        values = ", ".join(f"{name}={value}" for name, value in sorted(summary.best.parameters.items()))
        console.print(
            f"best trial #{summary.best.number}: objective {summary.best.value:,.4f} with {values}",
            highlight=False,
            soft_wrap=True,
        )


def _write_json(path: Path, payload: Any) -> None:
    from optbot.core.atomic import atomic_write_bytes

    atomic_write_bytes(path, orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")


@research_app.command("optimise")
def optimise_command(
    ctx: typer.Context,
    strategy: StrategyOption,
    from_: FromOption,
    to: ToOption,
    trials: int = typer.Option(100, "--trials", help="trials in the study (shared by every worker)"),
    objective: ObjectiveOption = "net_pnl",
    min_trades: int = typer.Option(0, "--min-trades", min=0, help="constraint: at least this many trades"),
    max_drawdown: float | None = typer.Option(
        None, "--max-drawdown", min=0.0, help="constraint: max drawdown, %"
    ),
    param: ParamOption = [],  # noqa: B006 - typer reads the default, never mutates it
    storage: StorageOption = None,
    study: str | None = typer.Option(None, "--study", help="study name (join it if it exists)"),
    sampler: str = typer.Option("tpe", "--sampler", help="tpe, random or cmaes"),
    pruner: str = typer.Option("median", "--pruner", help="median or none"),
    worker: str = typer.Option("local", "--worker", help="this worker's name, recorded on its trials"),
    workers: WorkersOption = 1,
    data: DataOption = None,
    out: OutOption = None,
    tearsheet: bool = typer.Option(
        True, "--tearsheet/--no-tearsheet", help="backtest the best, write a page"
    ),
) -> None:
    """Search the strategy's tunable parameters with Optuna; print and save the best."""
    settings = settings_from(ctx)
    options = StudyOptions.parse(
        strategy, from_, to, trials=trials, objective=objective, min_trades=min_trades,
        max_drawdown_pct=max_drawdown, params=param, storage=storage, study=study, sampler=sampler,
        pruner=pruner, data=data, out=out, workers=workers,
    )  # fmt: skip
    from optbot.research.evaluate import outcome_tearsheet, with_market
    from optbot.research.optimise import best_parameters, run_study
    from optbot.research.tearsheet import write_tearsheet
    from optbot.strategy.tunable import apply_parameters

    spec = options.spec(settings)  # checks every argument, then makes the folder
    folder = options.folder(settings)
    evaluator = options.evaluator()
    summary = run_study(settings, spec, evaluator, worker=worker)
    _print_study(summary)
    _write_json(folder / "study.json", _study_payload(summary))
    if tearsheet and summary.best is not None:
        best = apply_parameters(settings, best_parameters(summary))
        outcome = evaluator.run(best, options.start, options.end)
        sheet = outcome_tearsheet(outcome, title=f"Optimised {strategy} (trial #{summary.best.number})")
        sheet = with_market(sheet, evaluator.market(settings), settings)
        path = write_tearsheet(sheet, folder / "tearsheet.html")
        console.print(f"tearsheet: {path}", highlight=False, soft_wrap=True)
    console.print(f"study:     {folder / 'study.json'}", highlight=False, soft_wrap=True)


def _study_payload(summary: StudySummary) -> dict[str, Any]:
    return {
        "study": summary.study_name,
        "best": None
        if summary.best is None
        else {
            "number": summary.best.number,
            "value": summary.best.value,
            "parameters": summary.best.parameters,
            "metrics": summary.best.metrics,
        },
        "trials": [
            {
                "number": t.number,
                "state": t.state,
                "value": t.value,
                "parameters": t.parameters,
                "violations": list(t.violations),
                "worker": t.worker,
                "metrics": t.metrics,
            }
            for t in summary.trials
        ],
    }


@research_app.command("walkforward")
def walkforward_command(
    ctx: typer.Context,
    strategy: StrategyOption,
    from_: FromOption,
    to: ToOption,
    in_sample: int = typer.Option(6, "--is", help="in-sample months"),
    out_of_sample: int = typer.Option(1, "--oos", help="out-of-sample months"),
    step: int = typer.Option(1, "--step", help="months between windows (≥ --oos)"),
    anchored: bool = typer.Option(False, "--anchored/--rolling", help="in-sample always starts at --from"),
    trials: int = typer.Option(100, "--trials", help="trials per window"),
    objective: ObjectiveOption = "net_pnl",
    min_trades: int = typer.Option(0, "--min-trades", min=0),
    max_drawdown: float | None = typer.Option(None, "--max-drawdown", min=0.0),
    param: ParamOption = [],  # noqa: B006 - typer reads the default, never mutates it
    storage: StorageOption = None,
    study: str | None = typer.Option(None, "--study"),
    sampler: str = typer.Option("tpe", "--sampler"),
    pruner: str = typer.Option("median", "--pruner", help="median (per month, in-sample) or none"),
    workers: WorkersOption = 1,
    data: DataOption = None,
    out: OutOption = None,
) -> None:
    """Optimise each in-sample window, trade its best parameters out-of-sample, stitch the result."""
    settings = settings_from(ctx)
    options = StudyOptions.parse(
        strategy, from_, to, trials=trials, objective=objective, min_trades=min_trades,
        max_drawdown_pct=max_drawdown, params=param, storage=storage, study=study, sampler=sampler,
        pruner=pruner, data=data, out=out, workers=workers,
    )  # fmt: skip
    from optbot.research.evaluate import BacktestSegments
    from optbot.research.tearsheet import write_tearsheet
    from optbot.research.walkforward import plan_windows, run_walk_forward, walk_forward_tearsheet

    windows = plan_windows(options.start, options.end, in_sample, out_of_sample, step, anchored)
    spec = options.spec(settings, "wf")
    result = run_walk_forward(settings, spec, windows, BacktestSegments(options.evaluator()))
    _print_walk_forward(result)
    sheet = walk_forward_tearsheet(
        result,
        f"Walk-forward {strategy}",
        f"{options.start} to {options.end}: {in_sample}-month in-sample, {out_of_sample}-month "
        f"out-of-sample, {'anchored' if anchored else 'rolling'}, {trials} trials a window; equity is "
        "out-of-sample only",
        settings.backtest.initial_capital,
    )
    path = write_tearsheet(sheet, options.folder(settings, "wf") / "tearsheet.html")
    console.print(f"tearsheet: {path}", highlight=False, soft_wrap=True)


def _print_walk_forward(result: WalkForwardResult) -> None:
    for window in result.windows:
        efficiency = "n/a" if window.efficiency is None else f"{window.efficiency:.2f}"
        in_sample_net = float(window.in_sample.get("net_pnl") or 0.0)
        oos = window.plan.out_of_sample
        console.print(
            f"IS {window.plan.in_sample[0]}..{window.plan.in_sample[1]} → "
            f"OOS {oos[0]}..{oos[1]}: IS net ₹{in_sample_net:,.2f}, "
            f"OOS net ₹{window.out_of_sample.net_pnl:,.2f}, WFE {efficiency}; {window.trials} trials: "
            f"{window.backtested} backtested, {window.pruned} pruned, "
            f"{window.trials - window.backtested} repeated earlier values",
            highlight=False,
            soft_wrap=True,
        )
    efficiency = "n/a" if result.efficiency is None else f"{result.efficiency:.2f}"
    console.print(
        f"out-of-sample net P&L ₹{result.out_of_sample.net_pnl:,.2f} over "
        f"{result.out_of_sample.sessions} session(s); walk-forward efficiency {efficiency}",
        highlight=False,
        soft_wrap=True,
    )
    for item in result.stability:
        cv = "n/a" if item.coefficient_of_variation is None else f"{item.coefficient_of_variation:.2%}"
        console.print(
            f"parameter {item.name}: {list(item.values)} (variation {cv})", highlight=False, soft_wrap=True
        )


@research_app.command("cv")
def cross_validation_command(
    ctx: typer.Context,
    strategy: StrategyOption,
    from_: FromOption,
    to: ToOption,
    folds: int = typer.Option(5, "--folds"),
    purge_days: int = typer.Option(
        5, "--purge-days", help="calendar days left out either side of a test fold"
    ),
    trials: int = typer.Option(50, "--trials", help="trials per fold"),
    objective: ObjectiveOption = "net_pnl",
    param: ParamOption = [],  # noqa: B006 - typer reads the default, never mutates it
    storage: StorageOption = None,
    workers: WorkersOption = 1,
    data: DataOption = None,
    out: OutOption = None,
) -> None:
    """k-fold cross-validation by time: optimise on the other folds (purged), test on each fold."""
    settings = settings_from(ctx)
    options = StudyOptions.parse(
        strategy, from_, to, trials=trials, objective=objective, params=param, storage=storage,
        pruner="none", data=data, out=out, workers=workers,
    )  # fmt: skip
    from optbot.research.evaluate import BacktestSegments
    from optbot.research.walkforward import run_cross_validation

    results = run_cross_validation(
        settings, options.spec(settings, "cv"), folds, purge_days, BacktestSegments(options.evaluator())
    )
    for result in results:
        console.print(
            f"test {result.test[0]}..{result.test[1]}: net ₹{result.test_metrics.net_pnl:,.2f}, "
            f"{result.test_metrics.trades} trade(s), parameters {result.parameters}",
            highlight=False,
            soft_wrap=True,
        )


@research_app.command("montecarlo")
def montecarlo_command(
    ctx: typer.Context,
    strategy: str | None = typer.Option(None, "--strategy"),
    from_: str | None = typer.Option(None, "--from"),
    to: str | None = typer.Option(None, "--to"),
    paths: int | None = typer.Option(
        None, "--paths", min=1, help="paths per method (default research.monte_carlo_paths)"
    ),
    data: Path | None = typer.Option(None, "--data", callback=data_root_option),
    out: Path | None = typer.Option(None, "--out", callback=checked_out_folder),
) -> None:
    """Backtest, then reshuffle trades, bootstrap days and perturb costs; print CIs and write a tearsheet."""
    settings = settings_from(ctx)
    if from_ is None or to is None:
        raise UserError("--from and --to are required")
    start, end = parse_date_option("--from", from_), parse_date_option("--to", to)
    from optbot.research.evaluate import BacktestEvaluator, outcome_sample, outcome_tearsheet, with_market
    from optbot.research.montecarlo import Method, run_monte_carlo
    from optbot.research.tearsheet import write_tearsheet

    evaluator = BacktestEvaluator(strategy, data)
    outcome = evaluator.run(settings, start, end)
    sample = outcome_sample(outcome)
    mc_settings = _monte_carlo_settings(settings, paths)
    results = [run_monte_carlo(sample, method, mc_settings) for method in Method]
    for result in results:
        _print_monte_carlo(result)
    sheet = outcome_tearsheet(outcome, title=f"Monte Carlo {outcome.result.strategy}")
    sheet = with_market(replace(sheet, monte_carlo=results), evaluator.market(settings), settings)
    folder = _research_dir(settings, out, f"{outcome.result.strategy}-mc-{start}-{end}")
    path = write_tearsheet(sheet, folder / "tearsheet.html")
    console.print(f"tearsheet: {path}", highlight=False, soft_wrap=True)


def _print_monte_carlo(result: MonteCarloResult) -> None:
    level = f"{result.confidence:.0%}"
    console.print(
        f"{result.method.value:>9}: final P&L median {result.final_pnl.median:,.2f} ({level} "
        f"{result.final_pnl.low:,.2f} … {result.final_pnl.high:,.2f}); max drawdown median "
        f"{result.max_drawdown_pct.median:.2%} ({level} {result.max_drawdown_pct.low:.2%} … "
        f"{result.max_drawdown_pct.high:.2%}); longest losing streak median "
        f"{result.longest_losing_streak.median:.0f}, worst {result.longest_losing_streak.worst:.0f}; "
        f"ruin {result.probability_of_ruin:.2%}",
        highlight=False,
        soft_wrap=True,
    )


@research_app.command("tearsheet")
def tearsheet_command(
    ctx: typer.Context,
    report: Path = typer.Argument(..., help="a backtest report (backtest-….json)"),
    out: Path | None = typer.Option(
        None, "--out", help="HTML file, or folder for the default name (default: beside the report)"
    ),
    data: Path | None = typer.Option(
        None, "--data", callback=data_root_option, help="market data for the NIFTY benchmark and regimes"
    ),
) -> None:
    """Turn a backtest report into a tearsheet."""
    settings = settings_from(ctx)
    if not report.is_file():
        raise UserError(f"{report}: no such report file")
    default_name = report.with_suffix(".tearsheet.html").name
    target = output_target(out, report.parent, (".html",))
    from optbot.backtest.runner import default_data_root
    from optbot.ops.reports import read_report
    from optbot.research.evaluate import with_market
    from optbot.research.market import IndexDaily
    from optbot.research.tearsheet import TearsheetInput, trades_from_report, write_tearsheet
    from optbot.sim.market.bars import BarDataError

    try:
        loaded = read_report(report)
        trades = trades_from_report(loaded.tables.get("trades", []))
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise UserError(f"{report}: not a backtest report ({exc})") from None
    equity = loaded.series.get("equity", [])
    if len(equity) < 2:
        raise UserError(f"{report}: the report holds no equity curve")
    capital = float(loaded.metrics.get("initial_capital", equity[0][1]))
    sheet = TearsheetInput(
        title=loaded.title,
        subtitle=loaded.subtitle,
        initial_capital=capital,
        equity=equity,
        trades=trades,
        metrics={
            k: loaded.metrics[k]
            for k in (
                "net_pnl",
                "charges",
                "trades",
                "total_return",
                "max_drawdown",
                "win_rate",
                "profit_factor",
                "sharpe",
                "sortino",
            )
            if k in loaded.metrics
        },
        notes=loaded.notes,
    )
    folder = data if data is not None else default_data_root(settings)
    try:
        sheet = with_market(sheet, IndexDaily.load(folder), settings)
    except BarDataError as exc:
        sheet = replace(sheet, notes=[*sheet.notes, f"no NIFTY benchmark or regime split: {exc}"])
    path = write_tearsheet(sheet, target.path(default_name.removesuffix(".html"), ".html"))
    console.print(f"tearsheet: {path}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    from optbot.research.cli_checks import register_checks, register_stress

    register_checks(research_app)
    register_stress(research_app)
    app.add_typer(research_app, name="research")
