"""A backtest's first inputs (the data root and the date range), checked without the engine.

`plan_backtest` refuses these first; `optbot backtest` checks them before it imports the engine and
its data stack (about a second of imports), so a wrong `--data` folder or a reversed range answers
with its one line at once, as the spec asks of a bad input. The messages are the plan's own: both
call the functions here.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from optbot.calendar import NseCalendar, Segment
from optbot.core.errors import UserError

if TYPE_CHECKING:
    from optbot.config import Settings


def default_data_root(settings: Settings) -> Path:
    """The data root a backtest reads when `--data` is not given: `replay.data_dir` when it is set;
    else the user's own data root (`paths.data_root`) once it holds bars (imported, downloaded or
    recorded by the live bot), so an import followed by a backtest needs no flag; else the bundled
    sample store (`replay.data_dir`'s default, the demo). The console names the root it used."""
    if "data_dir" not in settings.replay.model_fields_set:
        own = settings.paths.data_root / "timeframes"
        if own.is_dir() and any(entry.is_dir() for entry in own.iterdir()):
            return settings.paths.data_root
    return settings.replay.data_dir


def checked_data_root(settings: Settings, data_dir: Path | None) -> Path:
    """`data_dir`, else the default data root; refused unless it is a folder."""
    data_root = data_dir if data_dir is not None else default_data_root(settings)
    if not data_root.is_dir():
        raise UserError(
            f"--data / replay.data_dir: {str(data_root)!r} is not a folder (it should be a data root "
            "holding timeframes/<SYMBOL>/<tf>.json, e.g. data/sample/store)"
        )
    return data_root


def trading_days_between(calendar: NseCalendar, start: date, end: date) -> list[date]:
    """The F&O trading days in [start, end]; refuses a reversed range, dates outside the calendar and a
    range without a trading day."""
    if start > end:
        raise UserError(f"--from {start} is after --to {end}")
    for flag, day in (("--from", start), ("--to", end)):
        if not calendar.covers(day):
            raise UserError(
                f"{flag} {day} is outside the market calendar's known range "
                f"{calendar.first_date}..{calendar.last_date} and its provisional range "
                f"(to {calendar.provisional_until})"
            )
    trading = calendar.trading_days(start, end, Segment.FO)
    if not trading:
        raise UserError(f"no F&O trading day between {start} and {end} (weekends and NSE holidays only)")
    return trading


__all__ = ["checked_data_root", "default_data_root", "trading_days_between"]
