"""The bridge from the research suite to backtests: one backtest run → metrics, trades, tearsheet input."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from optbot.backtest.runner import BacktestOutcome, DaySummary, plan_backtest, run_backtest
from optbot.config import Settings
from optbot.core.clock import Clock
from optbot.log import configure_logging, shutdown_logging
from optbot.research.market import IndexDaily
from optbot.research.montecarlo import TradeSample, sample_from_backtest
from optbot.research.objectives import BacktestMetrics, metrics_from_equity
from optbot.research.optimise import Evaluator, ProgressHook
from optbot.research.stress import day_regimes, split_tables
from optbot.research.tearsheet import TearsheetInput, TradeRow
from optbot.research.walkforward import Segment


def outcome_metrics(outcome: BacktestOutcome) -> BacktestMetrics:
    result = outcome.result
    return metrics_from_equity(
        [value for _, value in result.equity], [trade.net_pnl for trade in result.trades], outcome.charges
    )


def outcome_trades(outcome: BacktestOutcome) -> list[TradeRow]:
    return [
        TradeRow(
            symbol=trade.symbol,
            side=trade.side,
            quantity=trade.quantity,
            entry_time=trade.entry_time,
            exit_time=trade.exit_time,
            entry_price=trade.entry_price,
            exit_price=trade.exit_price,
            charges=trade.charges,
            net_pnl=trade.net_pnl,
            exit_reason=trade.exit_reason.removeprefix(f"{outcome.result.strategy}: "),
            strategy=str(getattr(trade, "strategy", "") or outcome.result.strategy),
            leg=str(getattr(trade, "leg", "") or ""),
        )
        for trade in outcome.result.trades
    ]


def outcome_sample(outcome: BacktestOutcome) -> TradeSample:
    result = outcome.result
    return sample_from_backtest(
        [trade.net_pnl for trade in result.trades],
        [trade.charges for trade in result.trades],
        [(trade.entry_price + trade.exit_price) * trade.quantity for trade in result.trades],
        [value for _, value in result.equity],
        result.initial_capital,
    )


def outcome_tearsheet(outcome: BacktestOutcome, title: str | None = None) -> TearsheetInput:
    result = outcome.result
    metrics = outcome_metrics(outcome)
    return TearsheetInput(
        title=title or f"Backtest {result.strategy}",
        subtitle=f"{result.start} to {result.end}",
        initial_capital=result.initial_capital,
        equity=list(result.equity),
        trades=outcome_trades(outcome),
        metrics={
            "net_pnl": metrics.net_pnl,
            "charges": metrics.charges,
            "trades": metrics.trades,
            "total_return": metrics.total_return,
            "max_drawdown": metrics.max_drawdown,
            "win_rate": metrics.win_rate,
            "profit_factor": metrics.profit_factor,
            "sharpe": metrics.sharpe,
            "sortino": metrics.sortino,
        },
        notes=list(result.notes),
    )


def with_market(sheet: TearsheetInput, daily: IndexDaily, settings: Settings) -> TearsheetInput:
    """The NIFTY buy-and-hold benchmark on the sheet's dates and its trades split by regime, DTE, weekday."""
    days = {trade.entry_ist.date() for trade in sheet.trades}
    regimes = day_regimes(daily.nifty_bars(), daily.vix_closes(), settings.strategy, only=days)
    return replace(
        sheet,
        benchmark=daily.benchmark(sheet.equity),
        tables=[*sheet.tables, *split_tables(sheet.trades, regimes)],
    )


@contextmanager
def quiet_logging(settings: Settings) -> Iterator[tuple[Path, Callable[[Clock], None]]]:
    """A throw-away folder and a hook that sends a replay's engine log there, never to the console,
    and only its warnings and errors: a study runs hundreds of backtests, its console is the study's
    progress, and formatting every order's INFO line for a folder that is deleted after the trial
    was a tenth of a trial's time (logging never changes what a replay does)."""
    quiet_log = settings.logging.model_copy(update={"console": False, "level": "WARNING"})
    quiet = settings.model_copy(update={"logging": quiet_log})
    with tempfile.TemporaryDirectory(prefix="optbot-trial-") as folder:

        def log_on_replay_clock(clock: Clock) -> None:
            configure_logging(quiet, clock, log_dir=Path(folder) / "logs")

        try:
            yield Path(folder), log_on_replay_clock
        finally:
            shutdown_logging()


