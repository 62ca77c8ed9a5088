"""`optbot research bias | stress | shock | regimes` (spec §11.5, §11.8): bias checks and stress tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import typer

from optbot.cli.common import console, data_root_option, parse_date_option, settings_from
from optbot.core.errors import UserError
from optbot.research.cli import OutOption, _research_dir

if TYPE_CHECKING:
    from optbot.backtest.runner import BacktestOutcome
    from optbot.config import Settings
    from optbot.research.bias import Verdict
    from optbot.research.evaluate import BacktestEvaluator
    from optbot.research.market import IndexDaily
    from optbot.research.stress import OptionPosition, StressWindow

# The research stack is imported inside each command after its arguments are checked (see cli.py).


def _print_verdict(verdict: Verdict) -> None:
    console.print(verdict.line, highlight=False, soft_wrap=True)
    for line in verdict.details:
        console.print(f"  {line}", highlight=False, soft_wrap=True)


def bias_command(
    ctx: typer.Context,
    strategy: str = typer.Option(
        ..., "--strategy", help="strategy name, legs template or .toml file, or module:Class"
    ),
    from_: str = typer.Option(..., "--from", help="first day (YYYY-MM-DD)"),
    to: str = typer.Option(..., "--to", help="last day (YYYY-MM-DD), inclusive"),
    data: Path | None = typer.Option(
        None, "--data", callback=data_root_option, help="data root (default replay.data_dir)"
    ),
    warmup: str | None = typer.Option(
        None,
        "--warmup",
        help="history lengths in sessions, e.g. 5,20,80 (default research.bias_warmup_sessions)",
    ),
) -> None:
    """Look-ahead (decisions with the data cut at each decision time) and warm-up sensitivity checks."""
    start, end = parse_date_option("--from", from_), parse_date_option("--to", to)
    if end < start:
        raise UserError(f"--to {end} is before --from {start}")
    from optbot.backtest.runner import default_data_root
    from optbot.research.bias import (
        ReplaySpec,
        check_look_ahead,
        check_warm_up,
        load_bias_data,
        sample_settings,
    )
    from optbot.research.evaluate import quiet_logging
    from optbot.strategy.registry import resolve_option

    settings = sample_settings(settings_from(ctx))
    cls = resolve_option(strategy)
    research = settings.research
    try:
        sessions = (
            [int(part) for part in warmup.split(",")] if warmup is not None else research.bias_warmup_sessions
        )
    except ValueError:
        raise UserError(f"--warmup: expected session counts separated by commas, got {warmup!r}") from None
    if any(count < 1 for count in sessions):
        raise UserError(f"--warmup: session counts must be at least 1, got {warmup!r}")
    folder = data if data is not None else default_data_root(settings)
    loaded = load_bias_data(settings, strategy, folder, start, end)
    console.print(
        f"bias checks of {cls.name} on {start}..{end}: {len(loaded.days)} session(s) of {folder} "
        "(strategy.entry_timeframe 15m, trend from daily and hourly bars: most sample days are 15-minute)",
        highlight=False,
        soft_wrap=True,
    )
    with quiet_logging(settings) as (_folder, on_clock):
        spec = ReplaySpec(settings, lambda configured, _history: cls(configured), on_clock)
        _print_verdict(check_look_ahead(spec, loaded, research.bias_max_look_ahead_checks))
        verdict, _rows = check_warm_up(spec, loaded, sessions, research.bias_indicator_tolerance)
    _print_verdict(verdict)


def register_checks(app: typer.Typer) -> None:
    app.command("bias")(bias_command)


# --- stress windows, hypothetical shocks, regime splits (§11.8) -------------------------------------


@dataclass(frozen=True, slots=True)
class WindowRun:
    window: StressWindow
    outcome: BacktestOutcome | None
    skipped: str | None  # why it did not run (no data for it)


def _choose_windows(names: list[str], daily: IndexDaily, spikes: int) -> list[StressWindow]:
    from optbot.research.stress import NAMED_WINDOWS, vix_spike_windows

    available = [*NAMED_WINDOWS, *vix_spike_windows(daily.vix_closes(), spikes)]
    if not names or [name.lower() for name in names] == ["all"]:
        return available
    by_name = {window.name.lower(): window for window in available}
    unknown = [name for name in names if name.lower() not in by_name]
    if unknown:
        known = "; ".join(window.name for window in available)
        raise UserError(f"--windows: unknown window(s) {', '.join(map(repr, unknown))} (known: {known})")
    return [by_name[name.lower()] for name in names]


def _run_window(
    evaluator: BacktestEvaluator, settings: Settings, daily: IndexDaily, window: StressWindow
) -> WindowRun:
    if not any(window.start <= day <= window.end for day in daily.nifty):
        return WindowRun(window, None, "no NIFTY daily bars in the data for these dates")
    try:
        return WindowRun(window, evaluator.run(settings, window.start, window.end), None)
    except UserError as exc:
        return WindowRun(window, None, str(exc))


def _window_row(run: WindowRun) -> dict[str, str | int]:
    from optbot.research.evaluate import outcome_metrics

    window = run.window
    dates = f"{window.start}" if window.start == window.end else f"{window.start}…{window.end}"
    base: dict[str, str | int] = {"window": window.name, "dates": dates}
    if run.outcome is None:
        empty = {"sessions": "skipped", "trades": "", "net P&L ₹": "", "max drawdown": ""}
        return {**base, **empty, "note": run.skipped or ""}
    metrics = outcome_metrics(run.outcome)
    return {
        **base,
        "sessions": metrics.sessions,
        "trades": metrics.trades,
        "net P&L ₹": f"{metrics.net_pnl:,.2f}",
        "max drawdown": f"{metrics.max_drawdown:.2%}",
        "note": "" if metrics.trades else "no trade",
    }


def _print_rows(rows: Sequence[Mapping[str, Any]]) -> None:
    """A plain aligned table (no wrapping, so a narrow terminal or a pipe keeps one row a line)."""
    columns = list(rows[0])
    widths = [max(len(column), *(len(str(row.get(column, ""))) for row in rows)) for column in columns]
    console.print(
        "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)), highlight=False, soft_wrap=True
    )
    for row in rows:
        cells = [str(row.get(column, "")).ljust(width) for column, width in zip(columns, widths, strict=True)]
        console.print("  ".join(cells).rstrip(), highlight=False, soft_wrap=True)


def stress_command(
    ctx: typer.Context,
    strategy: str = typer.Option(..., "--strategy", help="strategy name or module:Class"),
    windows: list[str] = typer.Option(
        [], "--windows", help="'all' (default) or a window name (repeatable), e.g. 'COVID crash'"
    ),
    data: Path | None = typer.Option(
        None, "--data", callback=data_root_option, help="market data for the backtests"
    ),
    out: OutOption = None,
) -> None:
    """Backtest the named historical stress windows that have data; summarise each; write a tearsheet."""
    from optbot.research.evaluate import BacktestEvaluator, outcome_trades
    from optbot.research.stress import day_regimes, split_tables
    from optbot.research.tearsheet import TableSection, TearsheetInput, write_tearsheet
    from optbot.strategy.registry import resolve_option

    settings = settings_from(ctx)
    # Checked before any window: a window's refusal is reported as that window skipped, so an unknown
    # name would otherwise come out as a table of skipped windows and exit 0.
    resolve_option(strategy)
    evaluator = BacktestEvaluator(strategy, data)
    daily = evaluator.market(settings)
    runs = [
        _run_window(evaluator, settings, daily, window)
        for window in _choose_windows(windows, daily, settings.research.stress_vix_spike_windows)
    ]
    rows = [_window_row(run) for run in runs]
    _print_rows(rows)
    ran = [run for run in runs if run.outcome is not None]
    console.print(
        f"{len(ran)} window(s) run, {len(runs) - len(ran)} skipped for lack of data", highlight=False
    )
    trades = [trade for run in ran if run.outcome is not None for trade in outcome_trades(run.outcome)]
    sheet = TearsheetInput(
        title=f"Stress windows: {strategy}",
        subtitle="each window is its own backtest from the starting capital; trades pooled below",
        initial_capital=settings.backtest.initial_capital,
        equity=[],
        trades=trades,
        tables=[TableSection("Historical stress windows", rows)],
    )
    regimes = day_regimes(
        daily.nifty_bars(), daily.vix_closes(), settings.strategy, {t.entry_ist.date() for t in trades}
    )
    sheet = replace(sheet, tables=[*sheet.tables, *split_tables(trades, regimes)])
    folder = _research_dir(settings, out, f"{strategy}-stress")
    path = write_tearsheet(sheet, folder / "tearsheet.html")
    console.print(f"tearsheet: {path}", highlight=False, soft_wrap=True)


def _parse_spots(spots: list[str]) -> dict[str, float]:
    parsed: dict[str, float] = {}
    for text in spots:
        name, _, value = text.partition("=")
        try:
            parsed[name.strip().upper()] = float(value)
        except ValueError:
            raise UserError(f"--spot: expected UNDERLYING=PRICE, got {text!r}") from None
        if parsed[name.strip().upper()] <= 0 or not name.strip():
            raise UserError(f"--spot: expected UNDERLYING=PRICE with a positive price, got {text!r}")
    return parsed


def _positions_from_file(path: Path) -> list[OptionPosition]:
    from optbot.research.stress import OptionPosition

    try:
        rows = orjson.loads(path.read_bytes())
        return [
            OptionPosition.from_symbol(str(row["symbol"]), int(row["quantity"]), float(row["price"]))
            for row in rows
        ]
    except FileNotFoundError:
        raise UserError(f"--positions: {path}: no such file") from None
    except (orjson.JSONDecodeError, TypeError, KeyError, ValueError) as exc:
        raise UserError(
            f"--positions: {path}: expected a JSON list of {{symbol, quantity, price}} ({exc})"
        ) from None


def _positions_from_state(settings: Settings) -> list[OptionPosition]:
    from optbot.core.clock import SimClock
    from optbot.persistence.db import state_db_path
    from optbot.persistence.store import Store
    from optbot.research.stress import OptionPosition

    path = state_db_path(settings)
    if not path.is_file():
        raise UserError(f"--state: no state database at {path}")
    store = Store.open(path, SimClock(datetime(2000, 1, 1, tzinfo=UTC)))
    try:
        records = [record for record in store.positions() if record.net_quantity != 0]
    finally:
        store.close()
    positions = []
    for record in records:
        mark = record.last_price if record.last_price is not None else record.average_price
        try:
            positions.append(OptionPosition.from_symbol(record.symbol, record.net_quantity, mark))
        except ValueError as exc:
            raise UserError(f"--state: open position {record.symbol}: {exc}") from None
    return positions


def shock_command(
    ctx: typer.Context,
    positions: Path | None = typer.Option(None, "--positions", help="JSON list of {symbol, quantity, price}"),
    state: bool = typer.Option(False, "--state", help="the live bot's open positions (state database)"),
    spot: list[str] = typer.Option([], "--spot", help="UNDERLYING=PRICE (repeatable)"),
    at: str = typer.Option(..., "--at", help="valuation time, ISO with offset (e.g. 2024-06-04T11:00+05:30)"),
    out: OutOption = None,
) -> None:
    """Reprice option positions under spot, VIX and one-day-decay shocks (Black-76 at each contract's IV)."""
    settings = settings_from(ctx)
    if (positions is None) == (not state):
        raise UserError("give exactly one of --positions FILE.json or --state")
    from optbot.core.timeutil import parse_iso

    try:
        moment = parse_iso(at)
    except ValueError:
        raise UserError(f"--at: not an ISO time with an offset: {at!r}") from None
    from optbot.research.stress import shock_positions
    from optbot.research.tearsheet import TableSection, TearsheetInput, write_tearsheet

    held = _positions_from_file(positions) if positions is not None else _positions_from_state(settings)
    if not held:
        raise UserError("no open option positions to shock")
    try:
        report = shock_positions(held, _parse_spots(spot), moment, rate=settings.analytics.risk_free_rate)
    except ValueError as exc:
        raise UserError(f"--spot: {exc}") from None
    rows: list[dict[str, str | int]] = [
        {
            "shock": result.shock.name,
            "P&L ₹": f"{result.pnl:,.2f}",
            **{symbol: f"{pnl:,.2f}" for symbol, pnl in result.by_position},
        }
        for result in report.results
    ]
    _print_rows(rows)
    for symbol, vol in report.implied_vols:
        console.print(f"{symbol}: implied vol {vol:.2%}", highlight=False)
    for note in report.notes:
        console.print(note, highlight=False, soft_wrap=True)
    sheet = TearsheetInput(
        title="Hypothetical shocks",
        subtitle=f"{len(held)} position(s) valued at {moment.isoformat()}; spots "
        + ", ".join(f"{k}={v:,.2f}" for k, v in sorted(_parse_spots(spot).items())),
        initial_capital=settings.backtest.initial_capital,
        equity=[],
        trades=[],
        tables=[TableSection("P&L under each shock (₹)", rows)],
        notes=[*(f"{s}: implied vol {v:.2%}" for s, v in report.implied_vols), *report.notes],
    )
    path = write_tearsheet(sheet, _research_dir(settings, out, "shocks") / "tearsheet.html")
    console.print(f"tearsheet: {path}", highlight=False, soft_wrap=True)


def regimes_command(
    ctx: typer.Context,
    strategy: str = typer.Option(..., "--strategy", help="strategy name or module:Class"),
    from_: str = typer.Option(..., "--from", help="first day (YYYY-MM-DD)"),
    to: str = typer.Option(..., "--to", help="last day (YYYY-MM-DD), inclusive"),
    data: Path | None = typer.Option(
        None, "--data", callback=data_root_option, help="market data for the backtest"
    ),
    out: OutOption = None,
) -> None:
    """Backtest, then split the trades by §10.1 regime, days to expiry and weekday."""
    settings = settings_from(ctx)
    start, end = parse_date_option("--from", from_), parse_date_option("--to", to)
    if end < start:
        raise UserError(f"--to {end} is before --from {start}")
    from optbot.research.evaluate import BacktestEvaluator, outcome_tearsheet, with_market
    from optbot.research.tearsheet import write_tearsheet

    evaluator = BacktestEvaluator(strategy, data)
    outcome = evaluator.run(settings, start, end)
    sheet = with_market(
        outcome_tearsheet(outcome, title=f"Regimes: {strategy}"), evaluator.market(settings), settings
    )
    for section in sheet.tables:
        console.print(f"[bold]{section.title}[/bold]", highlight=False)
        if section.rows:
            _print_rows(section.rows)
        else:
            console.print("  no trades", highlight=False)
    folder = _research_dir(settings, out, f"{strategy}-regimes-{start}-{end}")
    path = write_tearsheet(sheet, folder / "tearsheet.html")
    console.print(f"tearsheet: {path}", highlight=False, soft_wrap=True)


def register_stress(app: typer.Typer) -> None:
    app.command("stress")(stress_command)
    app.command("shock")(shock_command)
    app.command("regimes")(regimes_command)
