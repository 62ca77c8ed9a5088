"""`optbot research bias` (spec §11.5): look-ahead and warm-up checks of one strategy on sample bars."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from optbot.cli.common import console, settings_from
from optbot.core.errors import UserError
from optbot.core.timeutil import IST
from optbot.research.bias import (
    BiasSeries,
    ReplaySpec,
    Verdict,
    check_look_ahead,
    check_warm_up,
    load_bias_series,
    sample_settings,
)
from optbot.strategy.registry import resolve


def _date(flag: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{flag}: not an ISO date (YYYY-MM-DD): {text!r}") from None


def _print_verdict(verdict: Verdict) -> None:
    console.print(verdict.line, highlight=False, soft_wrap=True)
    for line in verdict.details:
        console.print(f"  {line}", highlight=False, soft_wrap=True)


def bias_command(
    ctx: typer.Context,
    strategy: str = typer.Option(..., "--strategy", help="strategy name or module:Class"),
    from_: str = typer.Option(..., "--from", help="first day (YYYY-MM-DD)"),
    to: str = typer.Option(..., "--to", help="last day (YYYY-MM-DD), inclusive"),
    data: Path | None = typer.Option(None, "--data", help="market data (data/sample layout)"),
    warmup: str | None = typer.Option(
        None,
        "--warmup",
        help="history lengths in sessions, e.g. 5,20,80 (default research.bias_warmup_sessions)",
    ),
) -> None:
    """Look-ahead (decisions with the data cut at each decision time) and warm-up sensitivity checks."""
    settings = settings_from(ctx)
    start, end = _date("--from", from_), _date("--to", to)
    if end < start:
        raise UserError(f"--to {end} is before --from {start}")
    cls = resolve(strategy)
    research = settings.research
    try:
        sessions = (
            [int(part) for part in warmup.split(",")] if warmup is not None else research.bias_warmup_sessions
        )
    except ValueError:
        raise UserError(f"--warmup: expected session counts separated by commas, got {warmup!r}") from None
    if any(count < 1 for count in sessions):
        raise UserError(f"--warmup: session counts must be at least 1, got {warmup!r}")
    folder = data if data is not None else settings.replay.data_dir
    try:
        series = load_bias_series(folder, start, end, research.bias_intraday_history_days)
    except FileNotFoundError as exc:
        raise UserError(f"--data: {exc}") from None
    _require_sessions(series, start, end)
    spec = ReplaySpec(sample_settings(settings), lambda configured, _series: cls(configured), start, end)
    console.print(f"bias checks of {cls.name} on {start}..{end} ({folder})", highlight=False, soft_wrap=True)
    _print_verdict(check_look_ahead(spec, series, research.bias_max_look_ahead_checks))
    verdict, _rows = check_warm_up(spec, series, sessions, research.bias_indicator_tolerance)
    _print_verdict(verdict)


def _require_sessions(series: BiasSeries, start: date, end: date) -> None:
    days = {bar.start_utc.astimezone(IST).date() for bar in series.intraday}
    if not any(start <= day <= end for day in days):
        raise UserError(f"--from/--to: no intraday sample bars between {start} and {end}")


def register_checks(app: typer.Typer) -> None:
    app.command("bias")(bias_command)