@dataclass(frozen=True)
class BacktestEvaluator:
    """Runs one backtest per trial (reports in a throw-away folder) and returns its metrics."""

    strategy: str | None
    data_dir: Path | None = None

    def __call__(self, settings: Settings, start: date, end: date, progress: ProgressHook) -> BacktestMetrics:
        return outcome_metrics(self.run(settings, start, end, progress))

    def market(self, settings: Settings) -> IndexDaily:
        """NIFTY and INDIA VIX daily bars from the folder these backtests replay."""
        return IndexDaily.load(self.data_dir if self.data_dir is not None else settings.replay.data_dir)

    def run(
        self, settings: Settings, start: date, end: date, progress: ProgressHook | None = None
    ) -> BacktestOutcome:
        capital = settings.backtest.initial_capital
        months = MonthlyProgress(progress, capital)
        with quiet_logging(settings) as (folder, log_on_replay_clock):
            return run_backtest(
                settings,
                start,
                end,
                strategy=self.strategy,
                data_dir=self.data_dir,
                out_dir=folder,
                on_clock=log_on_replay_clock,
                on_day=months.on_day,
            )

    def prepare(self, settings: Settings, start: date, end: date) -> None:
        """Parse the data root's bars and build every session a backtest of [start, end] reads (its
        days and the daily warm-up before them: base, rolled-up and daily bars) in this process,
        before a study forks its workers: they inherit the read-only result (`StoreHistory`'s
        per-process caches) instead of each parsing the store and rolling the bars up again."""
        with tempfile.TemporaryDirectory(prefix="optbot-prepare-") as folder:
            plan = plan_backtest(
                settings, start, end, strategy=self.strategy, data_dir=self.data_dir, out_dir=Path(folder)
            )
        history = plan.history
        if history is None:
            return
        warm_from = start - timedelta(days=int(settings.engine.warmup_daily_bars * 1.5))
        for name in (*plan.underlyings, settings.universe.vix_symbol.upper()):
            for day in history.days(name):
                if warm_from <= day <= end:
                    history.session_bars(name, day)


@dataclass
class MonthlyProgress:
    """Turns a replay's per-session summaries into one progress report per calendar month (the
    pruner's steps): a month is reported when the first session of the next one is replayed, and
    the last month when the run's last session is."""

    progress: ProgressHook | None
    capital: float
    month: int = 0
    last: DaySummary | None = None

    def on_day(self, summary: DaySummary, done: int, total: int) -> None:
        if self.progress is None:
            return
        last = self.last
        if last is not None and (last.day.year, last.day.month) != (summary.day.year, summary.day.month):
            self.progress(self.month, last.equity - self.capital)
            self.month += 1
        self.last = summary
        if done == total:
            self.progress(self.month, summary.equity - self.capital)


@dataclass(frozen=True)
class BacktestSegments:
    """Walk-forward / cross-validation segments from backtests (a plain object, so trials can run in
    worker processes)."""

    evaluator: BacktestEvaluator

    def prepare(self, settings: Settings, start: date, end: date) -> None:
        self.evaluator.prepare(settings, start, end)

    def __call__(self, settings: Settings, start: date, end: date, progress: ProgressHook | None) -> Segment:
        outcome = self.evaluator.run(settings, start, end, progress)
        result = outcome.result
        return Segment(
            start, end, tuple(result.equity), tuple(t.net_pnl for t in result.trades), outcome.charges
        )


def evaluator(strategy: str | None, data_dir: Path | None = None) -> Evaluator:
    return BacktestEvaluator(strategy, data_dir)
