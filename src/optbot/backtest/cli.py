"""`optbot backtest --from D --to D [--strategy NAME] [--underlying NAME ...] [--data ROOT] [--out DIR]
[--require-real-options] [--workers N]`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from optbot.cli.common import console, data_root_option, error_console, parse_date_option, settings_from
from optbot.core.output_path import output_target

if TYPE_CHECKING:
    from optbot.backtest.runner import BacktestPlan, DaySummary

#: What `--out FILE` may name: the report's HTML or JSON file (both are written, same name).
REPORT_SUFFIXES = (".html", ".json")

# The engine and its data stack (numpy, pyarrow, scipy) are imported inside each command, after its
# arguments are checked, so `optbot --help` and a bad argument answer without loading them.


def backtest_command(
    ctx: typer.Context,
    from_: str = typer.Option(..., "--from", help="first day (YYYY-MM-DD)"),
    to: str = typer.Option(..., "--to", help="last day (YYYY-MM-DD), inclusive"),
    strategy: str | None = typer.Option(
        None, "--strategy", help="built-in strategy name or module:Class (default: strategy.enabled)"
    ),
    underlying: list[str] = typer.Option(
        [],
        "--underlying",
        help="underlying to replay (repeatable): NIFTY, BANKNIFTY, FINNIFTY, MIDCPNIFTY, SENSEX "
        "(default: universe.underlyings; legs files alone: their own underlyings)",
    ),
    data: Path | None = typer.Option(
        None,
        "--data",
        callback=data_root_option,
        help="data root to replay: timeframes/ (+ archive/ option bars) (default: replay.data_dir if set, "
        "else paths.data_root once it holds bars, else the bundled sample store)",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="report folder, or report file (NAME.html or NAME.json: both are written, the log beside "
        "them in logs/) (default: <data root>/reports/backtest)",
    ),
    require_real_options: bool = typer.Option(
        False, "--require-real-options", help="refuse to run where a day lacks real option bars"
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        help="processes (default: every core; only session-independent strategies split)",
    ),
) -> None:
    """Backtest on the live engine over the bars of a data root; writes a JSON + HTML report."""
    start, end = parse_date_option("--from", from_), parse_date_option("--to", to)
    settings = settings_from(ctx)
    # what the plan refuses first, checked before the engine is imported: a wrong folder or range
    # answers in a fraction of a second instead of after a second of imports
    from optbot.backtest.inputs import checked_data_root, trading_days_between
    from optbot.calendar import get_calendar

    calendar = get_calendar()
    checked_data_root(settings, data)
    trading_days_between(calendar, start, end)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from optbot.backtest.coverage import coverage_table, refused_fix
    from optbot.backtest.parallel import default_workers
    from optbot.backtest.runner import run_backtest
    from optbot.log import JsonLogInFolder, shutdown_logging

    target = output_target(
        out, settings.paths.resolve(settings.paths.reports_dir) / "backtest", REPORT_SUFFIXES
    )
    out_dir = target.directory
    log_dir = out_dir / "logs"
    log_on_replay_clock = JsonLogInFolder(settings, log_dir)

    # A year is a few hundred sessions: on a terminal, show which one is replaying (stderr, erased after).
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=error_console,
        transient=True,
        disable=not error_console.is_terminal,
    )
    task = progress.add_task("replaying sessions", total=None)

    def on_day(summary: DaySummary, done: int, total: int) -> None:
        description = f"replayed {summary.day} ({summary.fills} fills, equity {summary.equity:,.0f})"
        progress.update(task, completed=done, total=total, description=description)

    def show_coverage(plan: BacktestPlan) -> None:
        console.print(f"coverage of {plan.data_root}:", highlight=False, soft_wrap=True)
        for line in coverage_table(plan.coverage):
            console.print(line, highlight=False, soft_wrap=True, markup=False)
        vix = plan.settings.universe.vix_symbol.upper()
        fallback = sorted(
            {
                f"{row.underlying} {row.day}"
                for row in plan.coverage
                if row.replayed and row.index_bars == "daily"
            }
            | {f"{vix} {row.day}" for row in plan.coverage if row.replayed and row.vix_bars == "daily"}
        )
        if fallback:
            console.print(
                f"[bold red]WARNING: {len(fallback)} instrument-day(s) have only DAILY bars and are replayed "
                f"as one bar per session (its close known only at the close)[/bold red]: "
                f"{', '.join(fallback[:6])}" + (" ..." if len(fallback) > 6 else ""),
                highlight=False,
                soft_wrap=True,
            )
        left_out = [name for name in plan.requested if name not in plan.underlyings]
        if left_out:
            console.print(
                f"[yellow]left out (no bars in the data root): {', '.join(left_out)}[/yellow]",
                highlight=False,
                soft_wrap=True,
            )
        adapted = [row for row in plan.coverage if row.entries_adapted]
        if adapted:
            first = adapted[0]
            console.print(
                f"[yellow]note: on {len(adapted)} underlying-day(s) the bars are coarser than the entry "
                f"timeframe; entries use the finest bars those days have[/yellow] (first {first.underlying} "
                f"{first.day}: {first.entries}; strategy.entry_timeframe_adapts = false refuses them)",
                highlight=False,
                soft_wrap=True,
            )
        refused = [row for row in plan.coverage if row.entries_refused]
        if refused:
            first = refused[0]
            console.print(
                f"[bold red]WARNING: on {len(refused)} underlying-day(s) the bars are too coarse for the "
                f"strategies' entries; they are replayed but nothing can be entered there[/bold red] "
                f"(first {first.underlying} {first.day}: {first.entries}). {refused_fix(refused)}",
                highlight=False,
                soft_wrap=True,
            )

    try:
        with progress:
            outcome = run_backtest(
                settings,
                start,
                end,
                strategy=strategy,
                data_dir=data,
                out_dir=out_dir,
                report_stem=target.stem,
                underlyings=[name.upper() for name in underlying] or None,
                require_real_options=require_real_options,
                workers=workers if workers is not None else default_workers(),
                on_plan=show_coverage,
                on_clock=log_on_replay_clock,
                on_day=on_day,
            )
    finally:
        shutdown_logging()
    result = outcome.result
    metrics_days = len(outcome.days)
    net = outcome.net_pnl
    colour = "green" if net >= 0 else "red"
    console.print(
        f"backtest [bold]{result.strategy}[/bold] {result.start}..{result.end}: "
        f"{metrics_days} session(s) in {outcome.workers} process(es), {len(result.trades)} closed trade(s), "
        f"{len(outcome.fills)} fill(s), "
        f"{outcome.intents} intent(s) ({outcome.refused} refused)",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"net P&L after charges [{colour}]{net:,.2f}[/{colour}] (charges {outcome.charges:,.2f}) "
        f"on {result.initial_capital:,.2f}",
        highlight=False,
        soft_wrap=True,
    )
    idle = outcome.no_trade_reason()
    if idle is not None:
        console.print(idle, style="yellow", highlight=False, soft_wrap=True, markup=False)
    alerts = sum(day.alerts for day in outcome.days)
    if alerts:
        console.print(
            f"[yellow]{alerts} engine alert(s)[/yellow]: see the log", highlight=False, soft_wrap=True
        )
    if outcome.skipped_days:
        console.print(
            f"skipped (no index/VIX bars): {', '.join(str(day) for day in outcome.skipped_days)}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"option contracts priced from their own bars: {len(outcome.real_tokens)}, "
        f"by the synthetic model: {len(outcome.synthetic_tokens)} (see the report's coverage and notes)",
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"report: {outcome.files.html_path}", highlight=False, soft_wrap=True)
    console.print(f"data:   {outcome.files.json_path}", highlight=False, soft_wrap=True)
    console.print(f"log:    {log_dir}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest_command)
